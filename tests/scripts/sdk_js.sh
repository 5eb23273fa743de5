#!/usr/bin/env bash
# The TypeScript SDK (sdk/js, @omtp/client): installs its pinned packages
# (npm ci, from sdk/js/package-lock.json) when they are missing or stale,
# builds it (codec freshness check, tsc, the browser bundle with its gzip
# size), and runs its tests with Node's test runner against this build's
# omtpd and omtp (codec byte-identity with the C codec both ways, the client
# over TCP, TLS and -- when omtpd has --ws-listen -- WebSocket).
# Usage: tests/scripts/sdk_js.sh BUILD_DIR
set -euo pipefail
B=$(cd "${1:?build dir}" && pwd)
SDK="$(cd "$(dirname "$0")/../.." && pwd)/sdk/js"
for bin in omtpd omtp; do
    [ -x "$B/$bin" ] || { echo "sdk_js: $B/$bin not found (build first: make build)" >&2; exit 1; }
done
# one run at a time per checkout: `make check` runs the RelWithDebInfo and
# the ASan ctest side by side, and both use sdk/js/node_modules and dist/
exec 9>"$SDK/.sdk_js.lock"
flock 9
SDK_JS_LOCKED=1 bash "$SDK/scripts/prepare.sh"
cd "$SDK"
OMTPD="$B/omtpd" OMTP_CLI="$B/omtp" exec node --test --test-concurrency=1 --test-timeout=120000 test/
