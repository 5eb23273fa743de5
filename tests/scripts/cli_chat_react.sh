#!/usr/bin/env bash
# `omtp chat` in tmux against a real omtpd, the message extensions
# (omtp-ext.tars): /reply sends a reply (replyTo) that both chats draw under
# a quote of the message; /react and /unreact add and take back reactions
# the peer's chat shows under the message live; a message that mentions
# you is marked [@you].
set -u
. "$(dirname "$0")/../support/tui_common.sh"
tui_setup alice bob

pane bob bob alice
pane alice alice bob
expect bob-online bob "omtp chat - bob @ $SERVER - online"
expect alice-online alice "omtp chat - alice @ $SERVER - online"

type_line alice "question from alice"
expect arrives bob "alice: question from alice"
# /reply on the last message: a quote row above the answer, on both sides
type_line bob "/reply answer from bob"
expect reply-quote-peer alice "> alice #1: question from alice"
expect reply-text-peer alice "bob: answer from bob"
expect reply-quote-own bob "> alice #1: question from alice"
# reactions: bob on his reply, alice on it too (selected with Alt-Up)
type_line bob "/react 👍"
expect reaction-live alice "👍 bob"
keys alice M-Up
expect alice-selected alice "selected #2"
type_line alice "/react 🎉"
expect reaction-two bob "👍 bob  🎉 alice"
type_line bob "/unreact 👍"
absent unreact-live alice "👍 bob"
expect other-stays alice "🎉 alice"
# a mention of bob (the reply command of the one-shot CLI, @bob in the text)
as alice reply bob 1 "see @bob about it" >/dev/null || { echo "FAIL reply with mention"; fail=1; }
expect mention-marked bob "alice: see @bob about it \[@you\]"

type_line bob "/quit"
expect bob-quit bob "EXITED 0"
finish
