// tars.test.mjs - the TS Tars codec against the test vectors of
// docs/protocol.md 5.5, the map<string, vector<string>> form F_MAPSTRS
// fields use, and hostile input (clear TarsError, never a hang or a wrong
// value).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TarsError, decode, encode, schema } from '../dist/index.js';

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const one = (kind, tag = 0) => ({ name: 'T', fields: [[tag, 'v', kind, 1]] });

test('protocol.md 5.5 vectors', () => {
    assert.equal(hex(encode(schema.OTIMPack, { header: { type: 11, version: 1, flags: 1, packId: 'abc' }, payload: new Uint8Array([1, 2]) })), '0a000b1001200136036162630b1d0000020102');
    const L = one('i64');
    const longs = { 0: '0c', 1: '0001', '-1': '00ff', 127: '007f', 128: '010080', '-129': '01ff7f', 32768: '0200008000', 2147483648: '030000000080000000' };
    for (const [v, h] of Object.entries(longs)) {
        assert.equal(hex(encode(L, { v: Number(v) })), h, `long ${v}`);
        assert.equal(decode(L, unhex(h)).v, Number(v));
    }
    assert.equal(hex(encode(one('str'), { v: '' })), '0600');
    assert.equal(hex(encode(one('str'), { v: 'a'.repeat(255) })).slice(0, 4), '06ff');
    assert.equal(hex(encode(one('str'), { v: 'a'.repeat(256) })).slice(0, 10), '0700000100');
    assert.equal(hex(encode(one('i32', 15), { v: 1 })), 'f00f01');
    assert.equal(hex(encode(one('i32', 200), { v: 0 })), 'fcc8');
    assert.equal(hex(encode(one('strs'), { v: [] })), '090c');
    assert.equal(hex(encode(one('strs'), { v: ['a', 'bc'] })), '0900020601610602626' + '3');
    assert.equal(hex(encode(one('bytes', 1), { v: new Uint8Array(0) })), '1d000c');
});

test('map<string, vector<string>> (F_MAPSTRS)', () => {
    const M = one('mapstrs');
    const b = encode(M, { v: new Map([['k', ['v']]]) });
    assert.equal(hex(b), '080001' + '06016b' + '190001' + '060176');
    assert.deepEqual([...decode(M, b).v], [['k', ['v']]]);
    assert.equal(hex(encode(M, { v: new Map() })), '080c');
    assert.equal(hex(encode(M, { v: { a: ['1', '2'] } })), hex(encode(M, { v: new Map([['a', ['1', '2']]]) })), 'a plain object encodes like a Map');
});

test('readers accept narrower widths and refuse wider ones', () => {
    const S = one('i16');
    assert.equal(decode(S, unhex('0005')).v, 5); // Int1 for a short
    assert.throws(() => decode(S, unhex('0200000005')), /wire type 2 where an integer of width 2/);
    assert.equal(decode(one('str'), unhex('070000000161')).v, 'a'); // String4 for a short string
    assert.deepEqual([...decode(one('bytes'), unhex('09000200010c')).v], [1, 0]); // List of Int1 / ZeroTag as bytes
});

test('unknown fields are skipped, absent optional fields take defaults', () => {
    // MsgHighPrioritySyncReq{seqId 5} + unknown tag 7 string; count absent -> 200? (required: error)
    assert.throws(() => decode(schema.MsgHighPrioritySyncReq, unhex('0005')), /MsgHighPrioritySyncReq.count \(tag 1\): required field missing/);
    const m = decode(schema.MsgReq, unhex('060173' + '1c' + '360161' + '460162' + '560178' + 'f614017a'));
    assert.equal(m.sessionId, 's');
    assert.equal(m.from, 'a');
    assert.equal(m.to, 'b');
    assert.equal(m.pushInfo, 'x');
    assert.equal(m.status, 0);
});

test('hostile input: clear errors', () => {
    const cases = [
        ['0601', /truncated/], // string longer than input
        ['09007f', /count 127 exceeds the input/], // forged count
        ['0900ff', /negative count/],
        ['0e', /invalid wire type 14/],
        ['0b', /StructEnd at top level/],
        ['5a'.repeat(40), /deeper than 32/],
        ['07ffffffff', /negative string length|truncated/],
        ['030080000000000000', /beyond the exact range/],
    ];
    for (const [h, re] of cases) {
        assert.throws(() => decode(one(h.startsWith('03') ? 'i64' : h.startsWith('09') ? 'strs' : 'str', h.startsWith('5a') ? 6 : 0), unhex(h)), (e) => e instanceof TarsError && re.test(e.message), h);
    }
    // random bytes never throw anything but TarsError
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
        const b = new Uint8Array(1 + (i % 64));
        for (let j = 0; j < b.length; j++) b[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
        try {
            decode(schema.HotSessionResp, b);
        } catch (e) {
            assert.ok(e instanceof TarsError, String(e));
        }
    }
});

test('encoding refuses what the wire cannot carry', () => {
    assert.throws(() => encode(one('i16'), { v: 40000 }), /does not fit i16/);
    assert.throws(() => encode(one('i64'), { v: 2 ** 60 }), /expected an integer/);
    assert.throws(() => encode(one('i32', 300), { v: 1 }), /above 255/);
});
