#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd: what the screen shows and how the
# input line edits. Long lines wrap at the pane's width (also CJK, two
# columns each) and rewrap after a resize; PgUp scrolls back through history
# pages loaded from the server (the first page is 50 messages, the test has
# 75) up to the start; times and day separators; the line editor
# (Home/Left/Right/End/Ctrl-A/Ctrl-E/Ctrl-W/Backspace/Delete) and Up recall;
# `/open` of a user that does not exist says so and keeps the typed text;
# groups show by name in the list, the header and the prompt, `/open NAME`
# opens one, an ambiguous name lists the ids.
set -u
. "$(dirname "$0")/../support/tui_common.sh"
tui_setup alice bob carol

# 75 messages from alice to bob (1..75), then one long line and one CJK line
for i in $(seq -w 1 75); do echo "history line $i"; done >"$tmp/lines"
while read -r l; do post alice bob "$l" || { echo "FAIL send $l"; fail=1; }; done <"$tmp/lines"
long=""; for i in $(seq -w 1 40); do long="$long word$i"; done
as alice send bob "${long# }" >/dev/null
cjk="開始$(printf '漢字%.0s' $(seq 1 45))結尾"
as alice send bob "$cjk" >/dev/null

W=80 pane bob bob alice
expect bob-online bob "omtp chat - bob @ $SERVER - online"
# wrapping: the first and the last word of the long line are both on screen,
# on different rows; the CJK line's end too
expect wrap-first-word bob "alice: word01 word02"
expect wrap-last-word bob "word40"
check wrap-two-rows 'a=$(screen bob | grep -n "word01" | cut -d: -f1); z=$(screen bob | grep -n "word40" | cut -d: -f1); [ -n "$a" ] && [ -n "$z" ] && [ "$a" != "$z" ]'
expect wrap-cjk-end bob "結尾"
check rows-fit-width '[ "$(screen bob | wc -L)" -le 80 ]'
# timestamps on every message, a day separator
expect timestamp bob "[0-9]{2}:[0-9]{2} alice: history line 75"
# resize: narrower pane, the long line rewraps and its end stays visible
"${TM[@]}" resize-window -t bob -x 60 -y 24
expect resize-rewrap bob "word40"
check resize-fits '[ "$(screen bob | wc -L)" -le 60 ]'
"${TM[@]}" resize-window -t bob -x 80 -y 24

# scrollback: the first page holds 50 of the 77 messages; PgUp to the top
# loads the older page and reaches the start
absent not-yet-first bob "history line 01$"
for _ in $(seq 1 12); do keys bob PPage; sleep 0.1; done
expect scroll-first-line bob "history line 01$"
expect scroll-start-marker bob "start of the conversation"
expect day-separator bob "---- [A-Z][a-z]{2} [0-9]{4}-[0-9]{2}-[0-9]{2} ----"
expect scrolled-header bob "scrolled up: PgDn to return"
for _ in $(seq 1 14); do keys bob NPage; done
expect scroll-back-down bob "結尾"
# the mouse wheel (SGR report: button 64 = wheel up) scrolls too
for _ in $(seq 1 4); do keys bob -l $'\033[<64;40;10M'; done
expect wheel-scrolls bob "scrolled up"
for _ in $(seq 1 10); do keys bob NPage; done
absent wheel-back bob "scrolled up"

# line editor: "hllo world" -> Home Right "e" -> End "!" -> Ctrl-W -> "there"
type_text bob "hllo world"
keys bob Home Right; type_text bob "e"
keys bob End; type_text bob "!"
keys bob C-w; type_text bob "there"
expect edit-line bob "alice> hello there$"
keys bob C-a; keys bob Delete; type_text bob "H"
keys bob C-e; keys bob Left Left BSpace; type_text bob "E"
expect edit-line-2 bob "alice> Hello thEre$"
keys bob Enter
expect sent-edited bob "bob: Hello thEre \[(sent|pending)\]"
# Up recalls it; Enter sends it again
keys bob Up
expect recall bob "alice> Hello thEre$"
keys bob Enter
sleep 0.5
as bob history alice >"$tmp/h.txt" 2>&1
check recall-sent-twice '[ "$(grep -c "Hello thEre" "$tmp/h.txt")" = 2 ]'

# /open of a user that does not exist: said, the typed line kept
type_line bob "/open nosuchuser"
expect open-missing-said bob "there is no user 'nosuchuser'"
expect open-missing-kept bob "> /open nosuchuser$"
keys bob C-u

# groups by name: sidebar, header, prompt, /open by name; ambiguous names listed
gid=$(as alice group create team bob carol) || { echo "FAIL group create"; fail=1; }
as alice group send "$gid" "hello team" >/dev/null
d1=$(as alice group create dup bob); d2=$(as carol group create dup bob)
expect group-in-sidebar bob "#team"
absent no-group-id bob "GC_"
type_line bob "/open team"
expect group-header bob "team \(group\)"
expect group-prompt bob "^team>"
expect group-history bob "alice: hello team"
type_line bob "/open dup"
expect ambiguous-listed bob "2 groups are named 'dup'"
screen bob | grep -q "$d1" && screen bob | grep -q "$d2" && echo "ok   ambiguous-ids" || { echo "FAIL ambiguous-ids"; screen bob; fail=1; }

keys bob C-u
type_line bob "/quit"
expect bob-quit bob "EXITED 0"
finish
