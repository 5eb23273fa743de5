#!/usr/bin/env bash
# prepare.sh - makes sdk/js ready to run: installs the pinned npm packages
# (npm ci from package-lock.json) when node_modules is missing or was
# installed from another lock file, then builds (scripts/build.mjs: codec
# freshness check, tsc, the browser bundle). Used by
# tests/scripts/sdk_js.sh and tests/fuzz/run.sh. Nothing is fetched when the
# packages are already there. Holds sdk/js/.sdk_js.lock while it works, so
# parallel ctest runs (RelWithDebInfo and ASan) do not install over each
# other; the caller may keep holding it (fd 9) while it runs the tests.
set -euo pipefail
SDK=$(cd "$(dirname "$0")/.." && pwd)
cd "$SDK"
command -v node >/dev/null || { echo "sdk/js: node is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
if [ "${SDK_JS_LOCKED:-}" != 1 ]; then
    exec 9>"$SDK/.sdk_js.lock"
    flock 9
fi
if ! cmp -s package-lock.json node_modules/.omtp-stamp 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    cp package-lock.json node_modules/.omtp-stamp
fi
node scripts/build.mjs
