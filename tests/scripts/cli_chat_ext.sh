#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd, the extensions (omtp-ext.tars):
# a single-chat peer's presence as a dot in the list and "online" / "last
# seen" in the header, "alice is typing..." while alice edits her line (and
# gone when she sends), and your message turning [read] once the peer's
# chat has it open (read receipts, PT_MSG_READERS).
set -u
. "$(dirname "$0")/../support/tui_common.sh"
tui_setup alice bob

post alice bob "hello bob" # a shared session: presence may be watched
pane bob bob alice
expect bob-online bob "omtp chat - bob @ $SERVER - online"
expect peer-offline-dot bob "○alice"
pane alice alice bob
expect alice-online alice " - online"
expect peer-online-dot bob "●alice"
expect peer-online-header bob "alice - online"

# typing: shown while alice edits, gone when she sends
type_text alice "still typ"
expect typing-shown bob "alice is typing\.\.\."
keys alice Enter
expect typed-arrives bob "alice: still typ"
absent typing-gone bob "is typing"

# delivered: bob's message while alice's device is online (presence)
# read receipts: alice's chat has the conversation open and reads it
type_line bob "please read me"
expect arrives alice "bob: please read me"
expect own-delivered-or-read bob "bob: please read me \[(delivered|read)\]"
TRIES=300 expect own-read bob "bob: please read me \[read\]"

# alice leaves: the dot goes hollow, the header says when she was last seen
type_line alice "/quit"
expect alice-quit alice "EXITED 0"
expect peer-left-dot bob "○alice"
expect last-seen bob "alice - last seen [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}"

type_line bob "/quit"
expect bob-quit bob "EXITED 0"
finish
