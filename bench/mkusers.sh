#!/usr/bin/env bash
# Creates benchmark users PREFIX0 .. PREFIX<N-1> with one password, using
# `omtpd user add` on the server's data directory (run it while the server
# is stopped, or on a data directory the server shares).
#
#   bench/mkusers.sh [-j JOBS] OMTPD DATA_DIR PREFIX COUNT PASSWORD [START]
#
# Password hashing is deliberately slow, so users are created JOBS at a time
# (default: the number of cores). Existing users are reported and skipped.
set -euo pipefail

jobs=$(nproc 2>/dev/null || echo 2)
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
if [ $# -lt 5 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
omtpd=$1 data=$2 prefix=$3 count=$4 password=$5 start=${6:-0}
[ -x "$omtpd" ] || { echo "mkusers: $omtpd is not an executable omtpd" >&2; exit 2; }
mkdir -p "$data"
# admin commands never create a store: make it once (nothing happens if it exists)
"$omtpd" init --data-dir "$data" >/dev/null || exit 1
end=$((start + count - 1))
seq "$start" "$end" | xargs -P "$jobs" -I{} sh -c \
  '"$0" user add "$1{}" --password "$2" --data-dir "$3" >/dev/null 2>&1 || echo "mkusers: could not add $1{} (exists?)" >&2' \
  "$omtpd" "$prefix" "$password" "$data"
echo "mkusers: users $prefix$start .. $prefix$end ready in $data"
