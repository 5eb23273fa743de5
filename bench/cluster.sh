#!/usr/bin/env bash
# Cluster benchmark: 1:1 chat on PostgreSQL (durable: fsync and
# synchronous_commit on) with every pair on one node, then with every pair
# split across two nodes (--server2), plus the Redis commands it cost.
#
#   bench/cluster.sh BUILD_DIR [PAIRS] [DURATION] [RATE]
#
# RATE 0 = closed loop (window 1 per client): throughput; RATE > 0 = that
# many msg/s per client: latency at a fixed load. Everything (PostgreSQL,
# Redis, nodes, load generator) runs on this machine: a correctness-under-
# load figure, not a scaling claim.
set -u
BUILD=${1:?usage: bench/cluster.sh BUILD_DIR [PAIRS] [DURATION] [RATE]}
PAIRS=${2:-20}
DURATION=${3:-8}
RATE=${4:-0}
export OMTP_ENV_PG_FSYNC=${OMTP_ENV_PG_FSYNC:-on}
cd "$(dirname "$0")/.."
source tests/scripts/lib/cluster_common.sh
cl_start_node A
cl_start_node B
"$OMTPD" init --store "$OMTP_TEST_PG" >/dev/null
seq 0 $((2 * PAIRS - 1)) | xargs -P 2 -I{} "$OMTPD" user add bench{} --password bench \
    --store "$OMTP_TEST_PG" >/dev/null 2>&1
stats() { redis-cli -u "$OMTP_TEST_REDIS" info commandstats | sed -n 's/^cmdstat_\(publish\|hgetall\|eval\):calls=\([0-9]*\).*/\1=\2/p' | tr '\n' ' '; }
pg_deadlocks() { grep -c "deadlock detected" "$OMTP_ENV_PG_DIR/log"; }
for mode in one-node two-nodes; do
    S2=""
    [ $mode = two-nodes ] && S2="--server2 $NODE_B"
    redis-cli -u "$OMTP_TEST_REDIS" config resetstat >/dev/null
    echo "== $mode (pairs $PAIRS, rate ${RATE:-0}/client, ${DURATION}s, PostgreSQL fsync $OMTP_ENV_PG_FSYNC)"
    "$BUILD/omtp-bench" chat --server "$NODE_A" $S2 --pairs "$PAIRS" --rate "$RATE" --window 1 \
        --duration "$DURATION" --password bench | grep -E "^(messages|latency)"
    echo "redis: $(stats); PostgreSQL deadlocks so far: $(pg_deadlocks)"
done
