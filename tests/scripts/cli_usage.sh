#!/usr/bin/env bash
# The omtp CLI without a server: --help at every level, usage errors (exit 2),
# an unreachable server (exit 3, a message naming the address and a hint),
# and the precedence of flags > environment > config file > defaults, seen
# through the address each invocation tries to reach.
set -u
B=${1:?build dir}
OMTP=$B/omtp
fail=0
t() { # name, expected exit, expected stderr/stdout substring, command...
  local name=$1 want=$2 pat=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_SERVER OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_PASSWORD_FILE
# a password is needed before connecting (asked on a terminal, none here)
export OMTP_PASSWORD=pw

# a port nobody listens on
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')

t help-top 0 "sessions" "$OMTP" --help
t help-top-conn 0 "--server ADDR" "$OMTP" --help
t no-args 2 "usage" "$OMTP"
t unknown-cmd 2 "unknown command 'bogus'" "$OMTP" bogus
for c in login send sessions history read revoke edit delete watch chat; do
  t "help-$c" 0 "usage: omtp $c" "$OMTP" "$c" --help
done
t help-group 0 "omtp group create NAME" "$OMTP" group --help
t help-friends 0 "omtp friends add USER" "$OMTP" friends --help
t help-user 0 "omtp user set FIELD=VALUE" "$OMTP" user --help
t group-unknown 2 "unknown subcommand 'explode'" "$OMTP" group explode --user a
t friends-unknown 2 "unknown subcommand 'hug'" "$OMTP" friends hug --user a
t user-bad-field 2 "bad field 'color=red'" "$OMTP" user set color=red --user a
t send-missing-text 2 "usage: omtp send USER TEXT" "$OMTP" send bob --user a
t empty-arg 2 "argument 1 is empty" "$OMTP" history "" --user a
# the private-history attack's command: x_y is not a user id (no session to ask for)
t history-underscore 2 "'x_y' is not a user id" "$OMTP" history x_y --user z
t empty-group 2 "argument 2 is empty" "$OMTP" group members "" --user a
t revoke-bad-seq 2 "SEQ must be a message number" "$OMTP" revoke bob zero --user a
t bad-server 2 "bad --server" "$OMTP" login --server nocolon:99999 --user a
t bad-device 2 "unknown --device 'toaster'" "$OMTP" login --device toaster --user a
t no-user 2 "no user" "$OMTP" login --server 127.0.0.1:$port
t chat-needs-tty 2 "needs a terminal" "$OMTP" chat --user a --server 127.0.0.1:$port
t unreachable 3 "cannot connect to 127.0.0.1:$port" "$OMTP" send bob hi --server 127.0.0.1:$port --user a
t unreachable-hint 3 "is omtpd running there?" "$OMTP" sessions --server 127.0.0.1:$port --user a
t bench-help 0 "usage: omtp-bench SCENARIO" "$B/omtp-bench" --help
t bench-bad 2 "unknown scenario" "$B/omtp-bench" dance

# precedence: config file < environment < flags (the error names the address tried)
mkdir -p "$tmp/xdg/omtp"
printf 'server = 127.0.0.1:%s\nuser = cfguser\n# comment\n' "$port" >"$tmp/xdg/omtp/config"
t config-file 3 "127.0.0.1:$port" "$OMTP" login
OMTP_SERVER=127.0.0.2:$port t env-over-config 3 "127.0.0.2:$port" "$OMTP" login
OMTP_SERVER=127.0.0.2:$port t flag-over-env 3 "127.0.0.3:$port" "$OMTP" login --server 127.0.0.3:$port
printf 'server = 127.0.0.4:%s\nuser = x\n' "$port" >"$tmp/other.conf"
OMTP_CONFIG=$tmp/other.conf t omtp-config-env 3 "127.0.0.4:$port" "$OMTP" login
printf 'server = nonsense\n' >"$tmp/bad.conf"
OMTP_CONFIG=$tmp/bad.conf t bad-config 3 "cannot" "$OMTP" login --user a
exit $fail
