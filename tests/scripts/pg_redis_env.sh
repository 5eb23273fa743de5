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
# Everything lives in one mktemp -d directory (PostgreSQL's unix socket
# too). Ports are chosen BELOW the kernel's ephemeral range
# (net.ipv4.ip_local_port_range), so no outgoing connection or `--listen
# :0` server of a parallel test can ever be handed one of them; Redis
# listens on a random loopback address of its own (127.X.Y.Z), so while a
# failure test has it stopped nothing else can take its address:port, and
# omtp_redis_start brings it back on exactly the same one (and checks that
# what answers there is ours). PostgreSQL listens on 127.0.0.1.
#
# PostgreSQL refuses to run as root, so as root the cluster is initialised
# and run as the `postgres` system user (created by Debian's postgresql
# package) via runuser -- no systemd, no system cluster involved. Durability
# is off (fsync=off): these are throwaway databases; set
# OMTP_ENV_PG_FSYNC=on for benchmarks.
#
# Cleanup: the EXIT trap stops both servers and removes the directory on
# every exit path of the shell (error, INT, TERM); a watchdog (its own
# session, so a killed process group does not take it along) stops them too
# if that shell is killed with SIGKILL (e.g. by a ctest timeout).

omtp_env__die() {
    echo "pg_redis_env: $*" >&2
    return 1
}

# Ports we may use: below the ephemeral range (ip_local_port_range).
omtp_env__port_window() {
    local lo=32768 hi=60999
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    if [ "$lo" -gt 12000 ]; then
        echo "10000 $((lo - 1))"
    else # an unusual range starting low: use what lies above it
        echo "$((hi + 1)) 65535"
    fi
}

omtp_env__port_busy() { # HOST PORT
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

omtp_env__free_port() { # HOST
    local p i lo hi
    read -r lo hi <<<"$(omtp_env__port_window)"
    for i in $(seq 1 50); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        omtp_env__port_busy "$1" "$p" || {
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
        command -v runuser >/dev/null || {
            omtp_env__die "running as root needs runuser (util-linux)"
            return 1
        }
        # the data directory and the socket directory belong to postgres
        chown postgres "$OMTP_ENV_PG_DIR"
        chmod 755 "$OMTP_ENV_DIR"
    fi
    omtp_env__as_pg "$bin/initdb" -D "$OMTP_ENV_PG_DIR/data" -U omtp --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$OMTP_ENV_DIR/initdb.log" 2>&1 || {
        cat "$OMTP_ENV_DIR/initdb.log" >&2
        omtp_env__die "initdb failed"
        return 1
    }
    OMTP_ENV_PG_BIN=$bin
    for try in 1 2 3 4 5; do
        port=$(omtp_env__free_port 127.0.0.1) || break
        # -k: the unix socket (and its lock file) in our own directory, not
        # /var/run/postgresql (which a fresh machine may not have)
        OMTP_ENV_PG_STARTED=1
        if omtp_env__as_pg "$bin/pg_ctl" -D "$OMTP_ENV_PG_DIR/data" -l "$OMTP_ENV_PG_DIR/log" -w \
            -t 60 -o "-p $port -k $OMTP_ENV_PG_DIR -c listen_addresses=127.0.0.1 \
                -c fsync=${OMTP_ENV_PG_FSYNC:-off} -c synchronous_commit=${OMTP_ENV_PG_FSYNC:-off} \
                -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1; then
            OMTP_ENV_PG_PORT=$port
            break
        fi
        # a port taken meanwhile, or a slow start: make sure nothing is left
        omtp_env__as_pg "$bin/pg_ctl" -D "$OMTP_ENV_PG_DIR/data" -m immediate -w stop \
            >/dev/null 2>&1
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
    [ -n "${OMTP_ENV_PG_STARTED:-}" ] || return 0
    omtp_env__as_pg "$OMTP_ENV_PG_BIN/pg_ctl" -D "$OMTP_ENV_PG_DIR/data" -m immediate -w -t 60 \
        stop >/dev/null 2>&1
    OMTP_ENV_PG_STARTED=
    OMTP_ENV_PG_PORT=
}

# Whether the Redis at host:port is the one of this environment.
omtp_env__redis_ours() {
    redis-cli -h "$1" -p "$2" CONFIG GET dir 2>/dev/null | grep -qxF "$OMTP_ENV_DIR"
}

omtp_redis_start() {
    local try port host pid i
    command -v redis-server >/dev/null || {
        omtp_env__die "redis-server not found; run scripts/deps.sh"
        return 1
    }
    for try in 1 2 3 4 5 6 7 8 9 10; do
        if [ -n "${OMTP_ENV_REDIS_PORT:-}" ]; then # a restart: the same address
            host=$OMTP_ENV_REDIS_HOST
            port=$OMTP_ENV_REDIS_PORT
        else
            host=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
            port=$(omtp_env__free_port "$host") || continue
        fi
        # not daemonized: $! is its pid for sure, whatever happens next
        redis-server --port "$port" --bind "$host" --save '' --appendonly no \
            --daemonize no --dir "$OMTP_ENV_DIR" --logfile "$OMTP_ENV_DIR/redis.log" \
            </dev/null >/dev/null 2>&1 &
        pid=$!
        echo "$pid" >"$OMTP_ENV_DIR/redis.pid"
        for i in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break # could not bind: try again
            if omtp_env__redis_ours "$host" "$port"; then
                OMTP_ENV_REDIS_HOST=$host
                OMTP_ENV_REDIS_PORT=$port
                export OMTP_ENV_REDIS_HOST OMTP_TEST_REDIS="redis://$host:$port"
                return 0
            fi
            sleep 0.05
        done
        omtp_redis_stop
        # the same address again (restart): its old socket may still linger
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
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
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
    if [ -n "${OMTP_ENV_WATCHDOG:-}" ]; then
        kill "$OMTP_ENV_WATCHDOG" 2>/dev/null
        OMTP_ENV_WATCHDOG=
    fi
    if [ -n "${OMTP_ENV_DIR:-}" ] && [ -z "${OMTP_ENV_KEEP:-}" ]; then
        rm -rf "$OMTP_ENV_DIR"
    fi
}

# Stops what this environment started if the shell that owns it dies
# without running its EXIT trap (SIGKILL). Runs in a session of its own.
omtp_env__watchdog() {
    local owner=$$ bin=${OMTP_ENV_PG_BIN:-} dir=$OMTP_ENV_DIR
    command -v setsid >/dev/null || return 0
    setsid bash -c '
        owner=$1 dir=$2 bin=$3 aspg=$4
        while kill -0 "$owner" 2>/dev/null; do sleep 1; done
        [ -d "$dir" ] || exit 0
        [ -f "$dir/redis.pid" ] && kill -9 "$(cat "$dir/redis.pid")" 2>/dev/null
        if [ -n "$bin" ] && [ -f "$dir/pg/data/postmaster.pid" ]; then
            if [ "$aspg" = 1 ]; then
                runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -m immediate stop
            else
                "$bin/pg_ctl" -D "$dir/pg/data" -m immediate stop
            fi
        fi >/dev/null 2>&1
        rm -rf "$dir"
    ' omtp-env-watchdog "$owner" "$dir" "$bin" "$([ "$(id -u)" -eq 0 ] && echo 1)" \
        </dev/null >/dev/null 2>&1 &
    OMTP_ENV_WATCHDOG=$!
}

omtp_env_start() {
    OMTP_ENV_DIR=$(mktemp -d /tmp/omtp-env.XXXXXX) || return 1
    export OMTP_ENV_DIR
    trap omtp_env_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    OMTP_ENV_PG_BIN=$(omtp_env__pg_bin 2>/dev/null)
    omtp_env__watchdog
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
    redis-cli -h "$OMTP_ENV_REDIS_HOST" -p "$OMTP_ENV_REDIS_PORT" ping | grep -q PONG || {
        echo "FAIL: redis does not answer" >&2
        exit 1
    }
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    for p in "$OMTP_ENV_PG_PORT" "$OMTP_ENV_REDIS_PORT"; do
        [ "$p" -lt "$lo" ] || {
            echo "FAIL: port $p is inside the ephemeral range (from $lo)" >&2
            exit 1
        }
    done
    old=$OMTP_TEST_REDIS
    omtp_redis_stop
    omtp_redis_start || exit 1
    [ "$OMTP_TEST_REDIS" = "$old" ] && omtp_env__redis_ours "$OMTP_ENV_REDIS_HOST" \
        "$OMTP_ENV_REDIS_PORT" || {
        echo "FAIL: redis did not restart on its address ($old, now $OMTP_TEST_REDIS)" >&2
        exit 1
    }
    # every exit path cleans up: a child environment killed with SIGKILL
    # leaves no server behind (the watchdog)
    probe="$OMTP_ENV_DIR/probe"
    OMTP_ENV_NO_PG=1 bash "${BASH_SOURCE[0]}" -- bash -c \
        'echo "$OMTP_ENV_DIR $(cat "$OMTP_ENV_DIR/redis.pid")" >"$1"; kill -9 $PPID' \
        _ "$probe" >/dev/null 2>&1
    read -r cdir cpid <"$probe"
    for _ in $(seq 1 100); do
        kill -0 "$cpid" 2>/dev/null || [ -d "$cdir" ] || break
        sleep 0.1
    done
    if kill -0 "$cpid" 2>/dev/null || [ -d "$cdir" ]; then
        echo "FAIL: a SIGKILLed environment left redis (pid $cpid) or $cdir behind" >&2
        exit 1
    fi
    echo "pg_redis_env: PostgreSQL at $OMTP_TEST_PG, redis at $OMTP_TEST_REDIS: ok"
fi
