#!/usr/bin/env bash
# transport_ab.sh OLD_BUILD NEW_BUILD [RUNS] - the same chat load against two
# omtpd builds, interleaved (old, new, old, new, ...) so a shared machine's
# drift hits both alike; medians of RUNS (3). Written for the transport
# seam (core/transport.h): the write path must stay exactly as fast.
#
# Load: `omtp-bench chat` (NEW_BUILD's), 10 pairs, 64 B, 5 s measured:
#   saturated  --window 16 (closed loop): delivered msg/s, p50
#   fixed      --rate 250 per sender (5,000 msg/s in total): p50 / p99 ms
# omtpd runs fresh per measurement (sync_level 1, rate limit off with
# --req-rate 0, logs at warn) on a copy of one seeded data directory.
# Knobs: PAIRS, SIZE, WINDOW, RATE (per sender), DURATION.
set -euo pipefail
OLD=${1:?usage: transport_ab.sh OLD_BUILD NEW_BUILD [RUNS]}
NEW=${2:?usage: transport_ab.sh OLD_BUILD NEW_BUILD [RUNS]}
RUNS=${3:-3}
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} WINDOW=${WINDOW:-16} RATE=${RATE:-250}
DURATION=${DURATION:-5}
BENCH=$NEW/omtp-bench
W=$(mktemp -d /tmp/omtp-tpab-XXXXXX)
trap 'kill $SPID 2>/dev/null || true; rm -rf "$W"' EXIT
SPID=
"$NEW/omtpd" init --data-dir "$W/seed" >/dev/null
"$NEW/omtpd" user bulk bench $((PAIRS * 2)) --password bench --cost 8 \
    --data-dir "$W/seed" >/dev/null
start() { # build
    rm -rf "$W/od"; mkdir -p "$W/od"; cp -r "$W/seed" "$W/od/data"
    "$1/omtpd" --listen 127.0.0.1:0 --port-file "$W/od/port" --data-dir "$W/od/data" \
        --sync-level 1 --req-rate 0 --log-level warn --max-conns-per-ip 0 2>>"$W/log" &
    SPID=$!
    for _ in $(seq 1 100); do [ -s "$W/od/port" ] && break; sleep 0.05; done
    PORT=$(cat "$W/od/port")
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }
: >"$W/raw"
for run in $(seq 1 "$RUNS"); do
    for which in old new; do
        b=$OLD; [ $which = new ] && b=$NEW
        start "$b"
        j=$("$BENCH" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" \
            --window "$WINDOW" --duration "$DURATION" --json)
        echo "{\"b\":\"$which\",\"mode\":\"sat\",\"r\":$j}" >>"$W/raw"
        j=$("$BENCH" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" \
            --rate "$RATE" --duration "$DURATION" --json)
        echo "{\"b\":\"$which\",\"mode\":\"rate\",\"r\":$j}" >>"$W/raw"
        stop
        echo "  run $run $which done" >&2
    done
done
cp "$W/raw" "${OUT:-/tmp}/transport_ab-$(date -u +%Y%m%d-%H%M%S).jsonl"
python3 - "$W/raw" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| build | saturated msg/s (median, runs) | saturated p50 ms | fixed p50 / p99 ms (median) |")
print("|---|---:|---:|---:|")
for b in ("old", "new"):
    sat = [x["r"] for x in rows if x["b"] == b and x["mode"] == "sat"]
    rate = [x["r"] for x in rows if x["b"] == b and x["mode"] == "rate"]
    tp = [r["throughput_per_s"] for r in sat]
    p50 = [r["latency"]["p50_ms"] for r in sat]
    rp50 = [r["latency"]["p50_ms"] for r in rate]
    rp99 = [r["latency"]["p99_ms"] for r in rate]
    med = statistics.median
    print(f"| {b} | {med(tp):,.0f} ({', '.join(f'{v:,.0f}' for v in tp)}) | {med(p50):.1f} | "
          f"{med(rp50):.1f} / {med(rp99):.1f} ({', '.join(f'{a:.1f}/{c:.1f}' for a, c in zip(rp50, rp99))}) |")
PY
