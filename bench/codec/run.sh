#!/usr/bin/env bash
# Codec benchmark: omtp's C codec vs @tars/stream on the same frames.
# Usage: bench/codec/run.sh BUILD_DIR [seconds-per-case]
# Prints a Markdown section (machine, date, command, table, ratios) suitable
# for bench/RESULTS.md.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ ! -d "$ROOT/tests/interop/node_modules/@tars/stream" ]; then
    (cd "$ROOT/tests/interop" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
c=$("$BUILD/omtp-codec-bench" --seconds "$SECS" --json)
n=$(node "$HERE/bench.js" "$SECS" --json)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "## Codec"
echo
echo "- machine: $(nproc) cores, $cpu; both sides on this machine, one thread each"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- command: \`bench/codec/run.sh $1 $SECS\` (C: build/omtp-codec-bench, RelWithDebInfo;"
echo "  Node $(node --version) with @tars/stream 2.0.3: bench/codec/bench.js)"
echo "- workloads: one frame OTIMPack{header, MsgReq with 100-byte text}; one frame"
echo "  HistoryMsgPullResp with 200 such OTIMPacks (decode includes the 200 MsgReqs)"
echo
node -e '
const c = JSON.parse(process.argv[1]), n = JSON.parse(process.argv[2]);
console.log("| case | frame bytes | C ops/s | C MB/s | Node ops/s | Node MB/s | C / Node | C allocs/decode |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (let i = 0; i < c.cases.length; i++) {
  const a = c.cases[i], b = n.cases[a.vs === undefined ? i : a.vs];
  if (a.bytes !== b.bytes) throw new Error("frames differ in size: " + a.name);
  console.log(`| ${a.name} | ${a.bytes} | ${a.ops.toFixed(0)} | ${a.mbs.toFixed(1)} | ${b.ops.toFixed(0)} | ${b.mbs.toFixed(1)} | ${(a.ops / b.ops).toFixed(1)}x | ${a.allocs < 0 ? "-" : a.allocs} |`);
}
console.log();
console.log(`Decoding a struct of scalars only (MsgHighPrioritySyncReq) 1000 times: ${c.scalarDecodeAllocs} heap allocations.`);
' "$c" "$n"
