#!/usr/bin/env bash
# The TypeScript SDK's chat throughput against omtpd, TCP and WebSocket
# interleaved (sdk/js/scripts/bench.mjs). Usage: bench/sdk_js.sh BUILD_DIR
# [N] [WINDOW] [ROUNDS]. Prints a markdown table for bench/RESULTS.md.
set -euo pipefail
B=$(cd "${1:?build dir}" && pwd)
SDK="$(cd "$(dirname "$0")/.." && pwd)/sdk/js"
bash "$SDK/scripts/prepare.sh" >/dev/null
cd "$SDK"
exec node scripts/bench.mjs --omtpd "$B/omtpd" --n "${2:-3000}" --window "${3:-64}" --rounds "${4:-3}"
