#!/usr/bin/env bash
# Runs every libFuzzer target for OMTP_FUZZ_SECONDS (default 20) each,
# starting from the checked-in seeds (tests/fuzz/corpus/<target>/) plus what
# earlier runs found (tests/fuzz/corpus-work/<target>/, not checked in).
# Fails on any crash, leak, sanitizer report or timeout; the reproducer is
# left in tests/fuzz/corpus-work/ (crash-*). Then the TypeScript SDK's
# decoders (sdk/js/scripts/fuzz.mjs) for as long, from the same seeds.
# Usage: tests/fuzz/run.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
SECS=${OMTP_FUZZ_SECONDS:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=(frame payload transform json ws)
TARGETS+=(logline) # util/log.h JSON records
TARGETS+=(search) # the search query check and FTS5 quoting
TARGETS+=(tui_keys) # the chat's terminal input (tools/omtp/tui_input.c)
TARGETS+=(files_http) # the file endpoints' Range, query and Bearer parsers
TARGETS+=(s3_xml) # the S3 file store's reader of S3 replies (src/store/s3_xml.c)
TARGETS+=(files) # media content JSON, file names, Range, bearer tokens (docs/files.md)
TARGETS+=(client_files) # libomtp: media-message content and LoginResp.extraData (client/omtp_files.h)
TARGETS+=(msglog) # the message log's reader (store/msglog.h), torn and corrupt segments
TARGETS+=(logrec) # the send path's log records (domain/logrec.h), decoded after the framing
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
# the TypeScript SDK's decoders (sdk/js/scripts/fuzz.mjs), same seeds and time
echo "fuzz: js (sdk/js) for ${SECS}s"
SDK="$HERE/../../sdk/js"
if bash "$SDK/scripts/prepare.sh" >"$HERE/corpus-work/js.log" 2>&1 &&
    node "$SDK/scripts/fuzz.mjs" --seconds "$SECS" >>"$HERE/corpus-work/js.log" 2>&1; then
    summary+=("$(tail -1 "$HERE/corpus-work/js.log" | sed 's/^fuzz: //')")
else
    echo "fuzz: js FAILED; log $HERE/corpus-work/js.log" >&2
    tail -20 "$HERE/corpus-work/js.log" >&2
    status=1
    summary+=("js: FAILED")
fi
printf 'fuzz: %s\n' "${summary[@]}"
exit $status
