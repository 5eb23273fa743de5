#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd, files (issue #16): /file PATH
# uploads on a worker thread and sends a media message, shown to both sides
# as `[image 640×480 cat.png 1.2 KB]`; a media message sent by another
# client (omtp send --file) arrives live the same way; /file of a path that
# is not a file, and /file without a login token, are refused in the note
# row with what to do, and the chat goes on.
set -u
. "$(dirname "$0")/../support/tui_common.sh"
# uploads and logins take longer on a loaded box: up to ~20 s where they are waited for
tui_setup alice bob
command -v curl >/dev/null || { echo "curl missing (scripts/deps.sh)"; exit 1; }
TA=$(curl -sf -X POST -H "Authorization: Bearer tuitestkey" -H 'Content-Type: application/json' \
  -d '{"ttl":3600}' "$HTTP/v1/users/alice/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
[ -n "$TA" ] || { echo "FAIL: no token"; exit 1; }
python3 - "$tmp/cat.png" <<'PY'
import struct, sys, zlib
w, h = 640, 480
raw = b"".join(b"\0" + bytes((x * 5 + y) & 255 for x in range(w * 3)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
printf 'agenda\n' >"$tmp/notes.txt"

pane bob bob alice --http "$HTTP"
pane alice alice bob --http "$HTTP" --token "$TA"
TRIES=400 expect bob-online bob "omtp chat - bob @ $SERVER - online"
TRIES=400 expect alice-online alice "omtp chat - alice @ $SERVER - online"

type_line alice "/file $tmp/cat.png"
TRIES=400 expect alice-image alice "alice: \[image 640×480 cat\.png [0-9.]+ KB\]"
TRIES=400 expect bob-image bob "alice: \[image 640×480 cat\.png [0-9.]+ KB\]"
TRIES=400 expect alice-sent alice "cat\.png [0-9.]+ KB\] +\[sent\]"

# a media message from another client arrives live
as alice send bob --file "$tmp/notes.txt" --http "$HTTP" --token "$TA" >/dev/null ||
  { echo "FAIL send-file"; fail=1; }
TRIES=400 expect bob-file bob "alice: \[file notes\.txt 7 B\]"

# refusals in the note row; the chat goes on
type_line alice "/file $tmp/nope.png"
expect not-a-file alice "/file: .*nope\.png is not a file that can be read"
type_line bob "/file $tmp/notes.txt"
expect no-token bob "/file: file transfers need your login token"
type_line bob "still here"
expect bob-text alice "bob: still here"

type_line alice "/quit"
expect alice-quit alice "EXITED 0"
finish
