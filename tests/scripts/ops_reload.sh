#!/usr/bin/env bash
# Reload without a restart: after the config file changes, SIGHUP applies
# the settings that can change safely (here: a new API key works and the old
# one stops, the log level changes) and logs which settings changed (names,
# never values) and which need a restart (their running values kept); a
# config that does not load changes nothing and says why.
set -u
B=${1:?build dir}
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
HPID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$HPID" ] && kill "$HPID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
# a before-send hook: /allow lets every message through, /refuse refuses
cat >"$tmp/hook.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out = b"" if self.path == "/allow" else json.dumps({"allow": False, "desc": "refused by /refuse"}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$tmp/hook.py" "$tmp/hookport" & HPID=$!
for _ in $(seq 1 50); do [ -s "$tmp/hookport" ] && break; sleep 0.1; done
HOOK=http://127.0.0.1:$(cat "$tmp/hookport")
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG
send() { "$B/omtp" send bob "$1" --server "127.0.0.1:$(cat "$tmp/port")" --user alice --password pw >/dev/null 2>&1; }
conf() { # api key, log level, max_conns, hook path
  cat >"$tmp/omtpd.conf" <<EOF
listen = 127.0.0.1:0
port_file = $tmp/port
http_listen = 127.0.0.1:0
http_port_file = $tmp/hport
data_dir = $tmp/data
api_keys = app=$1
log_level = $2
max_conns = $3
before_send_url = $HOOK/$4
log_file = $tmp/omtpd.log
EOF
}
status() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$H/v1/users/alice"; }
# waits until the log has N lines matching PATTERN
wait_log() { for _ in $(seq 1 50); do [ "$(grep -c -- "$1" "$tmp/omtpd.log")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
"$OMTPD" user add alice --password pw --data-dir "$tmp/data" >/dev/null 2>&1
"$OMTPD" user add bob --password pw --data-dir "$tmp/data" >/dev/null 2>&1
conf oldKeyS3cret1 info 100 allow
"$OMTPD" --config "$tmp/omtpd.conf" --req-rate 30 2>"$tmp/stderr" & PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/hport" ] && break; sleep 0.1; done
[ -s "$tmp/hport" ] || { echo "omtpd did not start"; cat "$tmp/stderr" "$tmp/omtpd.log"; exit 1; }
H=http://127.0.0.1:$(cat "$tmp/hport")
[ "$(status oldKeyS3cret1)" = 200 ] && ok "old-key-before" || bad "the configured key is refused"
curl -s -o /dev/null "$H/healthz"
grep -q "path=/healthz" "$tmp/omtpd.log" && bad "a debug line at log_level info"
send "before" && ok "hook-allows-before" || bad "the /allow hook refused"

# new key, debug level, and a setting that needs a restart
conf newKeyS3cret2 debug 5 refuse
kill -HUP "$PID"
wait_log "reload: applied" 1 && ok "reload-logged" || bad "no 'reload: applied' line"
[ "$(status newKeyS3cret2)" = 200 ] && ok "new-key-works" || bad "the new key is refused after SIGHUP"
[ "$(status oldKeyS3cret1)" = 401 ] && ok "old-key-refused" || bad "the old key still works after SIGHUP"
grep -q "reload: applied.*log_level" "$tmp/omtpd.log" && grep -q "reload: applied.*api_keys" "$tmp/omtpd.log" &&
  ok "applied-names" || bad "the reload line does not name log_level and api_keys"
grep -q "need a restart (running values kept): max_conns" "$tmp/omtpd.log" && ok "restart-needed-named" ||
  bad "max_conns is not named as needing a restart"
curl -s -o /dev/null "$H/healthz"
wait_log "path=/healthz" 1 && ok "log-level-applied" || bad "no debug line after log_level = debug"
send "after" && bad "the new before_send_url was not applied (message allowed)" || ok "hook-url-applied"
grep -q "req_rate" "$tmp/omtpd.log" && bad "req_rate (given on the command line) was reported as changed"

# a broken file: nothing changes, the log says why
echo "api_keys_typo = x" >>"$tmp/omtpd.conf"
kill -HUP "$PID"
wait_log "reload refused, nothing changed" 1 && ok "bad-config-refused" || bad "no refusal for a broken config"
grep -q "omtpd.conf:11: unknown setting 'api_keys_typo'" "$tmp/omtpd.log" && ok "bad-config-says-where" ||
  bad "the refusal does not name file:line and the key"
[ "$(status newKeyS3cret2)" = 200 ] && ok "keys-kept-after-bad-config" || bad "a broken config changed the keys"
kill -0 "$PID" 2>/dev/null && ok "still-running" || bad "omtpd died"

kill "$PID"; wait "$PID"; rc=$?; PID=
[ "$rc" = 0 ] && ok "clean-exit" || { bad "omtpd exit $rc after SIGTERM"; tail -30 "$tmp/stderr"; }
if grep -q "S3cret" "$tmp/omtpd.log" "$tmp/stderr"; then bad "a key is in the log"; else ok "no-key-in-log"; fi
exit $fail
