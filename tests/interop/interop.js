#!/usr/bin/env node
// Cross-checks omtp's Tars codec against @tars/stream (the npm package, as
// pinned in package.json / package-lock.json).
//
// Every struct of the OMTP schema is declared below with @tars/stream
// (classes with _writeTo / static _readFrom, TarsOutputStream /
// TarsInputStream). For each struct, many randomized cases:
//   (a) JS encodes -> `omtp codec decode --struct NAME --hex` -> the JSON
//       must equal the JS values. JS writes some optional fields not at all
//       (a "smaller" struct: the C side must show the default) and appends
//       unknown fields of every wire type (the C side must skip them).
//   (b) the same values as JSON -> `omtp codec encode --struct NAME --hex`
//       -> JS decodes equal values, and the bytes equal what JS writes for
//       the same values (both sides write every field).
// A second pass puts real MsgReq payloads into every OTIMPack and lets the
// C side decode them through the packet type table.
//
// usage: node interop.js path/to/omtp [iterations-per-struct]
// env: INTEROP_SEED (default: time-based, printed), INTEROP_ITER
'use strict';

const { spawnSync } = require('child_process');
const Tars = require('@tars/stream');

const OMTP = process.argv[2];
if (!OMTP) {
    console.error('usage: node interop.js path/to/omtp [iterations]');
    process.exit(2);
}
const ITER = parseInt(process.argv[3] || process.env.INTEROP_ITER || '60', 10);
const SEED = BigInt(process.env.INTEROP_SEED || Date.now());

// ---------------------------------------------------------------- schema
// The OMTP wire schema (docs/protocol.md): [tag, name, type, required, default].
// Types: bool (C side: int 0/1) short int long string bytes, S:<Struct>,
// V:<Struct> (vector of structs), VS (vector<string>), MVS (map<string,
// vector<string>>: an array of [key, [values]] pairs in wire order; keys are
// text, as JS map keys are).
const SCHEMA = {
    OTIMHeader: [[0, 'type', 'short', 1], [1, 'version', 'short', 1], [2, 'flags', 'long', 1],
                 [3, 'packId', 'string', 1]],
    OTIMPack: [[0, 'header', 'S:OTIMHeader', 1], [1, 'payload', 'bytes', 1]],
    CommonErrorCode: [[0, 'code', 'int', 1], [1, 'desc', 'string', 1]],
    LoginReq: [[0, 'clientId', 'string', 1], [1, 'userName', 'string', 1],
               [2, 'password', 'string', 0], [3, 'deviceType', 'int', 0],
               [4, 'deviceName', 'string', 0], [5, 'deviceId', 'string', 0],
               [6, 'version', 'string', 0]],
    LoginResp: [[0, 'code', 'int', 1], [1, 'clientId', 'string', 0], [2, 'extraData', 'string', 0]],
    KickOutReq: [[0, 'deviceType', 'int', 1], [1, 'deviceId', 'string', 1]],
    MsgReq: [[0, 'sessionId', 'string', 1], [1, 'seqId', 'long', 0], [2, 'timestamp', 'long', 0],
             [3, 'from', 'string', 1], [4, 'to', 'string', 1], [5, 'pushInfo', 'string', 0],
             [6, 'contentType', 'int', 0], [7, 'content', 'string', 0], [8, 'status', 'int', 0],
             // extensions (spec omtp-ext.tars)
             [9, 'replyTo', 'long', 0], [10, 'mentions', 'VS', 0], [11, 'reactions', 'MVS', 0]],
    MsgAck: [[0, 'code', 'int', 1], [1, 'sessionId', 'string', 1], [2, 'seqId', 'long', 1],
             [3, 'timestamp', 'long', 1], [4, 'desc', 'string', 0]],
    MsgControl: [[0, 'command', 'int', 1], [1, 'sessionId', 'string', 1],
                 [2, 'packId', 'string', 1], [3, 'seqId', 'long', 1], [4, 'content', 'string', 0]],
    MsgReaded: [[0, 'sessionId', 'string', 1], [1, 'seqId', 'long', 1]],
    HotSessionReq: [[0, 'timestamp', 'long', 1]],
    HotSessionItem: [[0, 'sessionId', 'string', 1], [1, 'readSeqId', 'long', 1],
                     [2, 'unreadCount', 'int', 1], [3, 'lastMsgs', 'V:OTIMPack', 0],
                     [4, 'attribute', 'string', 0], [5, 'mentionSeqId', 'long', 0]],
    HotSessionResp: [[0, 'code', 'int', 1], [1, 'timestamp', 'long', 1],
                     [2, 'sessions', 'V:HotSessionItem', 1]],
    MsgHighPrioritySyncReq: [[0, 'seqId', 'long', 1], [1, 'count', 'int', 1, 200]],
    MsgHighPrioritySyncResp: [[0, 'code', 'int', 1], [1, 'desc', 'string', 0],
                              [2, 'lastSeqId', 'long', 1], [3, 'msgs', 'V:OTIMPack', 0]],
    HistoryMsgPullReq: [[0, 'sessionId', 'string', 0], [1, 'seqId', 'long', 1],
                        [2, 'count', 'int', 1, 200]],
    HistoryMsgPullResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'sessionId', 'string', 1],
                         [2, 'msgs', 'V:OTIMPack', 1]],
    SessionMonitor: [[0, 'sessionId', 'string', 1]],
    SyncDataReq: [[0, 'command', 'int', 1], [1, 'content', 'string', 1]],
    GroupChatInfo: [[0, 'groupId', 'string', 1], [1, 'name', 'string', 1],
                    [2, 'avatar', 'string', 0], [3, 'creatorId', 'string', 1],
                    [4, 'desc', 'string', 0], [5, 'memberLimit', 'int', 0],
                    [6, 'createTime', 'long', 0], [7, 'updateTime', 'long', 0]],
    GroupChatSyncReq: [[0, 'timestamp', 'long', 1], [1, 'after', 'string', 0]],
    GroupChatSyncResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'timestamp', 'long', 1],
                        [2, 'groupchats', 'V:GroupChatInfo', 1], [3, 'delGroupChatIds', 'VS', 1],
                        [4, 'next', 'string', 0]],
    GroupChatCreateReq: [[0, 'groupInfo', 'S:GroupChatInfo', 1], [1, 'memberIds', 'VS', 1]],
    GroupChatCreateResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'groupId', 'string', 1]],
    GroupChatJoinReq: [[0, 'groupId', 'string', 1], [1, 'memberIds', 'VS', 1]],
    GroupChatJoinResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'groupId', 'string', 1]],
    GroupChatQuitReq: [[0, 'groupId', 'string', 1], [1, 'operatorId', 'string', 1],
                       [2, 'memberIds', 'VS', 1]],
    GroupChatDismissReq: [[0, 'groupId', 'string', 1], [1, 'operatorId', 'string', 1]],
    GroupChatCreatorUpdateReq: [[0, 'groupId', 'string', 1], [1, 'operatorId', 'string', 1],
                                [2, 'newCreatorId', 'string', 1]],
    GroupChatInfoUpdateReq: [[0, 'operatorId', 'string', 1], [1, 'groupInfo', 'S:GroupChatInfo', 1]],
    GroupChatMemberGetReq: [[0, 'groupId', 'string', 1], [1, 'after', 'string', 0]],
    GroupChatMemberGetResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'groupId', 'string', 1],
                             [2, 'memberIds', 'VS', 1], [3, 'next', 'string', 0]],
    FriendInfo: [[0, 'userId', 'string', 1], [1, 'friendId', 'string', 1],
                 [2, 'remark', 'string', 1]],
    FriendAddReq: [[0, 'friends', 'V:FriendInfo', 1]],
    FriendDelReq: [[0, 'friends', 'V:FriendInfo', 1]],
    FriendSyncReq: [[0, 'timestamp', 'long', 1], [1, 'after', 'string', 0]],
    FriendSyncResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'friends', 'V:FriendInfo', 1],
                     [2, 'next', 'string', 0]],
    UserInfo: [[0, 'userId', 'string', 1], [1, 'name', 'string', 1], [2, 'avator', 'string', 1],
               [3, 'mobile', 'string', 1], [4, 'birthday', 'long', 1]],
    UserInfoGetReq: [[0, 'userIds', 'VS', 1]],
    UserInfoGetResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'userInfos', 'V:UserInfo', 1],
                      [2, 'next', 'string', 0]],
    UserInfoUpdateReq: [[0, 'userInfo', 'S:UserInfo', 1]],
    UserAttribute: [[0, 'userId', 'string', 1], [1, 'friendId', 'string', 1],
                    [2, 'attrName', 'string', 1], [3, 'attrValue', 'string', 1]],
    UserAttrSetReq: [[0, 'attribute', 'S:UserAttribute', 1]],
    UserAttrGetResp: [[0, 'errorCode', 'S:CommonErrorCode', 1],
                      [1, 'attributes', 'V:UserAttribute', 1], [2, 'next', 'string', 0]],
    SessionAttrSetReq: [[0, 'userId', 'string', 1], [1, 'sessionId', 'string', 1],
                        [2, 'attrName', 'string', 1], [3, 'attrValue', 'string', 1]],
    // Extensions (spec/omtp-ext.tars; docs/protocol.md, Extensions chapter):
    // presence, typing, group read receipts; reactions
    PresenceSubReq: [[0, 'userIds', 'VS', 1]],
    PresenceInfo: [[0, 'userId', 'string', 1], [1, 'online', 'bool', 1],
                   [2, 'lastSeen', 'long', 0], [3, 'devices', 'int', 0]],
    PresenceSubResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'users', 'V:PresenceInfo', 1]],
    PresenceNotice: [[0, 'users', 'V:PresenceInfo', 1]],
    TypingReq: [[0, 'sessionId', 'string', 1], [1, 'state', 'int', 1]],
    TypingNotice: [[0, 'sessionId', 'string', 1], [1, 'userId', 'string', 1], [2, 'state', 'int', 1]],
    MsgReadersReq: [[0, 'sessionId', 'string', 1], [1, 'seqId', 'long', 1]],
    MsgReadersResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'readers', 'VS', 1],
                     [2, 'unread', 'VS', 1]],
    ReactionReq: [[0, 'sessionId', 'string', 1], [1, 'seqId', 'long', 1], [2, 'emoji', 'string', 1],
                  [3, 'op', 'int', 1]],
    ReactionNotice: [[0, 'sessionId', 'string', 1], [1, 'seqId', 'long', 1],
                     [2, 'userId', 'string', 1], [3, 'emoji', 'string', 1], [4, 'op', 'int', 1]],
    // extensions (spec/omtp-ext.tars)
    MsgSearchReq: [[0, 'query', 'string', 1], [1, 'sessionId', 'string', 0],
                   [2, 'beforeTimestamp', 'long', 0], [3, 'count', 'int', 0, 20]],
    MsgSearchResp: [[0, 'errorCode', 'S:CommonErrorCode', 1], [1, 'msgs', 'V:OTIMPack', 1]],
};
for (const name of Object.keys(SCHEMA))
    SCHEMA[name] = SCHEMA[name].map(([tag, fname, type, req, def]) =>
        ({ tag, name: fname, type, req: !!req, def: BigInt(def || 0) }));

// ------------------------------------------------- @tars/stream classes
// Values are plain objects: integers BigInt, strings and bytes Buffers,
// structs objects, vectors arrays. OMIT (a Set of field names) and EXTRAS
// (writer callbacks for unknown fields) only change what JS writes.
const OMIT = Symbol('omit');
const EXTRAS = Symbol('extras');

const CLASSES = {};
function cls(name) {
    if (CLASSES[name])
        return CLASSES[name];
    // One class per struct, as @tars/stream code generators emit them.
    const C = function (v, full) {
        this.v = v || defaults(name);
        this.full = !!full;
    };
    C._classname = 'omtp.' + name;
    C.prototype._writeTo = function (os) {
        writeFields(os, name, this.v, this.full);
    };
    C._readFrom = function (is) {
        return readFields(is, name);
    };
    C._write = (os, tag, val) => os.writeStruct(tag, val);
    C._read = (is, tag) => is.readStruct(tag, true, C);
    C.new = () => new C();
    CLASSES[name] = C;
    return C;
}

function writeField(os, f, val, full) {
    const t = f.type;
    if (t === 'bool') os.writeBoolean(f.tag, val !== 0n);
    else if (t === 'short') os.writeInt16(f.tag, Number(val));
    else if (t === 'int') os.writeInt32(f.tag, Number(val));
    else if (t === 'long') os.writeInt64(f.tag, val.toString(), true);
    else if (t === 'string') os.writeString(f.tag, val, true);
    else if (t === 'bytes') os.writeBytes(f.tag, new Tars.BinBuffer(val));
    else if (t.startsWith('S:')) os.writeStruct(f.tag, new (cls(t.slice(2)))(val, full));
    else if (t.startsWith('V:')) {
        const C = cls(t.slice(2));
        const l = Tars.List(C);
        for (const e of val) l.push(new C(e, full));
        os.writeList(f.tag, l);
    } else if (t === 'VS') {
        const l = Tars.List(Tars.String, 1);
        for (const e of val) l.push(e);
        os.writeList(f.tag, l);
    } else if (t === 'MVS') {
        const m = mvsType();
        for (const [k, vals] of val) {
            const l = Tars.List(Tars.String, 1);
            for (const e of vals) l.push(e);
            m.insert(k, l);
        }
        os.writeMap(f.tag, m);
    } else throw new Error('type ' + t);
}

const mvsType = () => Tars.Map(Tars.String, Tars.List(Tars.String, 1));

function writeFields(os, name, v, full) {
    for (const f of SCHEMA[name]) {
        if (!full && v[OMIT] && v[OMIT].has(f.name)) continue;
        writeField(os, f, v[f.name], full);
    }
    if (!full && v[EXTRAS]) for (const x of v[EXTRAS]) x(os);
}

function readFields(is, name) {
    const v = {};
    for (const f of SCHEMA[name]) {
        const t = f.type;
        if (t === 'bool') v[f.name] = is.readBoolean(f.tag, f.req, false) ? 1n : 0n;
        else if (t === 'short') v[f.name] = BigInt(is.readInt16(f.tag, f.req, Number(f.def)));
        else if (t === 'int') v[f.name] = BigInt(is.readInt32(f.tag, f.req, Number(f.def)));
        else if (t === 'long') v[f.name] = BigInt(is.readInt64(f.tag, f.req, 0, true));
        else if (t === 'string') v[f.name] = is.readString(f.tag, f.req, Buffer.alloc(0), true);
        else if (t === 'bytes') {
            const b = is.readBytes(f.tag, f.req, Tars.BinBuffer);
            v[f.name] = b._buffer ? Buffer.from(b._buffer.subarray(0, b._length)) : Buffer.alloc(0);
        } else if (t.startsWith('S:')) v[f.name] = is.readStruct(f.tag, f.req, cls(t.slice(2)));
        else if (t.startsWith('V:'))
            v[f.name] = is.readList(f.tag, f.req, Tars.List(cls(t.slice(2)))).value;
        else if (t === 'VS') v[f.name] = is.readList(f.tag, f.req, Tars.List(Tars.String, 1)).value;
        else if (t === 'MVS') {
            const m = is.readMap(f.tag, f.req, mvsType());
            v[f.name] = Object.keys(m.value).map((k) => [k, m.value[k].value]);
        }
    }
    return v;
}

function encodeJS(name, v, full) {
    const os = new Tars.TarsOutputStream();
    writeFields(os, name, v, full);
    const b = os.getBinBuffer();
    return b._buffer ? Buffer.from(b._buffer.subarray(0, b._length)) : Buffer.alloc(0);
}

function decodeJS(name, buf) {
    const is = new Tars.TarsInputStream(new Tars.BinBuffer(buf));
    return cls(name)._readFrom(is);
}

// ------------------------------------------------------ random values
let rs = SEED ^ 0x9e3779b97f4a7c15n;
function rnd() { // xorshift64*, returns a Number in [0, 1)
    rs ^= rs >> 12n; rs ^= (rs << 25n) & 0xffffffffffffffffn; rs ^= rs >> 27n;
    return Number(((rs * 2685821657736338717n) & 0xffffffffffffffffn) >> 11n) / 2 ** 53;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];

// bool: the C side holds it as an int (0/1); values are drawn in randValue
const WIDTH = { bool: 8n, short: 16n, int: 32n, long: 64n };
function randInt(type) {
    const w = WIDTH[type];
    const max = (1n << (w - 1n)) - 1n, min = -(1n << (w - 1n));
    const edges = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, 32767n, 32768n, -32768n,
                   -32769n, 2147483647n, 2147483648n, -2147483648n, -2147483649n,
                   9007199254740993n, (1n << 63n) - 1n, -(1n << 63n)];
    let v;
    const r = rnd();
    if (r < 0.4) v = pick(edges);
    else if (r < 0.7) v = BigInt(ri(2000) - 1000);
    else {
        v = 0n;
        for (let i = 0; i < 4; i++) v = (v << 16n) | BigInt(ri(65536));
        v >>= BigInt(ri(64));
        if (rnd() < 0.5) v = -v;
    }
    return v > max || v < min ? BigInt.asIntN(Number(w), v) : v;
}

const WORDS = ['', 'a', 'alice', 'SC_alice_bob', 'GC_42', 'héllo', '你好', '🙂', 'tab\there',
               'nl\nx', 'q"uote\\', 'nul\u0000mid', '/slash'];
function randString() {
    const r = rnd();
    if (r < 0.45) return Buffer.from(pick(WORDS), 'utf8');
    if (r < 0.6) return Buffer.from('x'.repeat(250 + ri(12)), 'utf8'); // String1/String4 edge
    if (r < 0.7) { // longer unicode
        let s = '';
        const n = 100 + ri(400);
        for (let i = 0; i < n; i++) s += pick(['a', 'é', '中', '🙂', ' ']);
        return Buffer.from(s, 'utf8');
    }
    if (r < 0.78) { // raw bytes, mostly not valid UTF-8
        const b = Buffer.alloc(ri(40));
        for (let i = 0; i < b.length; i++) b[i] = ri(256);
        return b;
    }
    if (r < 0.8) return Buffer.from('L'.repeat(70000 + ri(1000)), 'utf8'); // large
    return Buffer.from('id-' + ri(1e9).toString(36), 'utf8');
}

function randBytes() {
    const r = rnd();
    const n = r < 0.2 ? 0 : r < 0.8 ? ri(40) : r < 0.97 ? 250 + ri(300) : 70000;
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = ri(256);
    return b;
}

function defaults(name) {
    const v = {};
    for (const f of SCHEMA[name]) v[f.name] = defaultOf(f);
    return v;
}
function defaultOf(f) {
    if (WIDTH[f.type]) return f.def;
    if (f.type === 'string' || f.type === 'bytes') return Buffer.alloc(0);
    if (f.type.startsWith('S:')) return defaults(f.type.slice(2));
    return [];
}

// An unknown field of a random wire type, written with @tars/stream.
function randExtra(tag, depth) {
    const k = ri(depth > 1 ? 8 : 10);
    const n = ri(3);
    return (os) => {
        switch (k) {
        case 0: os.writeInt64(tag, randInt('long').toString(), true); break;
        case 1: os.writeString(tag, randString(), true); break;
        case 2: os.writeFloat(tag, rnd() * 100); break;
        case 3: os.writeDouble(tag, rnd() * 1e10); break;
        case 4: os.writeBytes(tag, new Tars.BinBuffer(randBytes())); break;
        case 5: { const l = Tars.List(Tars.Int64); for (let i = 0; i < n; i++) l.push(ri(1e6) - 5e5); os.writeList(tag, l); break; }
        case 6: { const m = Tars.Map(Tars.String, Tars.String); for (let i = 0; i < n; i++) m.insert('k' + i, 'v' + ri(99)); os.writeMap(tag, m); break; }
        case 7: os.writeInt8(tag, 0); break;
        case 8: { // an unknown struct with its own unknown fields
            const inner = [];
            for (let t = 0, i = 0; i < n + 1; i++, t += 1 + ri(20)) inner.push(randExtra(t, depth + 1));
            os.writeStruct(tag, { _writeTo: (o) => inner.forEach((x) => x(o)) });
            break;
        }
        case 9: { // a list of structs
            const C = { _write: (o, t, val) => o.writeStruct(t, val) };
            const l = Tars.List(C);
            for (let i = 0; i < n; i++) {
                const x = randExtra(ri(5), depth + 1);
                l.push({ _writeTo: (o) => x(o) });
            }
            os.writeList(tag, l);
            break;
        }
        }
    };
}

// Random values for struct `name`. `plain`: no omissions / unknown fields.
// `deep`: every OTIMPack carries a real MsgReq payload (header type 14).
function randStruct(name, depth, opt) {
    const v = {};
    const omit = new Set();
    for (const f of SCHEMA[name]) {
        if (!f.req && !opt.plain && rnd() < 0.3) {
            omit.add(f.name);
            v[f.name] = defaultOf(f);
            continue;
        }
        v[f.name] = randValue(f, depth, opt);
    }
    if (name === 'OTIMPack' && opt.deep) {
        v.header.type = 14n;
        v.header.flags = BigInt.asIntN(64, v.header.flags & ~0xfc1n);
        v.payload = encodeJS('MsgReq', randStruct('MsgReq', depth + 1, { plain: true }), true);
        v[DEEP] = true;
    }
    if (!opt.plain) {
        if (omit.size) v[OMIT] = omit;
        if (rnd() < 0.35) {
            const maxTag = SCHEMA[name][SCHEMA[name].length - 1].tag;
            const extras = [];
            for (let t = maxTag + 1 + ri(3), i = 0; i < 1 + ri(3) && t <= 255; i++, t += 1 + ri(100))
                extras.push(randExtra(t, depth));
            v[EXTRAS] = extras;
        }
    }
    return v;
}
const DEEP = Symbol('deep');

function randValue(f, depth, opt) {
    const t = f.type;
    if (t === 'bool') return BigInt(ri(2));
    if (WIDTH[t]) return randInt(t);
    if (t === 'string') return randString();
    if (t === 'bytes') return randBytes();
    if (t.startsWith('S:')) return randStruct(t.slice(2), depth + 1, opt);
    const n = depth > 2 || rnd() < 0.25 ? 0 : ri(4);
    if (t === 'MVS') return randMVS(n);
    const out = [];
    for (let i = 0; i < n; i++)
        out.push(t === 'VS' ? randString() : randStruct(t.slice(2), depth + 1, opt));
    return out;
}

// map<string, vector<string>>: distinct text keys (never integer-like: JS
// would reorder them), each with 0..3 random strings.
const KEYS = ['👍', '🙂', '❤️', 'héllo', '你好', 'a', 'x y', 'q"uote\\', '🎉🎉', 'k-long-' + 'z'.repeat(40)];
function randMVS(n) {
    const keys = KEYS.slice();
    const out = [];
    for (let i = 0; i < n; i++) {
        const k = keys.splice(ri(keys.length), 1)[0];
        const vals = [];
        for (let j = ri(4); j > 0; j--) vals.push(randString());
        out.push([k, vals]);
    }
    return out;
}

// ------------------------------------------------ JSON (C side's shape)
const utf8 = new TextDecoder('utf-8', { fatal: true });
function strJSON(buf) {
    try { return utf8.decode(buf); } catch (e) { return { hex: buf.toString('hex') }; }
}

function expectJSON(name, v) {
    const o = {};
    for (const f of SCHEMA[name]) {
        const t = f.type, x = v[f.name];
        if (WIDTH[t]) o[f.name] = x;
        else if (t === 'string') o[f.name] = strJSON(x);
        else if (t === 'bytes')
            o[f.name] = name === 'OTIMPack' && v[DEEP] ? expectJSON('MsgReq', decodeJS('MsgReq', x))
                                                       : x.toString('hex');
        else if (t.startsWith('S:')) o[f.name] = expectJSON(t.slice(2), x);
        else if (t === 'VS') o[f.name] = x.map(strJSON);
        else if (t === 'MVS') {
            const m = {};
            for (const [k, vals] of x) m[k] = vals.map(strJSON);
            o[f.name] = m;
        }
        else o[f.name] = x.map((e) => expectJSON(t.slice(2), e));
    }
    return o;
}

// JSON text with BigInt as plain integers.
function stringify(x) {
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'string') return JSON.stringify(x);
    if (Array.isArray(x)) return '[' + x.map(stringify).join(',') + ']';
    return '{' + Object.keys(x).map((k) => JSON.stringify(k) + ':' + stringify(x[k])).join(',') + '}';
}

// A JSON parser keeping integers exact (BigInt).
function parseJSON(s) {
    let i = 0;
    const ws = () => { while (' \t\n\r'.includes(s[i])) i++; };
    function val() {
        ws();
        const c = s[i];
        if (c === '{') {
            i++; const o = {}; ws();
            if (s[i] === '}') { i++; return o; }
            for (;;) {
                ws(); const k = str(); ws(); i++; /* : */
                o[k] = val(); ws();
                if (s[i++] === '}') return o;
            }
        }
        if (c === '[') {
            i++; const a = []; ws();
            if (s[i] === ']') { i++; return a; }
            for (;;) { a.push(val()); ws(); if (s[i++] === ']') return a; }
        }
        if (c === '"') return str();
        const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?|^true|^false|^null/.exec(s.slice(i, i + 40));
        if (!m) throw new Error('bad JSON at ' + i + ': ' + s.slice(i, i + 20));
        i += m[0].length;
        if (m[0] === 'true') return true;
        if (m[0] === 'false') return false;
        if (m[0] === 'null') return null;
        return m[1] || m[2] ? Number(m[0]) : BigInt(m[0]);
    }
    function str() {
        const start = i;
        i++;
        while (s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
        i++;
        return JSON.parse(s.slice(start, i));
    }
    const v = val();
    return v;
}

// First difference between two values, as a path, or null.
function diff(a, b, path) {
    if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
        return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b) ? null
            : `${path}: ${show(a)} != ${show(b)}`;
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null)
        return a === b ? null : `${path}: ${show(a)} != ${show(b)}`;
    if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.join() !== kb.join()) return `${path}: keys [${ka}] != [${kb}]`;
    for (const k of ka) {
        const d = diff(a[k], b[k], `${path}.${k}`);
        if (d) return d;
    }
    return null;
}
function show(x) {
    const s = Buffer.isBuffer(x) ? 'hex:' + x.toString('hex') : typeof x === 'bigint' ? x + 'n'
        : JSON.stringify(x);
    return s && s.length > 80 ? s.slice(0, 80) + `...(${s.length})` : s;
}
// Values as JS reads them back (no symbols).
function plainValues(name, v) {
    return decodeJS(name, encodeJS(name, v, true));
}

// ----------------------------------------------------------------- run
function runOmtp(args, input) {
    const r = spawnSync(OMTP, ['codec', ...args], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
    if (r.error) throw r.error;
    return { out: r.stdout.split('\n').filter((l) => l.length), err: r.stderr, status: r.status };
}

let passed = 0, failed = 0;
const failures = [];
function fail(msg) {
    failed++;
    if (failures.length < 20) failures.push(msg);
}

function runStruct(name, deep) {
    const cases = [];
    for (let k = 0; k < ITER; k++) cases.push(randStruct(name, 0, { deep }));
    // (a) JS encodes (with omissions and unknown fields) -> C decodes
    const hexIn = cases.map((v) => encodeJS(name, v, false).toString('hex'));
    const dec = runOmtp(['decode', '--struct', name, '--hex', ...(deep ? [] : ['--raw-payload'])],
                        hexIn.join('\n') + '\n');
    const expected = cases.map((v) => expectJSON(name, v));
    for (let k = 0; k < ITER; k++) {
        const line = dec.out[k];
        if (line === undefined) { fail(`${name} (a) #${k}: no output; stderr: ${dec.err.slice(0, 300)}`); continue; }
        let got;
        try { got = parseJSON(line); } catch (e) { fail(`${name} (a) #${k}: ${e.message}`); continue; }
        const d = diff(got, expected[k], name);
        if (d) fail(`${name} (a) #${k}: C decode differs: ${d}\n    input ${hexIn[k].slice(0, 200)}`);
        else passed++;
    }
    // (b) the same values as JSON -> C encodes -> JS decodes, bytes equal JS's
    const enc = runOmtp(['encode', '--struct', name, '--hex'],
                        expected.map(stringify).join('\n') + '\n');
    for (let k = 0; k < ITER; k++) {
        const line = enc.out[k];
        if (line === undefined || line.startsWith('{')) {
            fail(`${name} (b) #${k}: C encode failed: ${line || enc.err.slice(0, 300)}`);
            continue;
        }
        const cBytes = Buffer.from(line, 'hex');
        const jsBytes = encodeJS(name, cases[k], true);
        if (!cBytes.equals(jsBytes)) {
            let at = 0;
            while (at < cBytes.length && cBytes[at] === jsBytes[at]) at++;
            fail(`${name} (b) #${k}: bytes differ at ${at}: C ${line.slice(at * 2, at * 2 + 40)} JS ${jsBytes.toString('hex').slice(at * 2, at * 2 + 40)}`);
            continue;
        }
        let back;
        try { back = decodeJS(name, cBytes); } catch (e) { fail(`${name} (b) #${k}: JS cannot decode C's bytes: ${e.message}`); continue; }
        const d = diff(back, plainValues(name, cases[k]), name);
        if (d) fail(`${name} (b) #${k}: JS decode differs: ${d}`);
        else passed++;
    }
}

// Byte vectors of the format spec, written by @tars/stream itself.
function specVectors() {
    const os = new Tars.TarsOutputStream();
    os.writeStruct(0, { _writeTo: (o) => { o.writeInt16(0, 11); o.writeInt16(1, 1); o.writeInt64(2, 1); o.writeString(3, 'abc'); } });
    os.writeBytes(1, new Tars.BinBuffer(Buffer.from([1, 2])));
    const want = '0a000b1001200136036162630b1d0000020102';
    const got = Buffer.from(os.getBinBuffer()._buffer.subarray(0, os.getBinBuffer()._length)).toString('hex');
    if (got !== want) fail(`spec vector: @tars/stream wrote ${got}`);
    const r = runOmtp(['encode', '--struct', 'OTIMPack', '--hex'],
                      '{"header":{"type":11,"version":1,"flags":1,"packId":"abc"},"payload":"0102"}\n');
    if (r.out[0] !== want) fail(`spec vector: omtp wrote ${r.out[0]}`);
    else passed++;
}

const t0 = Date.now();
console.log(`interop: @tars/stream ${require('@tars/stream/package.json').version} vs ${OMTP}, ` +
            `${ITER} cases per struct and direction, seed ${SEED}`);
specVectors();
for (const deep of [false, true]) {
    for (const name of Object.keys(SCHEMA)) {
        const before = failed;
        runStruct(name, deep);
        if (failed > before) console.log(`  ${name}${deep ? ' (nested payloads)' : ''}: ${failed - before} failed`);
    }
}
for (const f of failures) console.log('FAIL ' + f);
console.log(`${Object.keys(SCHEMA).length} structs, 2 passes, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
