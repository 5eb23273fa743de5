# durability_common.sh - sourced by tests/scripts/durability_*_loop.sh and
# durability_lost_cache.sh (not a test): kill omtpd under load, restart it on
# the same data directory, check every acked message.
#
#   BUILD=<build dir>; PREFIX=<user prefix>; source "$(dirname "$0")/lib/durability_common.sh"
#   dur_start ARGS...      starts omtpd on $DIR/data (extra ARGS appended; an
#                          environment assignment before the call reaches it);
#                          sets PID and PORT
#   acked                  how many acks chat_e2e --record wrote so far
#   dur_load_and_kill STEP starts chat_e2e (PAIRS pairs, recording acks), waits
#                          (at most 10 s) until STEP..2*STEP more acks arrived,
#                          kills omtpd with SIGKILL, reaps the load; sets BEFORE
#   dur_verify WHAT        chat_e2e --verify: every acked message is stored once
#                          under its seqId, sessions gap-free (WHAT names the
#                          round in the failure message)
#
# The data directory is made (omtpd init, 2*PAIRS users PREFIX0..) when this
# file is sourced, and removed at exit. Every wait is bounded polling.
set -euo pipefail
OMTPD=$BUILD/omtpd
E2E=$BUILD/chat_e2e
[ -x "$OMTPD" ] && [ -x "$E2E" ] || { echo "need $OMTPD and $E2E"; exit 1; }
PAIRS=${PAIRS:-4}

DIR=$(mktemp -d)
PID=
LOAD=
dur_cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null || true
    rm -rf "$DIR"
}
trap dur_cleanup EXIT

"$OMTPD" init --data-dir "$DIR/data" >/dev/null
for ((i = 0; i < 2 * PAIRS; i++)); do
    "$OMTPD" user add "$PREFIX$i" --password "$PREFIX$i" --data-dir "$DIR/data" >/dev/null
done

dur_start() {
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

dur_load_and_kill() {
    local step=$1 want
    BEFORE=$(acked)
    "$E2E" --port "$PORT" --pairs "$PAIRS" --window 8 --warmup 0 --duration 30 --prefix "$PREFIX" \
        --record "$DIR/acked.txt" >"$DIR/load.out" 2>&1 &
    LOAD=$!
    want=$((BEFORE + step + (RANDOM % step)))
    for _ in $(seq 1 100); do # at most 10 s
        [ "$(acked)" -ge "$want" ] && break
        sleep 0.1
    done
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
    wait "$LOAD" || { echo "load generator failed"; cat "$DIR/load.out"; exit 1; }
    LOAD=
}

dur_verify() {
    "$E2E" --port "$PORT" --prefix "$PREFIX" --verify "$DIR/acked.txt" >"$DIR/verify.out" 2>&1 || {
        echo "$1: an acked message is missing, stored twice or out of place after the restart"
        head -20 "$DIR/verify.out"
        tail -30 "$DIR/omtpd.log"
        exit 1
    }
}
