#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd: your own messages and what
# happens to them. A line typed while the server is down shows [pending]
# and becomes [sent] (or further) after the server is back (libomtp's outbox), stored
# once; /edit and /revoke on your last message and /delete on one selected
# with Alt-Up are seen by the peer's chat; the selected message's seq is
# shown; a message in a conversation that is not open rings the bell once
# (counted in the pane's raw output) and bumps it to the top of the list
# with its unread count, --no-bell keeps quiet; a dismissed group leaves
# the list.
set -u
. "$(dirname "$0")/../support/tui_common.sh"
tui_setup alice bob carol dave

pane bob bob alice
pane alice alice bob
expect bob-online bob "omtp chat - bob @ $SERVER - online"
expect alice-online alice "omtp chat - alice @ $SERVER - online"
"${TM[@]}" pipe-pane -o -t bob "cat >>$tmp/bob.raw"

# sent -> shows [sent]; the peer sees it live
type_line bob "first from bob"
expect own-sent bob "bob: first from bob \[(sent|delivered|read)\]"
expect peer-live alice "bob: first from bob"

# server down: typed line pending; server back: sent, stored once
stop_omtpd
expect bob-offline bob "offline"
type_line bob "typed while offline"
expect own-pending bob "bob: typed while offline \[pending\]"
start_omtpd
TRIES=400 expect pending-to-sent bob "bob: typed while offline \[(sent|delivered|read)\]"
expect bob-online-again bob " - online"
as alice history bob >"$tmp/h.txt" 2>&1
check offline-stored-once '[ "$(grep -c "typed while offline" "$tmp/h.txt")" = 1 ]'
expect alice-back alice " - online"
expect peer-gets-offline-line alice "bob: typed while offline"

# /edit and /revoke act on bob's last message; alice's chat shows both
type_line bob "to be edited"
expect peer-sees-to-edit alice "bob: to be edited"
type_line bob "/edit edited by bob"
expect edit-done bob "edit #[0-9]+ done"
expect peer-sees-edit alice "bob: edited by bob \(edited\)"
type_line bob "to be revoked"
expect peer-sees-to-revoke alice "bob: to be revoked"
type_line bob "/revoke"
expect peer-sees-revoke alice "bob: \(revoked\)"
absent peer-revoked-text-gone alice "to be revoked"
# select an older message with Alt-Up: its seq is shown; /delete removes it
keys bob M-Up; keys bob M-Up; keys bob M-Up
expect selected-seq bob "selected #[0-9]+ \(bob\)"
seq=$(screen bob | grep -oE "selected #[0-9]+" | grep -oE "[0-9]+")
as bob history alice >"$tmp/h2.txt" 2>&1
sel_text=$(grep -E "^#$seq " "$tmp/h2.txt" | sed -E 's/.*  bob: //; s/  \(edited\)$//')
[ -n "$sel_text" ] && echo "ok   selected-is-a-stored-message ($sel_text)" || { echo "FAIL selected-is-a-stored-message"; cat "$tmp/h2.txt"; fail=1; }
type_line bob "/delete"
expect delete-done bob "delete #$seq done"
absent peer-sees-delete alice "bob: $sel_text"
keys bob Escape

# a message to bob in another conversation: bell once, bumped with its count
before=$(tr -cd '\a' <"$tmp/bob.raw" | wc -c)
post carol bob "ping from carol"
expect bump-unread bob "^ +carol \(1\)"
screen bob | sed -n 2p | grep -q "carol (1)" && echo "ok   bump-to-top" || { echo "FAIL bump-to-top"; screen bob; fail=1; }
sleep 0.3
after=$(tr -cd '\a' <"$tmp/bob.raw" | wc -c)
check bell-once '[ $((after - before)) = 1 ]'
# messages in the open conversation do not ring
post alice bob "in the open one"
expect open-conv-live bob "alice: in the open one"
sleep 0.3
check no-bell-open '[ "$(tr -cd "\a" <"$tmp/bob.raw" | wc -c)" = "$after" ]'
# --no-bell: dave's chat stays quiet
pane dave dave --no-bell
expect dave-online dave " - online"
"${TM[@]}" pipe-pane -o -t dave "cat >>$tmp/dave.raw"
post carol dave "ping dave"
expect dave-bump dave "carol \(1\)"
sleep 0.3
check no-bell-flag '[ "$(tr -cd "\a" <"$tmp/dave.raw" | wc -c)" = 0 ]'

# a group by name; dismissed: it leaves the list
gid=$(as alice group create crew bob) || { echo "FAIL group create"; fail=1; }
post alice "$gid" "crew hello" || { echo "FAIL group post"; fail=1; }
expect group-listed bob "#crew"
as alice group dismiss "$gid" >/dev/null || { echo "FAIL dismiss"; fail=1; }
absent dismissed-leaves bob "#crew"

type_line bob "/quit"
expect bob-quit bob "EXITED 0"
finish
