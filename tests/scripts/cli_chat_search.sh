#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd, /search (PT_MSG_SEARCH): the
# hits of your conversations are listed newest first with the conversation,
# time, sender and text; /open N opens the conversation of hit N with the
# message selected; Esc closes the results; a query too short is refused in
# words.
set -u
. "$(dirname "$0")/../support/tui_common.sh"
tui_setup alice bob

pane bob bob alice
pane alice alice
expect bob-online bob "omtp chat - bob @ $SERVER - online"
expect alice-online alice "omtp chat - alice @ $SERVER - online"

type_line bob "the pineapple arrives tomorrow"
type_line bob "something unrelated"
expect bob-sent bob "bob: something unrelated"
type_line bob "pineapple again, later"
expect bob-sent-2 bob "bob: pineapple again, later"

type_line alice "/search pineapple"
expect results-note alice "2 results for \"pineapple\""
expect results-header alice "search \"pineapple\": 2 results, newest first"
# newest first, each with the conversation (bob), a time and the sender
expect hit-newest alice "1\. bob  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}  bob: pineapple again, later"
expect hit-older alice "2\. bob  [0-9-]+ [0-9:]+  bob: the pineapple arrives tomorrow"
absent no-miss alice "something unrelated"

# /open N opens the conversation of the hit, the hit selected
type_line alice "/open 9"
expect not-a-result alice "/open N: there is no result 9 \(1\.\.2\)"
type_line alice "/open 2"
expect opened alice "bob: something unrelated"
expect hit-selected alice "selected #1"

# Esc closes the results without opening anything
type_line alice "/search tomorrow"
expect one-result alice "1 result for \"tomorrow\""
keys alice Escape
absent closed alice "search \"tomorrow\""

# refusals in words
type_line alice "/search ab"
expect too-short alice "search refused: .*query too short"
type_line alice "/search"
expect empty-query alice "/search QUERY: give the words"
type_line alice "/search zzzqqqxx"
expect no-hit alice "no message contains \"zzzqqqxx\""

type_line alice "/quit"
expect alice-quit alice "EXITED 0"
finish
