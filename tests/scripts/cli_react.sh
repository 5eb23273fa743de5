#!/usr/bin/env bash
# The omtp CLI's commands of the extensions end to end against a real omtpd:
# react / unreact, reply with @mentions, and history showing the reply, the
# mentions and the reactions; refusals that say why (issue #19).
source "$(dirname "$0")/lib/cli_common.sh"

UP=$(printf '\xf0\x9f\x91\x8d')
t "send"              0 "seq 1"            alice send bob "lunch?"
t "react"             0 "reacted"          bob react alice 1 "$UP"
t "react twice"       1 "already"          bob react alice 1 "$UP"
t "react outsider"    1 "MSG_FORBIDDEN"    carol react SC_alice_bob 1 "$UP"
t "react bad seq"     2 "SEQ must be"      bob react alice x "$UP"
t "react long emoji"  2 "1..32 bytes"      bob react alice 1 "0123456789012345678901234567890123"
t "reply + mention"   0 "replied to #1"    bob reply alice 1 "yes @alice"
t "history shows"     0 "(reply to #1)"    alice history bob
t "history mentions"  0 "(mentions @alice)" alice history bob
t "history reactions" 0 "$UP 1 (bob)"      alice history bob
t "unreact"           0 "removed"          bob unreact alice 1 "$UP"
t "unreact again"     1 "PARAM"            bob unreact alice 1 "$UP"
t "history after"     0 "#1"               alice history bob
no "reaction gone"    "$UP 1 (bob)"
t "reply other seq"   1 "PARAM"            bob reply alice 99 "what?"
t "reply mention out" 1 "PARAM"            bob reply alice 1 "hey @carol"
t "help"              0 "omtp react SESSION|USER SEQ EMOJI" alice react --help

exit $fail
