#!/usr/bin/env bash
# `omtp codec decode|encode`: round trips, hex and binary, keys, and clean
# failures (message on stderr, non-zero exit, no crash) on broken input.
set -euo pipefail
B=${1:?build dir}
OMTP="$B/omtp"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # name, condition...
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

"$OMTP" --help >/dev/null
"$OMTP" codec --help | grep -q -- "--struct"
"$OMTP" codec decode --help | grep -q -- "--key"
check "unknown command fails" bash -c "! '$OMTP' nope 2>/dev/null"

# a frame with every flag combination survives encode -> decode (every field
# spelled out, the extension tags of MsgReq included, as decode prints them)
for flags in 0 64 512 576 $((2 | 4 | 8 | 16 | 32 | 64 | 512)); do
    line='{"header":{"type":14,"version":1,"flags":'$flags',"packId":"p-'$flags'"},"payload":{"sessionId":"SC_a_b","seqId":9007199254740993,"timestamp":-1,"from":"a","to":"b","pushInfo":"","contentType":1,"content":"héllo","status":0,"replyTo":0,"mentions":[],"reactions":{}}}'
    out=$(echo "$line" | "$OMTP" codec encode --key $K | "$OMTP" codec decode --key $K)
    check "roundtrip flags=$flags" [ "$out" = "$line" ]
    out=$(echo "$line" | "$OMTP" codec encode --key $K --hex | "$OMTP" codec decode --key $K --hex)
    check "roundtrip hex flags=$flags" [ "$out" = "$line" ]
done

# the spec's test vector as a bare struct
out=$(echo "0a000b1001200136036162630b1d0000020102" | "$OMTP" codec decode --struct OTIMPack --hex --raw-payload)
check "vector decode" [ "$out" = '{"header":{"type":11,"version":1,"flags":1,"packId":"abc"},"payload":"0102"}' ]
out=$(echo "$out" | "$OMTP" codec encode --struct OTIMPack --hex)
check "vector encode" [ "$out" = "0a000b1001200136036162630b1d0000020102" ]

# several frames in one input, split across lines in hex
printf '%s\n' '{"header":{"type":10,"flags":0,"packId":"a"}}' '{"header":{"type":10,"flags":1,"packId":"b"}}' \
    '{"header":{"type":18,"flags":0,"packId":"c"},"payload":{"sessionId":"s","seqId":5}}' |
    "$OMTP" codec encode >"$T/three.bin"
check "three frames" [ "$("$OMTP" codec decode <"$T/three.bin" | wc -l)" = 3 ]
xxd -p "$T/three.bin" | "$OMTP" codec decode --hex >"$T/three.json"
check "three frames from wrapped hex" grep -q '"seqId":5' "$T/three.json"

# failures: non-zero exit and a message, never a crash (exit >= 128)
bad() { # name, expected stderr pattern, input-producing command, args...
    local name=$1 pat=$2 input=$3
    shift 3
    set +e
    printf "$input" | "$OMTP" codec "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    set -e
    check "$name exits 1" [ $rc -eq 1 ]
    check "$name says why" grep -q "$pat" "$T/err"
}
bad "length < 4" "outside 4" '\x00\x00\x00\x03' decode
bad "length > max" "outside 4" '\x00\x10\x00\x01xxxx' decode
bad "truncated frame" "input ends inside frame" '\x00\x00\x00\x09abc' decode
bad "broken OTIMPack" "bad OTIMPack" '\x00\x00\x00\x06\x0a\x0b' decode
bad "odd hex" "not hex" '0a0' decode --hex
bad "bad json" "bad JSON" '{"header":\n' encode
bad "unknown field" "OTIMPack.payload<MsgReq>.nope: unknown field" '{"header":{"type":14},"payload":{"nope":1}}\n' encode
bad "bad struct line" "MsgReq.sessionId (tag 0) at byte 2: truncated" '0601\n' decode --struct MsgReq --hex
bad "missing required" "MsgReq.from (tag 3).*required field missing" '060173\n' decode --struct MsgReq --hex
# a hex payload is used as is, so odd flags can be crafted; decoding refuses them
echo '{"header":{"type":14,"flags":128},"payload":"00"}' | "$OMTP" codec encode --hex >"$T/odd.hex"
bad "unknown compress value" "unknown compression" "$(cat "$T/odd.hex")" decode --hex
set +e
echo '{"header":{"type":14,"flags":512},"payload":{"sessionId":"s","from":"a","to":"b"}}' |
    "$OMTP" codec encode --key $K | "$OMTP" codec decode >"$T/out" 2>"$T/err"
rc=$?
set -e
check "encrypted without key exits 1" [ $rc -eq 1 ]
check "encrypted without key shows hex" grep -q '"payloadError":"payload is AES-encrypted but no key' "$T/out"
# --struct with --hex continues after a bad line
set +e
printf '0601\n06017336016146016 2\nzz\n0601733601614601 62\n' |
    "$OMTP" codec decode --struct MsgReq --hex >"$T/out" 2>/dev/null
rc=$?
set -e
check "struct batch keeps line alignment" [ "$(wc -l <"$T/out")" = 4 ]
check "struct batch exit 1" [ $rc -eq 1 ]
check "struct batch last ok" bash -c "tail -1 '$T/out' | grep -q '\"to\":\"b\"'"
# random garbage never crashes
for i in $(seq 1 50); do
    head -c $((RANDOM % 200)) /dev/urandom >"$T/g"
    set +e
    "$OMTP" codec decode <"$T/g" >/dev/null 2>&1
    rc=$?
    set -e
    [ $rc -lt 2 ] || { echo "FAIL garbage $i exit $rc"; fails=$((fails + 1)); }
done
echo "codec_cli: $fails failed"
[ $fails -eq 0 ]
