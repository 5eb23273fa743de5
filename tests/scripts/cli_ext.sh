#!/usr/bin/env bash
# The omtp CLI's extension commands end to end against a real omtpd:
# `omtp presence` printing a friend's state and its change when the friend
# logs in (strangers left out), `omtp typing` (accepted, refused for a group
# one is not in), `omtp readers` (who read a group message).
CLI_USERS="alice bob carol dave"
source "$(dirname "$0")/lib/cli_common.sh"

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
