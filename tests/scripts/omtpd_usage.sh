#!/usr/bin/env bash
# What an operator meets before the server runs: omtpd's --help and the admin
# commands' help (with examples), usage errors (one line naming the help,
# exit 2), config files with a typo'd key or a bad value (file:line, the key,
# what is allowed), and start-up failures that say what to do.
set -u
B=${1:?build dir}
D=$B/omtpd
fail=0
t() { # name, expected exit, expected output substring, command...
  local name=$1 want=$2 pat=$3; shift 3
  local out rc
  out=$(timeout 10 "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT

t help 0 "Examples:" "$D" --help
t help-user 0 "omtpd user passwd alice" "$D" user --help
t help-user-word 0 "omtpd user bulk" "$D" user help
t help-token 0 "omtpd token issue carol" "$D" token --help
t help-user-rename 0 "omtpd user rename john_smith john.smith" "$D" user --help
t user-add-underscore 2 "'y_z' is not a valid user id" "$D" user add y_z --password pw \
  --data-dir "$tmp/ids"
t user-rename-usage 2 "usage: omtpd user rename OLD NEW" "$D" user rename onlyone
t user-rename-bad-new 2 "'a_b' is not a valid user id" "$D" user rename old a_b --data-dir "$tmp/ids"
"$D" init --data-dir "$tmp/ids" >/dev/null
t user-rename-unknown 2 "no user or app nobody" "$D" user rename nobody somebody \
  --data-dir "$tmp/ids"
t token-underscore 2 "'y_z' is not a valid user id" "$D" token issue y_z --data-dir "$tmp/ids"
t user-nothing 2 "see omtpd user --help" "$D" user
t user-unknown 2 "unknown user command 'frob'" "$D" user frob
t token-nothing 2 "see omtpd token --help" "$D" token
t bad-arg 2 "unexpected argument 'bogus' (see omtpd --help)" "$D" bogus
t bad-option 2 "did you mean --max-conns?" "$D" --max-conn 5

printf 'listen = 127.0.0.1:0\n# a comment\nmax_conn = 5\n' >"$tmp/typo.conf"
t conf-typo 2 "$tmp/typo.conf:3: unknown setting 'max_conn': did you mean 'max_conns'?" \
  "$D" --config "$tmp/typo.conf"
printf 'frobnicate = 1\n' >"$tmp/unknown.conf"
t conf-unknown 2 "$tmp/unknown.conf:1: unknown setting 'frobnicate' (every setting" \
  "$D" --config "$tmp/unknown.conf"
printf 'sync_level = 7\n' >"$tmp/sync.conf"
t conf-sync 2 "$tmp/sync.conf:1: sync_level: '7' is not allowed: use 2" "$D" --config "$tmp/sync.conf"
printf 'friends_only = maybe\n' >"$tmp/bool.conf"
t conf-bool 2 "$tmp/bool.conf:1: friends_only: 'maybe' is not true or false" \
  "$D" --config "$tmp/bool.conf"
t conf-missing 2 "cannot open config file $tmp/nope.conf" "$D" --config "$tmp/nope.conf"

run=(--listen 127.0.0.1:0 --data-dir "$tmp/data")
t aes-key 1 "aes_key_hex must be 64 hex digits" "$D" "${run[@]}" --aes-key-hex abcd
t tls-cert 1 "cannot read tls_cert file $tmp/none.pem" "$D" "${run[@]}" \
  --tls-listen 127.0.0.1:0 --tls-cert "$tmp/none.pem" --tls-key "$tmp/none.key"
python3 -c 'import socket,time,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen()
open(sys.argv[1],"w").write(str(s.getsockname()[1])); time.sleep(15)' "$tmp/busy" &
busy=$!
for _ in $(seq 1 50); do [ -s "$tmp/busy" ] && break; sleep 0.1; done
t port-in-use 1 "another process (omtpd?) uses this port" \
  "$D" --listen "127.0.0.1:$(cat "$tmp/busy")" --data-dir "$tmp/data"
kill $busy; wait $busy 2>/dev/null
mkdir -p "$tmp/ro"; chmod 555 "$tmp/ro"
if [ "$(id -u)" != 0 ]; then
  t data-dir-ro 1 "is not writable by this user" "$D" --listen 127.0.0.1:0 --data-dir "$tmp/ro"
fi

# omtp-bench: usage errors are one line and name --help
t bench-help 0 "Examples:" "$B/omtp-bench" --help
t bench-bad-server 2 "run omtp-bench --help" "$B/omtp-bench" chat --server nope
t bench-bad-pacing 2 "'spread' or 'aligned'" "$B/omtp-bench" chat --pacing sometimes
t bench-help-pacing 0 "--pacing spread|aligned" "$B/omtp-bench" --help
n=$("$B/omtp-bench" dance 2>&1 | wc -l)
[ "$n" -le 2 ] && echo "ok   bench-short-error" || { echo "FAIL omtp-bench usage error is $n lines"; fail=1; }
exit $fail
