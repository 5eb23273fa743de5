#!/usr/bin/env bash
# One data directory, one server: a second omtpd on the same data directory
# refuses to start and names the first one's pid; the lock goes with the
# process (also after kill -9); admin commands keep working beside a running
# server; admin commands (user add and user bulk included) never create a
# store on a mistyped --data-dir (only the server or `omtpd init` does); `token issue` refuses an unknown user.
set -u
B=${1:?build dir}
D=$B/omtpd
fail=0
t() { # name, expected exit, expected output substring, command...
  local name=$1 want=$2 pat=$3; shift 3
  local out rc
  out=$(timeout 20 "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
no() { # name, path that must not exist
  if [ -e "$2" ]; then echo "FAIL $1: $2 was created"; fail=1; else echo "ok   $1"; fi
}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
start() { # data dir, port file -> pid in $started
  "$D" --listen 127.0.0.1:0 --port-file "$2" --data-dir "$1" --log-level warn >>"$tmp/server.log" 2>&1 &
  started=$!
  pids+=("$started")
  for _ in $(seq 1 100); do [ -s "$2" ] && return 0; sleep 0.1; done
  echo "FAIL omtpd did not start on $1"; cat "$tmp/server.log"; fail=1
}

# admin commands on a missing store: say so, create nothing
t list-typo 1 "no omtp store in $tmp/typo; start omtpd once or run omtpd init" \
  "$D" user list --data-dir "$tmp/typo"
no list-typo-creates-nothing "$tmp/typo"
t passwd-typo 1 "no omtp store in $tmp/typo" "$D" user passwd bob --password x --data-dir "$tmp/typo"
t token-typo 1 "no omtp store in $tmp/typo" "$D" token issue bob --data-dir "$tmp/typo"
no token-typo-creates-nothing "$tmp/typo"
t init 0 "omtp store ready" "$D" init --data-dir "$tmp/var"
t init-again 0 "exists already" "$D" init --data-dir "$tmp/var"
t list-after-init 0 "" "$D" user list --data-dir "$tmp/var"
t token-unknown 2 "no user nosuch" "$D" token issue nosuch --data-dir "$tmp/var"
# user add / user bulk too: a typo'd --data-dir is refused, not a new store
t add-typo 1 "no omtp store in $tmp/other; start omtpd once or run omtpd init" \
  "$D" user add carol --password pw --data-dir "$tmp/other"
no add-typo-creates-nothing "$tmp/other"
t bulk-typo 1 "no omtp store in $tmp/other; start omtpd once or run omtpd init" \
  "$D" user bulk u 3 --password pw --cost 4 --data-dir "$tmp/other"
no bulk-typo-creates-nothing "$tmp/other"
t add-after-init 0 "user carol added" "$D" user add carol --password pw --data-dir "$tmp/var"
t bulk-after-init 0 "" "$D" user bulk u 3 --password pw --cost 4 --data-dir "$tmp/var"
t list-bulk 0 "u2" "$D" user list --data-dir "$tmp/var"

# the server holds the lock; a second one refuses, naming the pid
start "$tmp/var" "$tmp/port1"
first=$started
t second-refused 1 "$tmp/var is in use by omtpd pid $first" \
  "$D" --listen 127.0.0.1:0 --data-dir "$tmp/var"
grep -qx "$first" "$tmp/var/omtpd.pid" && echo "ok   pid-file" ||
  { echo "FAIL $tmp/var/omtpd.pid does not hold $first"; fail=1; }
# admin commands beside the running server
t add-beside 0 "user bob added" "$D" user add bob --password pw --data-dir "$tmp/var"
t list-beside 0 "bob" "$D" user list --data-dir "$tmp/var"
t token-beside 0 "v1.bob." "$D" token issue bob --data-dir "$tmp/var"
t rename-refused 1 "user rename refused" "$D" user rename bob robert --data-dir "$tmp/var"
# another data directory is another server
start "$tmp/var2" "$tmp/port2"
kill "$started"; wait "$started" 2>/dev/null

# kill -9: the lock goes with the process, a new server starts
kill -9 "$first"; wait "$first" 2>/dev/null
start "$tmp/var" "$tmp/port3"
kill -0 "$started" 2>/dev/null && echo "ok   restart-after-kill9" ||
  { echo "FAIL omtpd did not start after kill -9 of the previous one"; fail=1; }
kill "$started"; wait "$started" 2>/dev/null
exit $fail
