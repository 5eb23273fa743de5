#!/usr/bin/env bash
# `omtpd token issue` follows the same rules as the HTTP API's
# POST /v1/users/{id}/token (domain/token.h): a token only for an existing
# user (login accepts tokens for ids the store does not know, so a typo here
# would open a new, empty account), a lifetime of at most 366 days; the CLI
# may still make an already expired token (negative --ttl) for tests.
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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t init 0 "omtp store ready" "$D" init --data-dir "$tmp"
t add 0 "user carol added" "$D" user add carol --password pw --data-dir "$tmp"
t issue 0 "v1.carol." "$D" token issue carol --ttl 3600 --data-dir "$tmp"
t issue-default 0 "v1.carol." "$D" token issue carol --data-dir "$tmp"
t unknown-user 2 "no user ghost" "$D" token issue ghost --data-dir "$tmp"
t ttl-too-long 2 "366 days" "$D" token issue carol --ttl 40000000 --data-dir "$tmp"
t ttl-zero 2 "--ttl needs a number of seconds" "$D" token issue carol --ttl 0 --data-dir "$tmp"
t expired-for-tests 0 "v1.carol." "$D" token issue carol --ttl -10 --data-dir "$tmp"
exit $fail
