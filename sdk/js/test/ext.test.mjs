// ext.test.mjs - the extension API (spec omtp-ext.tars: presence, typing,
// reactions, search, group read receipts) on the wire, against a scripted
// server. While src/proto/omtp_schema.def does not declare the extension
// structs yet, the test declares them from the spec (the generated ones win
// once they exist), so the client's packet types, field names and events
// are checked either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAG, FrameReader, OmtpClient, OmtpError, PT, decode, decodePack, encode, encodeFrame, registerPayload, schema } from '../dist/index.js';
import { until } from './helpers.mjs';

const S = schema.ALL_STRUCTS;
const def = (name, fields) => S[name] || (S[name] = { name, fields });
const CEC = schema.CommonErrorCode;
const PresenceSubReq = def('PresenceSubReq', [[0, 'userIds', 'strs', 1]]);
const PresenceInfo = def('PresenceInfo', [[0, 'userId', 'str', 1], [1, 'online', 'i32', 1], [2, 'lastSeen', 'i64', 0], [3, 'devices', 'i32', 0]]);
const PresenceSubResp = def('PresenceSubResp', [[0, 'errorCode', 'struct', 1, 0, CEC], [1, 'users', 'list', 1, 0, PresenceInfo]]);
const PresenceNotice = def('PresenceNotice', [[0, 'users', 'list', 1, 0, PresenceInfo]]);
const TypingReq = def('TypingReq', [[0, 'sessionId', 'str', 1], [1, 'state', 'i32', 1]]);
const TypingNotice = def('TypingNotice', [[0, 'sessionId', 'str', 1], [1, 'userId', 'str', 1], [2, 'state', 'i32', 1]]);
const ReactionReq = def('ReactionReq', [[0, 'sessionId', 'str', 1], [1, 'seqId', 'i64', 1], [2, 'emoji', 'str', 1], [3, 'op', 'i32', 1]]);
const ReactionNotice = def('ReactionNotice', [[0, 'sessionId', 'str', 1], [1, 'seqId', 'i64', 1], [2, 'userId', 'str', 1], [3, 'emoji', 'str', 1], [4, 'op', 'i32', 1]]);
const MsgSearchReq = def('MsgSearchReq', [[0, 'query', 'str', 1], [1, 'sessionId', 'str', 0], [2, 'beforeTimestamp', 'i64', 0], [3, 'count', 'i32', 0, 20]]);
const MsgSearchResp = def('MsgSearchResp', [[0, 'errorCode', 'struct', 1, 0, CEC], [1, 'msgs', 'list', 1, 0, schema.OTIMPack]]);
const MsgReadersReq = def('MsgReadersReq', [[0, 'sessionId', 'str', 1], [1, 'seqId', 'i64', 1]]);
const MsgReadersResp = def('MsgReadersResp', [[0, 'errorCode', 'struct', 1, 0, CEC], [1, 'readers', 'strs', 1], [2, 'unread', 'strs', 1]]);
registerPayload(100, PresenceSubReq, PresenceSubResp);
registerPayload(101, PresenceNotice, null);
registerPayload(102, TypingNotice, CEC);
registerPayload(103, ReactionNotice, CEC);
registerPayload(104, MsgSearchReq, MsgSearchResp);
registerPayload(105, MsgReadersReq, MsgReadersResp);

function server() {
    const got = [];
    let push = null;
    const connector = (t, h) => {
        const rd = new FrameReader();
        const send = (type, flags, packId, desc, body) => setTimeout(() => h.data(encodeFrame({ type, version: 1, flags, packId }, desc ? encode(desc, body) : new Uint8Array(0))), 0);
        push = (type, desc, body) => send(type, 0, 'push-' + type, desc, body);
        setTimeout(() => h.open(), 0);
        return {
            send(frame) {
                for (const b of rd.push(frame)) {
                    const p = decodePack(b);
                    const id = p.header.packId;
                    const ok = { errorCode: { code: 0, desc: '' } };
                    switch (p.header.type) {
                        case PT.LOGIN:
                            send(11, FLAG.ACK, id, schema.LoginResp, { code: 0 });
                            break;
                        case 100:
                            got.push(['presence', decode(PresenceSubReq, p.payload)]);
                            send(100, FLAG.ACK, id, PresenceSubResp, { ...ok, users: [{ userId: 'bob', online: 1, lastSeen: 1796670229724, devices: 2 }] });
                            break;
                        case 102:
                            got.push(['typing', decode(TypingReq, p.payload)]);
                            break;
                        case 103:
                            got.push(['reaction', decode(ReactionReq, p.payload)]);
                            send(103, FLAG.ACK, id, CEC, { code: 0, desc: '' });
                            break;
                        case 104: {
                            got.push(['search', decode(MsgSearchReq, p.payload)]);
                            const m = { sessionId: 'SC_a_b', seqId: 3, timestamp: 5, from: 'b', to: 'a', content: 'found it', contentType: 1 };
                            send(104, FLAG.ACK, id, MsgSearchResp, { ...ok, msgs: [{ header: { type: 14, version: 1, flags: 0, packId: 'x' }, payload: encode(schema.MsgReq, m) }] });
                            break;
                        }
                        case 105:
                            got.push(['readers', decode(MsgReadersReq, p.payload)]);
                            send(105, FLAG.ACK, id, MsgReadersResp, { ...ok, readers: ['b'], unread: ['c'] });
                            break;
                        default:
                            send(p.header.type, FLAG.ACK, id, CEC, { code: 1, desc: 'unknown packet type' });
                    }
                }
            },
            close() {
                h.close('closed');
            },
        };
    };
    return { connector, got, push: (...a) => push(...a) };
}

test('presence, typing, reactions, search and readers on the wire; their pushes as events', async () => {
    const srv = server();
    const c = new OmtpClient({ host: 'x', port: 1, user: 'a', password: 'p', connector: srv.connector, catchup: false, keepaliveMs: 0 });
    const ev = { presence: [], typing: [], reaction: [] };
    for (const k of Object.keys(ev)) c.on(k, (x) => ev[k].push(x));
    await c.connect();
    const users = await c.presenceSubscribe(['bob']);
    assert.deepEqual(users.map((u) => [u.userId, u.online, u.devices]), [['bob', 1, 2]]);
    c.typing('SC_a_b', true);
    c.typing('SC_a_b', false);
    await c.react('SC_a_b', 3, '👍');
    await c.react('SC_a_b', 3, '👍', false);
    const found = await c.search('found', { sessionId: 'SC_a_b', count: 5 });
    assert.deepEqual(found.map((m) => [m.seqId, m.content]), [[3, 'found it']]);
    assert.deepEqual(await c.readers('GC_g', 9), { readers: ['b'], unread: ['c'] });
    assert.deepEqual(srv.got.map(([k, v]) => [k, { ...v }]), [
        ['presence', { userIds: ['bob'] }],
        ['typing', { sessionId: 'SC_a_b', state: 1 }],
        ['typing', { sessionId: 'SC_a_b', state: 0 }],
        ['reaction', { sessionId: 'SC_a_b', seqId: 3, emoji: '👍', op: 1 }],
        ['reaction', { sessionId: 'SC_a_b', seqId: 3, emoji: '👍', op: 2 }],
        ['search', { query: 'found', sessionId: 'SC_a_b', beforeTimestamp: 0, count: 5 }],
        ['readers', { sessionId: 'GC_g', seqId: 9 }],
    ]);
    srv.push(101, PresenceNotice, { users: [{ userId: 'bob', online: 0, lastSeen: 7, devices: 0 }] });
    srv.push(102, TypingNotice, { sessionId: 'SC_a_b', userId: 'b', state: 1 });
    srv.push(103, ReactionNotice, { sessionId: 'SC_a_b', seqId: 3, userId: 'b', emoji: '🎉', op: 1 });
    await until(() => ev.presence.length && ev.typing.length && ev.reaction.length, 2000, 'three extension pushes');
    assert.equal(ev.presence[0][0].lastSeen, 7);
    assert.equal(ev.typing[0].userId, 'b');
    assert.equal(ev.reaction[0].emoji, '🎉');
    c.close();
});

