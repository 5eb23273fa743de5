#!/usr/bin/env bash
# bench/soak-attack.sh BUILD [MINUTES] - the attack campaign as a soak (not
# run in CI; results in bench/RESULTS.md, "Soak under attack").
#
# Starts omtpd (SQLite, HTTP API on, open-files limit NOFILE) on a fresh data
# directory, measures legitimate chat alone for one window (the baseline),
# then runs build/soak_attack for MINUTES -- pre-login tricklers, an idle
# connection flood above the descriptor budget, slow HTTP clients, login
# guessing, logged-in users that never read their big pushes -- while
#   - omtp-bench chat (PAIRS pairs at RATE msg/s each, from 127.0.0.1)
#     runs in consecutive WINDOW-second windows: p50/p99 and errors each;
#   - every SAMPLE seconds: the server's VmRSS, /healthz's answer time,
#     omtp_pending_frame_bytes and the descriptors omtpd holds.
# Prints one line per window and per sample, then a summary; the shedding
# counters of /metrics at the end. Env knobs (defaults): PAIRS (20),
# RATE (10), WINDOW (20), SAMPLE (5), NOFILE (4096), IDLE (5000),
# TRICKLERS (1500), HTTP_SLOW (600), GUESSERS (40), BIG (4), ADDRS (100).
set -euo pipefail
BUILD=${1:?usage: bench/soak-attack.sh BUILD [MINUTES]}
MINUTES=${2:-3}
PAIRS=${PAIRS:-20} RATE=${RATE:-10} WINDOW=${WINDOW:-20} SAMPLE=${SAMPLE:-5}
NOFILE=${NOFILE:-4096} IDLE=${IDLE:-5000} TRICKLERS=${TRICKLERS:-1500}
HTTP_SLOW=${HTTP_SLOW:-600} GUESSERS=${GUESSERS:-40} BIG=${BIG:-4} ADDRS=${ADDRS:-100}
BUILD=$(cd "$BUILD" && pwd)
W=$(mktemp -d)
SPID= APID= MPID=
cleanup() {
    for p in $APID $MPID $SPID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$W/data"
"$BUILD/omtpd" init --data-dir "$W/data" >/dev/null
"$BUILD/omtpd" user bulk bench $((2 * PAIRS)) --password bench --cost 8 --data-dir "$W/data" >/dev/null
"$BUILD/omtpd" user bulk atk $((2 * BIG)) --password atk --cost 8 --data-dir "$W/data" >/dev/null
# the server's open-files limit is its own (a subshell), so the idle flood
# passes its descriptor budget
(ulimit -n "$NOFILE" && exec "$BUILD/omtpd" --data-dir "$W/data" --listen 127.0.0.1:0 \
    --port-file "$W/port" --http-listen 127.0.0.1:0 --http-port-file "$W/http" \
    --log-level warn 2>"$W/omtpd.log") &
SPID=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && [ -s "$W/http" ] && break; sleep 0.1; done
PORT=$(cat "$W/port") HPORT=$(cat "$W/http")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "omtpd: open-files limit $NOFILE, defaults otherwise; legit: $PAIRS pairs x $RATE msg/s (127.0.0.1)"
echo "attack: idle $IDLE, tricklers $TRICKLERS, http-slow $HTTP_SLOW, guessers $GUESSERS, big pairs $BIG, from $ADDRS addresses"

# One chat window: "p50 p99 sent acked errors".
window() {
    "$BUILD/omtp-bench" chat --server "127.0.0.1:$PORT" --pairs "$PAIRS" --rate "$RATE" \
        --duration "$1" --password bench 2>/dev/null |
        awk '/^messages/ {s=$3; a=$5} /^latency/ {p50=$3; p99=$7}
             /^errors/ {e=$2; $1=""; $2=""; d=$0; gsub(/^ +| /, "", d)}
             END {printf "%s %s %s %s %s %s\n", p50, p99, s, a, e, d}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0; }
metric() { curl -s --max-time 5 "http://127.0.0.1:$HPORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

read -r b50 b99 bs ba be bd < <(window "$WINDOW")
echo "baseline     p50 ${b50} ms  p99 ${b99} ms  sent $bs acked $ba errors $be $bd  VmRSS $(rss_kb) kB"

ATTACK_S=$((MINUTES * 60))
"$BUILD/soak_attack" --server "127.0.0.1:$PORT" --http "127.0.0.1:$HPORT" \
    --duration $((ATTACK_S + 15)) --idle "$IDLE" --tricklers "$TRICKLERS" \
    --http-slow "$HTTP_SLOW" --guessers "$GUESSERS" --big "$BIG" --addrs "$ADDRS" \
    >"$W/attack.log" 2>&1 &
APID=$!
# sampler: RSS, /healthz time, pending bytes, descriptors
(
    while :; do
        hz=$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}' \
            "http://127.0.0.1:$HPORT/healthz" || echo "000 10")
        fds=$(ls "/proc/$SPID/fd" 2>/dev/null | wc -l)
        echo "sample $(date +%s) rss_kb $(rss_kb) healthz $hz pending $(metric omtp_pending_frame_bytes) fds $fds"
        sleep "$SAMPLE"
    done
) >"$W/samples.log" &
MPID=$!
sleep 5 # the attack ramps up
t_end=$((SECONDS + ATTACK_S - 5))
: >"$W/windows.log"
while [ $SECONDS -lt $t_end ]; do
    read -r p50 p99 s a e d < <(window "$WINDOW")
    echo "under attack p50 ${p50} ms  p99 ${p99} ms  sent $s acked $a errors $e $d" | tee -a "$W/windows.log"
done
kill "$MPID" 2>/dev/null || true
MPID=
cat "$W/samples.log"
tail -1 "$W/attack.log"
curl -s "http://127.0.0.1:$HPORT/metrics" |
    grep -E '^omtp_(conns_shed_total|pending_frame_bytes|http_conns_|connections_open|connections_rejected|slow_reader|logins_failed)' || true
echo "--- summary"
awk '{print $7}' "$W/windows.log" | sort -n | tail -1 | sed 's/^/worst window p99 ms: /'
awk '{s += $7; n++} END {if (n) printf "mean window p99 ms: %.2f over %d windows\n", s / n, n}' "$W/windows.log"
awk '{sum += $14} END {print "chat errors under attack: " sum}' "$W/windows.log"
awk '{print $4}' "$W/samples.log" | sort -n | sed -n '1p;$p' | paste -sd' ' | sed 's/^/VmRSS min max kB: /'
awk '{print $7}' "$W/samples.log" | sort -n | tail -1 | sed 's/^/slowest healthz s: /'
awk '$6 != 200' "$W/samples.log" | wc -l | sed 's/^/healthz not 200: /'
awk '{print $11}' "$W/samples.log" | sort -n | tail -1 | sed "s/^/most descriptors held: /;s/$/ (limit $NOFILE)/"
grep -c "" "$W/omtpd.log" | sed 's/^/server log lines: /'
grep -E "WARN|ERROR" "$W/omtpd.log" | cut -c26- | sort | uniq -c | sort -rn | head -12
