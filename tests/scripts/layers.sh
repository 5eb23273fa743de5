#!/usr/bin/env bash
# The layers stay layered (docs/architecture.md): a layer includes only the
# layers below it, and the build refuses an include pointing up.
#
#   1. the compiler: every probe tests/layers/<layer>_sees_<upper>.c is built
#      (target layer_probe_<layer>_sees_<upper>, the include directories of
#      omtp_<layer>); it must fail on its forbidden header, and only there
#      (the layer's own header, included first, must be found);
#   2. the sources: every '#include "dir/..."' in src/tars, proto, client,
#      util, store, cluster and the server folders (core < domain < hooks <
#      omtp, http < omtpd) names an allowed layer, and no include climbs out
#      of its folder with "../". http may still include omtp (one library,
#      omtpd_adapters; docs/architecture.md "still to move").
set -u
B=${1:?build dir}
SRC=${OMTP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# 1. the compiler refuses each probe's upward include
n=0
for probe in "$SRC"/tests/layers/*_sees_*.c; do
    name=$(basename "$probe" .c)
    up=$(grep -E '^#include "' "$probe" | tail -1 | sed -E 's/^#include "([^"]+)".*/\1/')
    own=$(grep -E '^#include "' "$probe" | head -1 | sed -E 's/^#include "([^"]+)".*/\1/')
    out=$(timeout 120 cmake --build "$B" --target "layer_probe_$name" 2>&1)
    rc=$?
    n=$((n + 1))
    if [ "$rc" -eq 0 ]; then
        bad "$name: compiled, so ${name%%_sees_*} can include $up"
    elif grep -qE "$own'?(: No such file| file not found)" <<<"$out"; then
        bad "$name: its own header $own was not found (layer include directory broken?)"
        echo "$out" | tail -5
    elif grep -qE "$up'?(: No such file| file not found)" <<<"$out"; then
        ok "$name: $up is out of reach"
    else
        bad "$name: failed, but not on $up:"
        echo "$out" | tail -10
    fi
done
[ "$n" -ge 14 ] || bad "only $n layer probes in tests/layers (expected at least 14)"

# 2. the sources name only allowed layers
check_dir() { # folder (under src), allowed first path components...
    local dir=$1
    shift
    local allowed=" $* " line inc top
    while IFS= read -r line; do
        inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
        case "$inc" in
        */*)
            top=${inc%%/*}
            if [ "$top" = ".." ] || [[ "$inc" == *../* ]]; then
                bad "${line%%:*}: includes \"$inc\" (climbs out of its folder)"
            elif [[ "$allowed" != *" $top "* ]] && [ ! -e "$(dirname "$SRC/${line%%:*}")/$inc" ]; then
                bad "${line%%:*}: includes \"$inc\"; $dir may include only: $*"
            fi
            ;;
        esac
    done < <(cd "$SRC" && grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "src/$dir" |
        sed -E 's/^([^:]+):[0-9]+:/\1:/')
}
before=$fail
check_dir tars tars
check_dir proto tars proto
check_dir client tars proto client
check_dir util util
check_dir store util tars proto store
check_dir cluster util tars proto cluster
check_dir core util tars proto store cluster core
check_dir domain util tars proto store cluster core domain
check_dir hooks util tars proto store cluster core domain hooks
check_dir omtp util tars proto store cluster core domain hooks omtp
check_dir http util tars proto store cluster core domain hooks omtp http
check_dir omtpd util tars proto store cluster core domain omtp http hooks omtpd
[ "$fail" = "$before" ] && ok "src/tars, proto, client, util, store, cluster, core, hooks, domain, omtp, http, omtpd include only layers below them"

exit $fail
