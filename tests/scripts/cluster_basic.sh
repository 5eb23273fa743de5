#!/usr/bin/env bash
# Two omtpd nodes on one PostgreSQL + Redis: cross-node single chat (both
# directions, the sender's other device, read cursors), cross-node kickout
# (same user + device type logging in on the other node; a client's own
# PT_KICKOUT of its device on the other node), and two nodes writing one
# session at once (acked seqIds exactly 1..2N, history agrees), and a
# reaction made on one node reaching the sender on the other (issue #19).
BUILD=${1:?usage: cluster_basic.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

cl_start_node A
cl_start_node B
cl_users chat 2
cl_users kick 1
cl_users race 2
cl_users react 2
rc=0
cl_drv chat chat "$NODE_A" "$NODE_B"; cl_rc $?
cl_drv kick kick "$NODE_A" "$NODE_B"; cl_rc $?
cl_drv race race 200 "$NODE_A" "$NODE_B"; cl_rc $?
cl_drv react react "$NODE_A" "$NODE_B"; cl_rc $?
# /metrics shows the cluster: both nodes up, pushes published by one node
# and received by the other
for n in A B; do
    [ "$(cl_metric $n omtp_cluster_up)" = 1 ] || { echo "FAIL: node $n: omtp_cluster_up is not 1"; rc=1; }
    [ "$(cl_metric $n "omtp_cluster_info{node=\"$n\"}")" = 1 ] ||
        { echo "FAIL: node $n: no omtp_cluster_info for it"; rc=1; }
    for m in omtp_cluster_published_total omtp_cluster_received_total omtp_cluster_remote_pushes_total; do
        v=$(cl_metric $n $m)
        [ "${v:-0}" -gt 0 ] || { echo "FAIL: node $n: $m is '${v}' after cross-node chats"; rc=1; }
    done
done
cl_finish
