// client.test.mjs - OmtpClient against a real omtpd, over TCP and (when the
// omtpd binary has --ws-listen) WebSocket: every API area of the README
// (login, messages, history, hot sessions, read, revoke/edit/delete,
// groups, friends, users, attributes, sync-data, monitor, business
// notices), then the failure paths: wrong password, request timeout,
// heartbeat, reconnect after an omtpd restart with a send made while the
// server was down, and an unacked send resent with DUP arriving exactly
// once. Each test bounds its waits (seconds); users are unique per test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVICE, EC, OmtpClient, OmtpError, singleSessionId } from '../dist/node.js';
import { Server, hasWs, sleep, until } from './helpers.mjs';

let n = 0;
const uid = (p) => `${p}${process.pid}x${++n}`;

const TRANSPORTS = ['tcp'];
if (hasWs()) TRANSPORTS.push('ws');
else console.log('# this omtpd has no --ws-listen: WebSocket cases skipped (they run once the ws listener is built)');

for (const transport of TRANSPORTS) {
    describe(`over ${transport}`, () => {
        let srv;
        const clients = [];
        before(async () => {
            srv = new Server([], { http: true });
            await srv.start();
        });
        after(async () => {
            for (const c of clients) c.close();
            await srv.dispose();
        });

        /** A new user and a connected client for it (extra options merged). */
        async function login(id = uid('u'), opts = {}, role) {
            if (!opts.noAdd) srv.addUser(id, 'pw-' + id, role);
            const c = client(id, opts);
            await c.connect();
            return c;
        }
        function client(id, opts = {}) {
            const where = transport === 'ws' ? { url: srv.wsUrl } : { host: '127.0.0.1', port: srv.port };
            const c = new OmtpClient({ ...where, user: id, password: 'pw-' + id, requestTimeoutMs: 5000, backoffBaseMs: 200, backoffMaxMs: 1000, ...opts });
            clients.push(c);
            return c;
        }
        const collect = (c, ev) => {
            const got = [];
            c.on(ev, (x) => got.push(x));
            return got;
        };

        test('login with password; a wrong password rejects with code 21 and the client is closed', async () => {
            const a = await login();
            assert.equal(a.state, 'online');
            const id = uid('w');
            srv.addUser(id, 'right');
            const bad = client(id, { password: 'wrong' });
            const states = collect(bad, 'state');
            await assert.rejects(bad.connect(), (e) => e instanceof OmtpError && e.code === EC.CONN_USERNAME_OR_PASSWORD);
            assert.equal(bad.state, 'closed');
            assert.deepEqual(states.map((s) => s.state), ['connecting', 'closed']);
        });

        test('login with a token', async () => {
            const id = uid('t');
            srv.addUser(id);
            const token = srv.admin('token', 'issue', id, '--ttl', '600').trim();
            const c = client(id, { password: undefined, token });
            await c.connect();
            assert.equal(c.state, 'online');
        });

        test('single chat: send, push, ack, hot sessions with unread, history, read cursor', async () => {
            const a = await login();
            const b = await login();
            const b2 = await login(b.user, { noAdd: true, deviceType: DEVICE.ANDROID });
            const got = collect(b, 'message');
            const reads = collect(b2, 'read');
            const pending = [];
            const acks = [];
            for (let i = 1; i <= 3; i++) acks.push(await a.sendText(b.user, `hello ${i} ✓`, { onPending: (p) => pending.push(p) }));
            assert.equal(pending.length, 3);
            assert.equal(pending[0].sessionId, singleSessionId(a.user, b.user));
            assert.deepEqual(acks.map((x) => x.seqId), [1, 2, 3]);
            assert.equal(acks[0].packId, pending[0].packId);
            assert.equal(acks[0].sessionId, singleSessionId(a.user, b.user));
            await until(() => got.length === 3, 5000, 'three pushes');
            assert.deepEqual(got.map((m) => m.content), ['hello 1 ✓', 'hello 2 ✓', 'hello 3 ✓']);
            assert.equal(got[0].from, a.user);
            assert.equal(got[0].type, 14);
            assert.equal(got[0].catchup, false);
            const hot = await b.hotSessions();
            const h = hot.find((x) => x.sessionId === acks[0].sessionId);
            assert.equal(h.unreadCount, 3);
            assert.equal(h.lastMsg.content, 'hello 3 ✓');
            const hist = await b.history(acks[0].sessionId, { count: 2 });
            assert.deepEqual(hist.map((m) => m.seqId), [2, 3], 'the newest two, oldest first');
            const older = await b.history(acks[0].sessionId, { before: 2, count: 10 });
            assert.deepEqual(older.map((m) => m.content), ['hello 1 ✓']);
            await b.markRead(acks[0].sessionId, 2);
            await until(() => reads.length === 1, 5000, 'read push to the other device');
            assert.deepEqual({ ...reads[0] }, { sessionId: acks[0].sessionId, seqId: 2 });
            const hot2 = await b.hotSessions();
            assert.equal(hot2.find((x) => x.sessionId === acks[0].sessionId).unreadCount, 1);
        });

        test('revoke, edit, delete reach the peer as msgctrl and change history', async () => {
            const a = await login();
            const b = await login();
            const ctl = collect(b, 'msgctrl');
            const r1 = await a.sendText(b.user, 'one');
            const r2 = await a.sendText(b.user, 'two');
            const r3 = await a.sendText(b.user, 'three');
            await a.revoke(r1.sessionId, r1.seqId);
            await a.edit(r2.sessionId, r2.seqId, 'two, edited');
            await a.delete(r3.sessionId, r3.seqId);
            await until(() => ctl.length === 3, 5000, 'three control notices');
            assert.deepEqual(ctl.map((c) => [c.action, c.seqId]), [['revoke', 1], ['edit', 2], ['delete', 3]]);
            assert.equal(ctl[1].content, 'two, edited');
            const hist = await b.history(r1.sessionId);
            assert.deepEqual(hist.map((m) => [m.seqId, m.revoked, m.edited, m.content]), [[1, true, false, ''], [2, false, true, 'two, edited']]);
            await assert.rejects(b.revoke(r1.sessionId, r2.seqId), (e) => e.code === EC.MSG_FORBIDDEN, 'only the sender may revoke');
        });

        test('groups: create, add members, group message, sync, members, group events', async () => {
            const a = await login();
            const b = await login();
            const c = await login();
            const groupEvents = collect(c, 'group');
            const bMsgs = collect(b, 'message');
            const gid = await a.createGroup('team', [b.user]);
            assert.match(gid, /^GC_/);
            await a.addGroupMembers(gid, [c.user]);
            await until(() => groupEvents.some((g) => g.groupId === gid && g.op === 'join'), 5000, 'join event');
            assert.deepEqual((await a.groupMembers(gid)).sort(), [a.user, b.user, c.user].sort());
            const info = await c.groupInfo(gid);
            assert.equal(info.name, 'team');
            assert.equal(info.creatorId, a.user);
            const ack = await c.sendGroupText(gid, 'hi all');
            assert.equal(ack.sessionId, gid);
            await until(() => bMsgs.length === 1, 5000, 'group push');
            assert.equal(bMsgs[0].type, 15);
            assert.equal(bMsgs[0].from, c.user);
            await a.updateGroup(gid, { name: 'team 2' });
            assert.equal((await b.groupInfo(gid)).name, 'team 2');
            await a.removeGroupMembers(gid, [c.user]);
            const cs = await c.groups(0);
            assert.ok(cs.deleted.includes(gid), 'the removed member sees the group in deleted');
            await assert.rejects(b.dismissGroup(gid), (e) => e.code === EC.GROUP_NO_PRIVILEGE);
            await a.dismissGroup(gid);
            await assert.rejects(a.sendGroupText(gid, 'x'), (e) => e.code === EC.GROUP_NOT_EXIST);
        });

        test('friends, users, attributes, session attributes, sync-data events', async () => {
            const a = await login();
            const b = await login();
            const sync = collect(b, 'syncdata');
            await a.addFriend(b.user, 'bobby');
            const fr = await a.friends(0);
            assert.deepEqual(fr.map((f) => [f.friendId, f.remark]), [[b.user, 'bobby']]);
            await until(() => sync.some((s) => s.command === 1), 5000, 'sync-data command 1 at the friend');
            await a.updateUser({ name: 'Alice A', mobile: '+1' });
            const [me] = await b.users([a.user]);
            assert.equal(me.name, 'Alice A');
            assert.equal((await a.users())[0].userId, a.user);
            await a.setUserAttribute(b.user, 'remark', 'my friend');
            const attrs = await a.userAttributes({ friendId: b.user });
            assert.deepEqual(attrs.map((x) => [x.attrName, x.attrValue]), [['remark', 'my friend']]);
            const all = await a.userAttributes();
            assert.equal(all.length, 1);
            const r = await a.sendText(b.user, 'pin me');
            await a.setSessionAttribute(r.sessionId, 'pin', '1');
            const hot = await a.hotSessions();
            assert.deepEqual(hot.find((h) => h.sessionId === r.sessionId).attributes, { pin: '1' });
            await a.deleteFriend(b.user);
            assert.deepEqual(await b.friends(0), []);
        });

        test('session monitor: start, pushes as monitor events, sync, stop', async () => {
            const a = await login();
            const b = await login();
            const mid = uid('m');
            const m = await login(mid, {}, 'monitor');
            const sid = singleSessionId(a.user, b.user);
            await m.monitorStart(sid);
            const mon = collect(m, 'monitor');
            await a.sendText(b.user, 'watched');
            await until(() => mon.length === 1, 5000, 'monitor push');
            assert.equal(mon[0].content, 'watched');
            const ms = await m.monitorSync();
            assert.deepEqual(ms.map((h) => h.sessionId), [sid]);
            assert.deepEqual((await m.history(sid)).map((x) => x.content), ['watched']);
            // the subscription is renewed after a reconnect
            const cu = m.once('catchup');
            m.drop();
            await cu;
            await until(async () => (await m.monitorSync()).length === 1, 5000, 'monitoring again');
            await a.sendText(b.user, 'watched again');
            await until(() => mon.length === 2, 5000, 'monitor push after the reconnect');
            await m.monitorStop(sid);
            await assert.rejects(a.monitorStart(sid), (e) => e.code === EC.CONN_ACCESS_DENIED);
        });

        test('business notices arrive as type 16 in their BM_ session', async () => {
            const a = await login();
            const got = collect(a, 'message');
            const r = await srv.api('/v1/notify', { appId: 'shop', to: [a.user], id: 'o-1', content: 'Your order shipped', contentType: 1 });
            assert.equal(r.status, 200, JSON.stringify(r.body));
            await until(() => got.length === 1, 5000, 'biz push');
            assert.equal(got[0].type, 16);
            assert.equal(got[0].sessionId, `BM_shop_${a.user}`);
            assert.equal((await a.hotSessions()).find((h) => h.sessionId === got[0].sessionId).unreadCount, 1);
        });

        test('a refused send rejects with its code; requests when not online reject with ECLOSED', async () => {
            const a = await login();
            await assert.rejects(a.sendText(a.user, ''), (e) => e.code === EC.MSG_TOO_SHORT);
            await assert.rejects(a.sendText('no-such-user-' + n, 'x'), (e) => e.code === EC.PARAM);
            const c = client(uid('z'));
            await assert.rejects(c.history('SC_a_b'), (e) => e.code === 'ECLOSED');
        });

        test('offline catch-up: messages sent while a user was away arrive once, oldest first, marked catchup', async () => {
            const a = await login();
            // b's reconnects wait at a gate, so that a's sends certainly happen while b is away
            let gate = null;
            const inner = transport === 'ws' ? OmtpClient.defaultConnectors.ws : OmtpClient.defaultConnectors.tcp;
            const connector = (t, h) => {
                if (!gate) return inner(t, h);
                let conn = null;
                let closed = false;
                gate.then(() => {
                    if (!closed) conn = inner(t, h);
                });
                return {
                    send: (f) => conn && conn.send(f),
                    close: () => {
                        closed = true;
                        if (conn) conn.close();
                        else h.close('closed while waiting at the gate');
                    },
                };
            };
            const b = await login(uid('u'), { connector });
            const got = collect(b, 'message');
            const ctl = collect(b, 'msgctrl');
            const pages = collect(b, 'hotsessions');
            const catchups = collect(b, 'catchup');
            const first = await a.sendText(b.user, 'before');
            await until(() => got.length === 1, 5000, 'first push');
            let open;
            gate = new Promise((r) => (open = r));
            b.drop();
            await a.sendText(b.user, 'while away 1');
            await a.sendText(b.user, 'while away 2');
            await a.edit(first.sessionId, first.seqId, 'before, edited');
            gate = null;
            open();
            await until(() => got.length === 3, 10000, 'catch-up');
            await until(() => catchups.length === 2, 5000, 'catch-up done');
            await sleep(300);
            assert.deepEqual(got.map((m) => [m.content, m.seqId, m.catchup]), [['before', 1, false], ['while away 1', 2, true], ['while away 2', 3, true]]);
            assert.equal(catchups[1], null);
            assert.deepEqual(ctl.map((c) => [c.action, c.seqId, c.content, c.catchup]), [['edit', 1, 'before, edited', true]], 'the control notice from the high-priority queue');
            assert.ok(pages.at(-1).some((h) => h.sessionId === first.sessionId), 'the catch-up reported its hot-session page');
        });
    });
}

for (const transport of TRANSPORTS) describe(`failure paths over ${transport}`, () => {
    let srv;
    const clients = [];
    before(async () => {
        srv = new Server([], { http: true });
        await srv.start();
    });
    after(async () => {
        for (const c of clients) c.close();
        if (srv.proc) srv.resume();
        await srv.dispose();
    });
    const mk = (id, opts = {}) => {
        const where = transport === 'ws' ? { url: srv.wsUrl } : { host: '127.0.0.1', port: srv.port };
        const c = new OmtpClient({ ...where, user: id, password: 'pw-' + id, requestTimeoutMs: 3000, backoffBaseMs: 200, backoffMaxMs: 800, ...opts });
        clients.push(c);
        return c;
    };
    async function user(opts) {
        const id = uid('f');
        srv.addUser(id, 'pw-' + id);
        const c = mk(id, opts);
        await c.connect();
        return c;
    }

    test('a request without a reply rejects with ETIMEDOUT after requestTimeoutMs', async () => {
        const a = await user({ keepaliveMs: 0, requestTimeoutMs: 400 });
        srv.pause();
        try {
            const t0 = Date.now();
            await assert.rejects(a.hotSessions(), (e) => e instanceof OmtpError && e.code === 'ETIMEDOUT');
            assert.ok(Date.now() - t0 >= 350, 'not before the timeout');
        } finally {
            srv.resume();
        }
        assert.ok(Array.isArray(await a.hotSessions()), 'the connection still works afterwards');
    });

    test('heartbeat: a silent server is detected and the client reconnects', async () => {
        const a = await user({ keepaliveMs: 300, connectTimeoutMs: 3000 });
        const states = collectStates(a);
        srv.pause();
        try {
            await until(() => states.includes('reconnecting'), 5000, 'reconnecting after silence');
        } finally {
            srv.resume();
        }
        await until(() => a.state === 'online', 10000, 'online again');
    });

    test('omtpd restart: reconnect with backoff, a send made while down is delivered exactly once', async () => {
        const a = await user();
        const b = await user();
        const got = collect(b, 'message');
        const aStates = collectStates(a);
        await a.sendText(b.user, 'first');
        await until(() => got.length === 1, 5000, 'first push');
        await srv.stop();
        await until(() => a.state === 'reconnecting' && b.state === 'reconnecting', 5000, 'both reconnecting');
        const pend = [];
        const p = a.sendText(b.user, 'typed while the server was down', { onPending: (x) => pend.push(x) });
        assert.equal(pend.length, 1, 'onPending at once');
        assert.equal(a.pendingSends().length, 1);
        await sleep(500);
        await srv.start(); // same port, same data
        const ack = await p;
        assert.equal(ack.seqId, 2);
        assert.equal(ack.packId, pend[0].packId);
        await until(() => got.length >= 2, 10000, 'delivery after restart');
        await sleep(500);
        assert.deepEqual(got.map((m) => m.content), ['first', 'typed while the server was down']);
        assert.ok(aStates.includes('reconnecting') && aStates.at(-1) === 'online');
        assert.equal(a.pendingSends().length, 0);
    });

    test('an unacked send is resent with DUP after a drop and arrives exactly once', async () => {
        const a = await user();
        const b = await user();
        const got = collect(b, 'message');
        const dups = await srv.metric('omtp_messages_duplicate_total');
        srv.pause(); // the frame waits in the server's socket buffer, unanswered
        let p;
        try {
            p = a.sendText(b.user, 'exactly once');
            await sleep(100);
            assert.equal(a.pendingSends()[0].sent, true, 'written once');
            a.drop(); // the ack can never come on this connection
        } finally {
            srv.resume(); // the server reads and stores the first copy, then sees the close
        }
        const ack = await p; // resent with DUP on the new connection: the original ack
        assert.equal(a.stats().resends, 1, 'one resend (with DUP)');
        assert.equal(ack.seqId, 1);
        await until(() => got.length >= 1, 10000, 'delivery');
        await sleep(800);
        assert.deepEqual(got.map((m) => [m.content, m.seqId]), [['exactly once', 1]]);
        const hist = await b.history(ack.sessionId);
        assert.equal(hist.length, 1, 'stored once');
        assert.equal(await srv.metric('omtp_messages_duplicate_total'), dups + 1, 'the resend was answered from dedup');
    });

    test('kickout: a second login on the same device type closes the first client', async () => {
        const a = await user();
        const kicked = collect(a, 'kickout');
        const a2 = mk(a.user, { deviceType: a.opts.deviceType || DEVICE.LINUX });
        await a2.connect();
        await until(() => a.state === 'closed', 5000, 'first client closed');
        assert.equal(kicked.length, 1);
        assert.equal(a2.state, 'online');
    });

    function collectStates(c) {
        const s = [];
        c.on('state', (e) => s.push(e.state));
        return s;
    }
    function collect(c, ev) {
        const got = [];
        c.on(ev, (x) => got.push(x));
        return got;
    }
});
