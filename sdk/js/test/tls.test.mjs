// tls.test.mjs - Node over TLS (omtpd's tls_listen) and wss:// (wss_listen)
// with a throw-away self-signed certificate: the client verifies it against
// the given CA (tlsCa), refuses it without, and chats over both.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OmtpClient } from '../dist/node.js';
import { Server, hasWs, until } from './helpers.mjs';

let srv;
let ca;
const ports = {};
const clients = [];
before(async () => {
    srv = new Server();
    const cert = join(srv.dir, 'cert.pem');
    const key = join(srv.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    ca = readFileSync(cert);
    srv.extra = ['--tls-listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, '--tls-port-file', join(srv.dir, 'tls.port')];
    if (hasWs()) srv.extra.push('--wss-listen', '127.0.0.1:0', '--wss-port-file', join(srv.dir, 'wss.port'));
    srv.addUser('alice', 'pa');
    srv.addUser('bob', 'pb');
    await srv.start();
    await until(() => {
        try {
            ports.tls = Number(readFileSync(join(srv.dir, 'tls.port'), 'utf8'));
            if (hasWs()) ports.wss = Number(readFileSync(join(srv.dir, 'wss.port'), 'utf8'));
            return ports.tls > 0 && (!hasWs() || ports.wss > 0);
        } catch {
            return false;
        }
    }, 10000, 'TLS port files');
});
after(async () => {
    for (const c of clients) c.close();
    await srv.dispose();
});
const mk = (where, user, password) => {
    const c = new OmtpClient({ ...where, user, password, connectTimeoutMs: 5000 });
    clients.push(c);
    return c;
};

test('TLS: an unknown certificate is refused; with its CA the client chats', async () => {
    const bad = mk({ host: '127.0.0.1', port: ports.tls, tls: true }, 'alice', 'pa');
    await assert.rejects(bad.connect(), (e) => e.code === 'ECLOSED' && /certificate/i.test(e.message));
    const a = mk({ host: '127.0.0.1', port: ports.tls, tls: true, tlsCa: ca }, 'alice', 'pa');
    const b = mk({ host: '127.0.0.1', port: ports.tls, tls: true, tlsCa: ca, deviceType: 1 }, 'bob', 'pb');
    const got = [];
    b.on('message', (m) => got.push(m.content));
    await a.connect();
    await b.connect();
    await a.sendText('bob', 'over tls');
    await until(() => got.length === 1, 5000, 'push over TLS');
});

test('wss: with its CA the client chats', { skip: !hasWs() && 'this omtpd has no WebSocket listener' }, async () => {
    const url = `wss://127.0.0.1:${ports.wss}/ws`;
    const bad = mk({ url }, 'alice', 'pa');
    await assert.rejects(bad.connect(), (e) => e.code === 'ECLOSED');
    const a = mk({ url, tlsCa: ca, deviceType: 2 }, 'alice', 'pa');
    const b = mk({ url, tlsCa: ca, deviceType: 2 }, 'bob', 'pb');
    const got = [];
    b.on('message', (m) => got.push(m.content));
    await a.connect();
    await b.connect();
    await a.sendText('bob', 'over wss');
    await until(() => got.length === 1, 5000, 'push over wss');
});
