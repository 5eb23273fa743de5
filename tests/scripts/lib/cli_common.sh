# cli_common.sh - sourced by the CLI script tests (cli_e2e.sh, cli_react.sh, cli_search.sh):
# users alice, bob and carol, or CLI_USERS (password = id), one omtpd on a free port with
# OMTP_SERVER pointing at it, a private HOME, and the checks
#   t NAME EXPECTED_EXIT PATTERN USER COMMAND...   (output left in $out)
#   no NAME PATTERN                                (not in the last output)
# Needs B (the build dir) set; leaves `fail` for the script's exit status.
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
WPID=
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_HTTP OMTP_TOKEN

# t NAME EXPECTED_EXIT PATTERN USER COMMAND... : runs `omtp COMMAND --user USER
# --password USER`, checks the exit code and that PATTERN (fixed string) is in
# the output; the output is left in $out for further checks.
out=
t() {
  local name=$1 want=$2 pat=$3 user=$4; shift 4
  local rc
  out=$(timeout 20 "$OMTP" "$@" --user "$user" --password "$user" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
# no NAME PATTERN : the last output must NOT contain PATTERN
no() {
  if grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: output contains '$2':"; echo "$out" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in ${CLI_USERS:-alice bob carol}; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
# CLI_HTTP=1: also the HTTP API (API key $CLI_API_KEY), OMTP_HTTP pointing at
# it; CLI_OMTPD_ARGS: more omtpd flags.
CLI_API_KEY=cli-test-key
http_args=()
[ "${CLI_HTTP:-0}" = 1 ] &&
  http_args=(--http-listen 127.0.0.1:0 --http-port-file "$tmp/hport" --api-keys "$CLI_API_KEY")
# shellcheck disable=SC2086
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn --revoke-limit-s 0 "${http_args[@]}" ${CLI_OMTPD_ARGS:-} 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")
if [ "${CLI_HTTP:-0}" = 1 ]; then
  for _ in $(seq 1 100); do [ -s "$tmp/hport" ] && break; sleep 0.05; done
  [ -s "$tmp/hport" ] || { echo "omtpd's HTTP API did not start"; cat "$tmp/omtpd.log"; exit 1; }
  export OMTP_HTTP=http://127.0.0.1:$(cat "$tmp/hport")
fi
