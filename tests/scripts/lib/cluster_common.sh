# cluster_common.sh - sourced by tests/scripts/cluster_*.sh (not a test).
#
#   BUILD=<build dir>; source "$(dirname "$0")/lib/cluster_common.sh"
#   cl_start_node NAME           starts omtpd NAME on PostgreSQL + Redis (with
#                                --req-rate 0: the drivers send flat out);
#                                sets NODE_<NAME>=127.0.0.1:PORT, PID_<NAME>
#                                ($CL_NODE_CONFIG, if set: a config file for it)
#   cl_users PREFIX N            creates PREFIX-u0 .. PREFIX-u{N-1} (password pw)
#   cl_drv ARGS...               runs the test driver
#   cl_wait_log NAME PATTERN [S] waits (bounded, default 30 s) until node
#                                NAME's log has a line matching PATTERN
#
# Every wait is bounded polling on a condition, never a fixed sleep.
# Skips (exit 77) when PostgreSQL or redis-server is not installed, unless
# $CI is set (CI must run these: scripts/deps.sh installs both).

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OMTPD="$BUILD/omtpd"
DRV="$BUILD/omtp_cluster_drv"

cl_skip() {
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI must run the cluster tests: run scripts/deps.sh)" >&2
        exit 1
    fi
    echo "SKIPPED: $*" >&2
    exit 77
}

ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || cl_skip "no PostgreSQL server installed"
command -v redis-server >/dev/null || cl_skip "no redis-server installed"
[ -x "$OMTPD" ] || { echo "FAIL: $OMTPD not built" >&2; exit 1; }
[ -x "$DRV" ] || { echo "FAIL: $DRV not built" >&2; exit 1; }

# shellcheck source=../pg_redis_env.sh
source "$HERE/pg_redis_env.sh" || { echo "FAIL: could not start PostgreSQL/redis" >&2; exit 1; }
CL_DIR="$OMTP_ENV_DIR"

# (load generators connect from 127.0.0.1 only: no per-address cap)
cl_start_node() {
    local name=$1 pf="$CL_DIR/$1.port" pid
    rm -f "$pf"
    "$OMTPD" ${CL_NODE_CONFIG:+--config "$CL_NODE_CONFIG"} \
        --listen 127.0.0.1:0 --port-file "$pf" --data-dir "$CL_DIR/$name.data" \
        --store "$OMTP_TEST_PG" --redis "$OMTP_TEST_REDIS" --node-id "$name" \
        --http-listen 127.0.0.1:0 --http-port-file "$CL_DIR/$name.http" \
        --max-conns-per-ip 0 --log-level "${CL_LOG_LEVEL:-info}" --req-rate 0 \
        >"$CL_DIR/$name.log" 2>&1 &
    pid=$!
    omtp_env_at_exit "kill -9 $pid"
    for _ in $(seq 1 600); do
        [ -s "$pf" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ ! -s "$pf" ]; then
        echo "FAIL: node $name did not start:" >&2
        tail -n 20 "$CL_DIR/$name.log" >&2
        exit 1
    fi
    # the node is listening; wait until it reached Redis too (cross-node
    # pushes before that would be dropped)
    cl_wait_log "$name" "connected to Redis" || {
        echo "FAIL: node $name did not reach Redis:" >&2
        tail -n 20 "$CL_DIR/$name.log" >&2
        exit 1
    }
    eval "NODE_$name=127.0.0.1:$(cat "$pf")"
    for _ in $(seq 1 100); do [ -s "$CL_DIR/$name.http" ] && break; sleep 0.05; done
    eval "HTTP_$name=127.0.0.1:$(cat "$CL_DIR/$name.http")"
    eval "PID_$name=$pid"
}

# cl_metric NODE NAME: the value of one /metrics line of that node ("" if absent)
cl_metric() {
    local hp
    eval "hp=\$HTTP_$1"
    curl -s "http://$hp/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

cl_wait_log() {
    local name=$1 pat=$2 secs=${3:-30} i
    for i in $(seq 1 $((secs * 20))); do
        grep -q -- "$pat" "$CL_DIR/$name.log" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

cl_users() {
    local p=$1 n=$2 i
    "$OMTPD" init --store "$OMTP_TEST_PG" >/dev/null
    for i in $(seq 0 $((n - 1))); do
        "$OMTPD" user add "${p}-u$i" --password pw --store "$OMTP_TEST_PG" >/dev/null 2>"$CL_DIR/useradd.err" || {
            echo "FAIL: cannot create user ${p}-u$i:" >&2
            cat "$CL_DIR/useradd.err" >&2
            exit 1
        }
    done
}

cl_drv() {
    # the driver's client threads exit with the codec's per-thread scratch
    # buffers still allocated (a known libomtp issue): no leak check for the
    # test client itself under ASan
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$DRV" "$@"
}

cl_logs_on_failure() {
    local f
    for f in "$CL_DIR"/*.log; do
        echo "---- $(basename "$f") (last 30 lines)" >&2
        tail -n 30 "$f" >&2
    done
}

# Folds one step's exit status into $rc: any failure wins over a skip (77),
# a skip over success.
cl_rc() {
    local s=$1
    if [ "$s" -eq 77 ]; then
        [ "$rc" -eq 0 ] && rc=77
    elif [ "$s" -ne 0 ]; then
        rc=1
    fi
}

cl_finish() {
    [ "$rc" -eq 1 ] && cl_logs_on_failure
    exit "$rc"
}
