#!/usr/bin/env bash
# Files in an S3 bucket shared by two omtpd nodes (issue #16, docs/files.md
# "S3"): both nodes run with file_store = s3://BUCKET against a local
# S3-compatible server (tests/s3: s3rver with a SigV4 check, started here on
# a free port, offline after npm ci) and one PostgreSQL + Redis. A file
# uploaded through node A's HTTP API (POST /v1/files, a user's login token)
# is downloaded whole and by Range through node B, byte for byte; a 12 MiB
# file goes through a multipart upload and comes back; the same bytes
# uploaded again through node B are stored once in the bucket; nothing is
# left under tmp/ and no multipart upload stays open.
BUILD=${1:?usage: cluster_files_s3.sh BUILD_DIR}
source "$(dirname "$0")/lib/cluster_common.sh"
SRC=$(cd "$HERE/../.." && pwd)

bash "$SRC/tests/s3/prepare.sh" || { echo "FAIL: tests/s3/prepare.sh (npm ci)" >&2; exit 1; }
S3DIR="$CL_DIR/s3"
mkdir -p "$S3DIR/data"
AK=AKIAOMTPCLUSTER SK=cluster-secret-key BUCKET=omtp-shared
node "$SRC/tests/s3/s3server.js" --dir "$S3DIR/data" --bucket "$BUCKET" \
    --port-file "$S3DIR/port" --log "$S3DIR/requests.log" \
    --access-key "$AK" --secret-key "$SK" >"$S3DIR/out.log" 2>&1 &
S3PID=$!
omtp_env_at_exit "kill $S3PID"
for _ in $(seq 1 300); do [ -s "$S3DIR/port" ] && break; sleep 0.1; done
[ -s "$S3DIR/port" ] || { echo "FAIL: s3server did not start:" >&2; cat "$S3DIR/out.log" >&2; exit 1; }
S3URL="http://127.0.0.1:$(cat "$S3DIR/port")"

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CONF="$CL_DIR/files.conf"
cat >"$CONF" <<CONF
token_secret_hex = $SECRET
file_store = s3://$BUCKET
s3_endpoint = $S3URL
s3_access_key = $AK
s3_secret_key = $SK
CONF
CL_NODE_CONFIG=$CONF
cl_users files 1
USER=files-u0
TOKEN=$("$OMTPD" token issue "$USER" --ttl 3600 --store "$OMTP_TEST_PG" --config "$CONF") ||
    { echo "FAIL: token issue" >&2; exit 1; }
cl_start_node A
cl_start_node B
rc=0
fail() { echo "FAIL: $*"; rc=1; }

upload() { # NODE_HTTP FILE NAME -> status in $CODE, the JSON reply in $reply
    CODE=$(curl -s -o "$CL_DIR/up.json" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$2" "http://$1/v1/files?name=$3")
    reply=$(cat "$CL_DIR/up.json")
}
json() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));process.stdout.write(String(j[process.argv[1]]??""))' "$1"; }

# 1. a small file: up through A, down through B, whole and a range
head -c 300000 /dev/urandom >"$CL_DIR/small.bin"
upload "$HTTP_A" "$CL_DIR/small.bin" small.bin
[ "$CODE" = 201 ] || fail "upload through A: $CODE $reply"
ID=$(json fileId <<<"$reply")
SHA=$(json sha256 <<<"$reply")
[ "$SHA" = "$(sha256sum "$CL_DIR/small.bin" | cut -d' ' -f1)" ] || fail "sha256 '$SHA' is not the file's"
code=$(curl -s -o "$CL_DIR/small.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://$HTTP_B/v1/files/$ID")
[ "$code" = 200 ] || fail "download through B: $code"
cmp -s "$CL_DIR/small.bin" "$CL_DIR/small.out" || fail "B served other bytes than A took"
code=$(curl -s -o "$CL_DIR/range.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Range: bytes=1000-1999' "http://$HTTP_B/v1/files/$ID")
[ "$code" = 206 ] || fail "range through B: $code"
cmp -s <(tail -c +1001 "$CL_DIR/small.bin" | head -c 1000) "$CL_DIR/range.out" ||
    fail "B's range is not bytes 1000-1999"
grep -q "PUT /$BUCKET/sha256/${SHA:0:2}/${SHA:2} 200" "$S3DIR/requests.log" ||
    fail "no PUT of sha256/${SHA:0:2}/... in the bucket's log"

# 2. the same bytes through B: stored once (a HEAD finds them, no second PUT)
upload "$HTTP_B" "$CL_DIR/small.bin" again.bin
[ "$CODE" = 201 ] || fail "second upload through B: $CODE $reply"
[ "$(json sha256 <<<"$reply")" = "$SHA" ] || fail "second upload: another sha256"
n=$(grep -c "PUT /$BUCKET/sha256/${SHA:0:2}/${SHA:2} 200" "$S3DIR/requests.log")
[ "$n" = 1 ] || fail "identical bytes were PUT $n times"

# 3. 12 MiB through B (multipart: 8 + 4 MiB), down through A
head -c $((12 * 1024 * 1024)) /dev/urandom >"$CL_DIR/big.bin"
parts0=$(grep -c 'partNumber=.* 200$' "$S3DIR/requests.log" || true)
upload "$HTTP_B" "$CL_DIR/big.bin" big.bin
[ "$CODE" = 201 ] || fail "12 MiB upload through B: $CODE $reply"
BID=$(json fileId <<<"$reply")
parts=$(( $(grep -c 'partNumber=.* 200$' "$S3DIR/requests.log") - parts0 ))
[ "$parts" = 2 ] || fail "12 MiB went up in $parts parts, not 2"
code=$(curl -s -o "$CL_DIR/big.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://$HTTP_A/v1/files/$BID")
[ "$code" = 200 ] || fail "12 MiB download through A: $code"
cmp -s "$CL_DIR/big.bin" "$CL_DIR/big.out" || fail "A served other bytes of the 12 MiB file"

# 4. nothing left behind: no tmp/ object, no open multipart upload
left=$(cd "$S3DIR/data/$BUCKET" && find . -path './tmp/*' -type f 2>/dev/null | wc -l)
[ "$left" = 0 ] || fail "$left files under tmp/ in the bucket"
open=$(find "$S3DIR/data/$BUCKET/._S3rver_uploads" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
[ "$open" = 0 ] || fail "$open multipart uploads still open"

if [ $rc -ne 0 ]; then
    cl_logs_on_failure
    echo "---- s3 requests" >&2
    tail -n 40 "$S3DIR/requests.log" >&2
fi
[ $rc -eq 0 ] && echo "cluster_files_s3: ok"
exit $rc
