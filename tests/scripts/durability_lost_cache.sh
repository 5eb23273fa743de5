#!/usr/bin/env bash
# durability_lost_cache.sh BUILD_DIR - a power cut loses the message log's
# unsynced tail: every *acked* message survives it.
#
# Issue #18 "crash proof", the "lost page cache" test. omtpd runs with the
# test-only OMTP_TEST_LOG_SYNCED_FILE=PATH: its log's sync thread writes the
# synced LSN into PATH after each fdatasync, before any ack it covers is sent.
# Under 1:1 load (chat_e2e --record writes each ack as it arrives) omtpd is
# killed with SIGKILL; then this script does what a power cut would do to the
# log (DATA_DIR/log/seg-<first LSN in hex>.log): every byte after the synced
# LSN is cut (later segments removed) and a few garbage bytes are appended, as
# a torn write leaves. omtpd restarts (cuts the torn tail, replays the rest
# into the store) and `chat_e2e --verify` checks every acked message is there
# once, under its seqId, each session gap-free from 1. ROUNDS times on the
# same data directory. The store itself keeps what it applied (only the
# log's page cache is "lost"), so the store can be ahead of the log: that case
# is exercised too.
set -euo pipefail
BUILD=${1:?usage: durability_lost_cache.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
E2E=$BUILD/chat_e2e
[ -x "$OMTPD" ] && [ -x "$E2E" ] || { echo "need $OMTPD and $E2E"; exit 1; }
ROUNDS=${ROUNDS:-6}
STEP=${STEP:-400}

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
    "$OMTPD" user add "lc$i" --password "lc$i" --data-dir "$DIR/data" >/dev/null
done

start() {
    rm -f "$DIR/port" "$DIR/synced"
    OMTP_TEST_LOG_SYNCED_FILE="$DIR/synced" "$OMTPD" --message-log true --listen 127.0.0.1:0 \
        --port-file "$DIR/port" --data-dir "$DIR/data" --log-level info --req-rate 0 \
        2>>"$DIR/omtpd.log" &
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
    "$E2E" --port "$PORT" --prefix lc --verify "$DIR/acked.txt" >"$DIR/verify.out" 2>&1 || {
        echo "round $1: an acked message did not survive the lost page cache"
        head -20 "$DIR/verify.out"
        tail -30 "$DIR/omtpd.log"
        exit 1
    }
}

# what a power cut does to the log: cut after the synced LSN, add torn bytes
cut_log() {
    local synced=$1 cut=0 last= f name start size
    for f in "$DIR"/data/log/seg-*.log; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .log)
        start=$((16#${name#seg-}))
        size=$(stat -c %s "$f")
        if [ "$start" -gt "$synced" ]; then
            cut=$((cut + size))
            rm -f "$f"
        elif [ $((start + size)) -gt "$synced" ]; then
            cut=$((cut + start + size - synced))
            truncate -s $((synced - start)) "$f"
            last=$f
        else
            last=$f
        fi
    done
    [ -n "$last" ] || { echo "no log segment holds the synced LSN $synced"; ls -la "$DIR/data/log"; exit 1; }
    printf '\x2a\x00\x00\x00\xde\xad\xbe\xef\x01torn' >>"$last"
    CUT=$cut
}

[ -d "$DIR/data" ] || exit 1
T0=$(date +%s)
total_cut=0
for ((r = 1; r <= ROUNDS; r++)); do
    start
    [ -d "$DIR/data/log" ] || { echo "omtpd keeps no message log in DATA_DIR/log"; exit 1; }
    [ "$r" -gt 1 ] && verify "$r"
    before=$(acked)
    "$E2E" --port "$PORT" --pairs $PAIRS --window 8 --warmup 0 --duration 30 --prefix lc \
        --record "$DIR/acked.txt" >"$DIR/load.out" 2>&1 &
    LOAD=$!
    want=$((before + STEP + (RANDOM % STEP)))
    for _ in $(seq 1 100); do
        [ "$(acked)" -ge "$want" ] && break
        sleep 0.1
    done
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
    wait "$LOAD" || { echo "round $r: load generator failed"; cat "$DIR/load.out"; exit 1; }
    LOAD=
    [ -s "$DIR/synced" ] || { echo "round $r: OMTP_TEST_LOG_SYNCED_FILE was never written"; exit 1; }
    synced=$((10#$(head -c 20 "$DIR/synced")))
    cut_log "$synced"
    total_cut=$((total_cut + CUT))
    echo "round $r: $(($(acked) - before)) more acks; synced LSN $synced, cut $CUT unsynced bytes"
done
start
verify final
tail -1 "$DIR/verify.out"
grep -c 'cutting the' "$DIR/omtpd.log" >/dev/null || { echo "omtpd never cut a torn tail"; exit 1; }
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "durability_lost_cache: ok, $ROUNDS power cuts, $total_cut unsynced bytes lost, $(acked) acked messages survived, $(($(date +%s) - T0)) s"
