// gen.test.mjs - the checked-in codec tables (src/gen/schema.ts) are what
// scripts/gen-codec.mjs makes of src/proto/omtp_schema.def today, and the
// generator understands every macro, F_MAPSTRS included.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.mjs';

const SDK = join(ROOT, 'sdk', 'js');
const gen = (...a) => spawnSync(process.execPath, [join(SDK, 'scripts', 'gen-codec.mjs'), ...a], { encoding: 'utf8' });

test('src/gen/schema.ts is fresh', () => {
    const r = gen(join(ROOT, 'src', 'proto', 'omtp_schema.def'), join(SDK, 'src', 'gen', 'schema.ts'), '--check');
    assert.equal(r.status, 0, r.stderr);
});

test('the generator reads every macro and refuses a broken table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'omtp-gen-'));
    const def = join(dir, 's.def');
    writeFileSync(def, `/* F_INT(X) in a comment is ignored */
S_BEGIN(A)
F_INT(A, 0, REQ, I16, n, 7)
S_END(A)
S_BEGIN(B)
F_STRUCT(B, 0, REQ, a, A)
F_LIST(B, 1, OPT, as, A)
F_STRS(B, 2, OPT, ids)
F_BYTES(B, 3, OPT, raw)
F_STR(B, 4, OPT, s)
F_MAPSTRS(B, 11, OPT, reactions)
F_INT(B, 12, OPT, I64, big, 0)
S_END(B)
`);
    const out = join(dir, 's.ts');
    const r = gen(def, out);
    assert.equal(r.status, 0, r.stderr);
    const ts = readFileSync(out, 'utf8');
    assert.match(ts, /reactions: Map<string, string\[\]>;/);
    assert.match(ts, /\[11, "reactions", "mapstrs", 0\]/);
    assert.match(ts, /\[0, "n", "i16", 1, 7\]/);
    assert.match(ts, /\[1, "as", "list", 0, 0, A\]/);
    writeFileSync(def, 'S_BEGIN(A)\nF_INT(A, 1, REQ, I16, x, 0)\nF_INT(A, 0, REQ, I16, y, 0)\nS_END(A)\n');
    const bad = gen(def, out);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /s\.def:3: A\.y: tags must ascend/);
});
