#!/usr/bin/env bash
# Live presence across two omtpd nodes on one PostgreSQL + Redis
# (docs/protocol.md, Extensions; docs/cluster.md): a watcher on node A sees
# a friend come online on node B (and go into the background, and leave),
# and a subscription made on A while the friend is online on B answers
# "online" at once (read from the Redis presence entries).
BUILD=${1:?usage: cluster_presence.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"
OMTP="$BUILD/omtp"

cl_start_node A
cl_start_node B
cl_users pres 2
rc=0
W1= W2= BOB=
cleanup_clients() { for p in $W1 $W2 $BOB; do kill "$p" 2>/dev/null; done; }
omtp_env_at_exit cleanup_clients
fail() { echo "FAIL: $*"; for f in "$CL_DIR"/w*.out; do echo "-- $f"; cat "$f"; done; rc=1; }
# waits (bounded) until FILE has a line matching PATTERN
wait_line() {
    for _ in $(seq 1 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

"$OMTP" friends add pres-u1 --server "$NODE_A" --user pres-u0 --password pw >/dev/null ||
    fail "friends add"
"$OMTP" presence pres-u1 --json --server "$NODE_A" --user pres-u0 --password pw \
    >"$CL_DIR/w1.out" 2>&1 &
W1=$!
wait_line "$CL_DIR/w1.out" '"userId":"pres-u1","online":false,"devices":0' ||
    fail "the first state on A is not 'offline'"
# pres-u1 comes online on node B (and stays: omtp watch)
"$OMTP" watch --server "$NODE_B" --user pres-u1 --password pw >"$CL_DIR/bob.out" 2>&1 &
BOB=$!
wait_line "$CL_DIR/w1.out" '"userId":"pres-u1","online":true,"devices":1' ||
    fail "A's watcher did not see pres-u1 come online on B"
# a new subscription on A while pres-u1 is online on B: online at once
"$OMTP" presence pres-u1 --json --server "$NODE_A" --user pres-u0 --password pw --device ios \
    >"$CL_DIR/w2.out" 2>&1 &
W2=$!
wait_line "$CL_DIR/w2.out" '"userId":"pres-u1"' || fail "no answer to the second subscription"
head -1 "$CL_DIR/w2.out" | grep -q '"online":true,"devices":1' ||
    fail "a subscription on A did not read pres-u1's devices on B"
# pres-u1 leaves B: both watchers see it offline with a last-seen time
kill "$BOB"; wait "$BOB" 2>/dev/null; BOB=
wait_line "$CL_DIR/w1.out" '"online":false,"devices":0,"lastSeen":[1-9]' ||
    fail "A's watcher did not see pres-u1 leave B"
wait_line "$CL_DIR/w2.out" '"online":false,"devices":0,"lastSeen":[1-9]' ||
    fail "the second watcher did not see pres-u1 leave B"
[ $rc = 0 ] && echo "ok: presence across nodes"

cl_finish
