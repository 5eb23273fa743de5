#!/usr/bin/env bash
# Three nodes: a group whose members are spread over all of them gets every
# message, and the fan-out costs one Redis PUBLISH per other node per
# message, not one per member. Membership changed on node A is seen at once
# by a send through node B (member caches dropped over the bus before A
# answers): a removed member gets nothing more, an added one gets it live.
#
# The same rule from every entry point (domain/group.h): a membership change
# through OMTP and through the HTTP API answers only after the other nodes
# acknowledged the cluster notice. With node B stopped (SIGSTOP: subscribed,
# but it cannot ack), A's answer waits for the notice to time out, so A's log
# already holds the "members of G changed: 1 of 2 other nodes confirmed"
# line when the answer arrives -- for the HTTP DELETE and for `omtp group quit`.
BUILD=${1:?usage: cluster_group.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

KEY=cluster-group-key
CL_NODE_CONFIG="$CL_DIR/node.conf"
echo "api_keys = $KEY" >"$CL_NODE_CONFIG"

cl_start_node A
cl_start_node B
cl_start_node C
cl_users grp 7
rc=0
cl_drv group grp "$OMTP_ENV_REDIS_PORT" "$NODE_A" "$NODE_B" "$NODE_C"; cl_rc $?

# ---- the cluster notice is acknowledged before the answer, OMTP and HTTP
api() { # METHOD PATH [BODY] -> body on stdout, status in $CL_DIR/api.status
    curl -s -o "$CL_DIR/api.body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $KEY" \
        ${3:+-H 'Content-Type: application/json' --data "$3"} "http://$HTTP_A$2" \
        >"$CL_DIR/api.status"
    cat "$CL_DIR/api.body"
}
notices() { grep -c "members of $1 changed: .* other nodes confirmed" "$CL_DIR/A.log"; }
step() { # NAME OK(0/1) DETAIL
    if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1: $3" >&2; rc=1; fi
}

G=GC_notice
api POST /v1/groups "{\"groupId\":\"$G\",\"name\":\"n\",\"creatorId\":\"grp-u0\",\"members\":[\"grp-u1\",\"grp-u2\",\"grp-u3\"]}" >/dev/null
step "http create" "$([ "$(cat "$CL_DIR/api.status")" = 201 ]; echo $?)" "status $(cat "$CL_DIR/api.status")"

kill -STOP "$PID_B"
omtp_env_at_exit "kill -CONT $PID_B"
before=$(notices $G)
out=$(api DELETE "/v1/groups/$G/members/grp-u3")
st=$(cat "$CL_DIR/api.status")
after=$(notices $G)
step "http remove answers 200" "$([ "$st" = 200 ]; echo $?)" "status $st: $out"
step "http remove answers after the cluster notice" "$([ "$after" -gt "$before" ]; echo $?)" \
    "no notice outcome in A's log yet when the answer came ($before -> $after lines)"

before=$(notices $G)
out=$("$BUILD/omtp" group quit $G grp-u2 --server "$NODE_A" --user grp-u0 --password pw 2>&1)
qrc=$?
after=$(notices $G)
step "omtp group quit succeeds" "$qrc" "exit $qrc: $out"
step "omtp group quit answers after the cluster notice" "$([ "$after" -gt "$before" ]; echo $?)" \
    "no notice outcome in A's log yet when the answer came ($before -> $after lines)"

before=$(notices $G)
out=$(api POST "/v1/groups/$G/members" '{"members":["grp-u4"]}')
st=$(cat "$CL_DIR/api.status")
after=$(notices $G)
step "http add answers 200" "$([ "$st" = 200 ]; echo $?)" "status $st: $out"
step "http add answers after the cluster notice" "$([ "$after" -gt "$before" ]; echo $?)" \
    "no notice outcome in A's log yet when the answer came ($before -> $after lines)"
kill -CONT "$PID_B"

out=$(api GET "/v1/groups/$G")
step "the changes are stored" "$(grep -q '"members":\["grp-u0","grp-u1","grp-u4"\]' <<<"$out"; echo $?)" "$out"
cl_finish
