#!/usr/bin/env bash
# Attack replay, cluster mode (PostgreSQL + Redis): the login defences hold
# on a cluster node as on a single node -- per node (docs/server-core.md):
#   - wrong passwords in a row at one account are delayed by the account's
#     backoff (omtp_logins_delayed_total{by="account"});
#   - an unknown user id costs a password check like a known one
#     (omtp_login_password_checks_total counts both);
#   - the real user still logs in, on the other node as well.
BUILD=${1:?usage: cluster_login_guard.sh BUILD_DIR}
source "$(dirname "$0")/../scripts/lib/cluster_common.sh"
OMTP="$BUILD/omtp"

cl_start_node A
cl_start_node B
cl_users lg 1
rc=0
bad() { echo "FAIL: $*"; rc=1; }
login() { # NODE USER PASSWORD: the CLI's exit status (0 = logged in)
    "$OMTP" sessions --server "$1" --user "$2" --password "$3" >/dev/null 2>"$CL_DIR/cli.err"
}

checks0=$(cl_metric A omtp_login_password_checks_total)
for i in 1 2 3 4; do
    login "$NODE_A" lg-u0 "wrong-$i" && bad "wrong password $i logged in"
done
login "$NODE_A" nobody-here wrong && bad "an unknown id logged in"
checks=$(cl_metric A omtp_login_password_checks_total)
[ "$((checks - checks0))" -eq 5 ] ||
    bad "password checks went from $checks0 to $checks, want +5 (unknown ids cost a check too)"
[ "$(cl_metric A 'omtp_login_failures_total{reason="credentials"}')" -ge 5 ] ||
    bad "omtp_login_failures_total{reason=\"credentials\"} < 5"
delayed=$(cl_metric A 'omtp_logins_delayed_total{by="account"}')
[ "${delayed:-0}" -ge 2 ] || bad "account backoff did not delay wrong passwords in a row ($delayed)"
# per node: node B has seen no failure of lg-u0, and the real user logs in
# there at once; on node A after the backoff
login "$NODE_B" lg-u0 pw || bad "the real user cannot log in on node B: $(cat "$CL_DIR/cli.err")"
[ "$(cl_metric B 'omtp_logins_delayed_total{by="account"}')" = 0 ] ||
    bad "node B delayed a login it had no failure for"
for _ in $(seq 1 40); do login "$NODE_A" lg-u0 pw && break; sleep 0.25; done ||
    bad "the real user cannot log in on node A after the backoff: $(cat "$CL_DIR/cli.err")"
[ $rc = 0 ] && echo "ok: per-account backoff and the dummy hash work on cluster nodes (per node)"
cl_finish
