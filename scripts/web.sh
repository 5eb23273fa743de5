#!/usr/bin/env bash
# Builds the web chat app into web/dist (what omtpd serves at / of its
# WebSocket listener, web_root): `npm ci` when web/node_modules is missing or
# older than web/package-lock.json, then `vite build` (after a type check)
# when web/dist is missing or older than any source of the app or the SDK.
# Used by `make run`, `make check` and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v npm >/dev/null 2>&1; then
    echo "web: npm is not installed: run scripts/deps.sh" >&2
    exit 1
fi

cd web
if [ ! -d node_modules/vite ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "web: installing the pinned toolchain (npm ci in web/)" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
fi

stamp=dist/index.html
if [ -f "$stamp" ] && [ -z "$(find src index.html vite.config.ts tsconfig.json package-lock.json \
    "$ROOT/sdk/js/src" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    exit 0
fi
echo "web: building web/dist (tsc --noEmit && vite build)" >&2
npx --no-install tsc --noEmit
npx --no-install vite build --logLevel warn
echo "web: built $(cd dist && pwd)" >&2
