#!/usr/bin/env bash
# bench/stall.sh - can one user stall the store? HIGHPRJ messages to a big
# group while other users chat.
#
#   bench/stall.sh BUILD_DIR [RUNS]
#
# Starts omtpd on a fresh data dir (SQLite, sync_level FULL, HTTP API on),
# creates MEMBERS users g0.. and 2*PAIRS chat users bench0.. in bulk (cheap
# hashes), and creates group GC_stall of all g* as the administrator (HTTP
# API, 10,000 members per call). Then, per run:
#   - omtp-bench chat: PAIRS pairs, every client sending RATE msg/s (default
#     10 pairs x 2 x 50 = 1,000 msg/s) for DURATION s;
#   - after 3 s, user g0 sends HP messages flagged HIGHPRJ to the group, one
#     after the other (each waits for its MsgAck, GAP ms apart): bench/fanout
#     send --highprj 1. The group's members are not online: this measures
#     the store, not the fan-out (bench/fanout.sh measures that).
# It prints the chat latency (p50/p99/max, from omtp-bench), each HIGHPRJ
# message's ack time (median, worst, how many above 1 s, how many acked
# within HP_CAP s), the server CPU (utime+stime of /proc/PID/stat) per
# message handled (chat sends + HIGHPRJ), and /metrics' worst store item.
# Env: MEMBERS (20000), PAIRS (10), RATE (50), DURATION (20), HP (100),
# GAP (10), HP_CAP (120: the HIGHPRJ sender is stopped after that many s),
# SETTLE (5: seconds of rest between the setup and the first run).
# OMTPD=path runs another omtpd binary with the same drivers (before/after).
# Both sides run on this machine.
set -euo pipefail
B=${1:?build dir}; RUNS=${2:-1}
MEMBERS=${MEMBERS:-20000}; PAIRS=${PAIRS:-10}; RATE=${RATE:-50}; DURATION=${DURATION:-20}
HP=${HP:-100}; GAP=${GAP:-10}; HP_CAP=${HP_CAP:-120}
OMTPD=${OMTPD:-$B/omtpd}; FAN=$B/bench/fanout; OB=$B/omtp-bench
T=$(mktemp -d); SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
KEY=stall-bench-key
cat >"$T/omtpd.conf" <<CONF
keepalive_s = 300
log_level = warn
http_listen = 127.0.0.1:0
api_keys = $KEY
http_max_body = 4194304
# benchmarks measure the server, not its flood protection
req_rate = 0
CONF
"$OMTPD" init --config "$T/omtpd.conf" --data-dir "$T/data" >/dev/null
"$OMTPD" user bulk g "$MEMBERS" --password bench --cost 4 --config "$T/omtpd.conf" \
  --data-dir "$T/data" >/dev/null
"$OMTPD" user bulk bench $((2 * PAIRS)) --password bench --cost 4 --config "$T/omtpd.conf" \
  --data-dir "$T/data" >/dev/null
"$OMTPD" --config "$T/omtpd.conf" --data-dir "$T/data" --listen 127.0.0.1:0 \
  --port-file "$T/port" --http-port-file "$T/hport" 2>"$T/omtpd.log" &
SPID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && [ -s "$T/hport" ] && break; sleep 0.1; done
PORT=$(cat "$T/port"); HPORT=$(cat "$T/hport")
api() { curl -s -o "$T/api.out" -w '%{http_code}' -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -X "$1" "http://127.0.0.1:$HPORT$2" --data-binary @"$3"; }
ids() { seq "$1" "$2" | awk '{ printf "%s\"g%d\"", (NR > 1 ? "," : ""), $1 }'; }
t0=$(date +%s%N)
last=$(( MEMBERS < 10000 ? MEMBERS - 1 : 9999 ))
printf '{"groupId":"GC_stall","name":"stall","creatorId":"g0","memberLimit":%d,"members":[%s]}' \
  "$MEMBERS" "$(ids 1 "$last")" >"$T/create.json"
st=$(api POST /v1/groups "$T/create.json")
[ "$st" = 201 ] || { echo "group create: HTTP $st $(cat "$T/api.out")" >&2; exit 1; }
from=$((last + 1))
while [ "$from" -lt "$MEMBERS" ]; do
  to=$(( from + 9999 < MEMBERS - 1 ? from + 9999 : MEMBERS - 1 ))
  printf '{"members":[%s]}' "$(ids "$from" "$to")" >"$T/add.json"
  st=$(api POST /v1/groups/GC_stall/members "$T/add.json")
  [ "$st" = 200 ] || { echo "members add: HTTP $st $(cat "$T/api.out")" >&2; exit 1; }
  from=$((to + 1))
done
echo "group GC_stall: $MEMBERS members in $(( ($(date +%s%N) - t0) / 1000000 )) ms (HTTP API)"
sleep "${SETTLE:-5}" # the checkpointer writes the setup's WAL back first: not what is measured
cpu() { awk '{print $14 + $15}' /proc/"$SPID"/stat; }
TCK=$(getconf CLK_TCK)
for run in $(seq "$RUNS"); do
  c0=$(cpu)
  "$OB" chat --server "127.0.0.1:$PORT" --pairs "$PAIRS" --rate "$RATE" --duration "$DURATION" \
    --json >"$T/chat.json" 2>/dev/null &
  bpid=$!
  sleep 3
  timeout "$HP_CAP" "$FAN" send --port "$PORT" --password bench --prefix g --group GC_stall \
    --msgs "$HP" --gap-ms "$GAP" --highprj 1 >"$T/sent" 2>"$T/sent.err" || true
  wait "$bpid" || true
  c1=$(cpu)
  chat_sent=$(jq '.sent' "$T/chat.json")
  hp_acked=$(grep -c '^SENT' "$T/sent" || true)
  msgs=$((chat_sent + hp_acked))
  worst=$(curl -s "http://127.0.0.1:$HPORT/metrics" |
    awk '$1 == "omtp_store_item_seconds_max" { printf "%.1f ms", $2 * 1000 }')
  echo "run $run: chat $(jq -r '"\(.acked_per_s | floor) msg/s acked, p50 \(.latency.p50_ms) p99 \(.latency.p99_ms) max \(.latency.max_ms) ms, errors \(.errors)"' "$T/chat.json")"
  awk '$1 == "SENT" { print $4 / 1000 }' "$T/sent" | sort -n | awk -v hp="$HP" '
    { a[++n] = $1; if ($1 > 1000) over++ } END {
      if (!n) { print "  HIGHPRJ: none acked"; exit }
      printf "  HIGHPRJ: %d of %d acked, ack median %.1f ms, worst %.1f ms, %d above 1 s\n",
        n, hp, a[int((n + 1) / 2)], a[n], over + 0 }'
  echo "  server CPU $(( (c1 - c0) * 1000 / TCK )) ms for $msgs messages:" \
    "$(awk -v c=$((c1 - c0)) -v t="$TCK" -v m="$msgs" 'BEGIN { printf "%.1f us/msg", c * 1e6 / t / (m ? m : 1) }'),"\
    "worst store item ${worst:-n/a (no metric)}"
done
