#!/usr/bin/env bash
# msglog_pacing_omtpd.sh BUILD_DIR - omtpd's message-log fsync pacing through
# the network: 1:1 chat at RATE msg/s in total (omtp-bench chat, senders
# spread), omtpd FULL with each log_sync_delay_us in DELAYS, interleaved RUNS
# times, a fresh data directory each. Per run: delivered msg/s, push latency
# (send -> delivery) and ack latency (send -> MsgAck) p50/p99, server CPU per
# delivered message (utime+stime of omtpd from /proc/PID/stat over the run).
# Knobs: PAIRS (10), RATE (5000), DURATION (5), RUNS (2), DELAYS ("0 1000").
set -euo pipefail
BUILD=$(cd "${1:?usage: msglog_pacing_omtpd.sh BUILD_DIR}" && pwd)
PAIRS=${PAIRS:-10}
RATE=${RATE:-5000}
DURATION=${DURATION:-5}
RUNS=${RUNS:-2}
DELAYS=${DELAYS:-"0 1000"}
W=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$W"' EXIT
NCL=$((2 * PAIRS))
PER=$(python3 -c "print($RATE / $NCL)")
CLK=$(getconf CLK_TCK)
"$BUILD/omtpd" init --data-dir "$W/seed" >/dev/null
"$BUILD/omtpd" user bulk bench "$NCL" --password bench --cost 8 --data-dir "$W/seed" >/dev/null
cpu() { sed 's/.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}'; }
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ); $PAIRS pairs, $RATE msg/s, ${DURATION}s"
for run in $(seq "$RUNS"); do
    for d in $DELAYS; do
        rm -rf "$W/d"
        cp -r "$W/seed" "$W/d"
        rm -f "$W/port"
        "$BUILD/omtpd" --listen 127.0.0.1:0 --port-file "$W/port" --data-dir "$W/d" \
            --log-level warn --req-rate 0 --max-conns-per-ip 0 --log-sync-delay-us "$d" \
            2>>"$W/omtpd.log" &
        SPID=$!
        for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.05; done
        c0=$(cpu)
        j=$("$BUILD/omtp-bench" chat --server "127.0.0.1:$(cat "$W/port")" --pairs "$PAIRS" \
            --rate "$PER" --pacing spread --duration "$DURATION" --password bench --json)
        c1=$(cpu)
        kill "$SPID"
        wait "$SPID" 2>/dev/null || true
        SPID=
        python3 - "$j" "$run" "$d" "$(((c1 - c0) * 1000000 / CLK))" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); run, d, cpu_us = sys.argv[2], sys.argv[3], int(sys.argv[4])
l, a = j["latency"], j.get("ack_latency", {})
print(f"run={run} delay_us={d} delivered/s={j['throughput_per_s']:.0f} "
      f"push p50={l['p50_ms']:.3f} p99={l['p99_ms']:.3f} ms  ack p50={a.get('p50_ms',0):.3f} "
      f"p99={a.get('p99_ms',0):.3f} ms  server CPU {cpu_us / max(j['received'],1):.1f} us/msg "
      f"errors={j['errors']}")
PY
    done
done
