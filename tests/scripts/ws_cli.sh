#!/usr/bin/env bash
# The command-line tools over omtpd's WebSocket listener (docs/websocket.md):
# `omtp send` with --server ws://HOST:PORT/ws reaches a user reading over
# TCP and back; `omtp watch` over WebSocket (the libuv client) prints a
# message sent over TCP; a refused upgrade (wrong path) says why;
# `omtp-bench chat --transport ws` runs without errors.
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
WPID=
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_SERVER

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" user bulk wsb 4 --password bench --cost 4 --data-dir "$tmp/data" >/dev/null 2>&1
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --ws-listen 127.0.0.1:0 \
  --ws-port-file "$tmp/wsport" --data-dir "$tmp/data" --req-rate 0 \
  --log-level info 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/wsport" ] && break; sleep 0.05; done
[ -s "$tmp/wsport" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
TCP=127.0.0.1:$(cat "$tmp/port")
WS=ws://127.0.0.1:$(cat "$tmp/wsport")/ws

check() { # name, command...
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then echo "ok: $name"; else
    echo "FAIL: $name"; cat "$tmp/out"; fail=1; fi
}

check "send over WebSocket" "$OMTP" send bob "hi over ws" --server "$WS" --user alice --password alice
"$OMTP" history alice --server "$TCP" --user bob --password bob >"$tmp/hist" 2>&1
grep -q "alice: hi over ws" "$tmp/hist" && echo "ok: bob reads it over TCP" ||
  { echo "FAIL: bob's history over TCP lacks it"; cat "$tmp/hist"; fail=1; }
check "reply over TCP" "$OMTP" send alice "hi over tcp" --server "$TCP" --user bob --password bob
"$OMTP" history bob --server "$WS" --user alice --password alice >"$tmp/hist" 2>&1
grep -q "bob: hi over tcp" "$tmp/hist" && echo "ok: alice reads it over WebSocket" ||
  { echo "FAIL: alice's history over WebSocket lacks it"; cat "$tmp/hist"; fail=1; }

# omtp watch over WebSocket (the libuv client) sees a message sent over TCP
"$OMTP" watch --server "$WS" --user alice --password alice >"$tmp/watch" 2>&1 &
WPID=$!
for _ in $(seq 1 100); do grep -q "login alice" "$tmp/omtpd.log" 2>/dev/null &&
  [ "$(grep -c 'WebSocket open' "$tmp/omtpd.log")" -ge 3 ] && break; sleep 0.1; done
sleep 0.5
"$OMTP" send alice "live over ws" --server "$TCP" --user bob --password bob >/dev/null 2>&1
for _ in $(seq 1 50); do grep -q "live over ws" "$tmp/watch" && break; sleep 0.1; done
grep -q "live over ws" "$tmp/watch" && echo "ok: omtp watch over WebSocket" ||
  { echo "FAIL: omtp watch over WebSocket did not print it"; cat "$tmp/watch"; fail=1; }
kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; WPID=

# a wrong path: the upgrade is refused and the CLI says so
if "$OMTP" send bob x --server "ws://127.0.0.1:$(cat "$tmp/wsport")/nope" --user alice \
    --password alice >"$tmp/out" 2>&1; then
  echo "FAIL: a refused upgrade succeeded"; fail=1
elif grep -q "refused the WebSocket upgrade with HTTP 404" "$tmp/out"; then
  echo "ok: refused upgrade explained"
else
  echo "FAIL: refused upgrade not explained:"; cat "$tmp/out"; fail=1
fi

# the load generator over WebSocket
if "$B/omtp-bench" chat --server "127.0.0.1:$(cat "$tmp/wsport")" --transport ws --user-prefix wsb \
    --password bench --pairs 2 --rate 20 --duration 1 --json >"$tmp/bench" 2>"$tmp/bench.err" &&
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r['errors']==0 and r['received']>0 else 1)" "$tmp/bench"; then
  echo "ok: omtp-bench --transport ws"
else
  echo "FAIL: omtp-bench --transport ws"; cat "$tmp/bench" "$tmp/bench.err"; fail=1
fi

[ $fail = 0 ] || { echo "--- omtpd log"; tail -30 "$tmp/omtpd.log"; }
exit $fail
