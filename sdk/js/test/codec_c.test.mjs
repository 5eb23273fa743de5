// codec_c.test.mjs - the TypeScript codec is byte-identical with the C codec,
// both directions, for every struct of src/proto/omtp_schema.def.
//
// For each struct, ITER values with varied contents (integer widths at
// every boundary, 64-bit values up to 2^53-1, empty / 255 / 256-byte /
// multi-byte UTF-8 strings, empty and filled lists, nested structs):
//  C -> TS: the values as JSON -> `omtp codec encode --struct NAME --hex`;
//           TS decodes the C bytes to the same values and re-encodes them to
//           the same bytes.
//  TS -> C: TS encodes -> `omtp codec decode --struct NAME --hex` gives the
//           same values -> `omtp codec encode` gives back the TS bytes.
// Then whole frames (OTIMPack with a MsgReq payload, DUP flag) both ways.
// The seed is printed; set CODEC_SEED to replay, CODEC_ITER for more cases.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { decode, decodePack, decodePayload, encode, encodeFrame, schema } from '../dist/index.js';
import { OMTP } from './helpers.mjs';

const ITER = Number(process.env.CODEC_ITER || 25);
const SEED = Number(process.env.CODEC_SEED || Date.now() % 1e9);
console.log(`codec seed ${SEED} (CODEC_SEED=${SEED} replays), ${ITER} values per struct`);

let s = SEED >>> 0;
function rnd() {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

const INTS = {
    i8: [0, 1, -1, 127, -128],
    i16: [0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, -32768],
    i32: [0, 1, -1, 127, 128, -129, 32767, 32768, -32768, -32769, 2147483647, -2147483648],
    i64: [0, 1, -1, 128, -129, 32768, -32769, 2147483647, 2147483648, -2147483649, 4294967296, 1796670229724, 1796670229724123, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
};
const LIM = { i8: 2 ** 7, i16: 2 ** 15, i32: 2 ** 31, i64: 2 ** 53 };

function randInt(kind) {
    if (rnd() < 0.6) return pick(INTS[kind]);
    const v = Math.floor((rnd() * 2 - 1) * LIM[kind]);
    return Math.max(-LIM[kind] + 1, Math.min(LIM[kind] - 1, v));
}
function randStr() {
    const r = rnd();
    if (r < 0.15) return '';
    if (r < 0.25) return 'x'.repeat(255);
    if (r < 0.35) return 'y'.repeat(256);
    if (r < 0.45) return 'héllo 世界 🙂';
    if (r < 0.5) return 'z'.repeat(300 + Math.floor(rnd() * 700));
    let out = '';
    const n = Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) out += String.fromCharCode(32 + Math.floor(rnd() * 95));
    return out;
}
function randBytes() {
    const n = pick([0, 1, 2, 16, 300]);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
    return b;
}
function randValue(desc, depth = 0) {
    const o = {};
    for (const [, name, kind, , , sub] of desc.fields) {
        switch (kind) {
            case 'str':
                o[name] = randStr();
                break;
            case 'bytes':
                o[name] = randBytes();
                break;
            case 'strs':
                o[name] = Array.from({ length: pick([0, 1, 3]) }, randStr);
                break;
            case 'mapstrs':
                o[name] = new Map(Array.from({ length: pick([0, 1, 2]) }, (_, i) => [`k${i}${randStr()}`, Array.from({ length: pick([0, 1, 2]) }, randStr)]));
                break;
            case 'struct':
                o[name] = randValue(sub, depth + 1);
                break;
            case 'list':
                o[name] = depth > 2 ? [] : Array.from({ length: pick([0, 1, 2]) }, () => randValue(sub, depth + 1));
                break;
            default:
                o[name] = randInt(kind);
        }
    }
    // a nested OTIMPack of a known packet type whose random payload happened
    // to decode would be shown decoded by the C side: keep types unknown
    if (desc === schema.OTIMHeader && ((o.type >= 10 && o.type <= 58) || (o.type >= 100 && o.type <= 127))) o.type += 1000;
    return o;
}

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));

/** The JSON form of docs/protocol.md section 11 (bytes as hex, maps as objects). */
function toJson(desc, v) {
    const o = {};
    for (const [, name, kind, , , sub] of desc.fields) {
        const x = v[name];
        if (kind === 'bytes') o[name] = hex(x);
        else if (kind === 'struct') o[name] = toJson(sub, x);
        else if (kind === 'list') o[name] = x.map((e) => toJson(sub, e));
        else if (kind === 'mapstrs') o[name] = Object.fromEntries(x);
        else o[name] = x;
    }
    return o;
}

/** Drops the C side's `payloadError` notes (an OTIMPack whose random payload
 * is not its type's struct): annotations of the JSON form, not fields. */
function strip(j) {
    if (Array.isArray(j)) return j.map(strip);
    if (j && typeof j === 'object') {
        const o = {};
        for (const [k, v] of Object.entries(j)) if (k !== 'payloadError') o[k] = strip(v);
        return o;
    }
    return j;
}

function omtp(args, input) {
    const r = spawnSync(OMTP, ['codec', ...args], { input, encoding: 'utf8', timeout: 30000, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `omtp codec ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.length);
}

const structs = Object.entries(schema.ALL_STRUCTS);

test('the C codec is there', () => {
    assert.ok(existsSync(OMTP), `${OMTP} not found: build first (make build) or set OMTP_CLI`);
    assert.ok(structs.length >= 40, 'every struct of the schema is generated');
});

for (const [name, desc] of structs) {
    test(`C -> TS -> C bytes: ${name}`, () => {
        const vals = Array.from({ length: ITER }, () => randValue(desc));
        const lines = omtp(['encode', '--struct', name, '--hex'], vals.map((v) => JSON.stringify(toJson(desc, v))).join('\n') + '\n');
        assert.equal(lines.length, vals.length);
        lines.forEach((h, i) => {
            const cBytes = unhex(h.trim());
            const got = decode(desc, cBytes);
            assert.deepEqual(toJson(desc, got), toJson(desc, vals[i]), `${name}: TS decodes what C encoded (case ${i})`);
            assert.equal(hex(encode(desc, got)), h.trim(), `${name}: TS re-encodes the C bytes (case ${i})`);
            assert.equal(hex(encode(desc, vals[i])), h.trim(), `${name}: TS encodes the same values to the same bytes (case ${i})`);
        });
    });

    test(`TS -> C -> TS bytes: ${name}`, () => {
        const vals = Array.from({ length: ITER }, () => randValue(desc));
        const tsHex = vals.map((v) => hex(encode(desc, v)));
        const json = omtp(['decode', '--struct', name, '--hex'], tsHex.join('\n') + '\n').map((j) => JSON.stringify(strip(JSON.parse(j))));
        assert.equal(json.length, vals.length);
        json.forEach((j, i) => assert.deepEqual(JSON.parse(j), toJson(desc, vals[i]), `${name}: C decodes what TS encoded (case ${i})`));
        const back = omtp(['encode', '--struct', name, '--hex'], json.join('\n') + '\n');
        back.forEach((h, i) => assert.equal(h.trim(), tsHex[i], `${name}: C re-encodes the TS bytes (case ${i})`));
    });
}

test('frames both ways: OTIMPack with a MsgReq payload', () => {
    const cases = Array.from({ length: ITER }, (_, i) => ({
        header: { type: pick([14, 15, 16]), version: 1, flags: pick([0, 2, 0x20, 0x22, 4]), packId: `p-${i}-${randStr().replace(/[^a-z0-9]/gi, '')}` },
        payload: randValue(schema.MsgReq),
    }));
    // TS -> C
    const frames = cases.map((c) => hex(encodeFrame(c.header, encode(schema.MsgReq, c.payload))));
    const json = omtp(['decode', '--hex'], frames.join('\n') + '\n');
    assert.equal(json.length, cases.length);
    json.forEach((j, i) => assert.deepEqual(JSON.parse(j), { header: cases[i].header, payload: toJson(schema.MsgReq, cases[i].payload) }));
    // C -> TS
    const cFrames = omtp(['encode', '--hex'], json.join('\n') + '\n');
    cFrames.forEach((h, i) => {
        const b = unhex(h.trim());
        assert.equal(h.trim(), frames[i], 'C frames equal TS frames');
        const pack = decodePack(b.subarray(4));
        assert.deepEqual(pack.header, cases[i].header);
        const { body } = decodePayload(pack.header.type, false, pack.payload);
        assert.deepEqual(toJson(schema.MsgReq, body), toJson(schema.MsgReq, cases[i].payload));
    });
});
