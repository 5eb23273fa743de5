// outbox.test.mjs - the wire behaviour of the client against a scripted
// in-process server (a Connector that answers frames itself): a resend
// after a drop carries the DUP flag and the same packId and payload bytes,
// the first send does not; a frame announcing a length beyond maxFrame
// drops the connection with a clear reason; a request times out with
// ETIMEDOUT. No omtpd needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAG, FrameReader, OmtpClient, PT, decodePack, decodePayload, encode, encodeFrame, schema } from '../dist/index.js';
import { until } from './helpers.mjs';

/** A Connector whose "server" is `serve(pack, reply)` for every frame the client sends. */
function scripted(serve) {
    const log = [];
    let conns = 0;
    const connector = (t, h) => {
        const id = ++conns;
        const rd = new FrameReader();
        let open = true;
        const reply = (type, flags, packId, desc, body) => {
            const f = encodeFrame({ type, version: 1, flags, packId }, desc ? encode(desc, body) : new Uint8Array(0));
            setTimeout(() => open && h.data(f), 0);
        };
        setTimeout(() => h.open(), 0);
        return {
            send(frame) {
                for (const b of rd.push(frame)) {
                    const p = decodePack(b);
                    log.push({ conn: id, header: p.header, payload: p.payload });
                    serve(p, reply, id, h);
                }
            },
            close() {
                if (!open) return;
                open = false;
                h.close('closed by the client');
            },
        };
    };
    return { connector, log };
}

const login = (p, reply) => {
    if (p.header.type === PT.LOGIN) reply(PT.LOGIN, FLAG.ACK, p.header.packId, schema.LoginResp, { code: 0 });
};

test('a resend after a drop has DUP, the same packId and the same bytes', async () => {
    const { connector, log } = scripted((p, reply, conn) => {
        login(p, reply);
        if (p.header.type === PT.MSG_SINGLE_CHAT && conn === 2) {
            const m = decodePayload(14, false, p.payload).body;
            reply(14, FLAG.ACK, p.header.packId, schema.MsgAck, { code: 0, sessionId: m.sessionId, seqId: 7, timestamp: 1 });
        }
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector, catchup: false, keepaliveMs: 0, backoffBaseMs: 10 });
    await c.connect();
    const p = c.sendText('bob', 'hi');
    await until(() => log.some((e) => e.header.type === 14), 2000, 'first send');
    c.drop();
    const ack = await p;
    assert.equal(ack.seqId, 7);
    const sends = log.filter((e) => e.header.type === 14);
    assert.equal(sends.length, 2);
    assert.equal(sends[0].header.flags & FLAG.DUP, 0, 'first send without DUP');
    assert.equal(sends[1].header.flags & FLAG.DUP, FLAG.DUP, 'resend with DUP');
    assert.equal(sends[0].header.packId, sends[1].header.packId);
    assert.deepEqual(sends[0].payload, sends[1].payload);
    assert.equal(ack.packId, sends[0].header.packId);
    c.close();
});

test('no ack within the request timeout: resent with DUP on the same connection', async () => {
    let n = 0;
    const { connector, log } = scripted((p, reply) => {
        login(p, reply);
        if (p.header.type === 14 && ++n === 2) reply(14, FLAG.ACK, p.header.packId, schema.MsgAck, { code: 0, sessionId: 'SC_alice_bob', seqId: 1, timestamp: 1 });
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector, catchup: false, keepaliveMs: 0, requestTimeoutMs: 150 });
    await c.connect();
    const ack = await c.sendText('bob', 'hi');
    assert.equal(ack.seqId, 1);
    const sends = log.filter((e) => e.header.type === 14);
    assert.deepEqual(sends.map((s) => [s.conn, s.header.flags & FLAG.DUP]), [[1, 0], [1, FLAG.DUP]]);
    c.close();
});

test('a frame longer than maxFrame drops the connection with a reason; requests time out', async () => {
    let mode = 'silent';
    const { connector } = scripted((p, reply, conn, h) => {
        login(p, reply);
        if (p.header.type === PT.HOTSESSION_SYNC && mode === 'huge') setTimeout(() => h.data(new Uint8Array([0x7f, 0, 0, 0])), 0);
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector, catchup: false, keepaliveMs: 0, requestTimeoutMs: 100, reconnect: false });
    await c.connect();
    await assert.rejects(c.hotSessions(), (e) => e.code === 'ETIMEDOUT');
    mode = 'huge';
    const states = [];
    c.on('state', (e) => states.push(e));
    await assert.rejects(c.hotSessions(), (e) => e.code === 'ECLOSED');
    assert.equal(states.at(-1).state, 'closed');
    assert.match(states.at(-1).reason, /frame of 2130706432 bytes/);
});

test('a refused login rejects connect() with the code and a reason', async () => {
    const { connector } = scripted((p, reply) => {
        if (p.header.type === PT.LOGIN) reply(PT.LOGIN, FLAG.ACK, p.header.packId, schema.LoginResp, { code: 7, extraData: '3' });
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector });
    await assert.rejects(c.connect(), (e) => e.code === 7 && /retry in 3 s/.test(e.message));
});

test('a push that arrives during the first sync is delivered once, after it; older history is not replayed', async () => {
    const sid = 'SC_alice_bob';
    const msg = (seq) => ({ sessionId: sid, seqId: seq, timestamp: seq, from: 'bob', to: 'alice', content: `m${seq}`, contentType: 1 });
    const pack = (seq) => ({ header: { type: 14, version: 1, flags: 0, packId: `p${seq}` }, payload: encode(schema.MsgReq, msg(seq)) });
    const { connector } = scripted((p, reply, conn, h) => {
        login(p, reply);
        if (p.header.type === PT.HOTSESSION_SYNC) {
            const ts = decodePayload(19, false, p.payload).body.timestamp;
            // the push of seq 5 comes first, then the hot sessions that already include it
            if (ts === 0) reply(14, 0, 'p5', schema.MsgReq, msg(5));
            reply(19, FLAG.ACK, p.header.packId, schema.HotSessionResp, ts === 0 ? { code: 0, timestamp: 10, sessions: [{ sessionId: sid, readSeqId: 0, unreadCount: 5, lastMsgs: [pack(5)], attribute: '{}' }] } : { code: 0, timestamp: 10, sessions: [] });
        }
        if (p.header.type === PT.HIGH_PRIOR_MSG_SYNC) reply(20, FLAG.ACK, p.header.packId, schema.MsgHighPrioritySyncResp, { code: 0, lastSeqId: 0, msgs: [] });
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector, keepaliveMs: 0 });
    const got = [];
    c.on('message', (m) => got.push([m.seqId, m.catchup]));
    const done = c.once('catchup');
    await c.connect();
    assert.equal(await done, null);
    assert.deepEqual(got, [[5, false]], 'the live push once, no replay of seqs 1..4');
    assert.equal(c.sessionSeq(sid), 5);
    c.close();
});

test('a compressed reply without the transforms module fails its request at once (EDECODE)', async () => {
    const { connector } = scripted((p, reply) => {
        login(p, reply);
        if (p.header.type === PT.HOTSESSION_SYNC) reply(19, FLAG.ACK | (1 << FLAG.COMPRESS_SHIFT), p.header.packId, null, null);
    });
    const c = new OmtpClient({ host: 'x', port: 1, user: 'alice', password: 'p', connector, catchup: false, keepaliveMs: 0, requestTimeoutMs: 5000 });
    await c.connect();
    const t0 = Date.now();
    await assert.rejects(c.hotSessions(), (e) => e.code === 'EDECODE' && /transforms module/.test(e.message));
    assert.ok(Date.now() - t0 < 4000, 'not at the timeout');
    c.close();
});
