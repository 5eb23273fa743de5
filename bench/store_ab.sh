#!/usr/bin/env bash
# bench/store_ab.sh DIR_A [DIR_B ...] - A/B the store: the same 1:1 chat
# workload against omtpd binaries from several build directories, FULL and
# NORMAL, runs interleaved (a shared machine's drift hits every variant
# alike), medians printed as a markdown table.
#
# Each DIR must hold omtpd and omtp-bench (a build dir, or a copy of the
# binaries of a baseline). Data directories are created under $TMPDIR (on
# disk here, not tmpfs: fsync is what is measured). Knobs: PAIRS (10),
# SIZE (64), WINDOW (16), RATE (5000 msg/s in total), DURATION (5), RUNS (3),
# SYNCS ("2 1": FULL then NORMAL).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: store_ab.sh DIR_A [DIR_B ...]"; exit 1; }
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} WINDOW=${WINDOW:-16} RATE=${RATE:-5000}
DURATION=${DURATION:-5} RUNS=${RUNS:-3} SYNCS=${SYNCS:-"2 1"}
NCL=$((2 * PAIRS))
PER=$(python3 -c "print($RATE / $NCL)")
W=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
RAW=$W/raw.jsonl
: >"$RAW"
"$1/omtpd" init --data-dir "$W/seed" >/dev/null
"$1/omtpd" user bulk bench "$NCL" --password bench --cost 8 --data-dir "$W/seed" >/dev/null

echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in $(seq 1 "$RUNS"); do
  for dir in "$@"; do
    for sync in $SYNCS; do
      rm -rf "$W/od"; mkdir -p "$W/od"; cp -r "$W/seed" "$W/od/data"
      "$dir/omtpd" --listen 127.0.0.1:0 --port-file "$W/od/port" --data-dir "$W/od/data" \
        --sync-level "$sync" --log-level warn --req-rate 0 2>>"$W/log" & # measuring
      SPID=$!
      for _ in $(seq 1 100); do [ -s "$W/od/port" ] && break; sleep 0.05; done
      PORT=$(cat "$W/od/port")
      s=$("$dir/omtp-bench" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" \
        --window "$WINDOW" --duration "$DURATION" --json)
      f=$("$dir/omtp-bench" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" \
        --rate "$PER" --duration "$DURATION" --json)
      echo "{\"dir\":\"$dir\",\"sync\":$sync,\"sat\":$s,\"fix\":$f}" >>"$RAW"
      kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
      echo "  $dir sync=$sync run $run: $(python3 -c "import json,sys;r=json.loads(sys.argv[1]);print(round(r['sat']['throughput_per_s']),'msg/s', r['fix']['latency'])" "$(tail -1 "$RAW")")" >&2
    done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$RAW" <<'EOF'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| binary | sync | saturated msg/s (median, range) | p50 ms sat | fixed p50 ms | p99 ms | p999 ms | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
seen = []
for r in rows:
    k = (r["dir"], r["sync"])
    if k not in seen: seen.append(k)
for d, s in seen:
    rs = [r for r in rows if r["dir"] == d and r["sync"] == s]
    thr = [r["sat"]["throughput_per_s"] for r in rs]
    m = lambda f: st.median(f(r) for r in rs)
    err = sum(r["sat"]["errors"] + r["fix"]["errors"] for r in rs)
    print(f"| {d} | {'FULL' if s == 2 else 'NORMAL'} | {st.median(thr):,.0f} ({min(thr):,.0f}-{max(thr):,.0f}) "
          f"| {m(lambda r: r['sat']['latency']['p50_ms']):.2f} | {m(lambda r: r['fix']['latency']['p50_ms']):.3f} "
          f"| {m(lambda r: r['fix']['latency']['p99_ms']):.3f} | {m(lambda r: r['fix']['latency']['p999_ms']):.3f} | {err} |")
EOF
