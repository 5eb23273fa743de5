#!/usr/bin/env bash
# Redis stopped and restarted mid-test: sends keep being stored and acked,
# each node keeps delivering to its own users, and once Redis is back the
# clients are told to resync (and find what was sent meanwhile) and
# cross-node pushes flow again.
BUILD=${1:?usage: cluster_redis_outage.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_start_node B
cl_users out 3
STEPS="$CL_DIR/steps"
mkdir -p "$STEPS"
cl_drv outage out "$STEPS" "$NODE_A" "$NODE_B" &
DRV_PID=$!
omtp_env_at_exit "kill $DRV_PID"
wait_step() {
    for _ in $(seq 1 600); do
        [ -e "$STEPS/$1" ] && return 0
        kill -0 $DRV_PID 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
rc=0
if wait_step phase1.done; then
    omtp_redis_stop
    # both nodes noticed: the outage is really tested, not raced
    cl_wait_log A "Redis .* unavailable" || { echo "FAIL: node A did not notice" >&2; cl_rc 1; }
    cl_wait_log B "Redis .* unavailable" || { echo "FAIL: node B did not notice" >&2; cl_rc 1; }
    touch "$STEPS/redis.stopped"
    if wait_step phase2.done; then
        # the same address:port (pg_redis_env.sh keeps it ours meanwhile)
        omtp_redis_start || cl_rc 1
        touch "$STEPS/redis.started"
    fi
fi
wait $DRV_PID; cl_rc $?
cl_finish
