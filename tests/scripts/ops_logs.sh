#!/usr/bin/env bash
# Logs people can ship: log_format = json writes one JSON object per line
# (ts, level, msg, fields); log_file is reopened on SIGHUP (logrotate moves
# the file, then signals); the HTTP API's requests are logged at info with
# method, path, status, the caller (the API key's name) and the duration;
# a moderation refusal is logged with its caller; and no secret (password,
# login token, API key, webhook secret) appears in any line, even at debug,
# after a session of logins, token issues, API calls and webhooks.
set -u
B=${1:?build dir}
OMTPD=$B/omtpd
OMTP=$B/omtp
fail=0
tmp=$(mktemp -d)
PID= HPID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$HPID" ] && kill "$HPID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

PW_ALICE=pwAliceS3cretXq PW_BOB=pwBobS3cretYz PW_NEW=pwNewS3cretWv
KEY=apiKeyS3cretTq WHSEC=whSecS3cretRp

# the business backend: a before-send hook that refuses messages to carol,
# and an offline-push receiver
cat >"$tmp/hook.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        out = b""
        if self.path == "/check":
            ev = json.loads(body)
            if ev.get("to") == "carol":
                out = json.dumps({"allow": False, "code": 10, "desc": "carol takes no messages"}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$tmp/hook.py" "$tmp/hookport" & HPID=$!
for _ in $(seq 1 50); do [ -s "$tmp/hookport" ] && break; sleep 0.1; done
HP=$(cat "$tmp/hookport")

cat >"$tmp/omtpd.conf" <<EOF
listen = 127.0.0.1:0
port_file = $tmp/port
http_listen = 127.0.0.1:0
http_port_file = $tmp/hport
data_dir = $tmp/data
api_keys = ops=$KEY
before_send_url = http://127.0.0.1:$HP/check
push_webhook_url = http://127.0.0.1:$HP/push
webhook_secret = $WHSEC
log_level = debug
log_format = json
log_file = $tmp/omtpd.log
EOF
"$OMTPD" init --data-dir "$tmp/data" >/dev/null
"$OMTPD" user add alice --password "$PW_ALICE" --data-dir "$tmp/data" >/dev/null
"$OMTPD" user add bob --password "$PW_BOB" --data-dir "$tmp/data" >/dev/null
"$OMTPD" user add carol --password "$PW_BOB" --data-dir "$tmp/data" >/dev/null
TOKEN=$("$OMTPD" token issue bob --data-dir "$tmp/data")
"$OMTPD" --config "$tmp/omtpd.conf" 2>"$tmp/stderr" & PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/hport" ] && break; sleep 0.1; done
[ -s "$tmp/hport" ] || { echo "omtpd did not start"; cat "$tmp/stderr" "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")
H=http://127.0.0.1:$(cat "$tmp/hport")

# a session: logins with passwords and a token, messages (one refused by the
# hook), API calls with the key (user creation with a password, a token
# issue, a password change), a wrong password and a wrong key
"$OMTP" send bob "hello bob" --user alice --password "$PW_ALICE" >/dev/null 2>&1 || bad "alice cannot send"
"$OMTP" send alice "hi alice" --user bob --password "$TOKEN" >/dev/null 2>&1 || bad "bob cannot log in with a token"
"$OMTP" send carol "hi carol" --user alice --password "$PW_ALICE" >/dev/null 2>&1 && bad "the hook did not refuse"
"$OMTP" send bob "x" --user alice --password "wrong$PW_ALICE" >/dev/null 2>&1
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
  -X POST "$H/v1/users" -d "{\"userId\":\"dave\",\"password\":\"$PW_NEW\"}")
[ "$code" = 201 ] || bad "POST /v1/users: $code"
TOKEN2=$(curl -s -H "Authorization: Bearer $KEY" -X POST "$H/v1/users/dave/token" -d '{}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
[ -n "$TOKEN2" ] || bad "POST /v1/users/dave/token gave no token"
curl -s -o /dev/null -H "Authorization: Bearer $KEY" -X PUT "$H/v1/users/dave/password" \
  -d "{\"password\":\"x$PW_NEW\"}"
curl -s -o /dev/null -H "Authorization: Bearer wrong$KEY" "$H/v1/users/dave"
curl -s -o /dev/null "$H/healthz"
sleep 0.5

# logrotate: move the file, SIGHUP, the server writes to a new file
mv "$tmp/omtpd.log" "$tmp/omtpd.log.1"
kill -HUP "$PID"
for _ in $(seq 1 50); do [ -s "$tmp/omtpd.log" ] && break; sleep 0.1; done
[ -s "$tmp/omtpd.log" ] && ok "log-reopened-on-sighup" || bad "no new $tmp/omtpd.log after SIGHUP"
grep -q "SIGHUP received" "$tmp/omtpd.log.1" && ok "old-file-kept-until-sighup" ||
  bad "the moved file did not get the lines before the reopen"
curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$H/v1/users/alice"
kill "$PID"; wait "$PID"; rc=$?; PID=
[ "$rc" = 0 ] && ok "clean-exit" || { bad "omtpd exit $rc after SIGTERM"; tail -30 "$tmp/stderr"; }
cat "$tmp/omtpd.log.1" "$tmp/omtpd.log" >"$tmp/all.log"

# every line is a JSON object with ts, level, msg, fields
python3 - "$tmp/all.log" <<'PY' && ok "json-lines" || bad "log lines are not JSON objects (ts, level, msg, fields)"
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert set(o) == {"ts", "level", "msg", "fields"}, o
    assert o["level"] in ("debug", "info", "warn", "error"), o
    assert isinstance(o["fields"], dict)
    n += 1
assert n > 10
PY
python3 - "$tmp/all.log" <<'PY' && ok "http-request-log" || bad "no info line for POST /v1/users with caller ops, status 201, duration"
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line); f = o["fields"]
    if o["level"] == "info" and f.get("method") == "POST" and f.get("path") == "/v1/users" \
       and f.get("status") == "201" and f.get("caller") == "ops" and "duration_ms" in f:
        sys.exit(0)
sys.exit(1)
PY
grep -q '"status":"401","caller":"-"' "$tmp/all.log" && ok "http-refused-key-log" || bad "no line for the wrong key (401)"
grep -q '"level":"info","msg":"moderation: the before-send hook refused a message caller=alice to=carol' "$tmp/all.log" &&
  ok "moderation-log" || bad "no info line for the refused message naming alice"
grep -q '"path":"/v1/users/alice"' "$tmp/omtpd.log" && ok "request-after-reopen" || bad "the reopened file lacks the later request"

# no secret anywhere (also not in stderr)
for s in "$PW_ALICE" "$PW_BOB" "$PW_NEW" "$KEY" "$WHSEC" "$TOKEN" "${TOKEN##*.}" "$TOKEN2" "${TOKEN2##*.}"; do
  if grep -qF -- "$s" "$tmp/all.log" "$tmp/stderr"; then
    bad "a secret is in the log: $(grep -hF -- "$s" "$tmp/all.log" "$tmp/stderr" | head -2)"
  fi
done
[ $fail = 0 ] && ok "no-secret-in-log"
exit $fail
