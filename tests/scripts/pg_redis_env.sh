#!/usr/bin/env bash
# pg_redis_env.sh - a private PostgreSQL and a private redis-server for tests.
#
# Three ways to use it:
#
#   source tests/scripts/pg_redis_env.sh     # from a test script (bash)
#       starts both, exports OMTP_TEST_PG (postgresql://...) and
#       OMTP_TEST_REDIS (redis://127.0.0.1:PORT), and stops both when the
#       sourcing shell exits (EXIT trap). Register your own cleanup with
#       `omtp_env_at_exit 'kill $PID'` instead of replacing the trap.
#       OMTP_ENV_NO_PG=1 / OMTP_ENV_NO_REDIS=1 skip one of them.
#       omtp_redis_stop / omtp_redis_start stop and restart redis on the same
#       port (for failure tests).
#
#   bash tests/scripts/pg_redis_env.sh -- CMD ARGS...
#       starts both, runs CMD with the variables exported, stops both, and
#       exits with CMD's status (test_store_pg re-executes itself this way).
#
#   bash tests/scripts/pg_redis_env.sh BUILD_DIR
#       (how ctest runs every tests/scripts/*.sh) self-test: start both,
#       check that each answers, stop them.
#
# Everything lives in one mktemp -d directory on free ports of 127.0.0.1.
# PostgreSQL refuses to run as root, so as root the cluster is initialised
# and run as the `postgres` system user (created by Debian's postgresql
# package) via runuser. Durability is off (fsync=off): these are throwaway
# databases; set OMTP_ENV_PG_FSYNC=on for benchmarks.

omtp_env__die() {
    echo "pg_redis_env: $*" >&2
    return 1
}

omtp_env__port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

omtp_env__free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        omtp_env__port_busy "$p" || {
            echo "$p"
            return 0
        }
    done
    return 1
}

omtp_env__as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

omtp_env__pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
    echo "$d"
}

omtp_env_start_pg() {
    local bin try port
    bin=$(omtp_env__pg_bin) || {
        omtp_env__die "no PostgreSQL server found (/usr/lib/postgresql/*/bin/initdb); run scripts/deps.sh"
        return 1
    }
    OMTP_ENV_PG_DIR="$OMTP_ENV_DIR/pg"
    mkdir -p "$OMTP_ENV_PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        getent passwd postgres >/dev/null || {
            omtp_env__die "running as root needs the 'postgres' system user (apt-get install postgresql)"
            return 1
        }
        chown postgres "$OMTP_ENV_DIR" "$OMTP_ENV_PG_DIR"
        chmod 755 "$OMTP_ENV_DIR"
    fi
    omtp_env__as_pg "$bin/initdb" -D "$OMTP_ENV_PG_DIR/data" -U omtp --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$OMTP_ENV_DIR/initdb.log" 2>&1 || {
        cat "$OMTP_ENV_DIR/initdb.log" >&2
        omtp_env__die "initdb failed"
        return 1
    }
    for try in 1 2 3 4 5; do
        port=$(omtp_env__free_port) || break
        if omtp_env__as_pg "$bin/pg_ctl" -D "$OMTP_ENV_PG_DIR/data" -l "$OMTP_ENV_PG_DIR/log" -w \
            -t 30 -o "-p $port -k $OMTP_ENV_PG_DIR -c listen_addresses=127.0.0.1 \
                -c fsync=${OMTP_ENV_PG_FSYNC:-off} -c synchronous_commit=${OMTP_ENV_PG_FSYNC:-off} \
                -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1; then
            OMTP_ENV_PG_PORT=$port
            OMTP_ENV_PG_BIN=$bin
            break
        fi
    done
    [ -n "${OMTP_ENV_PG_PORT:-}" ] || {
        tail -n 20 "$OMTP_ENV_PG_DIR/log" >&2 2>/dev/null
        omtp_env__die "PostgreSQL did not start"
        return 1
    }
    omtp_env__as_pg "$bin/createdb" -h 127.0.0.1 -p "$OMTP_ENV_PG_PORT" -U omtp omtp || {
        omtp_env__die "createdb failed"
        return 1
    }
    export OMTP_TEST_PG="postgresql://omtp@127.0.0.1:$OMTP_ENV_PG_PORT/omtp"
}

omtp_env_stop_pg() {
    [ -n "${OMTP_ENV_PG_PORT:-}" ] || return 0
    omtp_env__as_pg "$OMTP_ENV_PG_BIN/pg_ctl" -D "$OMTP_ENV_PG_DIR/data" -m immediate -w stop \
        >/dev/null 2>&1
    OMTP_ENV_PG_PORT=
}

omtp_redis_start() {
    local try port
    command -v redis-server >/dev/null || {
        omtp_env__die "redis-server not found; run scripts/deps.sh"
        return 1
    }
    for try in 1 2 3 4 5; do
        port=${OMTP_ENV_REDIS_PORT:-$(omtp_env__free_port)}
        rm -f "$OMTP_ENV_DIR/redis.pid"
        if redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --daemonize yes --pidfile "$OMTP_ENV_DIR/redis.pid" \
            --logfile "$OMTP_ENV_DIR/redis.log" --dir "$OMTP_ENV_DIR" >/dev/null 2>&1; then
            local i
            for i in $(seq 1 100); do
                if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
                    OMTP_ENV_REDIS_PORT=$port
                    export OMTP_TEST_REDIS="redis://127.0.0.1:$port"
                    return 0
                fi
                sleep 0.05
            done
        fi
        # a fixed port (restart) that did not come up: wait and retry
        [ -n "${OMTP_ENV_REDIS_PORT:-}" ] && sleep 0.2
    done
    tail -n 20 "$OMTP_ENV_DIR/redis.log" >&2 2>/dev/null
    omtp_env__die "redis-server did not start"
    return 1
}

omtp_redis_stop() {
    local pid
    [ -f "$OMTP_ENV_DIR/redis.pid" ] || return 0
    pid=$(cat "$OMTP_ENV_DIR/redis.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    rm -f "$OMTP_ENV_DIR/redis.pid"
}

OMTP_ENV_AT_EXIT=()
omtp_env_at_exit() {
    OMTP_ENV_AT_EXIT+=("$1")
}

omtp_env_stop() {
    local cmd
    for cmd in "${OMTP_ENV_AT_EXIT[@]}"; do
        eval "$cmd" 2>/dev/null || true
    done
    OMTP_ENV_AT_EXIT=()
    omtp_redis_stop
    omtp_env_stop_pg
    if [ -n "${OMTP_ENV_DIR:-}" ] && [ -z "${OMTP_ENV_KEEP:-}" ]; then
        rm -rf "$OMTP_ENV_DIR"
    fi
}

omtp_env_start() {
    OMTP_ENV_DIR=$(mktemp -d /tmp/omtp-env.XXXXXX) || return 1
    export OMTP_ENV_DIR
    trap omtp_env_stop EXIT
    trap 'exit 130' INT TERM
    if [ -z "${OMTP_ENV_NO_PG:-}" ]; then
        omtp_env_start_pg || return 1
    fi
    if [ -z "${OMTP_ENV_NO_REDIS:-}" ]; then
        omtp_redis_start || return 1
    fi
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # sourced
    omtp_env_start || return 1
elif [ "${1:-}" = "--" ]; then
    shift
    omtp_env_start || exit 1
    "$@"
    exit $?
else
    # self-test (ctest runs this with the build dir)
    set -u
    omtp_env_start || exit 1
    "$OMTP_ENV_PG_BIN/psql" -X -h 127.0.0.1 -p "$OMTP_ENV_PG_PORT" -U omtp -d omtp -tAc 'SELECT 1' |
        grep -qx 1 || {
        echo "FAIL: PostgreSQL does not answer" >&2
        exit 1
    }
    redis-cli -p "$OMTP_ENV_REDIS_PORT" ping | grep -q PONG || {
        echo "FAIL: redis does not answer" >&2
        exit 1
    }
    omtp_redis_stop
    omtp_redis_start || exit 1
    redis-cli -p "$OMTP_ENV_REDIS_PORT" ping | grep -q PONG || {
        echo "FAIL: redis did not restart on its port" >&2
        exit 1
    }
    echo "pg_redis_env: PostgreSQL at $OMTP_TEST_PG, redis at $OMTP_TEST_REDIS: ok"
fi
