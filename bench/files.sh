#!/usr/bin/env bash
# files.sh [BUILD] [RUNS] - files over HTTP: omtpd against Debian's nginx
# serving the same bytes from disk (issue #16; results in bench/RESULTS.md
# "Files"). Interleaved runs (omtpd, nginx, omtpd, nginx, ...) so a shared
# machine's drift hits both alike; medians of RUNS (3).
#
#   download  the same SIZE_MB (100) MiB file, `curl -o /dev/null`:
#             omtpd's HTTP API GET /v1/files/{id} (API key; libmicrohttpd,
#             sendfile), omtpd's public WebSocket listener GET /v1/files/{id}
#             (ws_listen, a user's token; libuv, 1 MiB pieces) vs nginx GET
#             /blob (a static file, sendfile on), in turn. MiB/s and the
#             server's CPU per GiB from /proc. Goal: omtpd >= 80% of nginx.
#   upload    the same file, `curl -T` (streamed from disk): omtpd POST
#             /v1/files on both listeners (sha256, libmagic, fsync of the file
#             + rename + fsync of the directory before the 201) vs nginx
#             WebDAV PUT (dav_methods PUT: nginx writes the body to a temp
#             file and renames it, and never fsyncs: its 201 does not mean
#             "on disk"). Goal: omtpd >= 50% of nginx.
#   memory    omtpd's VmRSS before the runs, after them, and its peak
#             (VmHWM) while CONC (100) downloads run at once; per-transfer
#             memory = (peak - before) / CONC. Goal: flat, no per-transfer
#             buffer > 1 MiB.
#   chat      `omtp-bench chat --pairs 10 --rate 50` (1,000 msg/s) for
#             DURATION (10) s, alone and while CONC downloads of the file
#             loop on the HTTP API, interleaved; p50/p99 and omtpd's CPU per
#             message. Goal: p99 + <= 1 ms. The CONC download clients (curl)
#             run at nice DL_NICE (19): on one box they are the load
#             generator, not the server, and would otherwise take the cores
#             from omtpd's loop and the chat driver alike (DL_NICE=0 to see
#             that); omtpd runs at its defaults (http_nice = 10).
#
# omtpd: sync_level 1, --req-rate 0, logs at warn. nginx: a temp config on
# a free port, one worker, access log off. Knobs: SIZE_MB, CONC, DURATION,
# RUNS, DL_NICE; HTTP_NICE (omtpd's --http-nice, default its own: 10; 0
# to see the chat without it); NGINX (path of the binary, /usr/sbin/nginx).
#
# The machine (CPU model, cores, load average) and the command are printed
# first; the raw runs go to ${OUT:-/tmp}/files-DATE.jsonl.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
RUNS=${2:-3}
SIZE_MB=${SIZE_MB:-100} CONC=${CONC:-100} DURATION=${DURATION:-10} DL_NICE=${DL_NICE:-19}
NGINX=${NGINX:-/usr/sbin/nginx}
KEY=filesbench
W=$(mktemp -d /tmp/omtp-filesbench-XXXXXX)
SPID='' NPID=''
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    [ -n "$NPID" ] && kill "$NPID" 2>/dev/null
    touch "$W/stop" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
[ -x "$NGINX" ] || { echo "files.sh: no nginx at $NGINX (apt-get install nginx)" >&2; exit 1; }
TCK=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: SIZE_MB=$SIZE_MB CONC=$CONC DURATION=$DURATION DL_NICE=$DL_NICE HTTP_NICE=${HTTP_NICE:-default} $0 ${1:-build} $RUNS ($(date -u +%Y-%m-%dT%H:%M:%SZ))"

# ---- the bytes
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$W/blob"
BYTES=$(stat -c %s "$W/blob")

# ---- omtpd
"$BUILD/omtpd" init --data-dir "$W/data" >/dev/null
NU=$("$BUILD/omtpd" user bulk bench 20 --password bench --cost 8 --data-dir "$W/data")
WSUSER=$(echo "$NU" | sed -n 's/.*(\([^ ]*\) \.\..*/\1/p')
TOK=$("$BUILD/omtpd" token issue "${WSUSER:-bench1}" --ttl 86400 --data-dir "$W/data" | grep -o 'v1\.[^ "]*' | head -1)
"$BUILD/omtpd" --listen 127.0.0.1:0 --port-file "$W/port" --http-listen 127.0.0.1:0 \
    --http-port-file "$W/hport" --api-keys "$KEY" --data-dir "$W/data" --sync-level 1 \
    --ws-listen 127.0.0.1:0 --ws-port-file "$W/wsport" ${HTTP_NICE:+--http-nice "$HTTP_NICE"} \
    --req-rate 0 --log-level warn --max-conns-per-ip 0 --http-max-conns-per-ip 0 \
    --max-file-size $((BYTES * 2)) 2>>"$W/omtpd.log" &
SPID=$!
for _ in $(seq 1 200); do [ -s "$W/hport" ] && break; sleep 0.05; done
[ -s "$W/hport" ] || { echo "omtpd did not start"; cat "$W/omtpd.log"; exit 1; }
for _ in $(seq 1 200); do [ -s "$W/wsport" ] && break; sleep 0.05; done
PORT=$(cat "$W/port") HPORT=$(cat "$W/hport") WSPORT=$(cat "$W/wsport")
O=http://127.0.0.1:$HPORT
WS=http://127.0.0.1:$WSPORT
cpu_ticks() { # PID and its children (nginx's workers)
    local p s=0
    for p in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo $s
}
rss() { awk '/VmRSS/{print $2}' "/proc/$SPID/status"; }
hwm() { awk '/VmHWM/{print $2}' "/proc/$SPID/status"; }
FID=$(curl -sf -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/octet-stream' \
    -T "$W/blob" "$O/v1/files?name=blob.bin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fileId"])')
# the ws listener's reader is a user: a file of theirs (the same bytes, stored once)
FIDW=$(curl -sf -X POST -H "Authorization: Bearer $TOK" -H 'Content-Type: application/octet-stream' \
    -T "$W/blob" "$WS/v1/files?name=blob.bin" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fileId"])')

# ---- nginx: the same bytes from disk, WebDAV PUT for uploads
NPORT=$(free_port)
mkdir -p "$W/ng/www/up" "$W/ng/tmp" "$W/ng/logs"
cp "$W/blob" "$W/ng/www/blob"
# nginx's workers drop to `nobody` when started by root: let them read and write
chmod 755 "$W" "$W/ng" "$W/ng/www"
chmod 644 "$W/ng/www/blob"
chmod 1777 "$W/ng/www/up" "$W/ng/tmp"
cat >"$W/ng/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/ng/nginx.pid;
error_log $W/ng/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $W/ng/tmp;
    proxy_temp_path $W/ng/tmp;
    fastcgi_temp_path $W/ng/tmp;
    uwsgi_temp_path $W/ng/tmp;
    scgi_temp_path $W/ng/tmp;
    server {
        listen 127.0.0.1:$NPORT;
        root $W/ng/www;
        location /up/ {
            dav_methods PUT;
            client_max_body_size 0;
            create_full_put_path on;
        }
    }
}
EOF
"$NGINX" -c "$W/ng/nginx.conf" -p "$W/ng" &
NPID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$NPORT/blob" -r 0-0 && break; sleep 0.05; done
curl -sf -o /dev/null "http://127.0.0.1:$NPORT/blob" -r 0-0 ||
    { echo "nginx does not serve the file"; cat "$W/ng/logs/error.log"; exit 1; }
N=http://127.0.0.1:$NPORT

# one transfer -> seconds (curl's time_total); $1 = peer, $2 = down|up, $3 = run
xfer() {
    case "$1:$2" in
    omtpd:down) curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $KEY" "$O/v1/files/$FID" ;;
    omtpd-ws:down) curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" "$WS/v1/files/$FIDW" ;;
    omtpd-ws:up) curl -sf -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/octet-stream' -T "$W/blob" "$WS/v1/files?name=upw$3.bin" ;;
    nginx:down) curl -sf -o /dev/null -w '%{time_total}' "$N/blob" ;;
    omtpd:up) curl -sf -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/octet-stream' -T "$W/blob" "$O/v1/files?name=up$3.bin" ;;
    nginx:up) curl -sf -o /dev/null -w '%{time_total}' -T "$W/blob" "$N/up/blob$3" ;;
    esac
}
: >"$W/raw"
RSS0=$(rss)
for r in $(seq 1 "$RUNS"); do
    for dir in down up; do
        for peer in omtpd nginx omtpd-ws; do
            p=$SPID; [ $peer = nginx ] && p=$NPID
            c0=$(cpu_ticks "$p")
            t=$(xfer $peer $dir "$r")
            c1=$(cpu_ticks "$p")
            echo "{\"peer\":\"$peer\",\"dir\":\"$dir\",\"s\":$t,\"cpu_s\":$(awk -v a="$c0" -v b="$c1" -v k="$TCK" 'BEGIN{printf "%.3f",(b-a)/k}')}" >>"$W/raw"
        done
    done
    rm -f "$W"/ng/www/up/*
    echo "  transfer run $r done" >&2
done
RSS1=$(rss)

# ---- CONC downloads at once: peak memory, and the chat beside them
downloads() { # loop CONC downloads until $W/stop exists
    rm -f "$W/stop"
    for _ in $(seq 1 "$CONC"); do
        (while [ ! -e "$W/stop" ]; do
            nice -n "$DL_NICE" curl -s -o /dev/null --max-time 120 -H "Authorization: Bearer $KEY" "$O/v1/files/$FID" || true
        done) &
    done
}
chat() { # -> one JSON line of omtp-bench, the server's CPU over it
    local c0 c1 j
    c0=$(cpu_ticks "$SPID")
    j=$("$BUILD/omtp-bench" chat --server "127.0.0.1:$PORT" --pairs 10 --rate 50 --size 64 \
        --duration "$DURATION" --json)
    c1=$(cpu_ticks "$SPID")
    echo "{\"mode\":\"$1\",\"cpu_s\":$(awk -v a="$c0" -v b="$c1" -v k="$TCK" 'BEGIN{printf "%.3f",(b-a)/k}'),\"r\":$j}"
}
echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null || true # VmHWM := VmRSS (Linux >= 4.0)
HWM_BEFORE=$(hwm)
for r in $(seq 1 "$RUNS"); do
    chat alone >>"$W/raw"
    downloads
    sleep 1
    chat downloads >>"$W/raw"
    touch "$W/stop"
    dl=$(jobs -p | grep -v -e "^$SPID\$" -e "^$NPID\$" || true)
    # shellcheck disable=SC2086
    [ -n "$dl" ] && wait $dl 2>/dev/null || true
    echo "  chat run $r done" >&2
done
HWM=$(hwm)
RSS2=$(rss)
echo "{\"mode\":\"mem\",\"rss0_kb\":$RSS0,\"rss1_kb\":$RSS1,\"hwm_before_kb\":$HWM_BEFORE,\"hwm_kb\":$HWM,\"rss2_kb\":$RSS2,\"conc\":$CONC}" >>"$W/raw"
cp "$W/raw" "${OUT:-/tmp}/files-$(date -u +%Y%m%d-%H%M%S).jsonl"
DL_NICE=$DL_NICE python3 - "$W/raw" "$BYTES" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
size = int(sys.argv[2])
med = statistics.median
mb = size / 1048576
print(f"| transfer ({mb:.0f} MiB) | omtpd MiB/s (median; runs) | nginx MiB/s (median; runs) | omtpd / nginx | omtpd CPU s per GiB | nginx CPU s per GiB |")
print("|---|---:|---:|---:|---:|---:|")
for d, goal in (("down", 80), ("up", 50)):
    for peer, what in (("omtpd", "HTTP API"), ("omtpd-ws", "ws_listen")):
        o = [x for x in rows if x.get("dir") == d and x["peer"] == peer]
        n = [x for x in rows if x.get("dir") == d and x["peer"] == "nginx"]
        ot = [mb / x["s"] for x in o]
        nt = [mb / x["s"] for x in n]
        oc = med([x["cpu_s"] * 1024 / mb for x in o])
        nc = med([x["cpu_s"] * 1024 / mb for x in n])
        print(f"| {'download' if d == 'down' else 'upload'} ({what}) | {med(ot):,.0f} ({', '.join(f'{v:,.0f}' for v in ot)}) | "
              f"{med(nt):,.0f} ({', '.join(f'{v:,.0f}' for v in nt)}) | {med(ot) / med(nt) * 100:.0f}% (goal >= {goal}%) | {oc:.2f} | {nc:.2f} |")
print()
for m in ("alone", "downloads"):
    c = [x for x in rows if x.get("mode") == m]
    p50 = [x["r"]["latency"]["p50_ms"] for x in c]
    p99 = [x["r"]["latency"]["p99_ms"] for x in c]
    thr = [x["r"]["throughput_per_s"] for x in c]
    cpu = [x["cpu_s"] * 1e6 / max(1, x["r"]["received"]) for x in c]
    print(f"chat 1,000 msg/s {m:9s}: p50 {med(p50):.3f} ms, p99 {med(p99):.3f} ms "
          f"({', '.join(f'{a:.3f}/{b:.3f}' for a, b in zip(p50, p99))}), delivered {med(thr):,.0f} msg/s, "
          f"server CPU {med(cpu):.1f} us/msg (downloads included)")
a = med([x["r"]["latency"]["p99_ms"] for x in rows if x.get("mode") == "alone"])
d = med([x["r"]["latency"]["p99_ms"] for x in rows if x.get("mode") == "downloads"])
print(f"chat p99 with downloads - alone: {d - a:+.3f} ms (goal <= +1 ms; download clients at nice {os.environ.get('DL_NICE', '19')})")
m = [x for x in rows if x.get("mode") == "mem"][0]
print(f"omtpd RSS: {m['rss0_kb']} KiB before the transfers, {m['rss1_kb']} KiB after them, "
      f"{m['rss2_kb']} KiB after the concurrent downloads; peak (VmHWM) {m['hwm_before_kb']} -> {m['hwm_kb']} KiB "
      f"with {m['conc']} downloads at once = {(m['hwm_kb'] - m['hwm_before_kb']) / m['conc']:.0f} KiB per transfer "
      f"(goal: flat, < 1 MiB per transfer)")
PY
