#!/usr/bin/env bash
# The message log's fsync pacing (log_sync_delay_us) alone, no network:
# build/omtp-msglog-pace at each RATE with each DELAY, interleaved RUNS
# times, SECONDS each; prints one line per run (CPU per record of the whole
# process, records per fdatasync, ack latency p50/p99/max).
# Usage: bench/msglog_pace.sh [BUILD_DIR]   (env: RATES, DELAYS, RUNS, SECONDS, BYTES, DIR)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
RATES=${RATES:-"200 1000 5000"}
DELAYS=${DELAYS:-"0 500 1000 2000"}
RUNS=${RUNS:-3}
SECONDS_=${SECONDS:-3}
BYTES=${BYTES:-100}
DIR=${DIR:-$(mktemp -d /tmp/msglog-pace-XXXXXX)}
trap 'rm -rf "$DIR"' EXIT
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), dir $DIR ($(df -T "$DIR" | awk 'NR==2{print $2}'))"
for run in $(seq "$RUNS"); do
    for rate in $RATES; do
        for d in $DELAYS; do
            rm -rf "$DIR/log"
            printf 'run=%s ' "$run"
            "$BUILD/omtp-msglog-pace" "$DIR/log" "$rate" "$SECONDS_" "$d" "$BYTES" 2>/dev/null
        done
    done
done
