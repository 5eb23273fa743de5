#!/usr/bin/env bash
# The omtp CLI's extension commands end to end against a real omtpd:
# `omtp presence` printing a friend's state and its change when the friend
# logs in (strangers left out), `omtp typing` (accepted, refused for a group
# one is not in), `omtp readers` (who read a group message).
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

out=
t() { # NAME EXPECTED_EXIT PATTERN USER COMMAND...
  local name=$1 want=$2 pat=$3 user=$4; shift 4
  local rc
  out=$(timeout 20 "$OMTP" "$@" --user "$user" --password "$user" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob carol dave; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")

# ---- presence -------------------------------------------------------------
t friends-add 0 "" alice friends add bob
"$OMTP" presence bob dave --json --user alice --password alice >"$tmp/pres.out" 2>&1 &
WPID=$!
for _ in $(seq 1 100); do grep -q '"bob"' "$tmp/pres.out" 2>/dev/null && break; sleep 0.05; done
if grep -q '"userId":"bob","online":false' "$tmp/pres.out"; then echo "ok   presence-initial"
else echo "FAIL presence-initial:"; cat "$tmp/pres.out"; fail=1; fi
# bob logs in and out at once: the coalesced notice says he was just seen
t bob-login 0 "" bob login
for _ in $(seq 1 100); do grep -q '"lastSeen":[1-9]' "$tmp/pres.out" && break; sleep 0.05; done
if grep -q '"userId":"bob","online":[a-z]*,"devices":[01],"lastSeen":[1-9]' "$tmp/pres.out"; then
  echo "ok   presence-change"
else echo "FAIL presence-change:"; cat "$tmp/pres.out"; fail=1; fi
if grep -q dave "$tmp/pres.out"; then echo "FAIL presence-stranger shown"; fail=1
else echo "ok   presence-stranger-left-out"; fi
kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; WPID=
t presence-bad-id 2 "not a user id" alice presence "x_y"

# ---- typing ---------------------------------------------------------------
t typing 0 "typing started" alice typing bob
t typing-stop 0 "typing stopped" alice typing bob 0
t typing-not-member 1 "MSG_FORBIDDEN" carol typing GC_nosuchgroup

# ---- readers --------------------------------------------------------------
t group-create 0 "GC_" alice group create team bob carol
GID=$(grep -o 'GC_[^ ]*' <<<"$out" | head -1)
t group-send 0 "seq 1" alice group send "$GID" hello team
t bob-read 0 "" bob read "$GID" 1
t readers 0 "read (1): bob" carol readers "$GID" 1
t readers-unread 0 "unread (1): carol" carol readers "$GID" 1
t readers-not-member 1 "MSG_FORBIDDEN" dave readers "$GID" 1

exit $fail
