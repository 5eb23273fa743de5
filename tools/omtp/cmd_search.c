/*
 * cmd_search.c - `omtp search QUERY [--session S] [--before TS] [--limit N]`:
 * full-text search over your conversations (PT_MSG_SEARCH, extension 104;
 * docs/protocol.md "Search"). Prints the hits newest first, one per line
 * (or JSON lines with --json), and the --before to give for the next page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "client/omtp_client.h"

int cmd_search(int argc, char **argv)
{
    cli_opts o;
    const char *session = NULL, *before_s = NULL, *limit_s = NULL;
    const cli_opt extra[] = {
        {"session", "SESSION|USER", "search one conversation only", &session, NULL},
        {"before", "TS", "the page older than timestamp TS (ms)", &before_s, NULL},
        {"limit", "N", "results per page, 1..100 (default 20)", &limit_s, NULL},
        {NULL, NULL, NULL, NULL, NULL},
    };
    int rc = cli_start_opts(
        argc, argv, &o, CLI_ONESHOT_DEVICE, 1,
        "omtp search QUERY... [--session SESSION|USER] [--before TS] [--limit N] [--json]",
        "Finds messages of your conversations that contain QUERY (at least 3\n"
        "characters; Chinese text matches by substring; quotes, *, -, NEAR, AND/OR\n"
        "are plain text). Newest first, N per page (default 20, at most 100);\n"
        "--before TS shows the page older than timestamp TS (ms), as printed at\n"
        "the end of a full page. --session limits it to one conversation.",
        extra);
    if (rc >= 0)
        return rc;
    int64_t before = 0;
    int limit = 20;
    if (before_s) {
        char *end;
        before = strtoll(before_s, &end, 10);
        if (!*before_s || *end || before < 0) {
            fprintf(stderr, "omtp search: --before wants a timestamp in ms, not '%s'\n", before_s);
            return CLI_EUSAGE;
        }
    }
    if (limit_s) {
        char *end;
        long n = strtol(limit_s, &end, 10);
        if (!*limit_s || *end || n < 1 || n > 100) {
            fprintf(stderr, "omtp search: --limit wants 1..100, not '%s'\n", limit_s);
            return CLI_EUSAGE;
        }
        limit = (int)n;
    }
    char query[1024] = "";
    cli_join(o.argc, o.argv, 0, query, sizeof(query));
    char sid[600] = "";
    if (session && cli_resolve_session(o.user, session, sid, sizeof(sid)))
        return cli_bad_peer(session);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    omtp_MsgSearchResp r;
    rc = omtp_sync_search(c, query, sid, before, limit, &r);
    if (rc) {
        rc = cli_failed("search", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused("search", r.errorCode.code, r.errorCode.desc.data);
    } else {
        if (!o.json && r.msgs.n == 0)
            printf("(no messages contain \"%s\")\n", query);
        int64_t last = 0;
        for (uint32_t i = 0; i < r.msgs.n; i++) {
            omtp_MsgReq m;
            if (omtp_inner_msg(&r.msgs.items[i], NULL, &m) != 0)
                continue;
            last = m.timestamp;
            if (o.json) { /* one JSON object per line, the session included */
                json_t *j = json_pack("{s:s,s:I,s:I,s:s,s:s%,s:i}", "sessionId", m.sessionId.data,
                                      "seq", (json_int_t)m.seqId, "time", (json_int_t)m.timestamp,
                                      "from", m.from.data, "content", m.content.data,
                                      (size_t)m.content.len, "contentType", (int)m.contentType);
                char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (text)
                    printf("%s\n", text);
                free(text);
                json_decref(j);
            } else {
                printf("%-24s ", m.sessionId.data);
                cli_print_msg(stdout, &r.msgs.items[i], false);
            }
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        if (!o.json && (int)r.msgs.n == limit && last)
            printf("(more may be older: add --before %lld)\n", (long long)last);
    }
    omtp_msg_free(&omtp_MsgSearchResp_desc, &r);
    omtp_sync_close(c);
    return rc;
}
