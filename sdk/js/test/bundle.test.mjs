// bundle.test.mjs - the browser bundle (dist/omtp-client.min.js) is
// self-contained and works through the standard WebSocket API: loaded with
// only a global WebSocket (the `ws` package standing in for the browser's),
// two clients log in over omtpd's WebSocket listener and chat. Also prints
// the bundle's size (README "Size").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { Server, hasWs, until } from './helpers.mjs';

const BUNDLE = new URL('../dist/omtp-client.min.js', import.meta.url);

test('the bundle has no Node import and is at most 30 KB gzipped', () => {
    const src = readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(src, /from\s*["'](node:|net|tls|zlib|ws)["']|require\(/, 'no Node module in the browser bundle');
    const gz = gzipSync(src, { level: 9 }).length;
    console.log(`# browser bundle: ${src.length} bytes minified, ${gz} bytes gzipped`);
    assert.ok(gz <= 30 * 1024, `${gz} bytes gzipped`);
});

let srv;
before(async () => {
    if (!hasWs()) return;
    srv = new Server();
    srv.addUser('alice', 'pa');
    srv.addUser('bob', 'pb');
    await srv.start();
});
after(async () => {
    if (srv) await srv.dispose();
});

test('two clients from the bundle chat over WebSocket', { skip: !hasWs() && 'this omtpd has no --ws-listen' }, async () => {
    globalThis.WebSocket = WebSocket; // what a browser has
    const { OmtpClient } = await import(BUNDLE.href);
    const a = new OmtpClient({ url: srv.wsUrl, user: 'alice', password: 'pa' });
    const b = new OmtpClient({ url: srv.wsUrl, user: 'bob', password: 'pb' });
    try {
        const got = [];
        b.on('message', (m) => got.push(m.content));
        await a.connect();
        await b.connect();
        const ack = await a.sendText('bob', 'from the bundle');
        assert.equal(ack.seqId, 1);
        await until(() => got.length === 1, 5000, 'push');
        assert.deepEqual(got, ['from the bundle']);
        assert.deepEqual((await b.hotSessions()).map((h) => h.unreadCount), [1]);
    } finally {
        a.close();
        b.close();
        delete globalThis.WebSocket;
    }
});
