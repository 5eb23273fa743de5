#!/usr/bin/env bash
# msgpath_ab.sh BUILD_DIR [RUNS] - the send path on the message log against
# the store transaction per message (message_log = false), same build, same
# driver, interleaved runs (docs/storage.md "Delivery path").
#
# Systems (omtpd FULL, fresh data each run):
#   log        message_log = true (default pacing, log_sync_delay_us = 500)
#   log-pace0  the same with --log-sync-delay-us 0
#   store      --message-log false: checks, dedup, append in one store
#              transaction before the push (the path before issue #18)
# Per system and run: `omtp-bench chat` at RATE msg/s in total, senders
# spread, PAIRS pairs, SIZE-byte messages, DURATION s; server CPU per
# delivered message = utime+stime of omtpd from /proc/PID/stat over the
# driver's run / messages delivered; log fdatasyncs per message from
# /metrics. Medians over RUNS printed as a markdown table.
# Knobs: PAIRS (10), SIZE (64), RATE (5000), DURATION (4), RUNS ($2 or 3).
set -euo pipefail
BUILD=$(cd "${1:?usage: msgpath_ab.sh BUILD_DIR [RUNS]}" && pwd)
RUNS=${2:-3}
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} RATE=${RATE:-5000} DURATION=${DURATION:-4}
OMTPD=$BUILD/omtpd BENCH=$BUILD/omtp-bench
W=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
NCL=$((2 * PAIRS))
PER=$(python3 -c "print($RATE / $NCL)")
CLK=$(getconf CLK_TCK)
"$OMTPD" init --data-dir "$W/seed" >/dev/null
"$OMTPD" user bulk bench "$NCL" --password bench --cost 8 --data-dir "$W/seed" >/dev/null
cpu() { sed 's/.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}'; }
metric() { curl -s "http://127.0.0.1:$HPORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
one() { # system args...
  local sys=$1; shift
  rm -rf "$W/d"; cp -r "$W/seed" "$W/d"; rm -f "$W/port" "$W/hport"
  "$OMTPD" --listen 127.0.0.1:0 --port-file "$W/port" --http-listen 127.0.0.1:0 \
    --http-port-file "$W/hport" --data-dir "$W/d" --log-level warn --max-conns-per-ip 0 \
    --req-rate 0 "$@" 2>>"$W/log" &
  SPID=$!
  for _ in $(seq 1 100); do [ -s "$W/port" ] && [ -s "$W/hport" ] && break; sleep 0.05; done
  HPORT=$(cat "$W/hport")
  local f0 c0 c1 f1 j
  f0=$(metric omtp_msglog_fsyncs_total); c0=$(cpu)
  j=$("$BENCH" chat --server "127.0.0.1:$(cat "$W/port")" --pairs "$PAIRS" --size "$SIZE" \
    --rate "$PER" --pacing spread --duration "$DURATION" --json)
  c1=$(cpu); f1=$(metric omtp_msglog_fsyncs_total)
  kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
  echo "{\"system\":\"$sys\",\"cpu_s\":$(((c1 - c0) * 1000 / CLK))e-3,\"fsyncs\":$((${f1:-0} - ${f0:-0})),\"r\":$j}" >>"$W/raw"
}
for run in $(seq 1 "$RUNS"); do
  one log
  one log-pace0 --log-sync-delay-us 0
  one store --message-log false
  echo "  run $run done" >&2
done
python3 - "$W/raw" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| system | msg/s | p50 ms | p99 ms | server CPU us/msg | log fdatasyncs per msg |")
print("|---|---:|---:|---:|---:|---:|")
for s in ["log", "log-pace0", "store"]:
    rs = [r for r in rows if r["system"] == s]
    m = lambda f: statistics.median([f(r) for r in rs])
    print("| %s | %.0f | %.3f | %.3f | %.1f | %s |" % (
        s, m(lambda r: r["r"]["throughput_per_s"]), m(lambda r: r["r"]["latency"]["p50_ms"]),
        m(lambda r: r["r"]["latency"]["p99_ms"]),
        m(lambda r: r["cpu_s"] * 1e6 / max(r["r"]["received"], 1)),
        "-" if s == "store" else "%.2f" % m(lambda r: r["fsyncs"] / max(r["r"]["received"], 1))))
PY
