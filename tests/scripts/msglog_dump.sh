#!/usr/bin/env bash
# msglog_dump.sh BUILD_DIR - `omtpd log dump` prints the message log an
# omtpd wrote (one line per message, with session, seqId and packId, then
# the end and the store's applied position), exits 0 on a whole log and 1
# with a clear message on a torn tail, and refuses a bad LSN.
set -euo pipefail
BUILD=${1:?usage: msglog_dump.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
E2E=$BUILD/chat_e2e
DIR=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
"$OMTPD" init --data-dir "$DIR/data" >/dev/null
"$OMTPD" user add md0 --password md0 --data-dir "$DIR/data" >/dev/null
"$OMTPD" user add md1 --password md1 --data-dir "$DIR/data" >/dev/null
"$OMTPD" --message-log true --listen 127.0.0.1:0 --port-file "$DIR/port" --data-dir "$DIR/data" --log-level warn \
    --req-rate 0 2>>"$DIR/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$DIR/port" ] && break; sleep 0.1; done
"$E2E" --port "$(cat "$DIR/port")" --pairs 1 --window 1 --warmup 0 --duration 1 --prefix md \
    --record "$DIR/acked.txt" >/dev/null
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
N=$(wc -l <"$DIR/acked.txt")
[ "$N" -gt 0 ] || { echo "nothing was acked"; exit 1; }

"$OMTPD" log dump --data-dir "$DIR/data" >"$DIR/dump.txt"
lines=$(grep -c ' msg type=14 session=SC_md0_md1 ' "$DIR/dump.txt")
# every acked message is in the log (more may be: sent, not yet acked)
[ "$lines" -ge "$N" ] || { echo "dump shows $lines messages, $N were acked"; exit 1; }
first=$(awk 'NR == 1 {print $3}' "$DIR/acked.txt")
grep -q "packId=$first " "$DIR/dump.txt" || { echo "packId $first missing"; exit 1; }
tail -1 "$DIR/dump.txt" | grep -q "^# .*records .* end LSN [0-9]*, applied up to LSN" ||
    { echo "no summary line"; tail -2 "$DIR/dump.txt"; exit 1; }

# a torn tail: exit 1, says so, changes nothing
seg=$(ls "$DIR"/data/log/seg-*.log | tail -1)
printf '\x20\x00\x00\x00torn' >>"$seg"
size=$(stat -c %s "$seg")
set +e
"$OMTPD" log dump --data-dir "$DIR/data" >/dev/null 2>"$DIR/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "torn tail: exit $rc, want 1"; exit 1; }
grep -q "torn or corrupt record" "$DIR/err.txt" || { cat "$DIR/err.txt"; exit 1; }
[ "$(stat -c %s "$seg")" -eq "$size" ] || { echo "dump changed the log"; exit 1; }

set +e
"$OMTPD" log dump -5 --data-dir "$DIR/data" >/dev/null 2>"$DIR/err.txt"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "is not an LSN" "$DIR/err.txt" || { echo "bad LSN: exit $rc"; cat "$DIR/err.txt"; exit 1; }
echo "msglog_dump: ok ($lines messages in the dump, $N acked)"
