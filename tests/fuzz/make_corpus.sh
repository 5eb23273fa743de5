#!/usr/bin/env bash
# Regenerates the checked-in seed corpora (tests/fuzz/corpus/<target>/) with
# `omtp codec`. Usage: tests/fuzz/make_corpus.sh BUILD_DIR
set -euo pipefail
OMTP="$(cd "${1:-build}" && pwd)/omtp"
cd "$(dirname "$0")"
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # the fuzzers' key
rm -rf corpus
mkdir -p corpus/frame corpus/payload corpus/transform corpus/json

put() { # dir name hex
    printf '%s' "$3" | xxd -r -p >"corpus/$1/$2"
}
frames=(
    '{"header":{"type":10,"flags":0,"packId":"p"}}'
    '{"header":{"type":11,"flags":0,"packId":"l"},"payload":{"clientId":"alice","userName":"alice","password":"pw","deviceType":5}}'
    '{"header":{"type":11,"flags":1,"packId":"l"},"payload":{"code":0,"clientId":"alice"}}'
    '{"header":{"type":14,"flags":64,"packId":"z"},"payload":{"sessionId":"SC_a_b","from":"a","to":"b","content":"hello hello hello"}}'
    '{"header":{"type":14,"flags":512,"packId":"e"},"payload":{"sessionId":"SC_a_b","from":"a","to":"b","content":"secret"}}'
    '{"header":{"type":14,"flags":576,"packId":"ze"},"payload":{"sessionId":"SC_a_b","from":"a","to":"b","content":"both"}}'
    '{"header":{"type":21,"flags":1,"packId":"h"},"payload":{"errorCode":{"code":0,"desc":""},"sessionId":"s","msgs":[{"header":{"type":14,"version":1,"flags":0,"packId":"m"},"payload":{"sessionId":"s","from":"a","to":"b","seqId":300}}]}}'
    '{"header":{"type":19,"flags":1,"packId":"hs"},"payload":{"code":0,"timestamp":1700000000000000,"sessions":[{"sessionId":"s","readSeqId":1,"unreadCount":2,"attribute":"{}"}]}}'
    '{"header":{"type":14,"flags":0,"packId":"x"},"payload":{"sessionId":"GC_g","from":"a","to":"GC_g","content":"re","replyTo":3,"mentions":["b","@all"],"reactions":{"\ud83d\udc4d":["b","c"],"x":[]}}}'
    '{"header":{"type":103,"flags":0,"packId":"r"},"payload":{"sessionId":"SC_a_b","seqId":3,"emoji":"\ud83d\udc4d","op":1}}'
    '{"header":{"type":40,"flags":1,"packId":"g"},"payload":{"errorCode":{"code":0,"desc":""},"timestamp":5,"groupchats":[{"groupId":"GC_1","name":"n","creatorId":"a"}],"delGroupChatIds":["GC_2"]}}'
)
i=0
all=""
for f in "${frames[@]}"; do
    hex=$(echo "$f" | "$OMTP" codec encode --hex --key $K)
    put frame "seed_$i" "00$hex"   # first byte: read size 1
    put frame "seed_${i}_big" "ff$hex"
    all="$all$hex"
    i=$((i + 1))
done
put frame seed_all "07$all"
put frame seed_badlen "ff00000003"

# payload: selector byte = index in omtp_all_descs, then the struct
names=$({ "$OMTP" codec decode --struct '?' 2>&1 </dev/null || true; } | sed 's/.*known://')
i=0
for n in $names; do
    hex=$(echo '{}' | "$OMTP" codec encode --struct "$n" --hex)
    put payload "$(printf 'seed_%02d_%s' $i "$n")" "$(printf '%02x' $i)$hex"
    i=$((i + 1))
done
for f in "${frames[@]:6:3}"; do # rich payloads: HistoryMsgPullResp, HotSessionResp, GroupChatSyncResp
    j=0
    for n in $names; do
        case "$f" in *'"type":21'*) want=HistoryMsgPullResp ;; *'"type":19'*) want=HotSessionResp ;; *) want=GroupChatSyncResp ;; esac
        if [ "$n" = "$want" ]; then
            pl=$(echo "$f" | "$OMTP" codec encode --hex | "$OMTP" codec decode --hex --raw-payload |
                sed 's/.*"payload":"\([0-9a-f]*\)".*/\1/')
            put payload "seed_rich_$n" "$(printf '%02x' $j)$pl"
        fi
        j=$((j + 1))
    done
done

# transform: flags byte (bits 0-2 compress, 3-5 crypto), then the payload
for fl in 64:01 512:08 576:09; do
    hdr=${fl%%:*}
    sel=${fl##*:}
    pl=$(echo '{"header":{"type":18,"flags":'$hdr',"packId":"t"},"payload":{"sessionId":"SC_alice_bob","seqId":1234}}' |
        "$OMTP" codec encode --hex --key $K | "$OMTP" codec decode --hex --raw-payload |
        sed 's/.*"payload":"\([0-9a-f]*\)".*/\1/')
    put transform "seed_$sel" "$sel$pl"
done
put transform seed_plain "00$(printf 'plain bytes' | xxd -p)"
put transform seed_unknown "12$(printf 'xx' | xxd -p)"

# json: selector byte (odd = OTIMPack, else struct index * 2), then JSON
i=0
for f in "${frames[@]}"; do
    printf '\x01%s' "$f" >"corpus/json/seed_pack_$i"
    i=$((i + 1))
done
printf '\x0c%s' '{"sessionId":"s","from":{"hex":"ff00"},"to":"b","seqId":-9223372036854775808}' >corpus/json/seed_msgreq
printf '\x00%s' '{"type":1,"version":1,"flags":0,"packId":"x"}' >corpus/json/seed_header
printf '\x01%s' '{"header":{"type":14},"payload":"0601"}' >corpus/json/seed_hexpayload
# log lines (fuzz_logline): level byte, then a message with key=value words,
# invalid UTF-8, quotes, backslashes and control bytes
mkdir -p corpus/logline
printf '\x01conn 12 login alice dev=linux' >corpus/logline/seed1
printf '\x01http request method=POST path=/v1/x status=200 caller=ops duration_ms=1.2 bad=\xff\xfe "q" \\ \x01' >corpus/logline/seed2
printf '\x01x \xe0\x9e\x91 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end' >corpus/logline/seed3_illformed # overlong, surrogate, > U+10FFFF
echo "corpus: $(find corpus -type f | wc -l) files"

# the chat's terminal input (fuzz_tui_keys): keys, escape sequences, UTF-8
mkdir -p corpus/tui_keys
printf '\033[A\033[1;3Bhello\033[D\177\033[<64;1;1M\r' >corpus/tui_keys/seed1
printf '\346\274\242\345\255\227 text\033[H\033[3~\027\001\005\033[5~\033[6~\033\033[A\r\033[A\r' >corpus/tui_keys/seed2

# the message log reader (fuzz_msglog): mode byte (1: two segments, 2: with a gap),
# u16 split offset, then segment bytes: records u32 len | u32 crc32(type+payload) | u8 type | payload
mkdir -p corpus/msglog
printf '\x00\x00\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x6c\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21' >corpus/msglog/seed1
printf '\x01\x17\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x6c\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21' >corpus/msglog/seed2_two_segments
printf '\x00\x00\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x6c\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21\x0b\x00\x00\x00\xe8\xdd\xbb\xe8\x04\x74\x6f\x72' >corpus/msglog/seed3_torn
printf '\x00\x00\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x6c\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >corpus/msglog/seed4_zero_tail
printf '\x03\x17\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x6c\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21' >corpus/msglog/seed5_gap
printf '\x00\x00\x00\x05\x00\x00\x00\x9d\x23\xac\x8a\x01\x68\x65\x6c\x68\x6f\x00\x00\x00\x00\xa1\x8e\x0c\x3c\x02\x07\x00\x00\x00\xf5\x16\x0a\x46\x03\x77\x6f\x72\x6c\x64\x21\x21' >corpus/msglog/seed6_flipped
