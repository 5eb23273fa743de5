#!/usr/bin/env bash
# Files on PostgreSQL (docs/files.md): a media message sent through a node
# (the HTTP API, on behalf of a user) records its file reference even though
# plain sends go through the batch append -- the recipient can read the file
# afterwards, not before; a media message whose content is not JSON is
# refused. Metadata lives in PostgreSQL, the bytes in the node's local store.
BUILD=${1:?usage: cluster_files.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

KEY=cluster-files-key
CL_NODE_CONFIG="$CL_DIR/node.conf"
echo "api_keys = $KEY" >"$CL_NODE_CONFIG"
cl_start_node A
cl_users cf 12
rc=0
step() { # NAME OK(0/1) DETAIL
    if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1: $3" >&2; rc=1; fi
}
T0=$("$OMTPD" token issue cf-u0 --store "$OMTP_TEST_PG" | tail -1)
T1=$("$OMTPD" token issue cf-u1 --store "$OMTP_TEST_PG" | tail -1)
printf 'cluster file bytes' >"$CL_DIR/f.txt"
up=$(curl -s -m 10 -X POST -H "Authorization: Bearer $T0" --data-binary @"$CL_DIR/f.txt" \
    "http://$HTTP_A/v1/files?name=f.txt")
id=$(sed -n 's/.*"fileId":"\([0-9a-f]*\)".*/\1/p' <<<"$up")
step "upload as a user" "$([ ${#id} = 32 ]; echo $?)" "$up"
get() { curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://$HTTP_A/v1/files/$id"; }
step "the other user cannot read it yet (404)" "$([ "$(get "$T1")" = 404 ]; echo $?)" "$(get "$T1")"
msg=$(curl -s -m 10 -w ' %{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    --data "{\"from\":\"cf-u0\",\"to\":\"cf-u1\",\"contentType\":7,\"content\":\"{\\\"fileId\\\":\\\"$id\\\"}\"}" \
    "http://$HTTP_A/v1/messages")
step "a media message through the API (201)" "$([[ "$msg" == *' 201' ]]; echo $?)" "$msg"
step "the recipient reads the file now (200)" "$([ "$(get "$T1")" = 200 ]; echo $?)" "$(get "$T1")"
# many at once (one batch): each recipient reads it afterwards
send() { # N: cf-u0 -> cf-uN
    curl -s -m 10 -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' \
        --data "{\"from\":\"cf-u0\",\"to\":\"cf-u$1\",\"contentType\":7,\"content\":\"{\\\"fileId\\\":\\\"$id\\\"}\"}" \
        "http://$HTTP_A/v1/messages"
}
export -f send
export KEY HTTP_A id
codes=$(seq 2 11 | xargs -P 10 -I{} bash -c 'send {}' | sort | uniq -c | tr -s ' ')
step "10 media messages at once (201 each)" "$([ "$codes" = " 10 201" ]; echo $?)" "$codes"
n=0
for i in $(seq 2 11); do
    T=$("$OMTPD" token issue cf-u$i --store "$OMTP_TEST_PG" | tail -1)
    [ "$(get "$T")" = 200 ] && n=$((n + 1))
done
step "each of their recipients reads the file" "$([ $n = 10 ]; echo $?)" "$n of 10"
bad=$(curl -s -m 10 -w ' %{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    --data '{"from":"cf-u0","to":"cf-u1","contentType":3,"content":"a cat"}' \
    "http://$HTTP_A/v1/messages")
step "an image message that is not JSON is refused (400)" "$([[ "$bad" == *' 400' ]]; echo $?)" "$bad"
cl_finish
