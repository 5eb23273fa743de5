#!/usr/bin/env bash
# Attack replay: an escaped NUL (or any control character) in an HTTP path.
# Before the fix /v1/users/alice%00x answered 200 with alice's record:
# libmicrohttpd unescapes the path and the NUL cut it short. Every route now
# answers 400 invalid_id for a control character in the path, and the server
# keeps serving the clean spelling.
set -euo pipefail
BUILD=$1
OMTPD="$BUILD/omtpd"
command -v curl >/dev/null || { echo "SKIPPED: no curl" >&2; exit 77; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$OMTPD" init --data-dir "$tmp/data" >/dev/null
"$OMTPD" user add alice --password pw-alice --data-dir "$tmp/data" >/dev/null
"$OMTPD" --data-dir "$tmp/data" --listen 127.0.0.1:0 --port-file "$tmp/port" \
    --http-listen 127.0.0.1:0 --http-port-file "$tmp/http" --api-keys k1 >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/http" ] && break; sleep 0.05; done
[ -s "$tmp/http" ] || { echo "FAIL: omtpd did not start"; cat "$tmp/log"; exit 1; }
base="http://127.0.0.1:$(cat "$tmp/http")"
fail=0
# status METHOD PATH: the HTTP status (the path is sent as is, not re-encoded)
status() { curl -s -o "$tmp/body" -w '%{http_code}' -X "$1" -H 'Authorization: Bearer k1' \
    -H 'Content-Type: application/json' ${3:+-d "$3"} --path-as-is "$base$2"; }
expect() { # WANT METHOD PATH [BODY]
    local got
    got=$(status "$2" "$3" "${4:-}")
    if [ "$got" != "$1" ]; then
        echo "FAIL: $2 $3 -> $got, want $1: $(cat "$tmp/body")"
        fail=1
    elif [ "$1" = 400 ] && ! grep -q '"invalid_id"' "$tmp/body"; then
        echo "FAIL: $2 $3 -> 400 without invalid_id: $(cat "$tmp/body")"
        fail=1
    fi
}
expect 200 GET /v1/users/alice
for seg in 'alice%00x' 'alice%00' '%00alice' 'alice%0a' 'alice%0D%0Ax' 'alice%1f' 'alice%7F' 'alice%09'; do
    expect 400 GET "/v1/users/$seg"
    expect 400 DELETE "/v1/users/$seg"
    expect 400 PATCH "/v1/users/$seg" '{"name":"x"}'
    expect 400 PUT "/v1/users/$seg/password" '{"password":"stolen"}'
    expect 400 POST "/v1/users/$seg/token" '{}'
    expect 400 PUT "/v1/users/$seg/role" '{"role":"monitor"}'
    expect 400 GET "/v1/groups/$seg"
    expect 400 DELETE "/v1/groups/g1/members/$seg"
done
expect 400 GET '/healthz%00'
expect 400 GET '/healthz%0a'
expect 400 GET '/metrics%01'
expect 400 POST '/v1/notify%1b' '{}'
expect 400 GET '/metrics%00x'
expect 400 POST '/v1/notify%00' '{}'
expect 400 GET '/v1/nothing%00'
# nothing above touched alice: her password still works, her role is "user"
expect 200 GET /v1/users/alice
grep -q '"role":"user"' "$tmp/body" || { echo "FAIL: alice changed: $(cat "$tmp/body")"; fail=1; }
"$BUILD/omtp" send alice hi --server "127.0.0.1:$(cat "$tmp/port")" --user alice \
    --password pw-alice >/dev/null || { echo "FAIL: alice's password changed"; fail=1; }
kill -0 "$pid" || { echo "FAIL: omtpd died"; fail=1; }
kill -TERM "$pid"; wait "$pid" || { echo "FAIL: omtpd did not stop cleanly"; fail=1; }; pid=
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$tmp/log"; then
    echo "FAIL: sanitizer report:"; grep -A20 -E "Sanitizer|runtime error" "$tmp/log" | head -40; fail=1
fi
[ $fail = 0 ] && echo "ok: control characters in HTTP paths are refused with 400"
exit $fail
