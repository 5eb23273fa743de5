#!/usr/bin/env bash
# Attack replay: fill the disk under omtpd (a 2 MiB tmpfs as its data
# directory). Before the fix sends answered SERVICE_UNAVAILABLE (6) where
# docs/protocol.md says storage failures are DB_ERROR (5), nothing was logged
# at WARN or above, and starting on a full disk said "is the file on a local
# disk?". Now: sends on a full disk answer DB_ERROR (5) and are not stored,
# one ERROR line says "disk full" (at most one a minute), /metrics counts
# them, reads keep working, writes work again as soon as space is freed, and
# nothing acknowledged is lost; starting on a full disk says "disk full".
# Needs root to mount a tmpfs: skipped (77) where mounting is not allowed.
#
# Both send paths (docs/storage.md "Disk full"): DISK_ARGS picks omtpd's
# flags, default "--message-log false" (the store transaction per message);
# ctest runs it again as script_disk_full_on_log with "--message-log true"
# (the message log: appends refused on the full disk, the apply of what was
# acked before retried until space is freed). On the log path a send may
# also be acknowledged (its record fitted into the log's last page): every
# acknowledged message must then be in history exactly once after recovery.
set -uo pipefail
BUILD=$1
MODE=(${DISK_ARGS:---message-log false})
OMTPD="$BUILD/omtpd"
OMTP="$BUILD/omtp"
command -v curl >/dev/null || { echo "SKIPPED: no curl" >&2; exit 77; }
tmp=$(mktemp -d)
mnt="$tmp/mnt"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
    rmdir "$mnt"; rm -rf "$tmp"
    echo "SKIPPED: cannot mount a tmpfs here (needs root)" >&2
    exit 77
fi
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    wait 2>/dev/null
    umount "$mnt" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$OMTPD" init --data-dir "$mnt/data" >/dev/null
"$OMTPD" user bulk u 2 --password pw --cost 4 --data-dir "$mnt/data" >/dev/null ||
    { echo "FAIL: cannot create users"; exit 1; }
"$OMTPD" "${MODE[@]}" --data-dir "$mnt/data" --listen 127.0.0.1:0 --port-file "$tmp/port" \
    --http-listen 127.0.0.1:0 --http-port-file "$tmp/http" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/http" ] && break; sleep 0.05; done
[ -s "$tmp/http" ] || { echo "FAIL: omtpd did not start"; cat "$tmp/log"; exit 1; }
srv="127.0.0.1:$(cat "$tmp/port")"
metrics="http://127.0.0.1:$(cat "$tmp/http")/metrics"
metric() { curl -s "$metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
as_u0() { "$OMTP" "$@" --server "$srv" --user u0 --password pw; }

as_u0 send u1 before-full >/dev/null || bad "a send before the disk filled failed"
# the log path: wait (bounded) until it is in the tables, as a store-path ack is
unapplied() { curl -s "$metrics" | awk '$1 == "omtp_msglog_unapplied_records" { print $2 }'; }
for _ in $(seq 1 100); do [ "$(unapplied)" = 0 ] || [ -z "$(unapplied)" ] && break; sleep 0.05; done

# fill the file system to the last byte
dd if=/dev/zero of="$mnt/filler" bs=64k >/dev/null 2>&1
df -k "$mnt" | tail -1
refused=0
acked=() # markers of messages acknowledged on the full disk
# send MARKER BODY: acknowledged (remembered in acked) or DB_ERROR (5)
send_full() {
    local out
    if out=$(as_u0 send u1 "$2" 2>&1); then
        acked+=("$1")
    elif grep -q "DB_ERROR (5)" <<<"$out"; then
        refused=$((refused + 1))
    else
        bad "send $1 on a full disk: want an ack or DB_ERROR (5), got: $out"
    fi
}
read_ok() { # WHAT: a history read works now and shows before-full once
    local h
    h=$(as_u0 history u1 2>&1) || { bad "history $1 failed: $h"; return; }
    [ "$(grep -c "before-full" <<<"$h")" = 1 ] || bad "history $1 lost the acked message: $h"
}
# small messages: on the log path their records may still fit into the
# log's last page while the store cannot grow its WAL, so they may be acked
# (in the log) while their apply fails; a read right after each must work
for i in 1 2 3; do
    send_full "small-${i}x" "small-${i}x"
    read_ok "after small send $i on a full disk"
done
# longer than the log path's apply_lag_max_ms (1 s): an acked record whose
# apply fails must not turn the refusals below into a wait for the backlog
# and SERVICE_UNAVAILABLE (6)
sleep 1.5
for i in 1 2 3 4 5 6; do
    # big enough that the WAL (and the log) must grow: a page or more each
    body="full-$i-$(head -c 6000 /dev/urandom | base64 -w0)"
    if out=$(as_u0 send u1 "$body" 2>&1); then
        bad "send $i of 6 KB on a full disk was acknowledged: $out"
    elif grep -q "DB_ERROR (5)" <<<"$out"; then
        refused=$((refused + 1))
    else
        bad "send $i on a full disk: want DB_ERROR (5), got: $out"
    fi
    read_ok "after big send $i on a full disk"
done
echo "on the full disk: ${#acked[@]} small sends acknowledged (${acked[*]}), $refused refused"
kill -0 "$pid" 2>/dev/null || bad "omtpd died on a full disk"
# reads keep working
hist=$(as_u0 history u1 2>&1) || bad "history on a full disk failed: $hist"
grep -q "before-full" <<<"$hist" || bad "history lost the acked message: $hist"
grep -q "full-" <<<"$hist" && bad "a refused message is in history: $hist"
# logged once at ERROR, saying disk full; counted in /metrics
n=$(grep -c "ERROR.*store: disk full" "$tmp/log")
[ "$n" = 1 ] || bad "want exactly one 'disk full' ERROR line for $refused failures, got $n"
grep "ERROR.*store: disk full" "$tmp/log" | grep -q "until space is freed" ||
    bad "the disk-full line does not say what to do: $(grep 'disk full' "$tmp/log")"
[ "$(metric omtp_store_disk_full_total)" -ge "$refused" ] 2>/dev/null ||
    bad "omtp_store_disk_full_total = '$(metric omtp_store_disk_full_total)', want >= $refused"
[ -z "$(metric 'omtp_errors_total{code="6",name="SERVICE_UNAVAILABLE"}')" ] ||
    bad "some replies were SERVICE_UNAVAILABLE (6)"
grep -q "store: writes work again" "$tmp/log" &&
    bad "'writes work again' logged while the disk is still full"

# space freed: without a restart, and with nothing sent, what was acked
# reaches the tables (the log path's apply retries by itself), then sends
# work again
left=$(unapplied)
echo "acked records not yet applied when space is freed: ${left:-none (store path)}"
rm -f "$mnt/filler"
for _ in $(seq 1 200); do
    [ "$(unapplied)" = 0 ] || [ -z "$(unapplied)" ] && break
    sleep 0.05
done
[ "$(unapplied)" = 0 ] || [ -z "$(unapplied)" ] ||
    bad "10 s after space was freed, $(unapplied) acked records are still not applied"
as_u0 send u1 after-free >/dev/null || bad "a send after space was freed failed"
hist=$(as_u0 history u1 2>&1)
grep -q "before-full" <<<"$hist" && grep -q "after-free" <<<"$hist" ||
    bad "history after recovery: $hist"
# every acked message exactly once, nothing refused, seqIds 1..N gap-free
for m in before-full after-free "${acked[@]}"; do
    [ "$(grep -c -- "$m" <<<"$hist")" = 1 ] || bad "'$m' is not in history exactly once: $hist"
done
grep -q "full-" <<<"$hist" && bad "a refused message is in history: $hist"
seqs=$(grep -oE '^#[0-9]+' <<<"$hist" | tr -d '#' | sort -n | tr '\n' ' ')
want=$(seq 1 $((2 + ${#acked[@]})) | tr '\n' ' ')
[ "$seqs" = "$want" ] || bad "seqIds in history are '$seqs', want '$want': $hist"
grep -q "store: writes work again after the disk was full" "$tmp/log" ||
    bad "no log line says writes work again"
kill -TERM "$pid"; wait "$pid" || bad "omtpd did not stop cleanly"; pid=

# starting on a full disk says so
dd if=/dev/zero of="$mnt/filler" bs=64k >/dev/null 2>&1
if "$OMTPD" --data-dir "$mnt/fresh" --listen 127.0.0.1:0 >"$tmp/start" 2>&1; then
    bad "omtpd started on a full disk"
else
    grep -q "disk full" "$tmp/start" || bad "start on a full disk does not say 'disk full':
$(cat "$tmp/start")"
    grep -q "local disk" "$tmp/start" && bad "start on a full disk blames the file system"
fi

if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$tmp/log"; then
    bad "sanitizer report: $(grep -A20 -E 'Sanitizer|runtime error' "$tmp/log" | head -40)"
fi
[ $fail = 0 ] && echo "ok: disk full answers DB_ERROR (5), is logged once, reads work, recovery needs no restart"
[ $fail = 0 ] || { echo "--- omtpd log ---"; tail -20 "$tmp/log"; }
exit $fail
