#!/usr/bin/env bash
# durability_kill9.sh BUILD_DIR - no acked message is lost, none is stored twice.
#
# Starts omtpd (SQLite, default synchronous=FULL), drives 1:1 sends with
# build/chat_e2e recording every (sessionId, seqId, packId) as its MsgAck
# arrives, kills omtpd with SIGKILL in the middle of the load, restarts it on
# the same data directory and checks with `chat_e2e --verify` that every
# acked message is in history under its seqId and packId, that each
# session's seqIds are gap-free from 1, and that no packId is stored twice.
set -euo pipefail
BUILD=${1:?usage: durability_kill9.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
E2E=$BUILD/chat_e2e
[ -x "$OMTPD" ] && [ -x "$E2E" ] || { echo "need $OMTPD and $E2E"; exit 1; }

DIR=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

PAIRS=4
"$OMTPD" init --data-dir "$DIR/data" >/dev/null
for ((i = 0; i < 2 * PAIRS; i++)); do
    "$OMTPD" user add "dk$i" --password "dk$i" --data-dir "$DIR/data" >/dev/null
done

start() {
    rm -f "$DIR/port"
    "$OMTPD" --listen 127.0.0.1:0 --port-file "$DIR/port" --data-dir "$DIR/data" \
        --log-level warn --req-rate 0 2>>"$DIR/omtpd.log" & # chat_e2e sends flat out
    PID=$!
    for _ in $(seq 1 100); do
        [ -s "$DIR/port" ] && break
        sleep 0.1
    done
    [ -s "$DIR/port" ] || { echo "omtpd did not start"; cat "$DIR/omtpd.log"; exit 1; }
    PORT=$(cat "$DIR/port")
}

start
"$E2E" --port "$PORT" --pairs $PAIRS --window 8 --warmup 0 --duration 20 --prefix dk \
    --record "$DIR/acked.txt" >"$DIR/load.out" 2>&1 &
LOAD=$!
# let the load run, then pull the plug while messages are in flight
for _ in $(seq 1 50); do
    [ -s "$DIR/acked.txt" ] && [ "$(wc -l <"$DIR/acked.txt")" -gt 2000 ] && break
    sleep 0.1
done
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
PID=
wait "$LOAD" || { echo "load generator failed"; cat "$DIR/load.out"; exit 1; }
ACKED=$(wc -l <"$DIR/acked.txt")
echo "acked before kill -9: $ACKED"
[ "$ACKED" -gt 0 ] || { echo "nothing was acked"; cat "$DIR/omtpd.log"; exit 1; }

start
"$E2E" --port "$PORT" --prefix dk --verify "$DIR/acked.txt" || {
    echo "verification failed"
    tail -50 "$DIR/omtpd.log"
    exit 1
}
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "durability_kill9: ok"
