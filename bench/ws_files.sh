#!/usr/bin/env bash
# ws_files.sh [BUILD] [RUNS] - files on the public WebSocket listener
# (ws_listen, /v1/files; docs/websocket.md "File endpoints") against nginx
# serving the same bytes from disk, interleaved (omtpd, nginx, omtpd, ...)
# so a shared machine's drift hits both alike; medians of RUNS (3).
#
#   download  curl GET of a SIZE_MB (100) MiB file: MB/s; omtpd: the server's
#             CPU seconds for it from /proc/PID/stat (utime + stime)
#   upload    curl POST of the same file to /v1/files (omtpd: sha256, libmagic,
#             fsync + rename included) against an nginx PUT into a directory
#             (dav module, client_body_in_file_only: the bytes to disk only)
#   memory    omtpd's VmHWM after everything (no buffer per transfer > 1 MiB)
#
# Loopback, one transfer at a time. Results in bench/RESULTS.md.
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-3}
SIZE_MB=${SIZE_MB:-100}
W=$(mktemp -d /tmp/omtp-wsfiles-XXXXXX)
SPID= NPID=
trap 'kill $SPID 2>/dev/null || true; [ -n "$NPID" ] && kill "$NPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"' EXIT
command -v nginx >/dev/null || { echo "ws_files: nginx is not installed (scripts/deps.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "ws_files: curl is not installed" >&2; exit 1; }

"$BUILD/omtpd" init --data-dir "$W/d" >/dev/null
"$BUILD/omtpd" user add bench --password bench --data-dir "$W/d" >/dev/null
TOK=$("$BUILD/omtpd" token issue bench --ttl 3600 --data-dir "$W/d" | grep -o 'v1\.[^ "]*' | head -1)
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$W/big.bin"
"$BUILD/omtpd" --data-dir "$W/d" --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 \
    --ws-port-file "$W/wsport" --max-file-size $(((SIZE_MB + 1) * 1024 * 1024)) \
    --log-level warn >"$W/omtpd.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do [ -s "$W/wsport" ] && break; sleep 0.1; done
P=$(cat "$W/wsport")

mkdir -p "$W/www" "$W/put" "$W/ngx/body"
cp "$W/big.bin" "$W/www/big.bin"
# nginx's workers may run as another user (root starts them as nobody)
chmod 755 "$W" "$W/www" "$W/ngx"
chmod 644 "$W/www/big.bin"
chmod 777 "$W/put" "$W/ngx/body"
NP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/ngx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/ngx/nginx.pid;
error_log $W/ngx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $W/ngx/body;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$NP;
        location / { root $W/www; }
        location /put/ { root $W; dav_methods PUT; client_body_in_file_only on; }
    }
}
EOF
nginx -c "$W/ngx/nginx.conf" -p "$W/ngx" &
NPID=$!
sleep 0.5

cpu() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }
TCK=$(getconf CLK_TCK)
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ID=$(curl -s -H "Authorization: Bearer $TOK" --data-binary @"$W/big.bin" \
    "http://127.0.0.1:$P/v1/files?name=big.bin" | grep -o '"fileId":"[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$ID" ] || { echo "ws_files: the first upload failed; log:" >&2; cat "$W/omtpd.log" >&2; exit 1; }

: >"$W/od" >"$W/nd" >"$W/ou" >"$W/nu" >"$W/odc" >"$W/ouc"
for i in $(seq "$RUNS"); do
    c0=$(cpu)
    curl -s -o /dev/null -w '%{speed_download}\n' -H "Authorization: Bearer $TOK" \
        "http://127.0.0.1:$P/v1/files/$ID" >>"$W/od"
    c1=$(cpu)
    echo "scale=3; ($c1 - $c0) / $TCK" | bc >>"$W/odc"
    curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$NP/big.bin" >>"$W/nd"
    c0=$(cpu)
    curl -s -o /dev/null -w '%{speed_upload}\n' -H "Authorization: Bearer $TOK" \
        --data-binary @"$W/big.bin" "http://127.0.0.1:$P/v1/files?name=up$i.bin" >>"$W/ou"
    c1=$(cpu)
    echo "scale=3; ($c1 - $c0) / $TCK" | bc >>"$W/ouc"
    curl -s -o /dev/null -w '%{speed_upload}\n' -T "$W/big.bin" "http://127.0.0.1:$NP/put/up$i.bin" >>"$W/nu"
done
mbs() { awk '{printf "%.0f\n", $1 / 1048576}'; }
od=$(mbs <"$W/od" | med) nd=$(mbs <"$W/nd" | med) ou=$(mbs <"$W/ou" | med) nu=$(mbs <"$W/nu" | med)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $SIZE_MB MiB, loopback, curl, medians of $RUNS (interleaved omtpd / nginx)"
echo "download  omtpd ws_listen $od MiB/s  nginx $nd MiB/s  ratio $(echo "scale=2; $od / $nd" | bc)  omtpd CPU $(med <"$W/odc") s"
echo "upload    omtpd ws_listen $ou MiB/s  nginx $nu MiB/s  ratio $(echo "scale=2; $ou / $nu" | bc)  omtpd CPU $(med <"$W/ouc") s"
echo "omtpd $(grep VmHWM "/proc/$SPID/status")"
