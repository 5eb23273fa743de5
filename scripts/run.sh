#!/usr/bin/env bash
# make run: start omtpd in the foreground on ./var (SQLite). On a fresh data
# directory, first create the demo users alice and bob with random passwords
# and print how to chat as them. OMTP_LISTEN (default 127.0.0.1:9000),
# OMTP_WS_LISTEN (default 127.0.0.1:9001: the web app at / and its WebSocket
# at /ws, docs/websocket.md; "" turns it off), OMTP_WEB_ROOT (default
# web/dist, built by `make web`) and OMTP_DATA_DIR (default ./var) choose the
# addresses and directories, e.g. `OMTP_LISTEN=127.0.0.1:9100
# OMTP_WS_LISTEN=127.0.0.1:9101 make run`; extra arguments go to omtpd
# (e.g. `bash scripts/run.sh build --log-level debug`). The HTTP API listens
# on OMTP_HTTP_LISTEN (default 127.0.0.1:9080; empty = off) with a demo API
# key generated once and kept in DATA/demo-api-key (0600).
set -euo pipefail

BUILD=${1:-build}
shift || true
DATA=${OMTP_DATA_DIR:-./var}
LISTEN=${OMTP_LISTEN:-127.0.0.1:9000}
HTTP=${OMTP_HTTP_LISTEN-127.0.0.1:9080}
WS_LISTEN=${OMTP_WS_LISTEN-127.0.0.1:9001}
WEB_ROOT=${OMTP_WEB_ROOT:-$(cd "$(dirname "$0")/.." && pwd)/web/dist}
OMTPD="$BUILD/omtpd"
DEMO="$DATA/demo-users.txt"

if [ ! -x "$OMTPD" ]; then
  echo "run.sh: $OMTPD not found: build first (make build)" >&2
  exit 1
fi

# A busy port would make the commands printed below point at someone else's
# server: say so before creating anything.
for addr in "$LISTEN" $WS_LISTEN; do
  host=${addr%:*} port=${addr##*:}
  if [ "$port" != 0 ] && (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null; then
    echo "run.sh: something already listens on $addr (another omtpd, or another make run?)." >&2
    echo "Stop it, or pick other addresses: OMTP_LISTEN=127.0.0.1:9100 OMTP_WS_LISTEN=127.0.0.1:9101 make run" >&2
    exit 1
  fi
done
WS_ARGS=()
if [ -n "$WS_LISTEN" ]; then
  WS_ARGS=(--ws-listen "$WS_LISTEN")
  if [ -f "$WEB_ROOT/index.html" ]; then
    WS_ARGS+=(--web-root "$WEB_ROOT")
  else
    echo "run.sh: $WEB_ROOT has no built web app (make web builds it); / will answer 404." >&2
  fi
fi

if [ -n "$HTTP" ]; then
  hhost=${HTTP%:*} hport=${HTTP##*:}
  if [ "$hport" != 0 ] && (exec 3<>"/dev/tcp/${hhost:-127.0.0.1}/$hport") 2>/dev/null; then
    echo "run.sh: something already listens on $HTTP (the HTTP API's address)." >&2
    echo "Pick another: OMTP_HTTP_LISTEN=127.0.0.1:9081 make run (or OMTP_HTTP_LISTEN= for none)" >&2
    exit 1
  fi
fi

mkdir -p "$DATA"
if [ ! -e "$DATA/omtp.db" ] && [ ! -e "$DEMO" ]; then
  "$OMTPD" init --data-dir "$DATA" >/dev/null
  : > "$DEMO"
  chmod 600 "$DEMO"
  for u in alice bob; do
    pw=$(openssl rand -hex 6 2>/dev/null || head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    "$OMTPD" user add "$u" --password "$pw" --name "$u" --data-dir "$DATA" >/dev/null
    echo "$u $pw" >> "$DEMO"
  done
  echo "Created demo users in $DATA (passwords kept in $DEMO):"
elif [ -s "$DEMO" ]; then
  echo "Demo users of $DATA (made by the first run; passwords kept in $DEMO):"
fi

if [ -s "$DEMO" ]; then
  echo
  while read -r u pw; do
    printf '  %-6s password %s\n' "$u" "$pw"
  done < "$DEMO"
  echo
  if [ -n "$WS_LISTEN" ]; then
    echo "Chat in a browser: open http://$WS_LISTEN/ and sign in as alice (and as bob in"
    echo "another browser or a private window), or in two more terminals (omtp asks"
    echo "for the password above; type a line, Enter sends it; Ctrl-C quits):"
  else
    echo "Chat in two more terminals (omtp asks for the password above; type a line,"
    echo "Enter sends it; Ctrl-C quits):"
  fi
  users=$(cut -d' ' -f1 "$DEMO" | tr '\n' ' ')
  while read -r u pw; do
    peer=$(tr ' ' '\n' <<<"$users" | grep -vx "$u" | head -1)
    echo "  $BUILD/omtp chat $peer --server $LISTEN --user $u"
  done < "$DEMO"
  echo
  echo "(Passwords as created; if one was changed, set a new one with"
  echo "   $OMTPD user passwd alice --password NEW --data-dir $DATA )"
  echo
else
  echo
  echo "No demo users here ($DEMO is gone). To log in:"
  echo "  list the users:    $OMTPD user list --data-dir $DATA"
  echo "  add one:           $OMTPD user add carol --password PW --data-dir $DATA"
  echo "  reset a password:  $OMTPD user passwd carol --password NEW --data-dir $DATA"
  echo "  then chat:         $BUILD/omtp chat --server $LISTEN --user carol   (asks for the password)"
  echo
fi

# The HTTP API with a demo key: generated once, kept in the data directory
# (0600) and handed to omtpd in a small config file, not on its command line.
http_args=()
if [ -n "$HTTP" ]; then
  KEYFILE="$DATA/demo-api-key"
  if [ ! -s "$KEYFILE" ]; then
    (umask 077; { openssl rand -hex 16 2>/dev/null || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; } >"$KEYFILE")
  fi
  chmod 600 "$KEYFILE"
  key=$(tr -d ' \n' <"$KEYFILE")
  (umask 077; echo "api_keys = demo=$key" >"$DATA/demo-http.conf")
  http_args=(--config "$DATA/demo-http.conf" --http-listen "$HTTP")
  echo "HTTP API on http://$HTTP (demo key kept in $KEYFILE). Send alice a notice:"
  echo "  curl -s -H \"Authorization: Bearer $key\" -H 'Content-Type: application/json' \\"
  echo "    http://$HTTP/v1/notify -d '{\"appId\":\"demo\",\"to\":[\"alice\"],\"id\":\"hello-1\",\"content\":\"Hello from the HTTP API\",\"contentType\":1}'"
  echo "  (docs/http-api.md has every endpoint; health: curl http://$HTTP/healthz)"
  echo "Send a file: $BUILD/omtp send bob --file PATH --http http://$HTTP --user alice"
  echo
fi

if [ -n "$WS_LISTEN" ]; then
  echo "Starting omtpd on $LISTEN, the web app on http://$WS_LISTEN/ (data in $DATA); Ctrl-C stops it."
else
  echo "Starting omtpd on $LISTEN (data in $DATA); Ctrl-C stops it."
fi
exec "$OMTPD" --data-dir "$DATA" --listen "$LISTEN" "${WS_ARGS[@]}" "${http_args[@]}" "$@"
