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
# Runs on the message log (DUR_ARGS, default "--message-log true"; set
# DUR_ARGS="--message-log false" for the store path). Bounded: about 3-5 s
# a round on a loaded 2-core box.
set -euo pipefail
BUILD=${1:?usage: durability_kill9_loop.sh BUILD_DIR}
ROUNDS=${ROUNDS:-10}
STEP=${STEP:-300} # acked messages per round before the kill (at least)
PREFIX=dl
source "$(dirname "$0")/lib/durability_common.sh"
MODE=(${DUR_ARGS:---message-log true}) # the path under test (docs/storage.md)

T0=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    dur_start "${MODE[@]}"
    [ "$r" -gt 1 ] && dur_verify "round $r"
    dur_load_and_kill "$STEP"
    before=$BEFORE
    now=$(acked)
    [ "$now" -gt "$before" ] || { echo "round $r: nothing acked"; tail -30 "$DIR/omtpd.log"; exit 1; }
    echo "round $r: kill -9 after $((now - before)) more acks ($now in all)"
done
dur_start "${MODE[@]}"
dur_verify final
tail -1 "$DIR/verify.out"
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "durability_kill9_loop: ok, $ROUNDS kills, $(acked) acked messages, $(($(date +%s) - T0)) s"
