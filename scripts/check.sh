#!/usr/bin/env bash
# make check: installs what is missing, builds, and runs every suite:
#   1. clang-format check        4. ctest under ASan+UBSan
#   2. Release build (compiles   5. fuzz: each libFuzzer target briefly
#      only: one pass/fail)      6. interop against @tars/stream
#   3. ctest (RelWithDebInfo)
# ctest gives a failing test one more run (--repeat until-pass:2) so that a
# test losing a race with a loaded machine does not hide every other result;
# a test that needed the second run is listed at the end. The last line is
# "check: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=${BUILD:-build}
BUILD_ASAN=${BUILD_ASAN:-build-asan}
BUILD_FUZZ=${BUILD_FUZZ:-build-fuzz}
BUILD_REL=${BUILD_REL:-build-release}

passed=0
failed=0
failures=()
retried=()

note() { printf '\n== %s\n' "$*"; }

count_ctest() { # $1 = label, $2 = log
    local line p f total
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$2" | tail -1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        failures+=("$1: ctest did not run")
        return
    fi
    f=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    p=$((total - f))
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -gt 0 ] && failures+=("$1: $f of $total tests failed")
    # tests that failed once and passed on the repeat
    while read -r t; do
        [ -n "$t" ] && retried+=("$1: $t")
    done < <(grep -E 'Test +#[0-9]+: .*\*\*\*' "$2" | sed -E 's/.*Test +#[0-9]+: ([^ ]+).*/\1/' | sort -u)
}

run_ctest() { # $1 = label, $2 = build dir, rest = env
    local label=$1 dir=$2
    shift 2
    local log
    log=$(mktemp)
    (cd "$dir" && env "$@" ctest --output-on-failure -j "$JOBS" --repeat until-pass:2) 2>&1 | tee "$log"
    count_ctest "$label" "$log"
    rm -f "$log"
}

note "dependencies"
bash scripts/deps.sh || { echo "check: dependency install failed" >&2; exit 1; }

note "build (release, ASan+UBSan, fuzz)"
make -s build build-asan build-fuzz || { echo "check: 0 passed, 1 failed (build)"; exit 1; }

note "clang-format"
if git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    failures+=("clang-format: run 'make format'")
fi

note "build (Release: compiles only, -O3 finds warnings the others miss)"
if make -s build-release BUILD_REL="$BUILD_REL"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    failures+=("Release build: see the compiler errors above (make build-release)")
fi

note "tests (RelWithDebInfo build)"
run_ctest release "$BUILD"

note "tests (ASan+UBSan)"
run_ctest asan "$BUILD_ASAN" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

note "fuzz"
log=$(mktemp)
bash tests/fuzz/run.sh "$BUILD_FUZZ" 2>&1 | tee "$log"
fz=${PIPESTATUS[0]}
n=$(grep -c '^fuzz: .* for ' "$log")
if [ "$fz" -eq 0 ]; then
    passed=$((passed + n))
else
    failed=$((failed + 1))
    failures+=("fuzz: a target failed (see above)")
fi
rm -f "$log"

note "interop with @tars/stream"
log=$(mktemp)
bash tests/interop/run.sh "$BUILD" 2>&1 | tee "$log"
io=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ "$io" -eq 0 ] && [ -n "$line" ]; then
    passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
else
    failed=$((failed + 1))
    failures+=("interop: ${line:-did not run}")
fi
rm -f "$log"

echo
for r in "${retried[@]+"${retried[@]}"}"; do echo "check: passed only on the second run: $r"; done
for f in "${failures[@]+"${failures[@]}"}"; do echo "check: FAILED: $f"; done
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
