#!/usr/bin/env bash
# bench/chat_e2e.sh BUILD [SYNC_LEVEL] - end-to-end 1:1 messaging benchmark.
#
# Starts omtpd on a fresh data directory (SQLite, synchronous = SYNC_LEVEL:
# 2 FULL (default) or 1 NORMAL), creates 2*PAIRS users, then runs
# build/chat_e2e twice: saturated (WINDOW in flight per sender) for
# throughput, and at a fixed RATE for latency. Env: PAIRS (10), WINDOW (16),
# RATE (5000), DURATION (5), SIZE (64), RUNS (3).
set -euo pipefail
BUILD=${1:?usage: chat_e2e.sh BUILD [SYNC_LEVEL]}
SYNC=${2:-2}
PAIRS=${PAIRS:-10} WINDOW=${WINDOW:-16} RATE=${RATE:-5000} DURATION=${DURATION:-5}
SIZE=${SIZE:-64} RUNS=${RUNS:-3}
DIR=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
# chat_e2e logs in with password = user id
mkdir -p "$DIR/data"
"$BUILD/omtpd" init --data-dir "$DIR/data" >/dev/null
"$BUILD/omtpd" user add b0 --password b0 --data-dir "$DIR/data" >/dev/null
seq 1 $((2 * PAIRS - 1)) | xargs -P "$(nproc)" -I{} \
    "$BUILD/omtpd" user add b{} --password b{} --data-dir "$DIR/data" >/dev/null
# --req-rate 0: benchmarks measure the server, not its flood protection
"$BUILD/omtpd" --listen 127.0.0.1:0 --port-file "$DIR/port" --data-dir "$DIR/data" \
    --sync-level "$SYNC" --log-level warn --max-conns-per-ip 0 --req-rate 0 2>"$DIR/log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$DIR/port" ] && break; sleep 0.1; done
PORT=$(cat "$DIR/port")
echo "sync_level=$SYNC pairs=$PAIRS size=$SIZE nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for ((r = 1; r <= RUNS; r++)); do
    echo "--- saturated run $r (window $WINDOW)"
    "$BUILD/chat_e2e" --port "$PORT" --prefix b --pairs "$PAIRS" --window "$WINDOW" \
        --size "$SIZE" --warmup 1 --duration "$DURATION"
done
for ((r = 1; r <= RUNS; r++)); do
    echo "--- fixed rate run $r ($RATE msg/s)"
    "$BUILD/chat_e2e" --port "$PORT" --prefix b --pairs "$PAIRS" --rate "$RATE" \
        --size "$SIZE" --warmup 1 --duration "$DURATION"
done
