#!/usr/bin/env bash
# Three nodes: a group whose members are spread over all of them gets every
# message, and the fan-out costs one Redis PUBLISH per other node per
# message, not one per member. Membership changed on node A is seen at once
# by a send through node B (member caches dropped over the bus before A
# answers): a removed member gets nothing more, an added one gets it live.
BUILD=${1:?usage: cluster_group.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_start_node B
cl_start_node C
cl_users grp 7
rc=0
cl_drv group grp "$OMTP_ENV_REDIS_PORT" "$NODE_A" "$NODE_B" "$NODE_C"; cl_rc $?
cl_finish
