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
set -uo pipefail
BUILD=$1
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
"$OMTPD" --data-dir "$mnt/data" --listen 127.0.0.1:0 --port-file "$tmp/port" \
    --http-listen 127.0.0.1:0 --http-port-file "$tmp/http" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/http" ] && break; sleep 0.05; done
[ -s "$tmp/http" ] || { echo "FAIL: omtpd did not start"; cat "$tmp/log"; exit 1; }
srv="127.0.0.1:$(cat "$tmp/port")"
metrics="http://127.0.0.1:$(cat "$tmp/http")/metrics"
metric() { curl -s "$metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
as_u0() { "$OMTP" "$@" --server "$srv" --user u0 --password pw; }

as_u0 send u1 before-full >/dev/null || bad "a send before the disk filled failed"

# fill the file system to the last byte
dd if=/dev/zero of="$mnt/filler" bs=64k >/dev/null 2>&1
df -k "$mnt" | tail -1
refused=0
for i in 1 2 3 4 5 6; do
    # big enough that the WAL must grow: a page or more per message
    body="full-$i-$(head -c 6000 /dev/urandom | base64 -w0)"
    if out=$(as_u0 send u1 "$body" 2>&1); then
        bad "send $i on a full disk was acknowledged: $out"
    elif grep -q "DB_ERROR (5)" <<<"$out"; then
        refused=$((refused + 1))
    else
        bad "send $i on a full disk: want DB_ERROR (5), got: $out"
    fi
done
kill -0 "$pid" 2>/dev/null || bad "omtpd died on a full disk"
# reads keep working
hist=$(as_u0 history u1 2>&1) || bad "history on a full disk failed: $hist"
grep -q "before-full" <<<"$hist" || bad "history lost the acked message: $hist"
grep -q "full-" <<<"$hist" && bad "a refused message is in history: $hist"
# logged once at ERROR, saying disk full; counted in /metrics
n=$(grep -c "ERROR.*store: disk full" "$tmp/log")
[ "$n" = 1 ] || bad "want exactly one 'disk full' ERROR line for $refused failures, got $n"
[ "$(metric omtp_store_disk_full_total)" -ge "$refused" ] 2>/dev/null ||
    bad "omtp_store_disk_full_total = '$(metric omtp_store_disk_full_total)', want >= $refused"
[ -z "$(metric 'omtp_errors_total{code="6",name="SERVICE_UNAVAILABLE"}')" ] ||
    bad "some replies were SERVICE_UNAVAILABLE (6)"

# space freed: writes work again, without a restart
rm -f "$mnt/filler"
as_u0 send u1 after-free >/dev/null || bad "a send after space was freed failed"
hist=$(as_u0 history u1 2>&1)
grep -q "before-full" <<<"$hist" && grep -q "after-free" <<<"$hist" ||
    bad "history after recovery: $hist"
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
