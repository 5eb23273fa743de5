#!/usr/bin/env bash
# bench/presence.sh - presence and typing: a reconnect storm of N users who
# each watch W friends, bytes per subscription entry, server CPU per notice
# recipient, and what the storm does to chat latency.
#
#   bench/presence.sh BUILD_DIR [N] [W] [K]     (defaults 10000 50 500)
#
# Starts omtpd (SQLite, sync FULL, --req-rate 0) on a fresh data dir with N+2
# users (omtpd user bulk, cheap hashes); user i's friends are users i±1..W/2
# (mod N), written into the database with sqlite3 before the start. Then:
#  1. probe alone: users pN -> pN+1 chat every 5 ms for 10 s (p50/p99/max);
#  2. the same probe while `presence storm` logs N users in at once and each
#     subscribes to its W friends (one libuv loop, async clients);
#     the storm then toggles K users between background and foreground, 6
#     rounds (K*W changes each), and K members of a 500-member group send
#     typing notices, 6 rounds a second apart (499 recipients each), then
#     the same requests to an offline single chat (nobody to relay to);
#  3. the storm again with W = 0 (no subscriptions), the probe running
#     again: the cost of the requests alone, and what the storm's logins
#     alone do to chat latency (the difference to 2. is presence's share).
# Server CPU is utime+stime of /proc/PID/stat (store thread included), read
# by the driver around each phase. Memory: /metrics omtp_presence_bytes and
# omtp_presence_entries after the storm, and the server's RSS growth.
set -euo pipefail
B=${1:?build dir}; N=${2:-10000}; W=${3:-50}; K=${4:-500}
OMTPD=$B/omtpd; DRV=$B/presence
T=$(mktemp -d); SPID=
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cat >"$T/omtpd.conf" <<CONF
keepalive_s = 300
log_level = warn
max_conns_per_ip = 0
req_rate = 0
presence_max_subs = 1000
http_listen = 127.0.0.1:0
CONF
start() {
  rm -f "$T/port" "$T/http"
  "$OMTPD" --config "$T/omtpd.conf" --data-dir "$T/data" --listen 127.0.0.1:0 \
    --port-file "$T/port" --http-port-file "$T/http" 2>>"$T/omtpd.log" &
  SPID=$!
  for _ in $(seq 200); do [ -s "$T/port" ] && [ -s "$T/http" ] && break; sleep 0.05; done
  PORT=$(cat "$T/port"); HTTP=$(cat "$T/http")
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }
metric() { curl -s "http://127.0.0.1:$HTTP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
rss_kb() { awk '/VmRSS/ { print $2 }' /proc/"$SPID"/status; }

"$OMTPD" init --config "$T/omtpd.conf" --data-dir "$T/data" >/dev/null
"$OMTPD" user bulk u $((N + 2)) --password bench --cost 4 --config "$T/omtpd.conf" --data-dir "$T/data" >/dev/null
sqlite3 "$T/data/omtp.db" <<SQL
WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x < $N - 1),
     d(y) AS (SELECT 1 UNION ALL SELECT y + 1 FROM d WHERE y < $W / 2)
INSERT OR IGNORE INTO friends(user_id, friend_id, remark, deleted, changed_ms)
SELECT 'u' || x, 'u' || ((x + y) % $N), '', 0, 0 FROM i, d
UNION ALL SELECT 'u' || ((x + y) % $N), 'u' || x, '', 0, 0 FROM i, d;
SQL
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "users $N, each watching $W friends; $(sqlite3 "$T/data/omtp.db" 'SELECT count(*) FROM friends') friend rows"

start
echo "-- 1. chat probe alone"
"$DRV" probe --port "$PORT" --prefix u --from "$N" --to $((N + 1)) --seconds 10 --gap-ms 5 | tee "$T/p1"
echo "-- 2. chat probe during the storm (N=$N, W=$W)"
rss0=$(rss_kb)
"$DRV" probe --port "$PORT" --prefix u --from "$N" --to $((N + 1)) --seconds 15 --gap-ms 5 >"$T/p2" &
PP=$!
sleep 1
"$DRV" storm --port "$PORT" --prefix u --count "$N" --watch "$W" --toggles "$K" --server-pid "$SPID" | tee "$T/s1" &
SP=$!
# PERF=FILE: a perf profile of the server during the storm (for finding costs)
[ -n "${PERF:-}" ] && { perf record -g -p "$SPID" -o "$PERF" >/dev/null 2>&1 & PERFPID=$!; }
# memory while every subscription is in place (the storm holds them until its end)
until grep -q '^TOGGLE' "$T/s1" 2>/dev/null; do sleep 0.2; done
entries=$(metric omtp_presence_entries); bytes=$(metric omtp_presence_bytes); rss1=$(rss_kb)
wait "$SP"; wait "$PP"; cat "$T/p2"
[ -n "${PERF:-}" ] && { kill -INT "$PERFPID"; wait "$PERFPID" 2>/dev/null || true; }
echo "presence entries $entries, presence bytes $bytes = $(awk -v b="$bytes" -v e="$entries" 'BEGIN { printf "%.1f", e ? b / e : 0 }') B per entry (records and tables included); server RSS +$(( (rss1 - rss0) / 1024 )) MiB with $N connections"
stop
echo "-- 3. the same storm without subscriptions (request cost alone), probe again"
start
"$DRV" probe --port "$PORT" --prefix u --from "$N" --to $((N + 1)) --seconds 15 --gap-ms 5 >"$T/p3" &
PP=$!
sleep 1
"$DRV" storm --port "$PORT" --prefix u --count "$N" --watch 0 --toggles "$K" --server-pid "$SPID" | tee "$T/s0"
wait "$PP"; cat "$T/p3"
stop
awk -v w="$W" '
  FNR == 1 { f++ }
  f == 1 && $1 == "TOGGLE" { tw = $5; ent = $4; frames = $3 }
  f == 1 && $1 == "TYPE1" { t1 = $4; n1 = $3 }
  f == 1 && $1 == "TYPE0" { t0 = $4 }
  f == 2 && $1 == "TOGGLE" { tb = $5 }
  END {
    printf "presence: %d notice frames carrying %d changes; server cpu %.0f ms with watchers, %.0f ms without (same requests): %.2f us per notice frame, %.2f us per change delivered\n", frames, ent, tw / 1000, tb / 1000, frames ? (tw - tb) / frames : 0, ent ? (tw - tb) / ent : 0
    printf "typing: %d notices delivered; server cpu %.0f ms (group, online members) vs %.0f ms (same requests, nobody to relay to): %.2f us per recipient\n", n1, t1 / 1000, t0 / 1000, n1 ? (t1 - t0) / n1 : 0
  }' "$T/s1" "$T/s0"
read -r _ _ a50 a99 amax <"$T/p1"; read -r _ _ b50 b99 bmax <"$T/p2"; read -r _ _ c50 c99 cmax <"$T/p3"
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
echo "chat p99: alone $(ms "$a99"); during the storm with $W watched each $(ms "$b99"); during the same storm without subscriptions $(ms "$c99") (p50 $(ms "$a50") / $(ms "$b50") / $(ms "$c50"))"
