# tui_common.sh - sourced by the tmux-driven tests of `omtp chat`
# (tests/scripts/cli_chat_*.sh): starts a real omtpd on a fixed port (so it
# can be restarted), creates users, and gives helpers to drive panes.
#   tui_setup BUILD_DIR USER...   users get their name as password
#   start_omtpd / stop_omtpd      (re)start the server on $PORT
#   pane NAME USER [ARGS...]      `omtp chat` for USER in a tmux session NAME
#   expect NAME PANE REGEX, absent NAME PANE REGEX, type_line PANE TEXT, keys PANE KEY...
# Results: "ok   name" / "FAIL name" lines; $fail is 1 after any failure.
B=${1:?build dir}
OMTP=$B/omtp
OMTPD=$B/omtpd
command -v tmux >/dev/null || { echo "tmux is not installed (scripts/deps.sh installs it)"; exit 1; }
fail=0
tmp=$(mktemp -d)
PID=
TM=(tmux -u -S "$tmp/tmux.sock")
cleanup() {
  "${TM[@]}" kill-server 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/xdg LANG=C.UTF-8 LC_ALL=C.UTF-8
unset OMTP_USER OMTP_PASSWORD OMTP_DEVICE OMTP_CONFIG OMTP_BELL

start_omtpd() {
  rm -f "$tmp/port"
  rm -f "$tmp/hport"
  "$OMTPD" --listen "127.0.0.1:${PORT:-0}" --port-file "$tmp/port" --data-dir "$tmp/data" \
    --http-listen 127.0.0.1:0 --http-port-file "$tmp/hport" --api-keys tuitestkey \
    --log-level warn 2>>"$tmp/omtpd.log" &
  PID=$!
  for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "omtpd did not start"; cat "$tmp/omtpd.log"; exit 1; }
  for _ in $(seq 1 100); do [ -s "$tmp/hport" ] && break; sleep 0.05; done
  PORT=$(cat "$tmp/port")
  HTTP=http://127.0.0.1:$(cat "$tmp/hport")
  SERVER=127.0.0.1:$PORT
}
stop_omtpd() {
  kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  PID=
}

tui_setup() {
  # admin commands never create a store: init does (nothing if it exists)
  "$OMTPD" init --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
    { echo "omtpd init failed"; cat "$tmp/omtpd.log"; exit 1; }
  for u in "$@"; do
    "$OMTPD" user add "$u" --password "$u" --data-dir "$tmp/data" >/dev/null 2>>"$tmp/omtpd.log" ||
      { echo "cannot create user $u"; cat "$tmp/omtpd.log"; exit 1; }
  done
  start_omtpd
}

# as USER ARGS... : a one-shot omtp command as USER (macos device: does not kick the chat)
as() { local u=$1; shift; "$OMTP" "$@" --server "$SERVER" --user "$u" --password "$u" --device macos; }

# post FROM TO TEXT : a message through the HTTP API (fast: no login per message);
# TO may be a group id
post() {
  local c=${3//\\/\\\\}
  c=${c//\"/\\\"}
  local ty=""
  case $2 in GC_*) ty=',"type":"group"' ;; esac
  curl -sf -o /dev/null -H "Authorization: Bearer tuitestkey" -H "Content-Type: application/json" \
    -X POST "$HTTP/v1/messages" \
    -d "{\"from\":\"$1\",\"to\":\"$2\",\"content\":\"$c\"$ty}"
}

pane() {
  local name=$1 user=$2; shift 2
  "${TM[@]}" -f /dev/null new-session -d -s "$name" -x "${W:-100}" -y "${H:-24}" \
    "$OMTP chat $* --server $SERVER --user $user --password $user; echo EXITED \$?; sleep 60"
}
screen() { "${TM[@]}" capture-pane -p -t "$1"; }
alive() {
  "${TM[@]}" has-session -t "$1" 2>/dev/null && return 0
  echo "FAIL $2: the tmux session $1 is gone"; fail=1; finish
}
expect() {
  local name=$1 p=$2 pat=$3
  alive "$p" "$name"
  for _ in $(seq 1 ${TRIES:-160}); do
    screen "$p" | grep -qE -- "$pat" && { echo "ok   $name"; return 0; }
    sleep 0.05
  done
  echo "FAIL $name: '$pat' not on $p's screen:"; screen "$p" | sed 's/^/  | /'
  fail=1
  return 1
}
absent() {
  alive "$2" "$1"
  for _ in $(seq 1 160); do
    screen "$2" | grep -qE -- "$3" || { echo "ok   $1"; return 0; }
    sleep 0.05
  done
  echo "FAIL $1: '$3' is still on $2's screen:"; screen "$2" | sed 's/^/  | /'; fail=1
  return 1
}
type_text() { "${TM[@]}" send-keys -t "$1" -l -- "$2"; }
type_line() { type_text "$1" "$2"; "${TM[@]}" send-keys -t "$1" Enter; }
keys() { local p=$1; shift; "${TM[@]}" send-keys -t "$p" "$@"; }
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
finish() {
  [ $fail = 0 ] || { echo "--- omtpd log ---"; tail -30 "$tmp/omtpd.log"; }
  exit $fail
}
