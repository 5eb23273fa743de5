#!/usr/bin/env bash
# make run: start omtpd in the foreground on ./var (SQLite). On a fresh data
# directory, first create the demo users alice and bob with random passwords
# and print how to chat as them. OMTP_LISTEN (default 127.0.0.1:9000) and
# OMTP_DATA_DIR (default ./var) choose the address and data directory, e.g.
# `OMTP_LISTEN=127.0.0.1:9001 make run`; extra arguments go to omtpd
# (e.g. `bash scripts/run.sh build --log-level debug`).
set -euo pipefail

BUILD=${1:-build}
shift || true
DATA=${OMTP_DATA_DIR:-./var}
LISTEN=${OMTP_LISTEN:-127.0.0.1:9000}
OMTPD="$BUILD/omtpd"
DEMO="$DATA/demo-users.txt"

if [ ! -x "$OMTPD" ]; then
  echo "run.sh: $OMTPD not found: build first (make build)" >&2
  exit 1
fi

# A busy port would make the commands printed below point at someone else's
# server: say so before creating anything.
host=${LISTEN%:*} port=${LISTEN##*:}
if [ "$port" != 0 ] && (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null; then
  echo "run.sh: something already listens on $LISTEN (another omtpd, or another make run?)." >&2
  echo "Stop it, or pick another address: OMTP_LISTEN=127.0.0.1:9001 make run" >&2
  exit 1
fi

mkdir -p "$DATA"
if [ ! -e "$DATA/omtp.db" ] && [ ! -e "$DEMO" ]; then
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
  echo "Chat in two more terminals (omtp asks for the password above; type a line,"
  echo "Enter sends it; Ctrl-C quits):"
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

echo "Starting omtpd on $LISTEN (data in $DATA); Ctrl-C stops it."
exec "$OMTPD" --data-dir "$DATA" --listen "$LISTEN" "$@"
