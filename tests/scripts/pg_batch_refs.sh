#!/usr/bin/env bash
# Group replies and @mentions on PostgreSQL take the batch statement
# (docs/storage.md "Batched appends") and a user sees them as before: with
# the omtp CLI against one omtpd on PostgreSQL, a group message, a reply
# naming two members and a reply with @all are stored with their replyTo and
# mentions (history shows them), every member's mention cursor is the newest
# message naming it ("@all" names everyone but its sender), and all three
# sends went through the batch statement (/metrics: 3 statements, 3 rows).
# Skips (77) without PostgreSQL unless $CI is set, like the cluster tests.
set -u
B=${1:?build dir}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  [ -n "${CI:-}" ] && { echo "FAIL: no PostgreSQL (run scripts/deps.sh)"; exit 1; }
  echo "SKIPPED: no PostgreSQL installed"; exit 77
fi
export OMTP_ENV_NO_REDIS=1
source "$(dirname "$0")/pg_redis_env.sh" || { echo "FAIL: could not start PostgreSQL"; exit 1; }
fail=0
D=$OMTP_ENV_DIR/refs
mkdir -p "$D"
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
"$B/omtpd" init --store "$OMTP_TEST_PG" >/dev/null
for u in alice bob carol; do
  "$B/omtpd" user add $u --password $u --store "$OMTP_TEST_PG" >/dev/null
done
"$B/omtpd" --listen 127.0.0.1:0 --port-file "$D/port" --store "$OMTP_TEST_PG" \
  --data-dir "$D/data" --http-listen 127.0.0.1:0 --http-port-file "$D/http" \
  --log-level warn >"$D/log" 2>&1 &
pid=$!
omtp_env_at_exit "kill -9 $pid 2>/dev/null"
for _ in $(seq 1 150); do [ -s "$D/port" ] && [ -s "$D/http" ] && break; sleep 0.1; done
[ -s "$D/port" ] || { echo "FAIL: omtpd did not start"; cat "$D/log"; exit 1; }
S=127.0.0.1:$(cat "$D/port")
as() { local u=$1; shift; OMTP_SERVER=$S OMTP_USER=$u OMTP_PASSWORD=$u "$B/omtp" "$@"; }
q() { psql "$OMTP_TEST_PG" -XAtc "$1" | tr '\n' ' '; }

G=$(as alice group create refs bob carol | grep -o 'GC_[A-Za-z0-9_-]*' | head -n 1)
[ -n "$G" ] && ok "group created" || bad "group create"
as alice group send "$G" "hello all" >/dev/null || bad "group send"
as bob reply "$G" 1 "see @carol and @alice" >/dev/null || bad "reply naming two"
as carol reply "$G" 2 "@all ok" >/dev/null || bad "reply @all"
h=$(as alice history "$G")
if [[ "$h" == *"(reply to #1)"*"(mentions @carol @alice)"*"(reply to #2)"*"(mentions @all)"* ]]; then
  ok "history shows the replies and mentions"
else
  bad "history: $h"
fi
got=$(q "SELECT seq || ':' || reply_to || ':' || mentions FROM messages WHERE session_id = '$G' ORDER BY seq")
[ "$got" = "1:0: 2:1:carol alice 3:2:@all " ] && ok "stored: reply_to and mentions" || bad "stored: $got"
got=$(q "SELECT user_id || '=' || mention_seq FROM members WHERE session_id = '$G' ORDER BY user_id")
[ "$got" = "alice=3 bob=3 carol=2 " ] && ok "mention cursors: the newest message naming each" ||
  bad "mention cursors: $got (want alice=3 bob=3 carol=2)"
m=$(curl -s "http://127.0.0.1:$(cat "$D/http")/metrics")
st=$(awk '$1 == "omtp_store_append_statements_total" { print $2 }' <<<"$m")
rows=$(awk '$1 == "omtp_store_append_rows_total" { print $2 }' <<<"$m")
[ "$st" = 3 ] && [ "$rows" = 3 ] && ok "all three sends through the batch statement" ||
  bad "batch statements $st, rows $rows (want 3 and 3)"
exit $fail
