#!/usr/bin/env bash
# Runs every libFuzzer target for OMTP_FUZZ_SECONDS (default 20) each,
# starting from the checked-in seeds (tests/fuzz/corpus/<target>/) plus what
# earlier runs found (tests/fuzz/corpus-work/<target>/, not checked in).
# Fails on any crash, leak, sanitizer report or timeout; the reproducer is
# left in tests/fuzz/corpus-work/ (crash-*). Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
SECS=${OMTP_FUZZ_SECONDS:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=(frame payload transform json tui_keys)
status=0
summary=()
for t in "${TARGETS[@]}"; do
    bin="$BUILD/fuzz_$t"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin missing (build with: make build-fuzz)" >&2
        exit 1
    fi
    work="$HERE/corpus-work/$t"
    mkdir -p "$work"
    log="$work/../$t.log"
    echo "fuzz: $t for ${SECS}s"
    set +e
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$work/" "$work" "$HERE/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc); log $log" >&2
        grep -E 'ERROR|SUMMARY|runtime error|crash-|leak-|timeout-' "$log" | head -20 >&2
        status=1
        summary+=("$t: FAILED")
    else
        summary+=("$t: $runs executions, $cov")
    fi
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $status
