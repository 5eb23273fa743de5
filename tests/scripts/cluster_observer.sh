#!/usr/bin/env bash
# Two omtpd nodes on one PostgreSQL + Redis, observers (device type 6,
# docs/protocol.md "Observers"; the `omtp watch` of issue 17): two watches
# of one user on different nodes and a linux login (what `omtp chat` is) on
# a third connection all stay online -- no cross-node kick -- and each gets a
# message sent on the other node; a second linux login on the other node
# still replaces the first linux one (the rule for real device types holds).
BUILD=${1:?usage: cluster_observer.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"
OMTP="$BUILD/omtp"
export HOME=$CL_DIR XDG_CONFIG_HOME=$CL_DIR/xdg XDG_STATE_HOME=$CL_DIR/state
unset OMTP_USER OMTP_DEVICE OMTP_CONFIG OMTP_PASSWORD_FILE OMTP_SERVER
export OMTP_PASSWORD=pw

cl_start_node A
cl_start_node B
cl_users obs 2
rc=0
U=obs-u0
P=obs-u1
watch_on() { # NAME SERVER [ARGS...] (stopped at exit with the nodes)
    local name=$1 server=$2; shift 2
    "$OMTP" watch --user "$U" --server "$server" "$@" >"$CL_DIR/$name.out" 2>"$CL_DIR/$name.err" &
    omtp_env_at_exit "kill $! 2>/dev/null"
}
wait_for() { # FILE PATTERN
    for _ in $(seq 1 300); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
check() { # NAME CONDITION...
    local name=$1; shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; rc=1; fi
}

watch_on chat "$NODE_A" --device linux
check chat-online wait_for "$CL_DIR/chat.err" "online as $U"
watch_on wa "$NODE_A"
watch_on wb "$NODE_B"
check watch-a-online wait_for "$CL_DIR/wa.err" "online as $U"
check watch-b-online wait_for "$CL_DIR/wb.err" "online as $U"
# a one-shot command of the same user on node B (an observer too)
"$OMTP" sessions --user "$U" --server "$NODE_B" >/dev/null 2>&1
"$OMTP" send "$U" across the nodes --user "$P" --server "$NODE_B" >/dev/null 2>&1 ||
    { echo "FAIL send"; rc=1; }
for n in chat wa wb; do
    check "$n-got-it" wait_for "$CL_DIR/$n.out" "across the nodes"
    check "$n-not-kicked" bash -c "! grep -q kicked '$CL_DIR/$n.err'"
done
# a linux login on node B replaces the linux one on node A, observers stay
"$OMTP" login --device linux --user "$U" --server "$NODE_B" >/dev/null 2>&1
check linux-replaced-across wait_for "$CL_DIR/chat.err" "kicked out"
for n in wa wb; do
    check "$n-still-not-kicked" bash -c "! grep -q kicked '$CL_DIR/$n.err'"
done
cl_finish
