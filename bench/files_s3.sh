#!/usr/bin/env bash
# files_s3.sh [BUILD] [RUNS] [MIB] - omtpd's cost of the S3 file store
# (docs/files.md "S3") against the local store, interleaved (local, s3,
# local, s3, ...) on one server per store: POST /v1/files of a MIB (100) MiB
# file and GET of it back through the HTTP API with curl, RUNS (3) times.
# Per run: wall time, omtpd's CPU (utime + stime from /proc/PID/stat over
# the transfer) per MiB, and omtpd's peak RSS (VmHWM) at the end; medians.
# The S3 service is tests/s3/s3server.js (s3rver, Node) on this machine: its
# own speed bounds the S3 throughput, so compare omtpd's CPU per MiB and
# memory, not the MB/s, with a real service.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${2:-3}
MIB=${3:-100}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/omtp-fs3bench-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"' EXIT
bash "$SRC/tests/s3/prepare.sh"
mkdir -p "$W/s3"
node "$SRC/tests/s3/s3server.js" --dir "$W/s3" --bucket bench --port-file "$W/s3.port" \
    --log /dev/null --access-key AKBENCH --secret-key SKBENCH >"$W/s3.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do [ -s "$W/s3.port" ] && break; sleep 0.1; done
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$W/file.bin"
TICK=$(getconf CLK_TCK)

start() { # NAME EXTRA-ARGS... -> sets PID_<NAME>, HTTP_<NAME>, TOKEN_<NAME>
    local n=$1; shift
    "$BUILD/omtpd" init --data-dir "$W/omtpd-$n" >/dev/null
    "$BUILD/omtpd" user add bench --password bench --data-dir "$W/omtpd-$n" >/dev/null
    local tok
    tok=$("$BUILD/omtpd" token issue bench --ttl 3600 --data-dir "$W/omtpd-$n")
    "$BUILD/omtpd" --listen 127.0.0.1:0 --port-file "$W/omtpd-$n.port" --data-dir "$W/omtpd-$n" \
        --http-listen 127.0.0.1:0 --http-port-file "$W/omtpd-$n.http" --log-level warn \
        --max-file-size $((MIB * 1024 * 1024 + 1)) --file-upload-rate 0 "$@" 2>>"$W/omtpd-$n.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 200); do [ -s "$W/omtpd-$n.http" ] && break; sleep 0.05; done
    eval "PID_$n=$pid HTTP_$n=$(cat "$W/omtpd-$n.http") TOKEN_$n=$tok"
}
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start local
start s3 --file-store s3://bench --s3-endpoint "http://127.0.0.1:$(cat "$W/s3.port")" \
    --s3-access-key AKBENCH --s3-secret-key SKBENCH

declare -A RES
for r in $(seq 1 "$RUNS"); do
    for n in local s3; do
        eval "pid=\$PID_$n port=\$HTTP_$n tok=\$TOKEN_$n"
        c0=$(cpu "$pid") t0=$(date +%s.%N)
        out=$(curl -s -X POST -H "Authorization: Bearer $tok" -H 'Expect:' \
            --data-binary "@$W/file.bin" "http://127.0.0.1:$port/v1/files?name=f$r.bin")
        c1=$(cpu "$pid") t1=$(date +%s.%N)
        id=$(sed -n 's/.*"fileId":"\([^"]*\)".*/\1/p' <<<"$out")
        [ -n "$id" ] || { echo "upload to $n failed: $out" >&2; exit 1; }
        curl -s -o "$W/back.bin" -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/files/$id"
        c2=$(cpu "$pid") t2=$(date +%s.%N)
        cmp -s "$W/file.bin" "$W/back.bin" || { echo "$n served other bytes" >&2; exit 1; }
        up=$(awk -v a="$t0" -v b="$t1" -v m="$MIB" 'BEGIN { printf "%.1f", m / (b - a) }')
        down=$(awk -v a="$t1" -v b="$t2" -v m="$MIB" 'BEGIN { printf "%.1f", m / (b - a) }')
        upcpu=$(awk -v a="$c0" -v b="$c1" -v m="$MIB" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / m }')
        downcpu=$(awk -v a="$c1" -v b="$c2" -v m="$MIB" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / m }')
        RES[$n]+="$up $down $upcpu $downcpu"$'\n'
        rm -f "$W/back.bin"
    done
done
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "file of $MIB MiB, $RUNS runs, medians (omtpd $(git -C "$SRC" describe --always --dirty 2>/dev/null))"
printf '%-6s %10s %10s %14s %14s %10s\n' store "up MiB/s" "down MiB/s" "up CPU ms/MiB" "down ms/MiB" "peak RSS"
for n in local s3; do
    eval "pid=\$PID_$n"
    hwm=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$pid/status")
    printf '%-6s %10s %10s %14s %14s %10s\n' "$n" \
        "$(awk '{ print $1 }' <<<"${RES[$n]}" | grep . | med)" \
        "$(awk '{ print $2 }' <<<"${RES[$n]}" | grep . | med)" \
        "$(awk '{ print $3 }' <<<"${RES[$n]}" | grep . | med)" \
        "$(awk '{ print $4 }' <<<"${RES[$n]}" | grep . | med)" "$hwm"
done
