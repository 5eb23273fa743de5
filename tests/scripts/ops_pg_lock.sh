#!/usr/bin/env bash
# One store, one server on PostgreSQL: a second single-node omtpd on the same
# database refuses to start (the node's advisory lock), so does a second
# node with the same node_id; cluster nodes with their own node_id share the
# database; the lock goes with the process (kill -9). Skips (77) without
# PostgreSQL unless $CI is set, like the cluster tests.
set -u
B=${1:?build dir}
OMTPD=$B/omtpd
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; then
  [ -n "${CI:-}" ] && { echo "FAIL: no PostgreSQL/redis (run scripts/deps.sh)"; exit 1; }
  echo "SKIPPED: no PostgreSQL or redis-server installed"; exit 77
fi
source "$(dirname "$0")/pg_redis_env.sh" || { echo "FAIL: could not start PostgreSQL/redis"; exit 1; }
fail=0
tmp=$OMTP_ENV_DIR/ops
mkdir -p "$tmp"
pids=()
omtp_env_at_exit 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done'
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
start() { # name, extra args... -> $started (pid) once listening, or "" if it exited
  local name=$1; shift
  rm -f "$tmp/$name.port"
  "$OMTPD" --store "$OMTP_TEST_PG" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" \
    --log-level warn "$@" >"$tmp/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 150); do
    [ -s "$tmp/$name.port" ] && return 0
    kill -0 "$started" 2>/dev/null || { started=; return 1; }
    sleep 0.1
  done
  started=; return 1
}

start one || { bad "the first single-node omtpd did not start"; cat "$tmp/one.log"; }
first=$started
start two && bad "a second single-node omtpd on the same database started"
grep -q "in use by another single-node omtpd" "$tmp/two.log" && ok "second-single-refused" ||
  { bad "the refusal does not say why"; cat "$tmp/two.log"; }
kill -9 "$first"; wait "$first" 2>/dev/null
# PostgreSQL ends the session (and its lock) once it sees the connection close
for _ in $(seq 1 50); do start three && break; sleep 0.2; done
[ -n "$started" ] && ok "restart-after-kill9" || { bad "no start after kill -9"; cat "$tmp/three.log"; }
kill "$started"; wait "$started" 2>/dev/null

start nA --redis "$OMTP_TEST_REDIS" --node-id A && ok "node-A" || { bad "node A"; cat "$tmp/nA.log"; }
a=$started
start nB --redis "$OMTP_TEST_REDIS" --node-id B && ok "node-B-beside-A" || { bad "node B beside A"; cat "$tmp/nB.log"; }
b=$started
start nA2 --redis "$OMTP_TEST_REDIS" --node-id A && bad "a second node A started"
grep -q "with node_id 'A'" "$tmp/nA2.log" && ok "same-node-id-refused" || { bad "no refusal for node_id A"; cat "$tmp/nA2.log"; }
kill "$a" "$b"; wait "$a" "$b" 2>/dev/null
exit $fail
