#!/usr/bin/env bash
# The omtp CLI's commands of the extensions end to end against a real omtpd:
# react / unreact, reply with @mentions, and history showing the reply, the
# mentions and the reactions; refusals that say why (issue #19).
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
WPID=
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG

# t NAME EXPECTED_EXIT PATTERN USER COMMAND... : runs `omtp COMMAND --user USER
# --password USER`, checks the exit code and that PATTERN (fixed string) is in
# the output; the output is left in $out for further checks.
out=
t() {
  local name=$1 want=$2 pat=$3 user=$4; shift 4
  local rc
  out=$("$OMTP" "$@" --user "$user" --password "$user" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
# no NAME PATTERN : the last output must NOT contain PATTERN
no() {
  if grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: output contains '$2':"; echo "$out" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

for u in alice bob carol; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn --revoke-limit-s 0 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")

UP=$(printf '\xf0\x9f\x91\x8d')
t "send"              0 "seq 1"            alice send bob "lunch?"
t "react"             0 "reacted"          bob react alice 1 "$UP"
t "react twice"       1 "already"          bob react alice 1 "$UP"
t "react outsider"    1 "MSG_FORBIDDEN"    carol react SC_alice_bob 1 "$UP"
t "react bad seq"     2 "SEQ must be"      bob react alice x "$UP"
t "react long emoji"  2 "1..32 bytes"      bob react alice 1 "0123456789012345678901234567890123"
t "reply + mention"   0 "replied to #1"    bob reply alice 1 "yes @alice"
t "history shows"     0 "(reply to #1)"    alice history bob
t "history mentions"  0 "(mentions @alice)" alice history bob
t "history reactions" 0 "$UP 1 (bob)"      alice history bob
t "unreact"           0 "removed"          bob unreact alice 1 "$UP"
t "unreact again"     1 "PARAM"            bob unreact alice 1 "$UP"
t "history after"     0 "#1"               alice history bob
no "reaction gone"    "$UP 1 (bob)"
t "reply other seq"   1 "PARAM"            bob reply alice 99 "what?"
t "reply mention out" 1 "PARAM"            bob reply alice 1 "hey @carol"
t "help"              0 "omtp react SESSION|USER SEQ EMOJI" alice react --help

exit $fail
