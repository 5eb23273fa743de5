#!/usr/bin/env bash
# The offline-push webhook in a cluster: a user online (foreground) on node B
# gets no offline-push event for a message sent through node A (node A asks
# the Redis presence table); a user offline everywhere, or whose device on B
# went to the background, does.
BUILD=${1:?usage: cluster_webhook.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

RX="$BUILD/omtp_hook_rx"
[ -x "$RX" ] || { echo "FAIL: $RX not built" >&2; exit 1; }
"$RX" "$CL_DIR/rx.port" "$CL_DIR/rx.record" 2>"$CL_DIR/rx.log" &
RX_PID=$!
omtp_env_at_exit "kill $RX_PID"
for _ in $(seq 1 200); do
    [ -s "$CL_DIR/rx.port" ] && break
    kill -0 $RX_PID 2>/dev/null || break
    sleep 0.05
done
[ -s "$CL_DIR/rx.port" ] || { echo "FAIL: the hook receiver did not start" >&2; exit 1; }
CL_NODE_CONFIG="$CL_DIR/node.conf"
cat >"$CL_NODE_CONFIG" <<CONF
push_webhook_url = http://127.0.0.1:$(cat "$CL_DIR/rx.port")/push
push_webhook_batch_ms = 50
CONF

cl_start_node A
cl_start_node B
cl_users wh 3
rc=0
cl_drv webhook wh "$CL_DIR/rx.record" "$NODE_A" "$NODE_B"; cl_rc $?
cl_finish
