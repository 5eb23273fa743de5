#!/usr/bin/env bash
# Browser tests of the web chat app (tests/browser/chat.test.mjs): the real
# omtpd serves web/dist on its WebSocket listener, Debian's chromium (driven
# by puppeteer-core, pinned in tests/browser/package-lock.json) logs in as
# alice and bob and chats. Builds the app first (scripts/web.sh: npm ci +
# vite build) when web/dist is missing or older than its sources.
# Usage: tests/scripts/web_browser.sh BUILD_DIR
# Screenshots of a failing step: BUILD_DIR/browser-failures/ (printed).
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "web_browser: $tool is not installed: run scripts/deps.sh" >&2
        exit 1
    fi
done
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$CHROMIUM" ]; then
    echo "web_browser: chromium is not installed: run scripts/deps.sh (Debian package chromium)" >&2
    exit 1
fi
[ -x "$BUILD/omtpd" ] || { echo "web_browser: $BUILD/omtpd not found: build first (make build)" >&2; exit 1; }
[ -x "$BUILD/omtp" ] || { echo "web_browser: $BUILD/omtp not found: build first (make build)" >&2; exit 1; }

# one build of web/dist at a time (the RelWithDebInfo and ASan runs of
# make check may start this script together)
exec 9>"$SRC/web/.build.lock"
flock 9
bash "$SRC/scripts/web.sh" >&2
flock -u 9

cd "$SRC/tests/browser"
exec 8>.npm.lock
flock 8
if [ ! -d node_modules/puppeteer-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
fi
flock -u 8

export OMTPD="$BUILD/omtpd" OMTP_CLI="$BUILD/omtp" CHROMIUM WEB_DIST="$SRC/web/dist"
export FAIL_DIR="$BUILD/browser-failures"
exec node --test --test-concurrency=1 --test-timeout=240000 chat.test.mjs
