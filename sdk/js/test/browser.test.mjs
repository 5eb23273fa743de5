// browser.test.mjs - the browser bundle in a real browser: Debian's
// chromium (headless, driven by puppeteer-core) loads a page served by
// omtpd's WebSocket listener (web_root) that imports dist/omtp-client.min.js,
// logs in as alice over ws://<the page's host>/ws and chats with bob, a Node
// client on TCP, both ways. Skipped when chromium is not installed or omtpd
// has no WebSocket listener.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OmtpClient } from '../dist/node.js';
import { Server, hasWs, until } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !hasWs() ? 'this omtpd has no WebSocket listener' : false;

let srv;
let browser;
before(async () => {
    if (skip) return;
    srv = new Server();
    const root = join(srv.dir, 'www');
    mkdirSync(root);
    copyFileSync(new URL('../dist/omtp-client.min.js', import.meta.url), join(root, 'omtp-client.min.js'));
    writeFileSync(
        join(root, 'index.html'),
        `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">import * as omtp from './omtp-client.min.js'; window.omtp = omtp; document.title = 'ready';</script>`,
    );
    srv.extra = ['--web-root', root];
    srv.addUser('alice', 'pa');
    srv.addUser('bob', 'pb');
    await srv.start();
    const puppeteer = (await import('puppeteer-core')).default;
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], protocolTimeout: 60000 });
});
after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.dispose();
});

test('chromium: the bundle logs in over WebSocket and chats with a TCP client', { skip, timeout: 90000 }, async () => {
    const bob = new OmtpClient({ host: '127.0.0.1', port: srv.port, user: 'bob', password: 'pb' });
    const bobGot = [];
    bob.on('message', (m) => {
        bobGot.push(m.content);
        bob.sendText('alice', `re: ${m.content}`);
    });
    await bob.connect();
    try {
        const page = await browser.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`http://127.0.0.1:${srv.wsPort}/`, { waitUntil: 'load', timeout: 30000 });
        await page.waitForFunction(() => document.title === 'ready', { timeout: 30000 });
        const r = await page.evaluate(async () => {
            const { OmtpClient } = window.omtp;
            const c = new OmtpClient({ url: `ws://${location.host}/ws`, user: 'alice', password: 'pa', deviceType: 3 });
            const states = [];
            c.on('state', (e) => states.push(e.state));
            const got = new Promise((resolve) => c.on('message', (m) => resolve(m.content)));
            await c.connect();
            const ack = await c.sendText('bob', 'hello from chromium');
            const reply = await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no reply in 10 s')), 10000))]);
            const hot = await c.hotSessions();
            c.close();
            return { states, seqId: ack.seqId, reply, sessions: hot.map((h) => h.sessionId) };
        });
        assert.deepEqual(errors, []);
        assert.equal(r.seqId, 1);
        assert.equal(r.reply, 're: hello from chromium');
        assert.deepEqual(r.sessions, ['SC_alice_bob']);
        assert.deepEqual(r.states, ['connecting', 'online', 'closed']);
        await until(() => bobGot.length === 1, 5000, 'bob got it');
    } finally {
        bob.close();
    }
});
