#!/usr/bin/env bash
# The omtp CLI's one-shot commands end to end against a real omtpd: login,
# send, sessions with unread counts, history, read, revoke/edit/delete,
# groups (create/join/members/send/quit/dismiss), friends (add/list/del),
# user get/set, refusals that say what went wrong and what to do, and
# `omtp watch` printing a message that arrives while it runs.
source "$(dirname "$0")/lib/cli_common.sh"

# ---- login --------------------------------------------------------------
t login 0 "logged in to $OMTP_SERVER as alice" alice login
out=$("$OMTP" login --user alice --password wrong 2>&1); rc=$?
if [ $rc = 1 ] && grep -q "CONN_USERNAME_OR_PASSWORD" <<<"$out" && grep -q "hint: check --user/--password" <<<"$out"; then
  echo "ok   login-wrong-password"
else
  echo "FAIL login-wrong-password: exit $rc: $out"; fail=1
fi

# ---- 1:1 messages ---------------------------------------------------------
t send-1 0 "sent to bob: session SC_alice_bob seq 1" alice send bob hello bob
t send-2 0 "seq 2" alice send bob second one
out=$(echo "from stdin" | "$OMTP" send bob - --user alice --password alice 2>&1)
grep -qF "seq 3" <<<"$out" && echo "ok   send-stdin" || { echo "FAIL send-stdin: $out"; fail=1; }
t send-json 0 '"seq":4' alice send bob fourth --json
t sessions-unread 0 "SC_alice_bob" bob sessions
grep -E "^SC_alice_bob +4 +4 +alice: fourth" <<<"$out" >/dev/null && echo "ok   sessions-unread-4" ||
  { echo "FAIL sessions-unread-4:"; echo "$out"; fail=1; }
t sessions-json 0 '"unread":4' bob sessions --json
t sessions-own-zero 0 "SC_alice_bob" alice sessions --json
grep -qF '"unread":0' <<<"$out" && echo "ok   sessions-own-messages-not-unread" ||
  { echo "FAIL sessions-own-messages-not-unread: $out"; fail=1; }
t history 0 "alice: hello bob" bob history alice
grep -c "alice:" <<<"$out" | grep -qx 4 && echo "ok   history-4-lines" || { echo "FAIL history-4-lines: $out"; fail=1; }
t history-count 0 "alice: fourth" bob history SC_alice_bob 1
no history-count-only-1 "hello bob"
t history-json 0 '"content":"from stdin"' bob history alice 10 --json
t read 0 "SC_alice_bob read up to seq 4" bob read alice
t sessions-after-read 0 '"unread":0' bob sessions --json
t send-after-read 0 "seq 5" alice send bob fifth
t sessions-unread-1 0 '"unread":1' bob sessions --json

# ---- revoke / edit / delete ----------------------------------------------
t revoke 0 "#1" alice revoke bob 1
t edit 0 "#2" alice edit bob 2 second, edited
t delete 0 "#3" alice delete bob 3
t history-after-ctrl 0 "(revoked)" bob history alice
grep -qF "alice: second, edited  (edited)" <<<"$out" && echo "ok   history-edited" || { echo "FAIL history-edited: $out"; fail=1; }
no history-deleted-gone "from stdin"
no history-revoked-text-gone "hello bob"
t revoke-not-sender 1 "hint: only the sender" bob revoke alice 4
grep -qE "MSG_FORBIDDEN|MSG_OP_CMD" <<<"$out" && echo "ok   revoke-not-sender-code" || { echo "FAIL revoke-not-sender-code: $out"; fail=1; }
t revoke-missing 1 "hint:" alice revoke bob 99
t history-not-member 1 "hint: you can only read sessions you belong to" carol history SC_alice_bob

# ---- groups ---------------------------------------------------------------
t group-create 0 "GC_" alice group create team bob
GID=$(grep -o 'GC_[^ ]*' <<<"$out" | head -1)
[ -n "$GID" ] || GID=GC_not_created
t group-members 0 "bob" alice group members "$GID"
grep -qx alice <<<"$out" && echo "ok   group-creator-is-member" || { echo "FAIL group-creator-is-member: $out"; fail=1; }
no group-members-no-carol "carol"
t group-join-self-refused 1 "hint: only members add members" carol group join "$GID"
t group-join 0 "" bob group join "$GID" carol
t group-members-3 0 "carol" bob group members "$GID"
t group-list 0 "$GID" carol group list
t group-info 0 "creator:  alice" bob group info "$GID"
t group-send 0 "seq 1" bob group send "$GID" hi team
t group-history 0 "bob: hi team" carol history "$GID"
t group-sessions 0 "$GID" carol sessions
t group-quit 0 "" carol group quit "$GID"
t group-members-after-quit 0 "bob" alice group members "$GID"
no group-carol-gone "carol"
t group-send-nonmember 1 "hint:" carol group send "$GID" let me in
t group-dismiss-not-creator 1 "only the group's creator" bob group dismiss "$GID"
t group-dismiss 0 "" alice group dismiss "$GID"
t group-list-after-dismiss 0 "" bob group list
no group-gone-after-dismiss "$GID team"
t group-send-dismissed 1 "hint:" alice group send "$GID" anyone

# ---- friends --------------------------------------------------------------
t friends-empty 0 "no friends yet" alice friends list
t friends-add 0 "added friend bob" alice friends add bob my buddy
t friends-list 0 "bob" alice friends list
grep -qF "my buddy" <<<"$out" && echo "ok   friends-remark" || { echo "FAIL friends-remark: $out"; fail=1; }
t friends-mutual 0 "alice" bob friends list
t friends-json 0 '"friendId":"bob"' alice friends list --json
t friends-del 0 "removed friend bob" alice friends del bob
t friends-empty-again 0 "no friends yet" alice friends list

# ---- users ----------------------------------------------------------------
t user-set 0 "updated alice" alice user set name=Alice mobile=5550100 birthday=19900131
t user-get 0 "name:     Alice" alice user get
grep -qF "mobile:   5550100" <<<"$out" && echo "ok   user-mobile" || { echo "FAIL user-mobile: $out"; fail=1; }
t user-get-other 0 "name:     Alice" bob user get alice
t user-get-json 0 '"userId":"alice"' bob user get alice --json

# ---- watch ----------------------------------------------------------------
"$OMTP" watch --user bob --password bob >"$tmp/watch.out" 2>"$tmp/watch.err" &
WPID=$!
for _ in $(seq 1 100); do grep -q "online as bob" "$tmp/watch.err" && break; sleep 0.05; done
t send-while-watching 0 "seq 6" alice send bob are you watching
for _ in $(seq 1 100); do grep -q "are you watching" "$tmp/watch.out" && break; sleep 0.05; done
if grep -qE "SC_alice_bob #6 alice: are you watching" "$tmp/watch.out"; then
  echo "ok   watch-live"
else
  echo "FAIL watch-live:"; cat "$tmp/watch.out" "$tmp/watch.err"; fail=1
fi
t revoke-while-watching 0 "#6" alice revoke bob 6
for _ in $(seq 1 100); do grep -q "^\* SC_alice_bob #6" "$tmp/watch.out" && break; sleep 0.05; done
grep -q "^\* SC_alice_bob #6" "$tmp/watch.out" && echo "ok   watch-revoke-notice" ||
  { echo "FAIL watch-revoke-notice:"; cat "$tmp/watch.out"; fail=1; }
kill -INT "$WPID"
wait "$WPID"; rc=$?
WPID=
[ $rc = 0 ] && echo "ok   watch-ctrl-c-exit-0" || { echo "FAIL watch-ctrl-c-exit-0: exit $rc"; cat "$tmp/watch.err"; fail=1; }
c=$(grep -c "are you watching" "$tmp/watch.out")
[ "$c" = 1 ] && echo "ok   watch-once" || { echo "FAIL watch-once: $c copies"; fail=1; }

# ---- the server went away -----------------------------------------------
kill "$PID"; wait "$PID" 2>/dev/null; PID=
t server-gone 3 "is omtpd running there?" alice send bob anyone there

[ $fail = 0 ] || { echo "--- omtpd log ---"; tail -50 "$tmp/omtpd.log"; }
exit $fail
