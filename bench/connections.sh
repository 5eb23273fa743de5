#!/usr/bin/env bash
# Memory per idle logged-in connection and logins per second of omtpd.
#
#   bench/connections.sh [BUILD] [N1] [N2]     (defaults: build 10000 19500)
#
# Creates load-test users (cheap scrypt, `omtpd user bulk --cost 8`) and 200
# users with the default cost, starts omtpd on a fresh data directory,
# measures its RSS after start-up, with N1 idle logged-in connections, and
# with N2 (the second batch from a second omtp-bench process), then runs the
# login scenario for both kinds of users. One process may hold at most
# ~20,000 open files here, which bounds N2 for one server process.
set -euo pipefail
BUILD=${1:-build}
N1=${2:-10000}
N2=${3:-19500}
W=$(mktemp -d /tmp/omtp-connbench-XXXXXX)
trap 'kill $SPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT
mkdir -p "$W/data"
"$BUILD/omtpd" init --data-dir "$W/data" >/dev/null
"$BUILD/omtpd" user bulk bench "$N2" --password bench --cost 8 --data-dir "$W/data" >/dev/null
"$BUILD/omtpd" user bulk slow 200 --password bench --data-dir "$W/data" >/dev/null
"$BUILD/omtpd" --data-dir "$W/data" --listen 127.0.0.1:0 --port-file "$W/port" \
  --log-level warn --max-conns-per-ip 0 --req-rate 0 2>"$W/server.log" & # no limits: measuring
SPID=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(cat "$W/port")
rss() { awk '/VmRSS/{print $2}' /proc/$SPID/status; }
# one connection first, so one-time costs (libraries, first page faults) are in the baseline
"$BUILD/omtp-bench" connect --server 127.0.0.1:$PORT --conns 1 --duration 1 >/dev/null
base=$(rss)
"$BUILD/omtp-bench" connect --server 127.0.0.1:$PORT --conns "$N1" --ramp 4000 --duration 40 \
  >"$W/c1.txt" 2>&1 &
C1=$!
while [ "$(ls /proc/$SPID/fd | wc -l)" -lt "$N1" ]; do sleep 0.5; done
sleep 3
r1=$(rss)
"$BUILD/omtp-bench" connect --server 127.0.0.1:$PORT --conns $((N2 - N1)) --user-start "$N1" \
  --ramp 4000 --duration 10 >"$W/c2.txt" 2>&1 &
C2=$!
while [ "$(ls /proc/$SPID/fd | wc -l)" -lt "$N2" ]; do sleep 0.5; done
sleep 3
r2=$(rss)
fds=$(ls /proc/$SPID/fd | wc -l)
wait $C2 $C1
echo "baseline RSS ${base} KiB"
echo "$N1 connections: RSS ${r1} KiB, $(( (r1 - base) * 1024 / N1 )) bytes per connection"
echo "$N2 connections: RSS ${r2} KiB, $(( (r2 - base) * 1024 / N2 )) bytes per connection" \
     "(marginal $(( (r2 - r1) * 1024 / (N2 - N1) )) bytes), server fds $fds"
"$BUILD/omtp-bench" login --server 127.0.0.1:$PORT --conns 64 --users "$N1" --duration 10 | grep logins
"$BUILD/omtp-bench" login --server 127.0.0.1:$PORT --user-prefix slow --users 200 --conns 16 \
  --duration 10 | grep logins
