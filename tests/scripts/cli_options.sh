#!/usr/bin/env bash
# The omtp CLI's option handling against a real omtpd (issue 17):
# - an unknown option is an error on every subcommand (exit 2, the closest
#   known option suggested), and nothing is sent;
# - options go before or after the positionals; `--` ends them, so a text
#   may start with '-';
# - the password: --password-file (first line), a prompt without echo on a
#   terminal, a clear error without one;
# - --server takes a bare port (127.0.0.1:PORT) and refuses what it cannot
#   parse, saying why;
# - omtp --version / omtpd --version, the version in /healthz and in omtpd's
#   login log line;
# - a stable device id kept in $XDG_STATE_HOME/omtp/device-id (0600).
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg XDG_STATE_HOME=$tmp/state
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_PASSWORD_FILE OMTP_SERVER

out=
# t NAME EXPECTED_EXIT PATTERN COMMAND... (fixed-string PATTERN in stdout+stderr)
t() {
  local name=$1 want=$2 pat=$3; shift 3
  local rc
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
no() { # NAME PATTERN: the last output must not contain PATTERN
  if grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: output contains '$2':"; echo "$out" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob; do
  "$OMTPD" user add "$u" --password "$u-pw" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --http-listen 127.0.0.1:0 --http-port-file "$tmp/http_port" \
  --log-level info 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && [ -s "$tmp/http_port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
PORT=$(cat "$tmp/port")
export OMTP_SERVER=127.0.0.1:$PORT
printf 'alice-pw\nsecond line ignored\n' >"$tmp/alice.pw"
printf 'bob-pw\n' >"$tmp/bob.pw"
A=(--user alice --password-file "$tmp/alice.pw")
Bo=(--user bob --password-file "$tmp/bob.pw")

# ---- unknown options: exit 2, a suggestion, nothing sent ---------------------
t typo-after 2 "omtp send: unknown option --pasword; did you mean --password?" \
  "$OMTP" send bob hi --pasword x "${A[@]}"
t typo-middle 2 "unknown option --pasword; did you mean --password?" \
  "$OMTP" send bob --pasword x hello "${A[@]}"
t typo-json 2 "omtp history: unknown option --jsn; did you mean --json?" \
  "$OMTP" history bob --jsn "${A[@]}"
t typo-eq 2 "unknown option --sever; did you mean --server?" "$OMTP" login --sever=1 "${A[@]}"
t unknown-short 2 "unknown option -x" "$OMTP" sessions -x "${A[@]}"
t ambiguous 2 "ambiguous" "$OMTP" login --pass x --user alice
t cmd-typo 2 "unknown command 'sned'; did you mean send?" "$OMTP" sned
t typo-codec 2 "omtp codec: unknown option --prety; did you mean --pretty?" "$OMTP" codec decode --prety
for c in login send sessions history read revoke edit delete group friends user watch chat; do
  t "unknown-$c" 2 "omtp $c: unknown option --bogus" "$OMTP" "$c" --bogus "${A[@]}"
done
t nothing-sent 0 "(no messages in SC_alice_bob)" "$OMTP" history bob "${A[@]}"
no nothing-sent-text "pasword"

# ---- options anywhere, -- ends them -------------------------------------------
t opts-first 0 "sent to bob" "$OMTP" send "${A[@]}" bob hello first
t opts-last 0 "sent to bob" "$OMTP" send bob hello last "${A[@]}"
t dashdash 0 "sent to bob" "$OMTP" send "${A[@]}" bob -- -1 --not-an-option
t dash-text-needs-dashdash 2 "unknown option -1" "$OMTP" send bob -1 "${A[@]}"
t history-texts 0 "alice: -1 --not-an-option" "$OMTP" history bob "${A[@]}"
grep -qF "alice: hello first" <<<"$out" && grep -qF "alice: hello last" <<<"$out" &&
  echo "ok   history-both" || { echo "FAIL history-both:"; echo "$out"; fail=1; }

# ---- password ------------------------------------------------------------------
t pwfile 0 "logged in to 127.0.0.1:$PORT as alice" "$OMTP" login "${A[@]}"
OMTP_PASSWORD_FILE=$tmp/alice.pw t pwfile-env 0 "as alice" "$OMTP" login --user alice
printf 'password_file = %s\n' "$tmp/alice.pw" >"$tmp/cfg"
OMTP_CONFIG=$tmp/cfg t pwfile-config 0 "as alice" "$OMTP" login --user alice
OMTP_PASSWORD=alice-pw t password-env-kept 0 "as alice" "$OMTP" login --user alice
: >"$tmp/empty.pw"
t pwfile-empty 2 "is empty" "$OMTP" login --user alice --password-file "$tmp/empty.pw"
t pwfile-missing 2 "cannot read the password file $tmp/nope" \
  "$OMTP" login --user alice --password-file "$tmp/nope"
t no-password-no-tty 2 "no password for alice" "$OMTP" login --user alice
t wrong-password 1 "login as alice refused: wrong user id or password" "$OMTP" login --user alice --password nope
# on a terminal: a prompt, no echo, then the login
python3 - "$OMTP" "$tmp" <<'EOF' && echo "ok   prompt-no-echo" || { echo "FAIL prompt-no-echo"; fail=1; }
import os, pty, sys, time, select
omtp, tmp = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(omtp, [omtp, "login", "--user", "alice"])
buf = b""
def read_until(pat, secs):
    global buf
    end = time.time() + secs
    while pat not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
    return pat in buf
if not read_until(b"Password for alice", 10):
    print("no prompt:", buf); sys.exit(1)
os.write(fd, b"alice-pw\n")
ok = read_until(b"logged in", 10)
_, st = os.waitpid(pid, 0)
if not ok or os.WEXITSTATUS(st) != 0:
    print("no login:", buf, st); sys.exit(1)
if b"alice-pw" in buf:
    print("password echoed:", buf); sys.exit(1)
EOF

# ---- --server ------------------------------------------------------------------
t bare-port 0 "logged in to 127.0.0.1:$PORT" "$OMTP" login --server "$PORT" "${A[@]}"
t tcp-scheme 0 "logged in to 127.0.0.1:$PORT" "$OMTP" login --server "tcp://127.0.0.1:$PORT" "${A[@]}"
t v6-brackets 3 "cannot connect to ::1:1" "$OMTP" login --server "[::1]:1" "${A[@]}"
t v6-bare 2 "needs brackets" "$OMTP" login --server "::1" "${A[@]}"
t bad-port 2 "bad port" "$OMTP" login --server "127.0.0.1:99999" "${A[@]}"
t port-range 2 "port out of range" "$OMTP" login --server 70000 "${A[@]}"
t bad-scheme 2 "unknown scheme" "$OMTP" login --server "http://127.0.0.1:$PORT" "${A[@]}"
OMTP_SERVER=$PORT t bare-port-env 0 "logged in to 127.0.0.1:$PORT" "$OMTP" login "${A[@]}"

# ---- versions --------------------------------------------------------------------
t omtp-version 0 "omtp " "$OMTP" --version
V=${out#omtp }
[ -n "$V" ] && [ "$V" != "$out" ] && echo "ok   omtp-version-value ($V)" || { echo "FAIL omtp-version-value: $out"; fail=1; }
t omtpd-version 0 "omtpd $V" "$OMTPD" --version
HP=$(cat "$tmp/http_port")
h=$(curl -s "http://127.0.0.1:$HP/healthz")
grep -qF "\"version\": \"$V\"" <<<"$h" || grep -qF "\"version\":\"$V\"" <<<"$h" &&
  echo "ok   healthz-version" || { echo "FAIL healthz-version: $h"; fail=1; }
grep -qF "login alice dev=observer (password) client=omtp/$V" "$tmp/omtpd.log" &&
  echo "ok   login-log-version" || { echo "FAIL login-log-version:"; grep login "$tmp/omtpd.log" | tail -3; fail=1; }
grep -qF "omtpd $V starting" "$tmp/omtpd.log" && echo "ok   start-log-version" ||
  { echo "FAIL start-log-version"; head -3 "$tmp/omtpd.log"; fail=1; }

# ---- the device id ----------------------------------------------------------------
f=$tmp/state/omtp/device-id
if [ -f "$f" ] && [ "$(stat -c %a "$f")" = 600 ] && [ "$(wc -c <"$f")" -ge 17 ]; then
  echo "ok   device-id-file"
else
  echo "FAIL device-id-file: $(ls -l "$f" 2>&1)"; fail=1
fi
id1=$(cat "$f")
t device-id-again 0 "as alice" "$OMTP" login "${A[@]}"
[ "$(cat "$f")" = "$id1" ] && echo "ok   device-id-stable" || { echo "FAIL device-id-stable"; fail=1; }
XDG_STATE_HOME= t device-id-home 0 "as alice" "$OMTP" login "${A[@]}"
[ -f "$tmp/.local/state/omtp/device-id" ] && echo "ok   device-id-default-dir" ||
  { echo "FAIL device-id-default-dir"; fail=1; }

exit $fail
