#!/usr/bin/env bash
# Attack replay: TLS 1.2 without forward secrecy. Before the fix the TLS
# listener accepted AES128-SHA and AES256-SHA256 (RSA key exchange, CBC).
# By default only ECDHE + AEAD suites are offered on TLS 1.2 (TLS 1.3 suites
# are all forward secret); `tls_ciphers` overrides the TLS 1.2 list, and a
# list OpenSSL does not know stops the start with a message.
set -euo pipefail
BUILD=$1
OMTPD="$BUILD/omtpd"
command -v openssl >/dev/null || { echo "SKIPPED: no openssl command" >&2; exit 77; }
tmp=$(mktemp -d)
pid=
stop() { # SIGTERM; a clean exit (sanitizer builds: no report) is part of the test
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" || { echo "FAIL: omtpd exited $? on SIGTERM"; fail=1; }
    fi
    pid=
}
trap 'stop; rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -days 1 -subj /CN=localhost 2>/dev/null
start() { # extra omtpd arguments
    rm -f "$tmp/tls"
    "$OMTPD" --data-dir "$tmp/data" --listen 127.0.0.1:0 --port-file "$tmp/port" \
        --tls-listen 127.0.0.1:0 --tls-port-file "$tmp/tls" --tls-cert "$tmp/cert.pem" \
        --tls-key "$tmp/key.pem" "$@" >>"$tmp/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do [ -s "$tmp/tls" ] && break; sleep 0.05; done
    [ -s "$tmp/tls" ] || { echo "FAIL: omtpd did not start"; cat "$tmp/log"; exit 1; }
}
fail=0
hs() { # CIPHER-ARGS...: 0 if a handshake completes
    openssl s_client -connect "127.0.0.1:$(cat "$tmp/tls")" "$@" </dev/null >"$tmp/sc" 2>&1
}
want_ok() { hs "$@" || { echo "FAIL: handshake $* refused"; tail -n 5 "$tmp/sc"; fail=1; }; }
want_no() { ! hs "$@" || { echo "FAIL: handshake $* accepted"; grep -i cipher "$tmp/sc" | head -3; fail=1; }; }

start
for c in AES128-SHA AES256-SHA256 AES128-GCM-SHA256 AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA \
         ECDHE-RSA-AES256-SHA384 DHE-RSA-AES128-SHA; do
    want_no -tls1_2 -cipher "$c"
done
want_ok -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
want_ok -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
want_ok -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
want_ok -tls1_3
stop

# the override is honoured
start --tls-ciphers 'ECDHE-RSA-AES256-GCM-SHA384'
want_ok -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
want_no -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
stop

# a list naming nothing is refused at start, with what to do
if "$OMTPD" --data-dir "$tmp/data" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --tls-ciphers NOSUCHCIPHER \
    >"$tmp/bad" 2>&1; then
    echo "FAIL: omtpd started with tls_ciphers = NOSUCHCIPHER"; fail=1
elif ! grep -q "tls_ciphers 'NOSUCHCIPHER'" "$tmp/bad"; then
    echo "FAIL: no clear message for a bad tls_ciphers:"; cat "$tmp/bad"; fail=1
fi
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$tmp/log"; then
    echo "FAIL: sanitizer report:"; grep -A20 -E "Sanitizer|runtime error" "$tmp/log" | head -40; fail=1
fi
[ $fail = 0 ] && echo "ok: TLS 1.2 offers only ECDHE + AEAD suites"
exit $fail
