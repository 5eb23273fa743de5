#!/usr/bin/env bash
# Sends on PostgreSQL go through the batch append (one statement per run of
# sends, docs/storage.md "Batched appends"): every rule a user sees holds
# through it, on two nodes writing the same session at once.
#  - 60 messages sent at once through both nodes to one session: seqIds
#    exactly 1..60; sent again with the same ids (at once, both nodes): each
#    answers its original seqId with "duplicate":true; the same id with
#    another text: 409 msg_repeated.
#  - refusals word what failed: unknown recipient / sender (404 unknown_user),
#    unknown group (404 unknown_group), a non-member (403 not_member).
#  - /metrics counts the batch-append statements and the sends they carried;
#    PostgreSQL logged no deadlock.
BUILD=${1:?usage: cluster_batch.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"

KEY=cluster-batch-key
CL_NODE_CONFIG="$CL_DIR/node.conf"
echo "api_keys = $KEY" >"$CL_NODE_CONFIG"
cl_start_node A
cl_start_node B
cl_users bt 3
rc=0
step() { # NAME OK(0/1) DETAIL
    if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1: $3" >&2; rc=1; fi
}
# post NODE BODY -> "STATUS BODY" on one line
post() {
    local hp
    eval "hp=\$HTTP_$1"
    curl -s -m 10 -w ' %{http_code}' -X POST -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data "$2" "http://$hp/v1/messages"
}
export -f post
export KEY HTTP_A HTTP_B
seqs() { sed -n 's/.*"seqId":\([0-9]*\).*/\1/p' "$1" | sort -n | tr '\n' ' '; }
want=$(seq 1 60 | tr '\n' ' ')

# ---- 60 at once through both nodes, then the same 60 again
burst() { # OUT TEXT: one answer per line (each in its own file first: no interleaving)
    rm -rf "$1.d"
    mkdir -p "$1.d"
    seq 0 59 | xargs -P 20 -I{} bash -c \
        'post $([ $(({} % 2)) = 0 ] && echo A || echo B) "{\"from\":\"bt-u0\",\"to\":\"bt-u1\",\"content\":\"'"$2"'{}\",\"id\":\"m{}\"}" >'"$1.d"'/{}'
    for i in $(seq 0 59); do cat "$1.d/$i"; echo; done >"$1"
}
burst "$CL_DIR/first" hello
step "60 sends at once: 201 each" "$([ "$(grep -c ' 201$' "$CL_DIR/first")" = 60 ]; echo $?)" \
    "$(grep -v ' 201$' "$CL_DIR/first" | head -3)"
step "60 sends at once: seqIds 1..60" "$([ "$(seqs "$CL_DIR/first")" = "$want" ]; echo $?)" \
    "got $(seqs "$CL_DIR/first")"
burst "$CL_DIR/again" hello
step "the same 60 again: 200 duplicate each" \
    "$([ "$(grep -c '"duplicate":true.* 200$' "$CL_DIR/again")" = 60 ]; echo $?)" \
    "$(grep -v ' 200$' "$CL_DIR/again" | head -3)"
step "the same 60 again: their original seqIds" "$([ "$(seqs "$CL_DIR/again")" = "$want" ]; echo $?)" \
    "got $(seqs "$CL_DIR/again")"
for i in 3 4; do
    out=$(post A "{\"from\":\"bt-u0\",\"to\":\"bt-u1\",\"content\":\"hello$i\",\"id\":\"m$i\"}")
    n=$(sed -n 's/.*"seqId":\([0-9]*\).*/\1/p' <<<"$out")
    step "resend m$i answers duplicate" "$([[ "$out" == *'"duplicate":true'*' 200' && -n "$n" ]]; echo $?)" "$out"
done
out=$(post B '{"from":"bt-u0","to":"bt-u1","content":"another text","id":"m7"}')
step "same id, other text: 409 msg_repeated" "$([[ "$out" == *msg_repeated*' 409' ]]; echo $?)" "$out"

# ---- refusals
out=$(post A '{"from":"bt-u0","to":"bt-nobody","content":"x"}')
step "unknown recipient: 404 unknown_user (to)" "$([[ "$out" == *unknown_user*'(to)'*' 404' ]]; echo $?)" "$out"
out=$(post B '{"from":"bt-ghost","to":"bt-u1","content":"x"}')
step "unknown sender: 404 unknown_user (from)" "$([[ "$out" == *unknown_user*'(from)'*' 404' ]]; echo $?)" "$out"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data '{"groupId":"GC_bt","name":"b","creatorId":"bt-u0","members":["bt-u1"]}' "http://$HTTP_A/v1/groups"
out=$(post B '{"from":"bt-u2","to":"GC_bt","type":"group","content":"x"}')
step "not a member: 403 not_member" "$([[ "$out" == *not_member*' 403' ]]; echo $?)" "$out"
out=$(post A '{"from":"bt-u0","to":"GC_none","type":"group","content":"x"}')
step "unknown group: 404 unknown_group" "$([[ "$out" == *unknown_group*' 404' ]]; echo $?)" "$out"
out=$(post B '{"from":"bt-u1","to":"GC_bt","type":"group","content":"x"}')
step "member: 201 seqId 1" "$([[ "$out" == *'"seqId":1,'*' 201' ]]; echo $?)" "$out"

# ---- visible in /metrics; no deadlock
st=0 rows=0
for n in A B; do
    v=$(cl_metric $n omtp_store_append_statements_total)
    st=$((st + ${v:-0}))
    v=$(cl_metric $n omtp_store_append_rows_total)
    rows=$((rows + ${v:-0}))
done
step "batch appends counted in /metrics" "$([ "$st" -gt 0 ] && [ "$rows" -ge 120 ]; echo $?)" \
    "statements $st, rows $rows (want > 0 and >= 120)"
d=$(grep -c "deadlock detected" "$OMTP_ENV_PG_DIR/log")
step "no deadlock in PostgreSQL's log" "$([ "$d" = 0 ]; echo $?)" "$d deadlocks"
cl_finish
