// pres_server.test.mjs - presence, typing and group read receipts through
// the SDK against the real omtpd (TCP). Skipped while the schema does not
// declare them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OmtpClient, schema } from '../dist/node.js';
import { Server, until } from './helpers.mjs';

const skip = !schema.ALL_STRUCTS.PresenceSubReq && 'no presence in the schema';
let srv;
const clients = [];
let n = 0;
before(async () => {
    srv = new Server();
    await srv.start();
});
after(async () => {
    for (const c of clients) c.close();
    await srv.dispose();
});
async function login(id = `p${process.pid}q${++n}`, deviceType = 5) {
    if (deviceType === 5) srv.addUser(id, 'pw');
    const c = new OmtpClient({ host: '127.0.0.1', port: srv.port, user: id, password: 'pw', deviceType, requestTimeoutMs: 5000 });
    clients.push(c);
    await c.connect();
    return c;
}

test('presence: subscribe a friend, see it go offline', { skip }, async () => {
    const a = await login();
    const b = await login();
    await a.addFriend(b.user);
    const notices = [];
    b.on('presence', (u) => notices.push(...u));
    const now = await b.presenceSubscribe([a.user, 'nobody-at-all']);
    assert.deepEqual(now.map((u) => [u.userId, u.online]), [[a.user, 1]]);
    a.close();
    await until(() => notices.some((u) => u.userId === a.user && u.online === 0), 5000, 'offline notice');
});

test('typing: the peer gets the notice', { skip }, async () => {
    const a = await login();
    const b = await login();
    const m = await a.sendText(b.user, 'hi');
    const seen = [];
    b.on('typing', (t) => seen.push(t));
    a.typing(m.sessionId, true);
    await until(() => seen.length === 1, 5000, 'typing notice');
    assert.deepEqual({ ...seen[0] }, { sessionId: m.sessionId, userId: a.user, state: 1 });
});

test('group read receipts', { skip }, async () => {
    const a = await login();
    const b = await login();
    const c = await login();
    const gid = await a.createGroup('g', [b.user, c.user]);
    const m = await a.sendGroupText(gid, 'read me');
    await b.markRead(gid, m.seqId);
    assert.deepEqual(await a.readers(gid, m.seqId), { readers: [b.user], unread: [c.user] });
});
