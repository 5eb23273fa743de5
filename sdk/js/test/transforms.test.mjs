// transforms.test.mjs - the optional zlib / AES-256-GCM payload transforms
// (@omtp/client/transforms) against a real omtpd with an AES key and a low
// compress threshold: a client that compresses and encrypts its requests
// gets its (compressed, encrypted) replies; a client that compresses gets
// big pushes compressed and decodes them; a decompression bomb is refused.
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { OmtpClient } from '../dist/node.js';
import { payloadTransforms } from '../dist/transforms.js';
import { Server, until } from './helpers.mjs';

const KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
let srv;
const clients = [];
before(async () => {
    srv = new Server(['--aes-key-hex', KEY, '--compress-threshold', '64']);
    srv.addUser('alice', 'pa');
    srv.addUser('bob', 'pb');
    await srv.start();
});
after(async () => {
    for (const c of clients) c.close();
    await srv.dispose();
});
const mk = (user, password, opts) => {
    const c = new OmtpClient({ host: '127.0.0.1', port: srv.port, user, password, ...opts });
    clients.push(c);
    return c;
};

test('compressed + encrypted requests, compressed pushes', async () => {
    const a = mk('alice', 'pa', { transforms: payloadTransforms({ key: KEY }), compress: true, encrypt: true });
    const b = mk('bob', 'pb', { transforms: payloadTransforms(), compress: true });
    const errors = [];
    b.on('error', (e) => errors.push(e));
    const got = [];
    b.on('message', (m) => got.push(m.content));
    await a.connect();
    await b.connect();
    const big = 'compress me '.repeat(200);
    const ack = await a.sendText('bob', big);
    assert.equal(ack.seqId, 1);
    await until(() => got.length === 1, 5000, 'compressed push');
    assert.equal(got[0], big);
    const hist = await a.history(ack.sessionId);
    assert.equal(hist[0].content, big, 'an encrypted, compressed history reply decodes');
    assert.deepEqual(errors, []);
    assert.ok(b.stats().transformedIn >= 1, 'the big push came compressed');
    assert.ok(a.stats().transformedIn >= 2, 'replies to compressed+encrypted requests came transformed');
});

test('the transforms refuse a decompression bomb and a bad AES tag', async () => {
    const t = payloadTransforms({ key: KEY });
    const bomb = new Uint8Array(deflateSync(Buffer.alloc(4 << 20)));
    await assert.rejects(t.decompress(bomb, 1 << 20), /inflates beyond 1048576/);
    const enc = await t.encrypt(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await t.decrypt(enc))], [1, 2, 3]);
    enc[enc.length - 1] ^= 1;
    await assert.rejects(t.decrypt(enc));
    await assert.rejects(payloadTransforms().decrypt(enc), /no key/);
});
