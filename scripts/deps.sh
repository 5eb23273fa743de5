#!/usr/bin/env bash
# Installs the Debian packages omtp needs to build, test and benchmark.
# A no-op when everything is already there. Uses sudo when not root.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libuv1-dev libsqlite3-dev zlib1g-dev libssl-dev libcmocka-dev libjansson-dev
  libmicrohttpd-dev libcurl4-openssl-dev libpq-dev libhiredis-dev
  libwslay-dev libhttp-parser-dev
  libmagic-dev libvips-dev
  postgresql redis-server tmux curl procps
  help2man logrotate openssl util-linux chromium
  python3
  sqlite3
  python3
)
# openssl: the SDK tests make a throw-away certificate; util-linux: flock.
# sqlite3: bench/presence.sh writes its friend fixture with it.
# chromium: the browser the web app's tests drive (tests/browser, puppeteer-core)
# Node.js and npm (for the @tars/stream interop test, sdk/js and web/) may come from outside
# Debian on some machines; install Debian's only when no npm is on PATH.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
