#!/usr/bin/env bash
# A node killed with SIGKILL under load: its clients move to the other node,
# resend what was not acknowledged (same packId: deduplicated), and every
# message that was ever acked is in the history, with gap-free seqIds.
BUILD=${1:?usage: cluster_kill.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_start_node B
cl_users load 8
PROGRESS="$CL_DIR/progress"
echo 0 >"$PROGRESS"
cl_drv load load 300 "$PROGRESS" "$NODE_A" "$NODE_B" &
DRV_PID=$!
omtp_env_at_exit "kill $DRV_PID"
# kill A once the senders are well under way
for _ in $(seq 1 400); do
    [ "$(cat "$PROGRESS" 2>/dev/null || echo 0)" -ge 200 ] 2>/dev/null && break
    kill -0 $DRV_PID 2>/dev/null || break
    sleep 0.025
done
echo "killing node A (SIGKILL) after $(cat "$PROGRESS") acked messages"
kill -9 "$PID_A"
rc=0
wait $DRV_PID; cl_rc $?
cl_finish
