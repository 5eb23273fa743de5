#!/usr/bin/env bash
# Cluster benchmark: 1:1 chat on PostgreSQL (durable: fsync and
# synchronous_commit on) with every pair on one node, then with every pair
# split across two nodes (--server2), plus the Redis commands it cost, the
# CPU per delivered message of each omtpd and of PostgreSQL (all its
# processes, from /proc), and each node's store round trips and batch-append
# statements per batch (/metrics).
#
#   bench/cluster.sh BUILD_DIR [PAIRS] [DURATION] [RATE] [WINDOW] [ROUNDS]
#
# RATE 0 = closed loop: throughput; RATE > 0 = that many msg/s per client:
# latency at a fixed load. WINDOW (default 1) = messages each client keeps
# unacknowledged: with window 1 the closed-loop rate is 2 x PAIRS / latency
# (latency-bound), a bigger window measures what the store can take.
# ROUNDS (default 1) repeats one-node / two-nodes that many times,
# interleaved, on the same PostgreSQL and Redis.
#
# Quiet-box throughput run (about 2.5 minutes):
#   bench/cluster.sh build 20 10 0 16 3 Everything (PostgreSQL,
# Redis, nodes, load generator) runs on this machine: a correctness-under-
# load figure, not a scaling claim.
set -u
BUILD=${1:?usage: bench/cluster.sh BUILD_DIR [PAIRS] [DURATION] [RATE] [WINDOW] [ROUNDS]}
PAIRS=${2:-20}
DURATION=${3:-8}
RATE=${4:-0}
WINDOW=${5:-1}
ROUNDS=${6:-1}
export OMTP_ENV_PG_FSYNC=${OMTP_ENV_PG_FSYNC:-on}
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/cluster.sh $*"
source tests/scripts/lib/cluster_common.sh
cl_start_node A
cl_start_node B
"$OMTPD" init --store "$OMTP_TEST_PG" >/dev/null
seq 0 $((2 * PAIRS - 1)) | xargs -P 2 -I{} "$OMTPD" user add bench{} --password bench \
    --store "$OMTP_TEST_PG" >/dev/null 2>&1
stats() { redis-cli -u "$OMTP_TEST_REDIS" info commandstats | sed -n 's/^cmdstat_\(publish\|hgetall\|eval\):calls=\([0-9]*\).*/\1=\2/p' | tr '\n' ' '; }
pg_deadlocks() { grep -c "deadlock detected" "$OMTP_ENV_PG_DIR/log"; }
# CPU (clock ticks, utime + stime from /proc) of one process, and of the
# PostgreSQL server: the postmaster and its children (backends, walwriter...)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local pm t=0 p
    pm=$(head -n 1 "$OMTP_ENV_PG_DIR/data/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do t=$((t + $(ticks "$p"))); done
    echo $t
}
HZ=$(getconf CLK_TCK)
# store counters of a node's /metrics (round trips and statements per batch)
store_line() {
    local c r a n
    c=$(cl_metric "$1" omtp_store_commits_total)
    r=$(cl_metric "$1" omtp_store_round_trips_total)
    a=$(cl_metric "$1" omtp_store_append_statements_total)
    n=$(cl_metric "$1" omtp_store_append_rows_total)
    cs=$(cl_metric "$1" omtp_store_commit_seconds_sum)
    is=$(cl_metric "$1" omtp_store_item_seconds_sum)
    echo "${c:-0} ${r:-0} ${a:-0} ${n:-0} ${cs:-0} ${is:-0}"
}
for mode in $(for _ in $(seq 1 "$ROUNDS"); do echo one-node two-nodes; done); do
    S2=""
    [ $mode = two-nodes ] && S2="--server2 $NODE_B"
    redis-cli -u "$OMTP_TEST_REDIS" config resetstat >/dev/null
    echo "== $mode (pairs $PAIRS, rate ${RATE:-0}/client, window $WINDOW, ${DURATION}s, PostgreSQL fsync $OMTP_ENV_PG_FSYNC, load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BUILD/omtp-bench" chat --server "$NODE_A" $S2 --pairs "$PAIRS" --rate "$RATE" \
        --window "$WINDOW" --duration "$DURATION" --password bench >"$CL_DIR/bench.out" &
    bpid=$!
    # CPU and store counters sampled inside the measured period only (the
    # clients' logins -- password hashing -- come before it): from SKIP s
    # after the start (default 3 + PAIRS / 25) to DURATION - 1 s
    skip=${SKIP:-$((3 + PAIRS / 25))}
    sleep "$skip"
    t0=$(date +%s.%N) a0=$(ticks "$PID_A") b0=$(ticks "$PID_B") p0=$(pg_ticks)
    read -r sa0 sb0 < <(echo "$(store_line A | tr ' ' ,) $(store_line B | tr ' ' ,)")
    sleep $((DURATION - 1 - skip > 2 ? DURATION - 1 - skip : 2))
    t1=$(date +%s.%N) a1=$(ticks "$PID_A") b1=$(ticks "$PID_B") p1=$(pg_ticks)
    read -r sa1 sb1 < <(echo "$(store_line A | tr ' ' ,) $(store_line B | tr ' ' ,)")
    wait $bpid
    out=$(cat "$CL_DIR/bench.out")
    echo "$out" | grep -E "^(messages|latency)"
    echo "redis: $(stats); PostgreSQL deadlocks so far: $(pg_deadlocks)"
    # delivered msg/s of this run (omtp-bench: "messages ... delivered N (R/s) ..."): CPU
    # per message = CPU seconds per second in the sampled window / messages per second
    r=$(echo "$out" | sed -n 's/^messages.* delivered [0-9]* (\([0-9.]*\)\/s).*/\1/p' | head -n 1)
    if [ -n "$r" ]; then
        awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v p=$((p1 - p0)) -v r="$r" -v hz="$HZ" \
            -v t0="$t0" -v t1="$t1" 'BEGIN { w = (t1 - t0) * r; if (w <= 0) exit;
            printf "cpu per delivered message: omtpd A %.1f us, omtpd B %.1f us, postgres %.1f us\n",
                a * 1e6 / hz / w, b * 1e6 / hz / w, p * 1e6 / hz / w }'
    fi
    for node in A B; do
        eval "x0=\$s$(echo $node | tr AB ab)0 x1=\$s$(echo $node | tr AB ab)1"
        IFS=, read -r c0 r0 t0 w0 cs0 is0 <<<"$x0"
        IFS=, read -r c1 r1 t1 w1 cs1 is1 <<<"$x1"
        [ $((c1 - c0)) -gt 0 ] || continue
        awk -v c=$((c1 - c0)) -v r=$((r1 - r0)) -v t=$((t1 - t0)) -v w=$((w1 - w0)) -v node=$node \
            -v cs="$cs0" -v cs1="$cs1" -v is="$is0" -v is1="$is1" \
            'BEGIN { printf "store %s: %d batches, %.1f round trips/batch, %.2f append statements/batch, %.1f sends/statement; per batch: work %.2f ms, COMMIT %.2f ms\n",
                node, c, r / c, t / c, t ? w / t : 0, (is1 - is) * 1000 / c, (cs1 - cs) * 1000 / c }'
    done
done
