#!/usr/bin/env bash
# ws.sh [BUILD] [RUNS] - WebSocket against TCP on one omtpd, interleaved
# (tcp, ws, tcp, ws, ...) so a shared machine's drift hits both alike;
# medians of RUNS (3). docs/websocket.md; results in bench/RESULTS.md.
#
# Chat (`omtp-bench chat`, 10 pairs, 64 B, DURATION s measured), each run
# on the same server, TCP clients on its TCP port, WS clients on ws_listen
# (`--transport ws`):
#   saturated  --window 16 (closed loop): delivered msg/s
#   fixed      --rate 250 per sender (5,000 msg/s in total): p50 / p99 ms
# and the server's CPU per delivered message from /proc/PID/stat (utime +
# stime over the bench command, connects and logins included).
# Memory: a fresh server per transport, RSS after one connection (baseline)
# and with CONNS (10,000) idle logged-in connections of one omtp-bench
# process; (RSS - baseline) / CONNS.
# omtpd: sync_level 1, --req-rate 0, logs at warn, no per-address limit.
# Knobs: PAIRS, SIZE, WINDOW, RATE (per sender), DURATION, CONNS; MEM_RUNS
# (memory measurements per transport, 1), CHAT=0 skips the chat runs.
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-3}
PAIRS=${PAIRS:-10} SIZE=${SIZE:-64} WINDOW=${WINDOW:-16} RATE=${RATE:-250}
DURATION=${DURATION:-5} CONNS=${CONNS:-10000}
BENCH=$BUILD/omtp-bench
W=$(mktemp -d /tmp/omtp-wsbench-XXXXXX)
SPID=
trap 'kill $SPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT
NU=$((PAIRS * 2 > CONNS ? PAIRS * 2 : CONNS))
"$BUILD/omtpd" init --data-dir "$W/seed" >/dev/null
"$BUILD/omtpd" user bulk bench "$NU" --password bench --cost 8 --data-dir "$W/seed" >/dev/null
start() {
    rm -rf "$W/od"; mkdir -p "$W/od"; cp -r "$W/seed" "$W/od/data"
    "$BUILD/omtpd" --listen 127.0.0.1:0 --port-file "$W/od/port" --ws-listen 127.0.0.1:0 \
        --ws-port-file "$W/od/wsport" --data-dir "$W/od/data" --sync-level 1 --req-rate 0 \
        --log-level warn --max-conns-per-ip 0 2>>"$W/log" &
    SPID=$!
    for _ in $(seq 1 100); do [ -s "$W/od/wsport" ] && break; sleep 0.05; done
    PORT=$(cat "$W/od/port") WSPORT=$(cat "$W/od/wsport")
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$SPID/status"; }
TCK=$(getconf CLK_TCK)
run() { # transport mode -> one JSON line
    local tp=$1 mode=$2 srv args
    if [ "$tp" = ws ]; then srv="127.0.0.1:$WSPORT --transport ws"; else srv="127.0.0.1:$PORT"; fi
    if [ "$mode" = sat ]; then args="--window $WINDOW"; else args="--rate $RATE"; fi
    local c0 c1 j
    c0=$(cpu_ticks)
    # shellcheck disable=SC2086
    j=$("$BENCH" chat --server $srv --pairs "$PAIRS" --size "$SIZE" $args \
        --duration "$DURATION" --json)
    c1=$(cpu_ticks)
    echo "{\"tp\":\"$tp\",\"mode\":\"$mode\",\"cpu_s\":$(awk -v a="$c0" -v b="$c1" -v t="$TCK" \
        'BEGIN{printf "%.4f", (b - a) / t}'),\"r\":$j}"
}
: >"$W/raw"
start
for r in $(seq 1 "$RUNS"); do
    [ "${CHAT:-1}" = 0 ] && break
    for mode in sat rate; do
        for tp in tcp ws; do
            run $tp $mode >>"$W/raw"
        done
    done
    echo "  run $r done" >&2
done
stop
# memory per idle logged-in connection, each transport on a fresh server
for tp in $(for _ in $(seq 1 "${MEM_RUNS:-1}"); do echo tcp ws; done); do
    start
    srv="127.0.0.1:$PORT"; [ $tp = ws ] && srv="127.0.0.1:$WSPORT --transport ws"
    # shellcheck disable=SC2086
    "$BENCH" connect --server $srv --conns 1 --duration 1 >/dev/null
    base=$(rss)
    # shellcheck disable=SC2086
    "$BENCH" connect --server $srv --conns "$CONNS" --ramp 4000 --duration 30 \
        >"$W/conn-$tp.txt" 2>&1 &
    C=$!
    while [ "$(ls /proc/$SPID/fd | wc -l)" -lt "$CONNS" ]; do sleep 0.5; done
    sleep 3
    now=$(rss)
    online=$(grep -o 'online *[0-9]*' "$W/conn-$tp.txt" | head -1 || true)
    echo "{\"tp\":\"$tp\",\"mode\":\"mem\",\"base_kb\":$base,\"rss_kb\":$now,\"conns\":$CONNS}" \
        >>"$W/raw"
    kill $C 2>/dev/null || true
    wait $C 2>/dev/null || true
    stop
done
cp "$W/raw" "${OUT:-/tmp}/ws-$(date -u +%Y%m%d-%H%M%S).jsonl"
python3 - "$W/raw" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
def sel(tp, mode): return [x for x in rows if x["tp"] == tp and x["mode"] == mode]
print("| transport | saturated msg/s (median; runs) | server CPU us/msg saturated | fixed 5,000 msg/s p50 / p99 ms (median; runs) | server CPU us/msg fixed |")
print("|---|---:|---:|---:|---:|")
res = {}
for tp in ("tcp", "ws"):
    sat, rate = sel(tp, "sat"), sel(tp, "rate")
    if not sat:
        continue
    tp_ = [x["r"]["throughput_per_s"] for x in sat]
    cs = [x["cpu_s"] * 1e6 / max(1, x["r"]["received"]) for x in sat]
    p50 = [x["r"]["latency"]["p50_ms"] for x in rate]
    p99 = [x["r"]["latency"]["p99_ms"] for x in rate]
    cr = [x["cpu_s"] * 1e6 / max(1, x["r"]["received"]) for x in rate]
    res[tp] = (med(tp_), med(p50))
    print(f"| {tp} | {med(tp_):,.0f} ({', '.join(f'{v:,.0f}' for v in tp_)}) | {med(cs):.1f} | "
          f"{med(p50):.3f} / {med(p99):.3f} ({', '.join(f'{a:.3f}/{b:.3f}' for a, b in zip(p50, p99))}) | {med(cr):.1f} |")
print()
if "ws" in res and "tcp" in res:
  print(f"WS / TCP saturated throughput: {res['ws'][0] / res['tcp'][0] * 100:.1f}% (goal >= 90%)")
  print(f"WS - TCP p50 at 5,000 msg/s: {res['ws'][1] - res['tcp'][1]:+.3f} ms (goal <= +0.05 ms)")
for x in [r for r in rows if r["mode"] == "mem"]:
    per = (x["rss_kb"] - x["base_kb"]) * 1024 / x["conns"]
    print(f"{x['tp']}: {x['conns']} idle logged-in connections: RSS {x['base_kb']} -> {x['rss_kb']} KiB, "
          f"{per:,.0f} bytes = {per / 1024:.2f} KiB per connection" + (" (goal <= 2.5 KiB)" if x["tp"] == "ws" else ""))
PY
