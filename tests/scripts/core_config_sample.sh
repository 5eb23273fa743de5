#!/usr/bin/env bash
# Every omtpd setting is documented in omtpd.conf.sample, and the sample with
# every line uncommented is a valid config.
set -euo pipefail
BUILD=$1
SRC=${OMTP_SRC:-$(dirname "$0")/../..}
SAMPLE="$SRC/omtpd.conf.sample"
fail=0
for opt in $("$BUILD/omtpd" --help | sed -n 's/^  --\([a-z0-9-]*\) .*/\1/p'); do
  case $opt in config|store|redis|help|version) continue ;; esac
  key=${opt//-/_}
  grep -q "^#$key =" "$SAMPLE" || { echo "omtpd.conf.sample lacks $key"; fail=1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/^#\([a-z_]* =.*\)$/\1/p' "$SAMPLE" > "$tmp/all.conf"
echo "data_dir = $tmp/data" >> "$tmp/all.conf"
mkdir -p "$tmp/data"
"$BUILD/omtpd" init --config "$tmp/all.conf" >/dev/null && "$BUILD/omtpd" user list --config "$tmp/all.conf" || { echo "the uncommented sample does not load"; fail=1; }
exit $fail
