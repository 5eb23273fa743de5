// files.test.mjs - uploadFile, fileUrl and sendMedia against a real omtpd's
// file endpoints on its WebSocket listener (docs/files.md): a Buffer
// uploaded with a login token comes back with the sniffed type and its
// sha256; its URL serves the bytes (and a Range); sendMedia delivers the
// content JSON of DESIGN "Media messages" to the peer, who may then read
// the file; a file over max_file_size rejects with FileError 413 and the
// server's words; no token rejects with 401. Bounded waits.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { FileError, OmtpClient, parseMedia } from '../dist/node.js';
import { Server, hasWs, until } from './helpers.mjs';

const skip = !hasWs() && 'this omtpd has no --ws-listen';
let srv;
const clients = [];

function tokenOf(user) {
    const out = srv.admin('token', 'issue', user, '--ttl', '3600');
    const m = out.match(/v1\.[^\s"]+/);
    assert.ok(m, `omtpd token issue printed a token: ${out}`);
    return m[0];
}

async function login(user, opts = {}) {
    srv.addUser(user, 'pw-' + user);
    const c = new OmtpClient({ url: srv.wsUrl, user, token: tokenOf(user), requestTimeoutMs: 5000, ...opts });
    clients.push(c);
    await c.connect();
    return c;
}

before(async () => {
    if (skip) return;
    srv = new Server(['--max-file-size', '65536']);
    await srv.start();
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.dispose();
});

test('a Buffer uploaded, read back by URL and Range, sent as a file message the peer can read', { skip }, async () => {
    const alice = await login('falice');
    const bob = await login('fbob');
    const got = [];
    bob.on('message', (m) => got.push(m));
    const bytes = Buffer.from('%PDF-1.4\n' + 'x'.repeat(3000));
    const f = await alice.uploadFile(bytes, { name: 'report.pdf', mime: 'text/plain' });
    assert.match(f.fileId, /^[0-9a-f]{32}$/);
    assert.equal(f.size, bytes.length);
    assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(f.mime, 'application/pdf'); // sniffed, not the claim
    assert.equal(f.name, 'report.pdf');

    const r = await fetch(alice.fileUrl(f.fileId), { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes);
    assert.match(r.headers.get('content-disposition'), /attachment; .*filename\*=UTF-8''report\.pdf/);
    const part = await fetch(alice.fileUrl(f.fileId), { headers: { Range: 'bytes=0-7' }, signal: AbortSignal.timeout(5000) });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), '%PDF-1.4');

    // bob may not read it yet: 404, not 403
    assert.equal((await fetch(bob.fileUrl(f.fileId), { signal: AbortSignal.timeout(5000) })).status, 404);
    await alice.sendMedia('fbob', f);
    await until(() => got.some((m) => m.contentType === 7), 5000);
    const m = parseMedia(7, got.find((x) => x.contentType === 7).content);
    assert.equal(m.fileId, f.fileId);
    assert.equal(m.sha256, f.sha256);
    assert.equal(m.size, bytes.length);
    // now a member of a session holding a message that references it
    const rb = await fetch(bob.fileUrl(f.fileId), { signal: AbortSignal.timeout(5000) });
    assert.equal(rb.status, 200);
    assert.deepEqual(Buffer.from(await rb.arrayBuffer()), bytes);
});

test('too large rejects with FileError 413 in words; without a token 401', { skip }, async () => {
    const carol = await login('fcarol');
    await assert.rejects(carol.uploadFile(new Uint8Array(100000), { name: 'big.bin' }), (e) => e instanceof FileError && e.status === 413 && /file is larger than 64 KB/.test(e.message));
    const anon = new OmtpClient({ url: srv.wsUrl, user: 'nobody', fileToken: 'v1.nobody.1.00' });
    await assert.rejects(anon.uploadFile(new Uint8Array(10), { name: 'a' }), (e) => e instanceof FileError && e.status === 401);
});
