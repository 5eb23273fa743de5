#!/usr/bin/env bash
# durability_ops_kill9.sh BUILD_DIR - acked revokes, edits, reactions and read
# cursors survive a kill -9 (message_log = true: their records are in the
# message log before the ack; issue #18 item 1, docs/storage.md "Delivery
# path", "Message control, read cursors and reactions").
#
# omtpd runs with the apply a minute away (apply_delay_ms = 60000), so what
# is not read behind the barrier is only in the log when omtpd is killed:
# the last revoke (checked from memory, no store read; every CLI run logs in
# and the login's reads apply what precedes them). The edit, reaction and
# cursor before it are applied or replayed; tests/domain/test_dom_msglog.c
# test_ops_replay_after_crash replays each kind from an unapplied log. `omtpd log dump`
# shows them pending; after the restart (replay) history shows the message
# revoked, the edit, the reaction, and the session's unread count is 0.
set -euo pipefail
BUILD=${1:?usage: durability_ops_kill9.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
OMTP=$BUILD/omtp
[ -x "$OMTPD" ] && [ -x "$OMTP" ] || { echo "need $OMTPD and $OMTP"; exit 1; }

DIR=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
export HOME=$DIR XDG_CONFIG_HOME=$DIR/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_HTTP OMTP_TOKEN

"$OMTPD" init --data-dir "$DIR/data" >/dev/null
for u in alice bob; do
    "$OMTPD" user add "$u" --password "$u" --data-dir "$DIR/data" >/dev/null
done

start() {
    rm -f "$DIR/port"
    "$OMTPD" --listen 127.0.0.1:0 --port-file "$DIR/port" --data-dir "$DIR/data" \
        --log-level warn --message-log true --apply-delay-ms 60000 --apply-batch 100000 \
        --revoke-limit-s 0 2>>"$DIR/omtpd.log" &
    PID=$!
    for _ in $(seq 1 150); do
        [ -s "$DIR/port" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$DIR/port" ] || { echo "omtpd did not start"; tail -30 "$DIR/omtpd.log"; exit 1; }
    export OMTP_SERVER=127.0.0.1:$(cat "$DIR/port")
}

# run USER COMMAND... : must exit 0 (the ack arrived)
run() {
    local user=$1
    shift
    out=$(timeout 20 "$OMTP" "$@" --user "$user" --password "$user" 2>&1) || {
        echo "FAIL: omtp $* (as $user): $out"
        tail -20 "$DIR/omtpd.log"
        exit 1
    }
}

UP=$(printf '\xf0\x9f\x91\x8d')
start
run alice send bob "one"
run alice send bob "two"
run alice send bob "three"
run bob react alice 3 "$UP"
run bob read alice 3
run alice edit bob 3 "three, edited"
# last: checked from memory, so nothing applies it before the kill (every
# CLI run logs in, and the login's reads apply what precedes them)
run alice revoke bob 2
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
PID=

# the log holds the operations' records, not all applied
"$OMTPD" log dump --data-dir "$DIR/data" >"$DIR/dump.txt" 2>&1 || true
grep -q "pending len=[0-9]* ctrl session=SC_alice_bob seq=2 user=alice op=1 " "$DIR/dump.txt" || {
    echo "FAIL: the revoke is not pending in the log at the kill (the test tests nothing)"
    cat "$DIR/dump.txt"
    exit 1
}
echo "at the kill: $(grep -c "^[0-9]* pending" "$DIR/dump.txt") records pending in the log"

start
run alice history bob
hist=$out
[ -n "${V:-}" ] && echo "$hist"
grep -qF "three, edited" <<<"$hist" || { echo "FAIL: the edit is lost"; echo "$hist"; exit 1; }
grep -qF "two" <<<"$hist" && { echo "FAIL: the revoked message still shows its text"; echo "$hist"; exit 1; }
grep -qiF "revoked" <<<"$hist" || { echo "FAIL: the revoke is lost"; echo "$hist"; exit 1; }
grep -qF "$UP 1 (bob)" <<<"$hist" || { echo "FAIL: the reaction is lost"; echo "$hist"; exit 1; }
run bob sessions
[ -n "${V:-}" ] && echo "$out"
unread=$(awk '$1 == "SC_alice_bob" { print $2 }' <<<"$out")
[ "$unread" = 0 ] || { echo "FAIL: the read cursor is lost (unread '$unread')"; echo "$out"; exit 1; }
echo "ok: revoke, edit, reaction and read cursor survived kill -9"
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
