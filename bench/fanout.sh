#!/usr/bin/env bash
# bench/fanout.sh - one group message to a group of N members, all online.
#
#   bench/fanout.sh BUILD_DIR N [PROCS] [RUNS]
#
# Starts omtpd on a fresh data dir (SQLite, sync_level FULL), creates N+1
# users in bulk (omtpd user bulk, cheap hashes), user b0 creates a group with b1..bN,
# PROCS receiver processes (one libuv loop each, N/PROCS connections each)
# log b1..bN in, then b0 sends MSGS messages GAP ms apart (env, default 10
# and 300). Per run (RUNS, default 3) it prints the median and worst time
# from a send to the last member's receipt and the server CPU (utime+stime
# from /proc/PID/stat, store thread included) per delivered message. Both
# sides run on this machine. PROBE=1 also runs a client that PINGs every
# 2 ms meanwhile and reports its round trips (its CPU then counts too: use
# separate runs for the CPU figure).
set -euo pipefail
B=${1:?build dir}; N=${2:?members}; PROCS=${3:-1}; RUNS=${4:-3}; MSGS=${MSGS:-10}; GAP=${GAP:-300}
OMTPD=$B/omtpd; FAN=$B/bench/fanout
T=$(mktemp -d); trap 'kill $SPID 2>/dev/null || true; rm -rf "$T"' EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cat >"$T/omtpd.conf" <<CONF
keepalive_s = 300
log_level = warn
max_conns_per_ip = 0
group_member_limit = $((N + 1))
# benchmarks measure the server, not its flood protection
req_rate = 0
CONF
"$OMTPD" init --config "$T/omtpd.conf" --data-dir "$T/data" >/dev/null
"$OMTPD" user bulk b $((N + 1)) --password bench --cost 4 --config "$T/omtpd.conf" --data-dir "$T/data" >/dev/null
"$OMTPD" --config "$T/omtpd.conf" --data-dir "$T/data" --listen 127.0.0.1:0 --port-file "$T/port" 2>"$T/omtpd.log" &
SPID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port")
G=$("$FAN" create --port "$PORT" --password bench --prefix b --count "$N")
GID=$(echo "$G" | awk '{print $2}')
echo "group $GID created with $N members + creator in $(echo "$G" | awk '{printf "%.1f ms", $3/1000}')"
cpu() { awk '{print $14 + $15}' /proc/"$SPID"/stat; }
TCK=$(getconf CLK_TCK)
per=$(( (N + PROCS - 1) / PROCS ))
for run in $(seq "$RUNS"); do
  pids=(); from=1
  for p in $(seq "$PROCS"); do
    cnt=$per; [ $((from + cnt - 1)) -gt "$N" ] && cnt=$((N - from + 1))
    "$FAN" recv --port "$PORT" --password bench --prefix b --from "$from" --count "$cnt" \
      --msgs "$MSGS" --timeout 300 >"$T/recv.$p" 2>"$T/recv.$p.err" &
    pids+=($!); from=$((from + cnt))
  done
  for p in $(seq "$PROCS"); do
    until grep -q READY "$T/recv.$p" 2>/dev/null; do sleep 0.1; done
  done
  sleep 0.5
  c0=$(cpu)
  echo "PROBE 0 0 0 0" >"$T/probe"; ppid=
  if [ "${PROBE:-0}" = 1 ]; then
    "$FAN" probe --port "$PORT" --password bench --prefix b \
      --timeout $(( (MSGS * GAP) / 1000 + 1 )) >"$T/probe" &
    ppid=$!
  fi
  "$FAN" send --port "$PORT" --password bench --prefix b --group "$GID" --msgs "$MSGS" \
    --gap-ms "$GAP" >"$T/sent"
  wait "${pids[@]}"
  c1=$(cpu)
  [ -n "$ppid" ] && wait "$ppid"
  got=$(cat "$T"/recv.* | awk '$1 == "RECV" { g += $2 } END { print g + 0 }')
  # per message: last arrival over all processes minus its send time (ms)
  lat=$(cat "$T"/recv.* | awk -v sentf="$T/sent" '
    BEGIN { while ((getline line < sentf) > 0) { split(line, a, " "); sent[a[2]] = a[3] } }
    $1 == "LAST" { if ($3 > last[$2]) last[$2] = $3 }
    END { for (k in sent) printf "%.2f\n", (last[k] - sent[k]) / 1000 }' | sort -n)
  acks=$(awk '{ printf "%.2f\n", $4 / 1000 }' "$T/sent" | sort -n)
  m=$(echo "$lat" | wc -l)
  med() { echo "$1" | sed -n "$(( (m + 1) / 2 ))p"; }
  read -r _ pn pmed p99 pmax <"$T/probe"
  awk -v n="$N" -v m="$m" -v got="$got" -v pn="$pn" -v pmed="$pmed" -v p99="$p99" -v pmax="$pmax" -v ack="$(med "$acks")" -v lmed="$(med "$lat")" \
      -v lmax="$(echo "$lat" | tail -1)" -v c="$((c1 - c0))" -v tck="$TCK" \
    'BEGIN { printf "members %d  msgs %d  delivered %d  ack median %s ms  last member: median %s ms, max %s ms  server cpu %.0f ms = %.1f us per delivered msg  PING meanwhile (%d): median %.2f ms, p99 %.2f ms, max %.2f ms\n",
             n, m, got, ack, lmed, lmax, c * 1000 / tck, (got ? c * 1e6 / tck / got : 0), pn, pmed / 1000, p99 / 1000, pmax / 1000 }'
done
