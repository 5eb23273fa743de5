#!/usr/bin/env bash
# bench/store_only_ab.sh BIN_A [BIN_B ...] - A/B omtp-store-bench binaries
# (the store alone: appends through the executor into SQLite on disk),
# closed loop and fixed rate, FULL and NORMAL, runs interleaved, medians.
# Knobs: PAIRS (10), SIZE (64), WINDOW (160 in flight in total), RATE (5000),
# DURATION (5), RUNS (3), SYNCS ("2 1").
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: store_only_ab.sh BIN_A [BIN_B ...]"; exit 1; }
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} WINDOW=${WINDOW:-160} RATE=${RATE:-5000}
DURATION=${DURATION:-5} RUNS=${RUNS:-3} SYNCS=${SYNCS:-"2 1"}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in $(seq 1 "$RUNS"); do
  for bin in "$@"; do
    for sync in $SYNCS; do
      for mode in "--window $WINDOW" "--rate $RATE"; do
        j=$("$bin" --sync "$sync" --pairs "$PAIRS" --size "$SIZE" $mode --duration "$DURATION")
        echo "{\"bin\":\"$bin\",\"mode\":\"${mode%% *}\",\"r\":$j}" >>"$RAW"
        echo "  $bin $mode sync=$sync run $run: $j" >&2
      done
    done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$RAW" "$DURATION" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
dur = float(sys.argv[2])
keys = []
for r in rows:
    k = (r["bin"], r["r"]["sync"])
    if k not in keys: keys.append(k)
print("| binary | sync | appends/s closed loop (median, range) | items/commit | CPU us/append | mean COMMIT ms | WAL max MB | fixed rate: mean COMMIT ms | commits > 10 ms (of all) | p50 ms | p99 ms | p999 ms |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for b, s in keys:
    sat = [r["r"] for r in rows if r["bin"] == b and r["r"]["sync"] == s and r["mode"] == "--window"]
    fix = [r["r"] for r in rows if r["bin"] == b and r["r"]["sync"] == s and r["mode"] == "--rate"]
    thr = [x["appends_per_s"] for x in sat]
    m = lambda xs, k: st.median(x[k] for x in xs)
    print(f"| {b} | {'FULL' if s == 2 else 'NORMAL'} | {st.median(thr):,.0f} ({min(thr):,.0f}-{max(thr):,.0f}) "
          f"| {m(sat,'items_per_commit'):.0f} | {m(sat,'cpu_us_per_append'):.1f} | {m(sat,'commit_ms_avg'):.2f} "
          f"| {max(x['wal_max_mb'] for x in sat+fix):.0f} | {m(fix,'commit_ms_avg'):.2f} "
          f"| {sum(x.get('commits_over_10ms', 0) for x in fix)} ({sum(round(x['commits_per_s'] * dur) for x in fix):,}) "
          f"| {m(fix,'p50_ms'):.2f} | {m(fix,'p99_ms'):.2f} | {m(fix,'p999_ms'):.2f} |")
PY
