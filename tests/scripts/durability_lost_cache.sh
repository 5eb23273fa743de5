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
ROUNDS=${ROUNDS:-6}
STEP=${STEP:-400}
PREFIX=lc
source "$(dirname "$0")/lib/durability_common.sh"

start() {
    rm -f "$DIR/synced"
    OMTP_TEST_LOG_SYNCED_FILE="$DIR/synced" dur_start --message-log true --log-level info
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
    [ "$r" -gt 1 ] && dur_verify "round $r"
    dur_load_and_kill "$STEP"
    before=$BEFORE
    [ -s "$DIR/synced" ] || { echo "round $r: OMTP_TEST_LOG_SYNCED_FILE was never written"; exit 1; }
    synced=$((10#$(head -c 20 "$DIR/synced")))
    cut_log "$synced"
    total_cut=$((total_cut + CUT))
    echo "round $r: $(($(acked) - before)) more acks; synced LSN $synced, cut $CUT unsynced bytes"
done
start
dur_verify final
tail -1 "$DIR/verify.out"
grep -c 'cutting the' "$DIR/omtpd.log" >/dev/null || { echo "omtpd never cut a torn tail"; exit 1; }
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "durability_lost_cache: ok, $ROUNDS power cuts, $total_cut unsynced bytes lost, $(acked) acked messages survived, $(($(date +%s) - T0)) s"
