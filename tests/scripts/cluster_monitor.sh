#!/usr/bin/env bash
# Session monitors ("旁听") across nodes: a monitor on node A gets, exactly
# once, the pushes of a session whose users are on node B (and a monitor
# that is a member of the session gets them once too); after STOP it gets
# no more; after node A is killed and restarted, the monitor reconnects,
# starts again and gets them again (meanwhile B dropped the dead A's
# monitors at its first push nobody received), and node B's monitor gets the pushes
# of a session written through the restarted A.
BUILD=${1:?usage: cluster_monitor.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_start_node B
cl_users mon 8
for i in 0 4 5; do
    "$OMTPD" user role "mon-u$i" monitor --store "$OMTP_TEST_PG" >/dev/null || {
        echo "FAIL: cannot grant mon-u$i the monitor role" >&2
        exit 1
    }
done
STEPS="$CL_DIR/steps"
mkdir -p "$STEPS"
cl_drv monitor mon "$STEPS" "$NODE_A" "$NODE_B" &
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
    kill -9 "$PID_A"
    wait "$PID_A" 2>/dev/null
    mv "$CL_DIR/A.log" "$CL_DIR/A-first.log"
    touch "$STEPS/killed"
    # a push of the session A's monitor watched finds nobody on A's channel:
    # B forgets A's monitors instead of publishing to it forever
    wait_step dead.sent || cl_rc 1
    cl_wait_log B "node A does not listen" 10 ||
        { echo "FAIL: node B kept publishing to the dead node A" >&2; cl_rc 1; }
    B_HELLOS=$(grep -c "node A started" "$CL_DIR/B.log")
    cl_start_node A
    # B heard A's hello and re-announced its monitors to A
    for _ in $(seq 1 200); do
        [ "$(grep -c "node A started" "$CL_DIR/B.log")" -gt "$B_HELLOS" ] && break
        sleep 0.05
    done
    [ "$(grep -c "node A started" "$CL_DIR/B.log")" -gt "$B_HELLOS" ] ||
        { echo "FAIL: node B never heard the restarted node A" >&2; cl_rc 1; }
    echo "$NODE_A" >"$STEPS/nodeA"
    touch "$STEPS/restarted"
fi
wait $DRV_PID; cl_rc $?
cl_finish
