#!/usr/bin/env bash
# `omtp history` and `omtp sessions` show everything of a conversation list
# or history that does not fit one reply frame (max_frame, 1 MiB): 40
# messages of 60,000 bytes (2.4 MB of history) and 20 conversations whose
# last message is that large. Before replies were paged the server dropped
# the oversized reply and the CLI timed out; now it follows the cursor page
# by page and prints every message once, oldest first.
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
"$OMTPD" user bulk u 21 --password pw --cost 4 --data-dir "$tmp/data" >/dev/null \
  2>>"$tmp/omtpd.log" || { echo "cannot create users"; cat "$tmp/omtpd.log"; exit 1; }
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn --req-rate 0 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")

big() { head -c 45000 /dev/urandom | base64 -w0; } # 60,000 printable bytes
send() { # FROM TO
  big | timeout 20 "$OMTP" send "$2" - --user "$1" --password pw >/dev/null 2>>"$tmp/cli.log" ||
    { echo "FAIL send $1 -> $2"; cat "$tmp/cli.log"; exit 1; }
}
check() { # NAME CONDITION-EXIT-CODE
  if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}

for i in $(seq 1 40); do send u0 u1; done

out=$(timeout 30 "$OMTP" history u0 all --json --user u1 --password pw 2>&1); rc=$?
check "history-all-exit ($rc)" $rc
n=$(grep -c '"content"' <<<"$out")
check "history-all-40-messages (got $n)" $([ "$n" = 40 ]; echo $?)
seqs=$(grep -o '"seq":[0-9]*' <<<"$out" | cut -d: -f2 | tr '\n' ' ')
check "history-all-oldest-first-once" $([ "$seqs" = "$(seq -s ' ' 1 40) " ]; echo $?)

out=$(timeout 30 "$OMTP" history SC_u0_u1 25 --json --user u0 --password pw 2>&1); rc=$?
check "history-25-exit ($rc)" $rc
seqs=$(grep -o '"seq":[0-9]*' <<<"$out" | cut -d: -f2 | tr '\n' ' ')
check "history-25-newest-25" $([ "$seqs" = "$(seq -s ' ' 16 40) " ]; echo $?)

out=$(timeout 30 "$OMTP" history SC_u0_u1 all 30 --json --user u0 --password pw 2>&1); rc=$?
seqs=$(grep -o '"seq":[0-9]*' <<<"$out" | cut -d: -f2 | tr '\n' ' ')
check "history-before-30" $([ "$rc" = 0 ] && [ "$seqs" = "$(seq -s ' ' 1 30) " ]; echo $?)

for i in $(seq 2 20); do send u0 "u$i"; done
out=$(timeout 30 "$OMTP" sessions --json --user u0 --password pw 2>&1); rc=$?
check "sessions-exit ($rc)" $rc
n=$(grep -c '"sessionId"' <<<"$out")
check "sessions-all-20 (got $n)" $([ "$n" = 20 ]; echo $?)

if grep -q "cannot encode" "$tmp/omtpd.log"; then
  echo "FAIL server could not encode a reply:"; grep "cannot encode" "$tmp/omtpd.log" | head -3
  fail=1
fi
[ $fail = 0 ] && echo "all cli_history_paged checks passed"
exit $fail
