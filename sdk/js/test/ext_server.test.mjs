// ext_server.test.mjs - the extensions omtpd implements, through the SDK
// against the real server (TCP): reactions (add/remove, the peer's
// 'reaction' event, the aggregate Map in history, adding twice refused),
// replies (replyTo carried to the peer and in history) and mentions (the
// peer's hot session carries mentionSeqId until read). Each part is skipped
// while the schema (and so this tree's omtpd) does not declare it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EC, OmtpClient, schema } from '../dist/node.js';
import { Server, until } from './helpers.mjs';

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
async function login() {
    const id = `x${process.pid}y${++n}`;
    srv.addUser(id, 'pw');
    const c = new OmtpClient({ host: '127.0.0.1', port: srv.port, user: id, password: 'pw', requestTimeoutMs: 5000 });
    clients.push(c);
    await c.connect();
    return c;
}
const fields = (name) => (schema[name] ? schema[name].fields.map((f) => f[1]) : []);

test('reactions: add, remove, the peer sees them live and in history', { skip: !schema.ReactionReq && 'no ReactionReq in the schema' }, async () => {
    const a = await login();
    const b = await login();
    const seen = [];
    b.on('reaction', (r) => seen.push(r));
    const m = await a.sendText(b.user, 'react to me');
    await a.react(m.sessionId, m.seqId, '👍');
    await until(() => seen.length === 1, 5000, 'reaction push');
    assert.deepEqual({ ...seen[0] }, { sessionId: m.sessionId, seqId: m.seqId, userId: a.user, emoji: '👍', op: 1 });
    await b.react(m.sessionId, m.seqId, '👍');
    await assert.rejects(b.react(m.sessionId, m.seqId, '👍'), (e) => e.code === EC.PARAM, 'adding twice is PARAM');
    const [h] = await b.history(m.sessionId);
    assert.ok(h.reactions instanceof Map);
    assert.deepEqual([...h.reactions], [['👍', [a.user, b.user]]]);
    await a.react(m.sessionId, m.seqId, '👍', false);
    const [h2] = await a.history(m.sessionId);
    assert.deepEqual([...h2.reactions], [['👍', [b.user]]]);
});

test('replies and mentions', { skip: !fields('MsgReq').includes('replyTo') && 'no replyTo in the schema' }, async () => {
    const a = await login();
    const b = await login();
    const got = [];
    b.on('message', (x) => got.push(x));
    const first = await a.sendText(b.user, 'question');
    const reply = await a.send({ to: b.user, content: 'answer', replyTo: first.seqId, mentions: [b.user] });
    await until(() => got.length === 2, 5000, 'two pushes');
    assert.equal(got[1].replyTo, first.seqId);
    assert.deepEqual(got[1].mentions, [b.user]);
    const hist = await b.history(first.sessionId);
    assert.equal(hist[1].replyTo, first.seqId);
    const hot = (await b.hotSessions()).find((h) => h.sessionId === first.sessionId);
    assert.equal(hot.raw.mentionSeqId, reply.seqId);
    await b.markRead(first.sessionId, reply.seqId);
    assert.equal((await b.hotSessions()).find((h) => h.sessionId === first.sessionId).raw.mentionSeqId, 0);
    await assert.rejects(a.send({ to: b.user, content: 'x', replyTo: 999 }), (e) => e.code === EC.PARAM, 'a reply to nothing is PARAM');
});
