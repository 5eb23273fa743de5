#!/usr/bin/env bash
# fuzz_server.sh BUILD_DIR - protocol-aware fuzzing of a live omtpd.
#
# Starts omtpd (SQLite, an AES key, small limits), creates users, runs
# BUILD_DIR/fuzz_server for FUZZ_SECONDS (default 20) with FUZZ_SEED (default:
# time-based; printed either way, rerun with FUZZ_SEED=0x... to reproduce),
# then requires: the fuzzer's final check passed (login, PING, send, history
# on a fresh connection), omtpd exits 0 on SIGTERM, and its log holds no
# sanitizer report (in the ASan build a leak makes the exit non-zero too).
set -euo pipefail
BUILD=${1:?usage: fuzz_server.sh BUILD_DIR}
OMTPD=$BUILD/omtpd
FUZZ=$BUILD/fuzz_server
[ -x "$OMTPD" ] && [ -x "$FUZZ" ] || { echo "need $OMTPD and $FUZZ"; exit 1; }
SECONDS_RUN=${FUZZ_SECONDS:-20}
SEED=${FUZZ_SEED:-$(( ($(date +%s) << 16) ^ $$ ))}
AES=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

DIR=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

"$OMTPD" init --data-dir "$DIR/data" >/dev/null
"$OMTPD" user bulk fz 6 --password pw --cost 4 --data-dir "$DIR/data" >/dev/null
cat >"$DIR/omtpd.conf" <<CONF
aes_key_hex = $AES
max_frame = 262144
out_buf_cap = 1048576
max_conns = 200
login_fail_delay_ms = 0
# the fuzzer floods on purpose (bad logins too)
req_rate = 0
login_account_delay_ms = 0
log_level = warn
CONF
"$OMTPD" --config "$DIR/omtpd.conf" --listen 127.0.0.1:0 --port-file "$DIR/port" \
    --data-dir "$DIR/data" 2>>"$DIR/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do
    [ -s "$DIR/port" ] && break
    sleep 0.1
done
[ -s "$DIR/port" ] || { echo "omtpd did not start"; cat "$DIR/omtpd.log"; exit 1; }

rc=0
"$FUZZ" --port "$(cat "$DIR/port")" --seed "$SEED" --seconds "$SECONDS_RUN" --prefix fz \
    --users 6 --password pw --aes "$AES" || rc=$?

if ! kill -0 "$PID" 2>/dev/null; then
    echo "omtpd died during the fuzz (seed $SEED)"
    wait "$PID" || true
    PID=
    tail -50 "$DIR/omtpd.log"
    exit 1
fi
kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$DIR/omtpd.log"; then
    echo "sanitizer report from omtpd (seed $SEED):"
    grep -A30 -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$DIR/omtpd.log" | head -80
    exit 1
fi
[ "$status" -eq 0 ] || { echo "omtpd exited $status on SIGTERM (seed $SEED)"; tail -30 "$DIR/omtpd.log"; exit 1; }
[ "$rc" -eq 0 ] || { echo "fuzz_server failed (seed $SEED)"; tail -30 "$DIR/omtpd.log"; exit 1; }
echo "fuzz_server.sh: ok (seed $SEED)"
