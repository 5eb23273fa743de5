#!/usr/bin/env bash
# Installs the pinned local S3 server (s3rver, tests/s3/package-lock.json)
# with npm ci when node_modules is missing or older than the lock file. One
# install at a time per checkout (make check runs the RelWithDebInfo and ASan
# ctest side by side). The S3 tests call it before starting s3server.js; it
# needs the npm registry only the first time.
set -euo pipefail
cd "$(dirname "$0")"
for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "tests/s3: $tool is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
done
exec 9>.npm.lock
flock 9
if [ ! -d node_modules/s3rver ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
fi
