#!/usr/bin/env bash
# PostgreSQL stops under a logged-in client: sends and new logins are answered
# quickly with SERVICE_UNAVAILABLE (6) -- nothing unstored is acked, no login
# says DB_ERROR -- and the connections stay usable.
BUILD=${1:?usage: cluster_pg_outage.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_users pgd 2
STEPS="$CL_DIR/steps"
mkdir -p "$STEPS"
cl_drv pgdown pgd "$STEPS" "$NODE_A" &
DRV_PID=$!
omtp_env_at_exit "kill $DRV_PID"
rc=0
for _ in $(seq 1 600); do
    [ -e "$STEPS/phase1.done" ] && break
    kill -0 $DRV_PID 2>/dev/null || break
    sleep 0.05
done
if [ -e "$STEPS/phase1.done" ]; then
    omtp_env_stop_pg
    touch "$STEPS/pg.stopped"
fi
wait $DRV_PID; cl_rc $?
cl_finish
