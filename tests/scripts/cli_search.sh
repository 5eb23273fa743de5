#!/usr/bin/env bash
# `omtp search` against a real omtpd: finds a sent message by a Chinese
# substring, limits to one conversation, pages with --before, refuses a
# too-short query with words that say what to do, and prints --json lines.
source "$(dirname "$0")/lib/cli_common.sh"

t send1 0 "sent to bob" alice send bob "明天上午十点开项目评审会"
t send2 0 "sent to carol" alice send carol "项目评审会改到下午"
t send3 0 "sent to carol" bob send carol "bob's own 项目评审会 note"
t find 0 "明天上午十点开项目评审会" alice search 项目评审
grep -qF "项目评审会改到下午" <<<"$out" || { echo "FAIL find: carol's chat missing"; fail=1; }
no find-others "bob's own"
t session 0 "SC_alice_bob" alice search 项目评审 --session bob
no session-only "改到下午"
t page1 0 "more may be older: add --before" alice search 评审会 --limit 1
before=$(sed -n 's/.*--before \([0-9]*\).*/\1/p' <<<"$out")
t page2 0 "明天上午十点开项目评审会" alice search 评审会 --limit 1 --before "$before"
t short 1 "at least 3 characters" alice search 评审
t json 0 '"sessionId":"SC_alice_carol"' alice search 改到下午 --json
t ops 0 "no messages contain" alice search 'NEAR("x" * -y)'
t limit 2 "--limit wants 1..100" alice search 评审会 --limit 500

exit $fail
