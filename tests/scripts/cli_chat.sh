#!/usr/bin/env bash
# `omtp chat` (the interactive terminal client) driven in tmux against a real
# omtpd: two users each in their own pane; keys typed with send-keys, the
# screen read with capture-pane. Checks that a message and the unread count
# appear live in the conversation list, that opening the conversation shows
# the message and clears the count, that typed text is sent and shows up
# live in the other user's pane, and that /quit leaves cleanly.
set -u
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
command -v tmux >/dev/null || { echo "tmux is not installed (scripts/deps.sh installs it)"; exit 1; }
fail=0
tmp=$(mktemp -d)
PID=
TM=(tmux -S "$tmp/tmux.sock")
cleanup() {
  "${TM[@]}" kill-server 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG

"$OMTPD" init --data-dir "$tmp/data" >/dev/null
for u in alice bob; do
  "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
done
"$OMTPD" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  --log-level warn 2>>"$tmp/omtpd.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
SERVER=127.0.0.1:$(cat "$tmp/port")

screen() { "${TM[@]}" capture-pane -p -t "$1"; }
# expect NAME PANE PATTERN(extended regex) : waits up to 5 s for it on screen
expect() {
  local name=$1 pane=$2 pat=$3
  for _ in $(seq 1 100); do
    screen "$pane" | grep -qE -- "$pat" && { echo "ok   $name"; return 0; }
    sleep 0.05
  done
  echo "FAIL $name: '$pat' not on $pane's screen:"; screen "$pane" | sed 's/^/  | /'
  fail=1
  return 1
}
# absent NAME PANE PATTERN : must be gone from the screen within 5 s (the
# terminal redraws asynchronously; a loaded machine may lag a moment)
absent() {
  for _ in $(seq 1 100); do
    screen "$2" | grep -qE -- "$3" || { echo "ok   $1"; return; }
    sleep 0.05
  done
  echo "FAIL $1: '$3' is still on $2's screen after 5 s:"; screen "$2" | sed 's/^/  | /'; fail=1
}
type_line() { "${TM[@]}" send-keys -t "$1" -l -- "$2"; "${TM[@]}" send-keys -t "$1" Enter; }

"${TM[@]}" -f /dev/null new-session -d -s bob -x 110 -y 24 \
  "$OMTP chat --server $SERVER --user bob --password bob; echo EXITED \$?; sleep 30"
expect bob-online bob "omtp chat - bob @ $SERVER - online"

# alice sends two messages with the one-shot CLI: bob's list shows them live
"$OMTP" send bob "first from alice" --server "$SERVER" --user alice --password alice >/dev/null ||
  { echo "FAIL send-1"; fail=1; }
expect unread-1 bob "alice \(1\)"
"$OMTP" send bob "second from alice" --server "$SERVER" --user alice --password alice >/dev/null ||
  { echo "FAIL send-2"; fail=1; }
expect unread-2 bob "alice \(2\)"

# Tab opens the conversation: both messages, unread count gone
"${TM[@]}" send-keys -t bob Tab
expect open-shows-first bob "alice: first from alice"
expect open-shows-second bob "alice: second from alice"
absent unread-cleared bob "alice \([0-9]+\)"
# the read cursor went to the server: alice's one-shot sessions says 0 unread for bob
"$OMTP" sessions --json --server "$SERVER" --user bob --password bob --device macos >"$tmp/s.json" 2>&1
grep -qF '"unread":0' "$tmp/s.json" && echo "ok   read-cursor-stored" || { echo "FAIL read-cursor-stored: $(cat "$tmp/s.json")"; fail=1; }

# alice opens her chat with bob in a second pane
"${TM[@]}" new-session -d -s alice -x 110 -y 24 \
  "$OMTP chat bob --server $SERVER --user alice --password alice; echo EXITED \$?; sleep 30"
expect alice-online alice "omtp chat - alice @ $SERVER - online"
expect alice-sees-own-history alice "alice: second from alice"

# bob types; alice sees it live (conversation open: no unread count there)
type_line bob "hello alice, typed in tmux"
expect bob-sees-own bob "bob: hello alice, typed in tmux"
expect alice-sees-live alice "bob: hello alice, typed in tmux"
# alice answers; bob sees it live in the open conversation
type_line alice "hi bob, got it"
expect bob-sees-answer bob "alice: hi bob, got it"
absent bob-open-no-unread bob "alice \([0-9]+\)"
# stored once each
"$OMTP" history alice --server "$SERVER" --user bob --password bob --device macos >"$tmp/h.txt" 2>&1
[ "$(grep -c "hello alice, typed in tmux" "$tmp/h.txt")" = 1 ] && echo "ok   typed-stored-once" ||
  { echo "FAIL typed-stored-once:"; cat "$tmp/h.txt"; fail=1; }

# unknown command: the note says what to do
type_line bob "/frobnicate"
expect unknown-command-note bob "unknown command /frobnicate \(/help\)"

# /quit leaves with exit 0
type_line bob "/quit"
expect bob-quit bob "EXITED 0"
type_line alice "/quit"
expect alice-quit alice "EXITED 0"

[ $fail = 0 ] || { echo "--- omtpd log ---"; tail -30 "$tmp/omtpd.log"; }
exit $fail
