#!/usr/bin/env bash
# bench/search.sh BUILD_DIR - message search (PT_MSG_SEARCH) at scale:
#  1. builds a MESSAGES-message fixture (default 1,000,000) by direct store
#     inserts into an omtpd SQLite store (bench/search/fixture.py: USERS
#     users, each in 20 conversations; the inserts run omtpd's own index
#     triggers, so the index is built as omtpd builds it);
#  2. index size against text size (bench/search/sizes.py, dbstat);
#  3. search latency p50/p99 over TCP against omtpd on that store
#     (build/search_bench: SEARCHES searches one at a time, users and
#     queries round-robin) and the server's CPU per search from /proc;
#  4. message throughput with search indexing on vs off in the same run
#     (off = the same store with the three index triggers dropped),
#     omtp-bench chat closed loop, server CPU per message from /proc, on
#     BOTH write paths (PATHS="store log": the store path, and
#     `--message-log true` where indexing runs in the log's apply), runs
#     interleaved run by run: store on, store off, log on, log off.
# Knobs: MESSAGES USERS SEARCHES RUNS PAIRS WINDOW DURATION SIZE PATHS;
# FIXTURE=DIR keeps the built fixture in DIR and reuses it when DIR/omtp.db
# exists (building 1,000,000 messages takes minutes; a fixture built by an
# older omtpd is upgraded by omtpd's own migration at its first start).
# Quiet-box run (about 5 min with a reused fixture):
#   FIXTURE=/var/tmp/search-fx RUNS=3 bench/search.sh build
# A quick check of the script: MESSAGES=20000 SEARCHES=200 RUNS=1 DURATION=2
set -euo pipefail
B=${1:?usage: bench/search.sh BUILD_DIR}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
MESSAGES=${MESSAGES:-1000000} USERS=${USERS:-1000} SEARCHES=${SEARCHES:-2000}
RUNS=${RUNS:-3} PAIRS=${PAIRS:-10} WINDOW=${WINDOW:-16} DURATION=${DURATION:-5} SIZE=${SIZE:-64}
PATHS=${PATHS:-store log} FIXTURE=${FIXTURE:-}
W=$(mktemp -d -p "${TMPDIR:-/var/tmp}")
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); print (f[12] + f[13]) * 1000 / t }' "/proc/$1/stat"; }
start() { # DATA_DIR [omtpd args]
  local dir=$1
  shift
  rm -f "$W/port"
  "$B/omtpd" --listen 127.0.0.1:0 --port-file "$W/port" --data-dir "$dir" --log-level warn \
    --req-rate 0 "$@" 2>>"$W/log" &
  SPID=$!
  for _ in $(seq 1 200); do [ -s "$W/port" ] && break; sleep 0.05; done
  [ -s "$W/port" ] || { echo "omtpd did not start"; cat "$W/log"; exit 1; }
  PORT=$(cat "$W/port")
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sqlite: $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"

# ---- 1. fixture
FXD=${FIXTURE:-$W/fx}
if [ -n "$FIXTURE" ] && [ -s "$FIXTURE/omtp.db" ]; then
  echo "fixture: reused $FIXTURE (upgraded by omtpd's migration if older)"
  start "$FXD" # runs the migrations, if any
  stop
else
  mkdir -p "$FXD"
  t0=$(date +%s)
  "$B/omtpd" init --data-dir "$FXD" >/dev/null
  "$B/omtpd" user bulk su "$USERS" --password bench --cost 4 --data-dir "$FXD" >/dev/null
  FX=$(python3 "$HERE/search/fixture.py" "$FXD/omtp.db" "$USERS" su "$MESSAGES")
  echo "fixture: $FX ($(( $(date +%s) - t0 )) s with init and users)"
fi
# ---- 2. sizes
echo "sizes: $(python3 "$HERE/search/sizes.py" "$FXD/omtp.db")"
# ---- 3. latency
cat >"$W/queries" <<'Q'
项目评审
服务器
数据库迁移
meeting
release
季度报表
发票报销
latency
出差机票
告警故障
review deploy
上线发布会议
interview
合同客户需求
coffee
zzzq-none
Q
start "$FXD"
for i in 1 2 3; do
  echo "search run $i: $("$B/search_bench" "127.0.0.1:$PORT" su 50 bench "$W/queries" "$SEARCHES" "$SPID")"
done
stop
# ---- 4. throughput, indexing on vs off
"$B/omtpd" init --data-dir "$W/seed" >/dev/null
"$B/omtpd" user bulk bench $((2 * PAIRS)) --password bench --cost 4 --data-dir "$W/seed" >/dev/null
for run in $(seq 1 "$RUNS"); do
  for path in $PATHS; do
  for mode in on off; do
    rm -rf "$W/od"; cp -r "$W/seed" "$W/od"
    [ "$mode" = off ] && python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [c.execute('DROP TRIGGER '+t) for t in ('search_ai','search_au','search_ad')]; c.commit()" "$W/od/omtp.db"
    if [ "$path" = log ]; then start "$W/od" --message-log true; else start "$W/od"; fi
    c0=$(cpu_ms "$SPID")
    j=$("$B/omtp-bench" chat --server "127.0.0.1:$PORT" --pairs "$PAIRS" --size "$SIZE" \
      --window "$WINDOW" --duration "$DURATION" --json)
    c1=$(cpu_ms "$SPID")
    stop
    python3 - "$mode" "$run" "$j" "$c0" "$c1" "$path" <<'PY'
import json, sys
mode, run, j, c0, c1, path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
n = j["acked"] or 1
print(f"throughput {path} {mode} run {run}: {j['throughput_per_s']:.0f} msg/s, acked {j['acked']}, errors {j['errors']}, "
      f"server CPU {1000 * (c1 - c0) / n:.1f} us/msg (incl. login)")
PY
  done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
