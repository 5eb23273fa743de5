#!/usr/bin/env bash
# scripts/run.sh (what `make run` runs) on a fresh data directory: it creates
# alice and bob once, prints their passwords and the `omtp chat` commands,
# starts omtpd, and the printed password logs in. A second run creates no
# users and still says how to log in (and how to reset a password).
set -u
B=$(cd "${1:?build dir}" && pwd)
SRC=$(cd "${OMTP_SRC:-$(dirname "$0")/../..}" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
check() { # name, file, fixed string
  if grep -qF -- "$3" "$2"; then echo "ok   $1"; else
    echo "FAIL $1: '$3' not in the output:"; sed 's/^/    /' "$2"; fail=1; fi
}
start() { # output file
  rm -f "$tmp/port"
  rm -f "$tmp/hport"
  OMTP_DATA_DIR=$tmp/var OMTP_LISTEN=127.0.0.1:0 OMTP_WS_LISTEN=127.0.0.1:0 OMTP_HTTP_LISTEN=127.0.0.1:0 bash "$SRC/scripts/run.sh" "$B" \
    --port-file "$tmp/port" --http-port-file "$tmp/hport" >"$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  [ -s "$tmp/port" ] || { echo "FAIL omtpd did not start:"; cat "$1"; exit 1; }
}
stop() {
  kill -INT "$pid"; wait "$pid"; local rc=$?; pid=
  [ "$rc" = 0 ] || { echo "FAIL omtpd exit $rc after SIGINT"; fail=1; }
}

start "$tmp/out1"
check created "$tmp/out1" "Created demo users"
check chat-alice "$tmp/out1" "$B/omtp chat bob --server 127.0.0.1:0 --user alice"
check chat-bob "$tmp/out1" "$B/omtp chat alice --server 127.0.0.1:0 --user bob"
check browser "$tmp/out1" "Chat in a browser: open http://127.0.0.1:0/ and sign in as alice"
# the chat commands do not show the password (omtp asks for it)
if grep -q -- "--password" <(grep "omtp chat" "$tmp/out1"); then
  echo "FAIL a printed chat command carries --password"; fail=1
else
  echo "ok   chat commands without --password"
fi
pw=$(sed -n 's/^  alice  password \([0-9a-f]*\)$/\1/p' "$tmp/out1")
if "$B/omtp" login --server "127.0.0.1:$(cat "$tmp/port")" --user alice --password "$pw" >/dev/null; then
  echo "ok   printed password logs in"
else
  echo "FAIL the printed password of alice ('$pw') does not log in"; fail=1
fi
# the HTTP API with the demo key: the printed curl line delivers a notice
check http-line "$tmp/out1" "http://127.0.0.1:0/v1/notify -d"
[ "$(stat -c %a "$tmp/var/demo-api-key")" = 600 ] && echo "ok   demo key file 0600" ||
  { echo "FAIL $tmp/var/demo-api-key is not 0600"; fail=1; }
for _ in $(seq 1 50); do [ -s "$tmp/hport" ] && break; sleep 0.1; done
curl_line=$(grep -A1 '^  curl -s -H "Authorization: Bearer' "$tmp/out1" | sed 's/\\$//' | tr -d '\n' |
  sed "s|http://127.0.0.1:0/|http://127.0.0.1:$(cat "$tmp/hport")/|")
if [ -n "$curl_line" ] && eval "$curl_line" | grep -q '"seqId"'; then
  echo "ok   printed curl line delivers a notice"
else
  echo "FAIL the printed curl line did not deliver: $curl_line"; fail=1
fi
if "$B/omtp" history BM_demo_alice --server "127.0.0.1:$(cat "$tmp/port")" --user alice --password "$pw" 2>&1 |
  grep -q "Hello from the HTTP API"; then
  echo "ok   alice has the notice"
else
  echo "FAIL alice does not see the notice in BM_demo_alice"; fail=1
fi
stop
check stopped "$tmp/out1" "omtpd stopped"

start "$tmp/out2"
stop
if grep -q "Created demo users" "$tmp/out2"; then echo "FAIL second run created users"; fail=1; fi
check second-how "$tmp/out2" "alice  password $pw"
check second-passwd "$tmp/out2" "user passwd alice"
n=$("$B/omtpd" user list --data-dir "$tmp/var" | grep -c '^\(alice\|bob\)\b')
[ "$n" = 2 ] && echo "ok   alice and bob exist once" || { echo "FAIL user list: $n demo users"; fail=1; }

# a busy port: refuse before creating anything, and say how to pick another
python3 -c 'import socket,time,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
open(sys.argv[1],"w").write(str(s.getsockname()[1])); time.sleep(15)' "$tmp/busy" &
busy=$!
for _ in $(seq 1 50); do [ -s "$tmp/busy" ] && break; sleep 0.1; done
OMTP_DATA_DIR=$tmp/var2 OMTP_LISTEN=127.0.0.1:$(cat "$tmp/busy") timeout 10 \
  bash "$SRC/scripts/run.sh" "$B" >"$tmp/out3" 2>&1
rc=$?
kill $busy; wait $busy 2>/dev/null
[ "$rc" = 1 ] && echo "ok   busy port exit 1" || { echo "FAIL busy port: exit $rc"; fail=1; }
check busy-port "$tmp/out3" "OMTP_LISTEN=127.0.0.1:9100 OMTP_WS_LISTEN=127.0.0.1:9101 make run"
[ ! -e "$tmp/var2" ] && echo "ok   busy port created nothing" || { echo "FAIL busy port created $tmp/var2"; fail=1; }

# the same for a busy WebSocket (web app) port
python3 -c 'import socket,time,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
open(sys.argv[1],"w").write(str(s.getsockname()[1])); time.sleep(15)' "$tmp/busyws" &
busy=$!
for _ in $(seq 1 50); do [ -s "$tmp/busyws" ] && break; sleep 0.1; done
OMTP_DATA_DIR=$tmp/var3 OMTP_LISTEN=127.0.0.1:0 OMTP_WS_LISTEN=127.0.0.1:$(cat "$tmp/busyws") timeout 10 \
  bash "$SRC/scripts/run.sh" "$B" >"$tmp/out4" 2>&1
rc=$?
kill $busy; wait $busy 2>/dev/null
[ "$rc" = 1 ] && echo "ok   busy ws port exit 1" || { echo "FAIL busy ws port: exit $rc"; fail=1; }
check busy-ws-port "$tmp/out4" "something already listens on 127.0.0.1:$(cat "$tmp/busyws")"
[ ! -e "$tmp/var3" ] && echo "ok   busy ws port created nothing" || { echo "FAIL busy ws port created $tmp/var3"; fail=1; }
exit $fail
