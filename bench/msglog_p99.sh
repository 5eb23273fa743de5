#!/usr/bin/env bash
# msglog_p99.sh BUILD_DIR [RUNS] - the push latency tail on the message log:
# which of the knobs that touch it pays, same build, interleaved runs.
#
# Systems (omtpd FULL, fresh data directory each run, `omtp-bench chat`,
# PAIRS pairs, SIZE-byte messages, RATE msg/s in total, senders spread):
#   log          --message-log true, the defaults (apply_nice 5, apply_delay_ms 5)
#   log-nice0    the same with --apply-nice 0 (store threads at the loop's priority)
#   log-apply50  the same with --apply-delay-ms 50 (fewer, larger apply transactions)
#   store        --message-log false (one store transaction per message)
# Per run: delivered msg/s, push p50/p99/p999 (send -> delivery), ack
# p50/p99, server CPU per delivered message (utime+stime of omtpd, every
# thread, from /proc/PID/stat over the driver's run), and from /metrics the
# loop's longest turn and the longest pwritev on the loop (the log's
# systems), and the CPU per message of each thread group (the loop, the
# store thread, its sync thread, the log's sync thread, the rest; threads
# are named, /proc/PID/task/*/stat). Then medians per system. Systems are interleaved in every run,
# so a shared box's drift hits all alike; still, rerun on a quiet box.
#
# Usage: bench/msglog_p99.sh build 3        (~4 x RUNS x (DURATION + 3) s)
# Knobs: PAIRS (10), SIZE (64), RATE (5000), DURATION (5), SYSTEMS (all, by name)
set -euo pipefail
BUILD=$(cd "${1:?usage: msglog_p99.sh BUILD_DIR [RUNS]}" && pwd)
RUNS=${2:-3}
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} RATE=${RATE:-5000} DURATION=${DURATION:-5}
SYSTEMS=${SYSTEMS:-"log log-nice0 log-apply50 store"}
OMTPD=$BUILD/omtpd BENCH=$BUILD/omtp-bench
W=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
NCL=$((2 * PAIRS))
PER=$(python3 -c "print($RATE / $NCL)")
CLK=$(getconf CLK_TCK)
args_of() {
  case $1 in
    log) echo "--message-log true" ;;
    log-nice0) echo "--message-log true --apply-nice 0" ;;
    log-apply50) echo "--message-log true --apply-delay-ms 50" ;;
    store) echo "--message-log false" ;;
    *) echo "unknown system $1" >&2; exit 2 ;;
  esac
}
"$OMTPD" init --data-dir "$W/seed" >/dev/null 2>&1
"$OMTPD" user bulk bench "$NCL" --password bench --cost 8 --data-dir "$W/seed" >/dev/null
cpu() { sed 's/.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}'; }
# CPU ticks per thread group: the loop (the main thread), omtpd-store,
# omtpd-storesync, omtpd-logsync, other (MHD, ...); "name=ticks,..."
tcpu() {
  for t in /proc/"$SPID"/task/*; do
    local n; n=$(cat "$t/comm" 2>/dev/null) || continue
    [ "${t##*/}" = "$SPID" ] && n=loop
    case $n in loop | omtpd-store | omtpd-storesync | omtpd-logsync) ;; *) n=other ;; esac
    echo "$n $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done | awk '{a[$1] += $2} END {for (k in a) printf "%s=%d,", k, a[k]}'
}
metric() { curl -s "http://127.0.0.1:$(cat "$W/hport")/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
echo "# $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "# command: PAIRS=$PAIRS SIZE=$SIZE RATE=$RATE DURATION=$DURATION $0 $BUILD $RUNS; omtpd $("$OMTPD" --version 2>/dev/null | head -1)"
: >"$W/rows"
for run in $(seq "$RUNS"); do
  for sys in $SYSTEMS; do
    rm -rf "$W/d" "$W/port" "$W/hport"
    cp -r "$W/seed" "$W/d"
    # shellcheck disable=SC2046
    "$OMTPD" --listen 127.0.0.1:0 --port-file "$W/port" --http-listen 127.0.0.1:0 \
      --http-port-file "$W/hport" --data-dir "$W/d" --log-level warn --max-conns-per-ip 0 \
      --req-rate 0 $(args_of "$sys") 2>>"$W/log" &
    SPID=$!
    for _ in $(seq 1 100); do [ -s "$W/port" ] && [ -s "$W/hport" ] && break; sleep 0.05; done
    c0=$(cpu); t0=$(tcpu)
    j=$("$BENCH" chat --server "127.0.0.1:$(cat "$W/port")" --pairs "$PAIRS" --size "$SIZE" \
      --rate "$PER" --pacing spread --duration "$DURATION" --password bench --json)
    c1=$(cpu); t1=$(tcpu)
    turn=$(metric omtp_loop_busy_seconds_max); app=$(metric omtp_msglog_append_seconds_max)
    kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
    echo "$sys $(((c1 - c0) * 1000000 / CLK)) ${turn:-0} ${app:-0} $j" >>"$W/rows"
    python3 - "$run" "$sys" "$(((c1 - c0) * 1000000 / CLK))" "${turn:-0}" "${app:-0}" "$j" "$t0" "$t1" "$CLK" <<'PY'
import json, sys
run, sys_, cpu, turn, app, j = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), json.loads(sys.argv[6])
def grp(x): return {k: int(v) for k, v in (kv.split("=") for kv in x.split(",") if kv)}
g0, g1, clk = grp(sys.argv[7]), grp(sys.argv[8]), int(sys.argv[9])
n = max(j["received"], 1)
per = " ".join(f"{k} {(g1[k] - g0.get(k, 0)) * 1e6 / clk / n:.1f}" for k in sorted(g1))
l, a = j["latency"], j.get("ack_latency", {})
print(f"run={run} {sys_:12s} {j['throughput_per_s']:.0f} msg/s  push p50 {l['p50_ms']:.3f} p99 {l['p99_ms']:.3f} "
      f"p999 {l['p999_ms']:.3f} ms  ack p50 {a.get('p50_ms', 0):.3f} p99 {a.get('p99_ms', 0):.3f} ms  "
      f"CPU {cpu / max(j['received'], 1):.1f} us/msg  loop turn max {turn * 1e3:.1f} ms  "
      f"pwritev max {app * 1e3:.2f} ms  errors {j['errors']}\n      CPU us/msg by thread: {per}")
PY
  done
done
python3 - "$W/rows" "$SYSTEMS" <<'PY'
import json, statistics, sys
rows = [l.split(" ", 4) for l in open(sys.argv[1])]
print("\n| system | msg/s | push p50 ms | p99 ms | p999 ms | ack p50 ms | ack p99 ms | server CPU us/msg | loop turn max ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in sys.argv[2].split():
    rr = [(int(c), float(t), json.loads(j)) for n, c, t, a, j in rows if n == s]
    if not rr:
        continue
    m = lambda f: statistics.median([f(c, t, j) for c, t, j in rr])
    print(f"| {s} | {m(lambda c,t,j: j['throughput_per_s']):.0f} | {m(lambda c,t,j: j['latency']['p50_ms']):.3f} "
          f"| {m(lambda c,t,j: j['latency']['p99_ms']):.3f} | {m(lambda c,t,j: j['latency']['p999_ms']):.3f} "
          f"| {m(lambda c,t,j: j.get('ack_latency', {}).get('p50_ms', 0)):.3f} "
          f"| {m(lambda c,t,j: j.get('ack_latency', {}).get('p99_ms', 0)):.3f} "
          f"| {m(lambda c,t,j: c / max(j['received'], 1)):.1f} | {m(lambda c,t,j: t * 1e3):.1f} |")
print(f"\n(medians of {len(rows) // max(len(sys.argv[2].split()), 1)} interleaved runs)")
PY
