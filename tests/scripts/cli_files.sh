#!/usr/bin/env bash
# Files from the command line against a real omtpd (issue #16, docs/cli.md
# "Files"): `omtp send USER --file PATH` uploads over HTTP with the user's
# login token and sends a media message whose contentType is the sniffed
# type's (a PNG -> image 3 with its size, a text file -> file 7); the peer
# sees `[image 640×480 cat.png 1.2 KB]` in `omtp history`, downloads the
# bytes with `omtp download FILEID -o PATH` (identical, resumed from a
# PATH.part left by an interrupted run), a user outside the conversation
# cannot (404), a wrong token is 401; without --token the token a password
# login hands back (LoginResp.extraData) is used; missing --http / --token / file are
# usage errors that say what to do; nothing half-downloaded is left as PATH.
CLI_HTTP=1 # read by lib/cli_common.sh
export CLI_HTTP
export CLI_OMTPD_ARGS="--max-file-size 3000000"
source "$(dirname "$0")/lib/cli_common.sh"
OMTP=$(cd "$B" && pwd)/omtp # the script cd-s into $tmp below
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh)"; exit 1; }

token() { # USER -> a login token issued through the API
  curl -sf -X POST -H "Authorization: Bearer $CLI_API_KEY" -H 'Content-Type: application/json' \
    -d '{"ttl":3600}' "$OMTP_HTTP/v1/users/$1/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
TA=$(token alice) TB=$(token bob) TC=$(token carol)
[ -n "$TA" ] && [ -n "$TB" ] && [ -n "$TC" ] || { echo "FAIL: no tokens"; cat "$tmp/omtpd.log"; exit 1; }

# a real 640x480 PNG (what libmagic and libvips see), a text file, a big one
python3 - "$tmp/cat.png" <<'PY'
import struct, sys, zlib
w, h = 640, 480
raw = b"".join(b"\0" + bytes((x * 7 + y) & 255 for x in range(w * 3)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
printf 'meeting notes\nline two\n' >"$tmp/notes.txt"
head -c 2500000 /dev/urandom >"$tmp/big.bin"
head -c 4000000 /dev/urandom >"$tmp/huge.bin"
cd "$tmp" || exit 1

# ---- send
t send-image 0 "[image 640×480 cat.png" alice send bob --file "$tmp/cat.png" --token "$TA"
t send-text 0 "[file notes.txt" alice send bob --file "$tmp/notes.txt" --token "$TA" --name notes.txt
t send-json 0 '"contentType":7' alice send bob --file "$tmp/big.bin" --token "$TA" --json
grep -qF '"name":"big.bin"' <<<"$out" || { echo "FAIL send-json: no file JSON"; fail=1; }
t too-large 1 "HTTP 413" alice send bob --file "$tmp/huge.bin" --token "$TA"
grep -qF "max_file_size" <<<"$out" || { echo "FAIL too-large: no hint"; fail=1; }
t no-file 2 "cannot send $tmp/nope" alice send bob --file "$tmp/nope" --token "$TA"
t file-and-text 2 "--file sends the file alone" alice send bob hi --file "$tmp/cat.png" --token "$TA"
OMTP_HTTP='' t no-http 2 "give omtpd's HTTP address with --http" alice send bob \
  --file "$tmp/cat.png" --token "$TA"
t bad-http 2 "bad --http" alice send bob --file "$tmp/cat.png" --token "$TA" --http ftp://x

# ---- the peer sees media messages and gets the bytes
t history 0 "[image 640×480 cat.png" bob history alice
grep -qF "[file notes.txt 23 B]" <<<"$out" || { echo "FAIL history: no file line"; fail=1; }
t history-json 0 '"contentType":3' bob history alice --json
img=$(grep '"contentType":3' <<<"$out" | python3 -c 'import json,sys; print(json.loads(json.loads(sys.stdin.readline())["content"])["fileId"])')
big=$(grep '"contentType":7' <<<"$out" | grep big.bin | python3 -c 'import json,sys; print(json.loads(json.loads(sys.stdin.readline())["content"])["fileId"])')
[ -n "$img" ] && [ -n "$big" ] || { echo "FAIL history-json: no fileIds"; fail=1; }
t download 0 "downloaded $img to $tmp/got.png" bob download "$img" -o "$tmp/got.png" --token "$TB"
cmp -s "$tmp/cat.png" "$tmp/got.png" && echo "ok   download-same" ||
  { echo "FAIL download-same: bytes differ"; fail=1; }
t download-default 0 "downloaded $img to $img" bob download "$img" --token "$TB"
cmp -s "$tmp/cat.png" "$tmp/$img" && echo "ok   download-default-same" ||
  { echo "FAIL download-default-same"; fail=1; }
# an interrupted download left big.part: the next run continues it
head -c 1000000 "$tmp/big.bin" >"$tmp/big.part"
t resume 0 "continuing $tmp/big.part from 1000000 bytes" bob download "$big" -o "$tmp/big" --token "$TB"
cmp -s "$tmp/big.bin" "$tmp/big" && echo "ok   resume-same" || { echo "FAIL resume-same"; fail=1; }
[ ! -e "$tmp/big.part" ] && echo "ok   resume-renamed" || { echo "FAIL resume-renamed"; fail=1; }
# --continue: an existing PATH is the partial file
head -c 1234567 "$tmp/big.bin" >"$tmp/big2"
t continue 0 "continuing $tmp/big2 from 1234567 bytes" bob download "$big" -o "$tmp/big2" \
  --token "$TB" --continue
cmp -s "$tmp/big.bin" "$tmp/big2" && echo "ok   continue-same" || { echo "FAIL continue-same"; fail=1; }
# a .part longer than the file is not a part of it: refused, kept, said so
head -c 1000000 /dev/zero >"$tmp/long.part" # the PNG is a few KB
t too-long-part 1 "is longer than the file" bob download "$img" -o "$tmp/long" --token "$TB"
[ -e "$tmp/long.part" ] && [ ! -e "$tmp/long" ] && echo "ok   too-long-part-kept" ||
  { echo "FAIL too-long-part-kept"; fail=1; }
# the uploader reads its own file
t own 0 "downloaded" alice download "$img" -o "$tmp/own.png" --token "$TA"

# ---- no --token: the fresh token of the password login (LoginResp.extraData)
t send-login-token 0 "[file notes.txt" alice send bob --file "$tmp/notes.txt"
t download-login-token 0 "downloaded $img" bob download "$img" -o "$tmp/via-login.png"
cmp -s "$tmp/cat.png" "$tmp/via-login.png" && echo "ok   download-login-token-same" ||
  { echo "FAIL download-login-token-same"; fail=1; }

# a group: omtp group send GROUP --file
t group-create 0 "GC_" alice group create team bob
GID=$(grep -o 'GC_[^ ]*' <<<"$out" | head -1)
t group-send-file 0 "[image 640×480 cat.png" alice group send "$GID" --file "$tmp/cat.png" --token "$TA"
t group-history 0 "[image 640×480 cat.png" bob history "$GID"
t group-file-text 2 "--file goes with" alice group send "$GID" hi --file "$tmp/cat.png"

# sessions and search show media messages as one line, never their JSON
t sessions 0 "alice: [file notes.txt 23 B]" bob sessions
grep -qF "alice: [image 640×480 cat.png" <<<"$out" || { echo "FAIL sessions: no group line"; fail=1; }
t search 0 "[image 640×480 cat.png" bob search cat.png
no search-no-json '"fileId"'

# ---- who may not
t outsider 1 "HTTP 404" carol download "$img" -o "$tmp/carol.png" --token "$TC"
grep -qF "you may not read it" <<<"$out" || { echo "FAIL outsider: no hint"; fail=1; }
[ ! -e "$tmp/carol.png" ] && [ ! -e "$tmp/carol.png.part" ] && echo "ok   outsider-nothing-left" ||
  { echo "FAIL outsider-nothing-left"; fail=1; }
t wrong-token 1 "HTTP 401" bob download "$img" -o "$tmp/x.png" --token "v1.bob.1.00"
# neither a token nor a password: says how to get a token (t always gives a password)
out=$(timeout 20 "$OMTP" download "$img" -o "$tmp/x.png" --user bob 2>&1 </dev/null); rc=$?
if [ $rc = 2 ] && grep -qF "need your login token" <<<"$out"; then echo "ok   no-token"; else
  echo "FAIL no-token: exit $rc: $out"; fail=1; fi
t bad-id 2 "is not a file id" bob download "../etc/passwd" --token "$TB"
t unknown 1 "HTTP 404" bob download 0123456789abcdef0123456789abcdef --token "$TB"

exit $fail
