#!/usr/bin/env bash
# The omtp CLI against a real omtpd (issue 17): refusals say in words what
# went wrong for that request, with the server's desc and a hint that fits
# (not one hint per code whatever the request); and `omtp watch` / one-shot
# commands do not kick a person's open chat (device slots).
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
fail=0
tmp=$(mktemp -d)
PID=
HOOK=
W1=
W2=
W3=
cleanup() {
  for p in $W1 $W2 $W3 $HOOK; do kill "$p" 2>/dev/null; done
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg XDG_STATE_HOME=$tmp/state
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_PASSWORD_FILE OMTP_SERVER

out=
# t NAME EXPECTED_EXIT PATTERN USER COMMAND...: `omtp COMMAND` as USER (password = USER)
t() {
  local name=$1 want=$2 pat=$3 user=$4; shift 4
  local rc
  out=$(OMTP_PASSWORD=$user "$OMTP" "$@" --user "$user" 2>&1 </dev/null); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | head -20
    echo "  (wanted to see: $pat)"
    fail=1
  else
    echo "ok   $name"
  fi
}
has() { # NAME PATTERN: the last output contains PATTERN too
  if grep -qF -- "$2" <<<"$out"; then echo "ok   $1"; else
    echo "FAIL $1: no '$2' in:"; echo "$out" | head -20; fail=1; fi
}
no() { # NAME PATTERN: the last output must not contain PATTERN
  if grep -qF -- "$2" <<<"$out"; then
    echo "FAIL $1: output contains '$2':"; echo "$out" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

# a moderation hook: refuses any text containing "http" with its own words
cat >"$tmp/hook.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        msg = json.loads(body or b"{}")
        if "http" in msg.get("content", ""):
            out = {"allow": False, "desc": "links are not allowed here"}
        else:
            out = {"allow": True}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
python3 "$tmp/hook.py" "$tmp/hook_port" &
HOOK=$!
for _ in $(seq 1 100); do [ -s "$tmp/hook_port" ] && break; sleep 0.05; done
[ -s "$tmp/hook_port" ] || { echo "the hook did not start"; exit 1; }

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --before-send-url "http://127.0.0.1:$(cat "$tmp/hook_port")/check" \
  --before-send-timeout-ms 3000 --log-level info 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
export OMTP_SERVER=127.0.0.1:$(cat "$tmp/port")

# ---- errors in words ------------------------------------------------------------
t send-nosuch 1 "omtp send: cannot send to nosuch: recipient 'nosuch' does not exist" alice send nosuch hi
has send-nosuch-code "PARAM (2)"
has send-nosuch-hint "hint: check the id"
no send-nosuch-no-fields-hint "did not accept the request's fields"
t friends-add-nosuch 1 "cannot add nosuch as a friend" alice friends add nosuch
has friends-add-nosuch-desc "nosuch is not a user"
no friends-add-nosuch-not-friends-hint "you are not friends with that user"
t group-create-carol 1 "cannot create group team: a member is not a user" alice group create team bob carol
has group-create-names-carol "carol"
t group-create-all-missing 1 "not a user: carol, dave" alice group create team bob carol dave
no group-create-not-member-hint "not a member"
t history-nosuch 1 "no user nosuch" alice history nosuch
no history-nosuch-no-empty-list "(no messages"
t read-nosuch 1 "no user nosuch" alice read nosuch
t user-get-nosuch 1 "omtp user get: no user nosuch" alice user get bob nosuch
has user-get-shows-bob "user:     bob"
t history-empty-real-user 0 "(no messages in SC_alice_bob)" alice history bob
GID=$(OMTP_PASSWORD=alice "$OMTP" group create team bob --user alice 2>&1)
t group-members-nosuch 1 "no group GC_nosuch" alice group members GC_nosuch
t group-dismiss-not-creator 1 "you may not dismiss $GID" bob group dismiss "$GID"
has group-dismiss-hint "only the group's creator may dismiss it"
# moderation: the code's name and the hook's own words
t moderated 1 "links are not allowed here" alice send bob see http://example.com
has moderated-code "SENSI_MATCH (10)"
has moderated-what "the message to bob was refused"
t moderated-group 1 "links are not allowed here" alice group send "$GID" http://x
t moderated-not-stored 0 "(no messages in SC_alice_bob)" alice history bob

# ---- device slots: watch and one-shot commands do not kick a chat ---------------
# bob's "chat": a linux login (what `omtp chat` is), kept open by a watch --device linux
OMTP_PASSWORD=bob "$OMTP" watch --device linux --user bob >"$tmp/chat.out" 2>"$tmp/chat.err" &
W1=$!
for _ in $(seq 1 200); do grep -q "online as bob" "$tmp/chat.err" && break; sleep 0.05; done
OMTP_PASSWORD=bob "$OMTP" watch --user bob >"$tmp/w2.out" 2>"$tmp/w2.err" &
W2=$!
OMTP_PASSWORD=bob "$OMTP" watch --user bob >"$tmp/w3.out" 2>"$tmp/w3.err" &
W3=$!
for _ in $(seq 1 200); do
  grep -q "online as bob" "$tmp/w2.err" && grep -q "online as bob" "$tmp/w3.err" && break; sleep 0.05
done
t oneshot-as-bob 0 "SESSION" bob sessions
t send-to-bob 0 "sent to bob" alice send bob are you all there
for _ in $(seq 1 200); do
  grep -q "are you all there" "$tmp/chat.out" && grep -q "are you all there" "$tmp/w2.out" &&
    grep -q "are you all there" "$tmp/w3.out" && break
  sleep 0.05
done
for f in chat w2 w3; do
  if grep -q "are you all there" "$tmp/$f.out" && ! grep -q "kicked" "$tmp/$f.err"; then
    echo "ok   slot-$f-still-online"
  else
    echo "FAIL slot-$f-still-online:"; cat "$tmp/$f.out" "$tmp/$f.err"; fail=1
  fi
done
grep -q "dev=observer" "$tmp/omtpd.log" && echo "ok   watch-logs-in-as-observer" ||
  { echo "FAIL watch-logs-in-as-observer"; fail=1; }
# a second linux login (a second `omtp chat`) does replace the first: documented
t second-chat-help 0 "a second \`omtp chat\` of the same user" bob chat --help
OMTP_PASSWORD=bob "$OMTP" login --device linux --user bob >/dev/null 2>&1
for _ in $(seq 1 200); do grep -q "kicked" "$tmp/chat.err" && break; sleep 0.05; done
grep -q "kicked out" "$tmp/chat.err" && echo "ok   linux-replaces-linux" ||
  { echo "FAIL linux-replaces-linux:"; cat "$tmp/chat.err"; fail=1; }
! grep -q "kicked" "$tmp/w2.err" && echo "ok   observer-survives-linux-login" ||
  { echo "FAIL observer-survives-linux-login"; cat "$tmp/w2.err"; fail=1; }
t watch-help-says 0 "it kicks nobody" bob watch --help
exit $fail
