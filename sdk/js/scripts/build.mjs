#!/usr/bin/env node
// build.mjs - builds sdk/js:
//   1. checks that src/gen/schema.ts matches src/proto/omtp_schema.def
//      (when the C tree is there) -- a stale codec is a build error;
//   2. tsc: dist/*.js (ES modules) + dist/*.d.ts;
//   3. esbuild: dist/omtp-client.min.js, the browser bundle (index.ts:
//      WebSocket only, no zlib/AES), minified ES module; prints its size
//      raw and gzipped (goal: <= 30 KB gzipped, README "Size").
// usage: node scripts/build.mjs   (npm run build)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schema = join(root, '..', '..', 'src', 'proto', 'omtp_schema.def');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

if (existsSync(schema)) run(process.execPath, ['scripts/gen-codec.mjs', schema, 'src/gen/schema.ts', '--check']);
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);

const esbuild = await import('esbuild');
await esbuild.build({
    entryPoints: [join(root, 'src', 'index.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    outfile: join(root, 'dist', 'omtp-client.min.js'),
    logLevel: 'warning',
});
const min = readFileSync(join(root, 'dist', 'omtp-client.min.js'));
const gz = gzipSync(min, { level: 9 }).length;
const line = `browser bundle dist/omtp-client.min.js: ${min.length} bytes minified, ${gz} bytes gzipped (${(gz / 1024).toFixed(1)} KiB; goal <= 30 KB)`;
writeFileSync(join(root, 'dist', 'SIZE'), line + '\n');
console.log(line);
if (gz > 30 * 1024) {
    console.error('the browser bundle is above 30 KB gzipped');
    process.exit(1);
}
