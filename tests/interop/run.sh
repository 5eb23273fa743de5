#!/usr/bin/env bash
# Interop test: omtp's Tars codec against @tars/stream (pinned in
# package.json / package-lock.json). Usage: tests/interop/run.sh BUILD_DIR
# Installs the npm package on first use (npm ci), then runs interop.js,
# which prints "N passed, M failed" and exits non-zero on any failure.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
cd "$(dirname "$0")"
if [ ! -x "$BUILD/omtp" ]; then
    echo "interop: $BUILD/omtp not found (build first: make build)" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "interop: node is not installed (scripts/deps.sh installs it)" >&2
    exit 1
fi
if [ ! -d node_modules/@tars/stream ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec node interop.js "$BUILD/omtp"
