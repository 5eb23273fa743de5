#!/usr/bin/env bash
# compare-mosquitto.sh BUILD_DIR [RUNS] - omtpd and Mosquitto side by side,
# the same 1:1 chat workload, the same driver design, in one run.
#
# Driver: build/omtp-bench (ONE libuv loop drives every connection of the
# process) in both cases: `omtp-bench chat` for omtpd, `omtp-bench chat
# --protocol mqtt` for Mosquitto (client i subscribes to its own topic
# bench/i at QoS 1 and publishes at QoS 1 to its peer's topic). Same pairs,
# payload, window and rate on both sides.
#
# Systems (each started fresh for each measurement, on loopback):
#   mosquitto     persistence on (in-memory store saved every autosave_interval
#                 = 1800 s and at shutdown: a PUBACK does NOT mean on disk)
#   omtpd FULL    --message-log true (the send path of issue #18): each
#                 message is appended to the message log and pushed, the
#                 MsgAck waits for the log's fdatasync; SQLite WAL,
#                 synchronous=FULL behind it (the default pacing,
#                 log_sync_delay_us)
#   omtpd FULL-pace0  the same with --log-sync-delay-us 0 (the message log's
#                 fsync pacing off: each sync starts as soon as records wait)
#   omtpd FULL-store  --message-log false: one SQLite transaction per message
#                 (group commit, synchronous=FULL) before the push and the
#                 MsgAck - the path before the message log
#   omtpd NORMAL  --message-log true, synchronous=NORMAL: the log is never
#                 fdatasynced (acked messages survive a process crash, the
#                 last ones may be lost on power loss)
#
# Measures, per system, RUNS times interleaved (so drift of a shared machine
# hits every system alike), medians reported:
#   saturation  closed loop, WINDOW messages in flight per client: delivered msg/s
#   fixed rate  RATE msg/s in total: latency p50/p99/p999 (send -> delivery),
#               twice: senders' phases spread over the period (independent
#               users: ~RATE/1000 sends per 1 ms tick) and aligned (every
#               sender on the same tick: one burst of 2*PAIRS each period)
#   ack latency (send -> MsgAck / PUBACK) at the fixed rate: what the
#               message log's fsync pacing trades (pushes never wait for it)
#   server CPU per delivered message, in every mode: utime+stime of the
#               server process from /proc/PID/stat (all its threads: loop,
#               store, log sync) over the driver's run (connect and login
#               included, a few ms) and until the server is idle again (the
#               message log's applies behind the pushes belong to the run),
#               divided by the messages delivered
#
# Output: bench/out/compare-*.json (raw), the tables on stdout (markdown),
# bench/compare-mosquitto.png (gnuplot). Knobs: PAIRS (10), SIZE (64),
# WINDOW (16), RATE (5000), DURATION (5), RUNS ($2 or 3).
#
# Installs mosquitto and gnuplot (Debian) if missing: they are needed by
# this benchmark only, not by the build or the tests.
set -euo pipefail
BUILD=${1:?usage: compare-mosquitto.sh BUILD_DIR [RUNS]}
RUNS=${2:-${RUNS:-3}}
PAIRS=${PAIRS:-10}
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-16}
RATE=${RATE:-5000}
DURATION=${DURATION:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
OMTPD=$BUILD/omtpd
BENCH=$BUILD/omtp-bench
[ -x "$OMTPD" ] && [ -x "$BENCH" ] || { echo "need $OMTPD and $BENCH (make build)"; exit 1; }

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing ${need[*]} (benchmark only)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)

OUT=$HERE/out
mkdir -p "$OUT"
W=$(mktemp -d)
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
NCL=$((2 * PAIRS))
PER_CLIENT_RATE=$(python3 -c "print($RATE / $NCL)")

# users for omtpd (cheap password hash: logins are not what is measured)
"$OMTPD" init --data-dir "$W/omtp-seed" >/dev/null
"$OMTPD" user bulk bench "$NCL" --password bench --cost 8 --data-dir "$W/omtp-seed" >/dev/null

start_mosquitto() {
  rm -rf "$W/mq"; mkdir -p "$W/mq"
  PORT=$(free_port)
  cat >"$W/mq/mosquitto.conf" <<EOF
per_listener_settings false
listener $PORT 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence true
persistence_location $W/mq/
autosave_interval 1800
max_inflight_messages 100
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
EOF
  # running as root, mosquitto would switch to user "mosquitto", which cannot
  # write the temporary persistence directory
  [ "$(id -u)" -eq 0 ] && echo "user root" >>"$W/mq/mosquitto.conf"
  "$MOSQ" -c "$W/mq/mosquitto.conf" 2>>"$W/mq/log" &
  SPID=$!
  for _ in $(seq 1 100); do
    (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "mosquitto did not start:"; cat "$W/mq/log"; exit 1
}

start_omtpd() { # sync level, extra omtpd args
  rm -rf "$W/od"; mkdir -p "$W/od"; cp -r "$W/omtp-seed" "$W/od/data"
  local lvl=$1; shift
  "$OMTPD" --listen 127.0.0.1:0 --port-file "$W/od/port" --data-dir "$W/od/data" \
    --sync-level "$lvl" --log-level warn --max-conns-per-ip 0 --req-rate 0 "$@" \
    2>>"$W/od/log" & # no limits: measuring
  SPID=$!
  for _ in $(seq 1 100); do [ -s "$W/od/port" ] && break; sleep 0.05; done
  [ -s "$W/od/port" ] || { echo "omtpd did not start:"; cat "$W/od/log"; exit 1; }
  PORT=$(cat "$W/od/port")
}

stop_server() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }

STAMP=$(date -u +%Y%m%d-%H%M%S)
echo "# $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -r)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ); omtpd $("$OMTPD" --version 2>/dev/null | head -1)"
echo "# command: PAIRS=$PAIRS SIZE=$SIZE WINDOW=$WINDOW RATE=$RATE DURATION=$DURATION $0 $BUILD $RUNS"
RAW=$OUT/compare-$STAMP.jsonl
: >"$RAW"
CLK_TCK=$(getconf CLK_TCK)
# utime + stime of the server, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the ")" closing the command name)
cpu_ticks() { sed 's/.*) //' "/proc/$SPID/stat" | awk '{print $12 + $13}'; }
# Waits (at most 30 s) until the server is idle: under 2 ticks of CPU in
# 300 ms. omtpd on the message log applies messages to its tables behind the
# pushes; that work belongs to the run that sent them, so every measurement
# reads the CPU after its server settled, and the next one starts clean.
settle() {
  local a b
  for _ in $(seq 1 100); do
    a=$(cpu_ticks); sleep 0.3; b=$(cpu_ticks)
    [ $((b - a)) -lt 2 ] && return 0
  done
}
measure() { # system-name, extra bench args
  local sys=$1; shift
  local j c0 c1
  c0=$(cpu_ticks)
  j=$("$BENCH" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" --window "$WINDOW" \
    --duration "$DURATION" --json "$@")
  settle
  c1=$(cpu_ticks)
  echo "{\"system\":\"$sys\",\"mode\":\"saturation\",\"run\":$run,\"cpu_s\":$(((c1 - c0) * 1000 / CLK_TCK))e-3,\"r\":$j}" >>"$RAW"
  for pacing in spread aligned; do
    c0=$(cpu_ticks)
    j=$("$BENCH" chat --server 127.0.0.1:$PORT --pairs "$PAIRS" --size "$SIZE" \
      --rate "$PER_CLIENT_RATE" --pacing $pacing --duration "$DURATION" --json "$@")
    settle
    c1=$(cpu_ticks)
    echo "{\"system\":\"$sys\",\"mode\":\"rate-$pacing\",\"run\":$run,\"cpu_s\":$(((c1 - c0) * 1000 / CLK_TCK))e-3,\"r\":$j}" >>"$RAW"
  done
  echo "  $sys run $run done" >&2
}

for run in $(seq 1 "$RUNS"); do
  start_mosquitto; measure mosquitto --protocol mqtt; stop_server
  start_omtpd 2 --message-log true; measure omtpd-FULL; stop_server
  start_omtpd 2 --message-log false; measure omtpd-FULL-store; stop_server
  start_omtpd 2 --message-log true --log-sync-delay-us 0; measure omtpd-FULL-pace0; stop_server
  start_omtpd 1 --message-log true; measure omtpd-NORMAL; stop_server
done

python3 - "$RAW" "$OUT/compare-$STAMP.dat" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
systems = ["mosquitto", "omtpd-FULL", "omtpd-FULL-store", "omtpd-FULL-pace0", "omtpd-NORMAL"]
pacings = ["spread", "aligned"]
def med(xs): return statistics.median(xs) if xs else 0.0
def cpu_us(rows_):  # server CPU per delivered message, median over runs
    return med([r["cpu_s"] * 1e6 / r["r"]["received"] for r in rows_ if r["r"]["received"]])
sat, lat = {}, {}
for s in systems:
    rr = [r for r in rows if r["system"] == s and r["mode"] == "saturation"]
    runs = [r["r"] for r in rr]
    thr = [x["throughput_per_s"] for x in runs]
    sat[s] = dict(thr=med(thr), lo=min(thr), hi=max(thr), cpu=cpu_us(rr),
                  p50=med([x["latency"]["p50_ms"] for x in runs]),
                  errors=sum(x["errors"] for x in runs),
                  lost=sum(x["acked"] - x["received"] for x in runs))
    for p in pacings:
        rr = [r for r in rows if r["system"] == s and r["mode"] == "rate-" + p]
        runs = [r["r"] for r in rr]
        lat[s, p] = dict(rate=med([x["throughput_per_s"] for x in runs]), cpu=cpu_us(rr),
                         ack50=med([x.get("ack_latency", {}).get("p50_ms", 0) for x in runs]),
                         ack99=med([x.get("ack_latency", {}).get("p99_ms", 0) for x in runs]),
                         p50=med([x["latency"]["p50_ms"] for x in runs]),
                         p99=med([x["latency"]["p99_ms"] for x in runs]),
                         p999=med([x["latency"]["p999_ms"] for x in runs]),
                         errors=sum(x["errors"] for x in runs))
m = sat["mosquitto"]
print("Saturation (closed loop):\n")
print("| system | delivered msg/s (median, range) | vs mosquitto | p50 ms | server CPU us/msg | errors | acked, not delivered |")
print("|---|---:|---:|---:|---:|---:|---:|")
for s in systems:
    x = sat[s]
    print(f"| {s} | {x['thr']:,.0f} ({x['lo']:,.0f}-{x['hi']:,.0f}) | {x['thr']/m['thr']:.2f}x "
          f"| {x['p50']:.2f} | {x['cpu']:.1f} | {x['errors']} | {x['lost']} |")
print("\nFixed rate (send -> delivery):\n")
print("| system | pacing | msg/s | p50 ms | p99 ms | p999 ms | p50 / mosquitto's | p99 / mosquitto's | ack p50 ms | ack p99 ms | server CPU us/msg | CPU / mosquitto's | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in pacings:
    mq = lat["mosquitto", p]
    for s in systems:
        x = lat[s, p]
        r50 = x['p50'] / mq['p50'] if mq['p50'] else 0
        r99 = x['p99'] / mq['p99'] if mq['p99'] else 0
        rc = x['cpu'] / mq['cpu'] if mq['cpu'] else 0
        print(f"| {s} | {p} | {x['rate']:,.0f} | {x['p50']:.3f} | {x['p99']:.3f} | {x['p999']:.3f} "
              f"| {r50:.2f} | {r99:.2f} | {x['ack50']:.3f} | {x['ack99']:.3f} | {x['cpu']:.1f} | {rc:.2f} "
              f"| {x['errors']} |")
print("\n(latency and CPU ratios: below 1 = faster / cheaper than Mosquitto; server CPU from /proc/PID/stat)")
with open(sys.argv[2], "w") as f:
    for i, s in enumerate(systems):
        x, a, b = sat[s], lat[s, "spread"], lat[s, "aligned"]
        f.write(f"{i} {s} {x['thr']:.0f} {x['lo']:.0f} {x['hi']:.0f} {a['p50']:.3f} {a['p99']:.3f} "
                f"{a['p999']:.3f} {b['p50']:.3f} {b['p99']:.3f} {b['p999']:.3f}\n")
EOF

if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 1500,420 font ",10" noenhanced
set output "$HERE/compare-mosquitto.png"
set multiplot layout 1,3 title "1:1 chat, $PAIRS pairs, $SIZE B payload, one libuv loop driver per protocol; $(nproc) cores, $(date -u +%Y-%m-%d)"
set style fill solid 0.7 border -1
set boxwidth 0.6
set grid ytics
set key top left
set yrange [0:*]
set title "saturation: delivered msg/s (window $WINDOW per client; median of $RUNS, range)"
plot "$OUT/compare-$STAMP.dat" using 1:3:xtic(2) with boxes lc rgb "#4477aa" notitle, \
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 notitle
set style data histograms
set style histogram clustered gap 1
set logscale y
set yrange [0.01:*]
set title "latency at $RATE msg/s, senders spread (ms, median of $RUNS)"
plot "$OUT/compare-$STAMP.dat" using 6:xtic(2) title "p50", "" using 7 title "p99", "" using 8 title "p999"
set title "latency at $RATE msg/s, senders aligned: bursts of $NCL (ms)"
plot "$OUT/compare-$STAMP.dat" using 9:xtic(2) title "p50", "" using 10 title "p99", "" using 11 title "p999"
unset multiplot
EOF
  echo "plot: $HERE/compare-mosquitto.png" >&2
fi
echo "raw: $RAW" >&2
