#!/usr/bin/env bash
# durability_kill9_loop.sh BUILD_DIR - ten kill -9s under load: after every
# restart every acked message is there exactly once with gap-free seqIds.
#
# Issue #18 "crash proof". Like durability_kill9.sh, but ROUNDS times on the
# same data directory: each round restarts omtpd (which replays what it must),
# checks with `chat_e2e --verify` every message acked in all the rounds so far
# (present under its seqId and packId, each session gap-free from seq 1, no
# packId twice), puts 1:1 load on it (chat_e2e --record appends each ack as it
# arrives) and kills it with SIGKILL once a few hundred more messages were
# acked, at a varying point. A guarantee, not a feature: it holds with the
# store on the delivery path and with the message log (docs/storage.md).
# Bounded: about 3-5 s a round on a loaded 2-core box.
set -euo pipefail
BUILD=${1:?usage: durability_kill9_loop.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
E2E=$BUILD/chat_e2e
[ -x "$OMTPD" ] && [ -x "$E2E" ] || { echo "need $OMTPD and $E2E"; exit 1; }
ROUNDS=${ROUNDS:-10}
STEP=${STEP:-300} # acked messages per round before the kill (at least)

DIR=$(mktemp -d)
PID=
LOAD=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

PAIRS=4
"$OMTPD" init --data-dir "$DIR/data" >/dev/null
for ((i = 0; i < 2 * PAIRS; i++)); do
    "$OMTPD" user add "dl$i" --password "dl$i" --data-dir "$DIR/data" >/dev/null
done

start() {
    rm -f "$DIR/port"
    "$OMTPD" --listen 127.0.0.1:0 --port-file "$DIR/port" --data-dir "$DIR/data" \
        --log-level warn --req-rate 0 "$@" 2>>"$DIR/omtpd.log" &
    PID=$!
    for _ in $(seq 1 150); do
        [ -s "$DIR/port" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$DIR/port" ] || { echo "omtpd did not start"; tail -30 "$DIR/omtpd.log"; exit 1; }
    PORT=$(cat "$DIR/port")
}

acked() { [ -s "$DIR/acked.txt" ] && wc -l <"$DIR/acked.txt" || echo 0; }

verify() {
    "$E2E" --port "$PORT" --prefix dl --verify "$DIR/acked.txt" >"$DIR/verify.out" 2>&1 || {
        echo "round $1: verification failed after a restart"
        head -20 "$DIR/verify.out"
        tail -30 "$DIR/omtpd.log"
        exit 1
    }
}

T0=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    start
    [ "$r" -gt 1 ] && verify "$r"
    before=$(acked)
    "$E2E" --port "$PORT" --pairs $PAIRS --window 8 --warmup 0 --duration 30 --prefix dl \
        --record "$DIR/acked.txt" >"$DIR/load.out" 2>&1 &
    LOAD=$!
    want=$((before + STEP + (RANDOM % STEP)))
    for _ in $(seq 1 100); do # at most 10 s
        [ "$(acked)" -ge "$want" ] && break
        sleep 0.1
    done
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
    wait "$LOAD" || { echo "round $r: load generator failed"; cat "$DIR/load.out"; exit 1; }
    LOAD=
    now=$(acked)
    [ "$now" -gt "$before" ] || { echo "round $r: nothing acked"; tail -30 "$DIR/omtpd.log"; exit 1; }
    echo "round $r: kill -9 after $((now - before)) more acks ($now in all)"
done
start
verify final
tail -1 "$DIR/verify.out"
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "durability_kill9_loop: ok, $ROUNDS kills, $(acked) acked messages, $(($(date +%s) - T0)) s"
