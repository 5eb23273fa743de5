#!/usr/bin/env bash
# `omtp search` against a real omtpd: finds a sent message by a Chinese
# substring, limits to one conversation, pages with --before, refuses a
# too-short query with words that say what to do, and prints --json lines.
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
no() {
  if grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: output contains '$2':"; echo "$out" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob carol; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")

t send1 0 "sent to bob" alice send bob "明天上午十点开项目评审会"
t send2 0 "sent to carol" alice send carol "项目评审会改到下午"
t send3 0 "sent to carol" bob send carol "bob's own 项目评审会 note"
t find 0 "明天上午十点开项目评审会" alice search 项目评审
grep -qF "项目评审会改到下午" <<<"$out" || { echo "FAIL find: carol's chat missing"; fail=1; }
no find-others "bob's own"
t session 0 "SC_alice_bob" alice search 项目评审 --session bob
no session-only "改到下午"
t page1 0 "more may be older: add --before" alice search 评审会 --limit 1
before=$(sed -n 's/.*--before \([0-9]*\).*/\1/p' <<<"$out")
t page2 0 "明天上午十点开项目评审会" alice search 评审会 --limit 1 --before "$before"
t short 1 "at least 3 characters" alice search 评审
t json 0 '"sessionId":"SC_alice_carol"' alice search 改到下午 --json
t ops 0 "no messages contain" alice search 'NEAR("x" * -y)'
t limit 2 "--limit wants 1..100" alice search 评审会 --limit 500

exit $fail
