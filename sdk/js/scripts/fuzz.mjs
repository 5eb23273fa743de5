#!/usr/bin/env node
// fuzz.mjs - a time-boxed fuzzer for the SDK's decoders (the TypeScript
// counterpart of tests/fuzz/fuzz_frame.c and fuzz_payload.c), run by
// tests/fuzz/run.sh after the libFuzzer targets.
//
// Inputs: the C targets' seeds (tests/fuzz/corpus/frame: whole frames;
// corpus/payload: first byte picks the struct, the rest is its encoding),
// mutated (bit flips, byte sets, inserts, deletes, splices, interesting
// integers). Each input goes through FrameReader (split at random points),
// decodePack, decodePayload for its type in both ACK directions, and
// decode() of every struct. The only acceptable failures are TarsError /
// the FrameReader's length Error; anything else (TypeError, RangeError, a
// wrong round trip: decode -> encode -> decode must give the same value) is
// a finding: the input is written to tests/fuzz/corpus-work/js/crash-* and
// the exit status is 1.
//
// usage: node scripts/fuzz.mjs [--seconds N]   (env OMTP_FUZZ_SECONDS)
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { FrameReader, TarsError, decode, decodePack, decodePayload, encode, schema } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const argi = process.argv.indexOf('--seconds');
const SECS = Number(argi > 0 ? process.argv[argi + 1] : process.env.OMTP_FUZZ_SECONDS || 20);
const corpus = join(root, 'tests', 'fuzz', 'corpus');
const work = join(root, 'tests', 'fuzz', 'corpus-work', 'js');

const seeds = [];
for (const dir of ['frame', 'payload']) {
    try {
        for (const f of readdirSync(join(corpus, dir))) seeds.push(new Uint8Array(readFileSync(join(corpus, dir, f))));
    } catch {
        /* no corpus: random inputs only */
    }
}
if (seeds.length === 0) seeds.push(new Uint8Array([0, 0, 0, 4]));

let rs = Number(process.env.OMTP_FUZZ_SEED || Date.now() % 2147483647) >>> 0;
const seed0 = rs;
const rnd = (n) => {
    rs ^= rs << 13;
    rs >>>= 0;
    rs ^= rs >>> 17;
    rs ^= rs << 5;
    rs >>>= 0;
    return rs % n;
};
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x0d, 0x0e, 0x0f, 0xf0];

function mutate(b) {
    let x = Array.from(b);
    const n = 1 + rnd(6);
    for (let i = 0; i < n; i++) {
        const p = x.length ? rnd(x.length) : 0;
        switch (rnd(7)) {
            case 0:
                if (x.length) x[p] ^= 1 << rnd(8);
                break;
            case 1:
                if (x.length) x[p] = INTERESTING[rnd(INTERESTING.length)];
                break;
            case 2:
                x.splice(p, 0, rnd(256));
                break;
            case 3:
                x.splice(p, 1 + rnd(4));
                break;
            case 4: {
                const o = seeds[rnd(seeds.length)];
                const s = rnd(o.length + 1);
                x.splice(p, 0, ...o.subarray(s, s + rnd(32)));
                break;
            }
            case 5:
                if (x.length >= 4) x.splice(p, 4, 0xff, 0xff, 0xff, rnd(256));
                break;
            default:
                x = x.slice(0, p);
        }
    }
    return new Uint8Array(x.slice(0, 65536));
}

const structs = Object.values(schema.ALL_STRUCTS);
const ok = (e) => e instanceof TarsError;

function check(buf) {
    // frames, split at random points
    const rd = new FrameReader(65536 * 4);
    try {
        let off = 0;
        while (off < buf.length) {
            const n = 1 + rnd(buf.length - off);
            for (const body of rd.push(buf.subarray(off, off + n))) {
                try {
                    const p = decodePack(body);
                    for (const ack of [false, true]) {
                        try {
                            decodePayload(p.header.type, ack, p.payload);
                        } catch (e) {
                            if (!ok(e)) throw e;
                        }
                    }
                } catch (e) {
                    if (!ok(e)) throw e;
                }
            }
            off += n;
        }
    } catch (e) {
        if (!(e instanceof Error && /the server sent a frame of/.test(e.message)) && !ok(e)) throw e;
    }
    // payloads: the first byte picks the struct (as fuzz_payload.c)
    if (buf.length) {
        const d = structs[buf[0] % structs.length];
        let v;
        try {
            v = decode(d, buf.subarray(1));
        } catch (e) {
            if (!ok(e)) throw e;
            return;
        }
        const again = decode(d, encode(d, v));
        if (!isDeepStrictEqual(again, v)) throw new Error(`${d.name}: decode(encode(v)) differs from v`);
    }
}

mkdirSync(work, { recursive: true });
const end = Date.now() + SECS * 1000;
let runs = 0;
let findings = 0;
while (Date.now() < end) {
    for (let i = 0; i < 200; i++) {
        const input = runs < seeds.length ? seeds[runs] : mutate(seeds[rnd(seeds.length)]);
        runs++;
        try {
            check(input);
        } catch (e) {
            findings++;
            const f = join(work, `crash-${seed0}-${runs}`);
            writeFileSync(f, input);
            console.error(`fuzz js: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}; input ${f}`);
            if (findings >= 5) break;
        }
    }
    if (findings >= 5) break;
}
console.log(`fuzz: js (sdk/js decoders) ${runs} executions, ${findings} findings, seed ${seed0}`);
process.exit(findings ? 1 : 0);
