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

/* --NAME VALUE or --NAME=VALUE at o->argv[*i]; moves *i past it. */
static const char *opt_value(cli_opts *o, int *i, const char *name)
{
    const char *a = o->argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= o->argc) {
        fprintf(stderr, "omtp: %s needs a value\n", name);
        exit(CLI_EUSAGE);
    }
    return o->argv[++*i];
}

int cmd_search(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(
        argc, argv, &o, DEVICE_MACOS, 1,
        "omtp search QUERY... [--session SESSION|USER] [--before TS] [--limit N] [--json]",
        "Finds messages of your conversations that contain QUERY (at least 3\n"
        "characters; Chinese text matches by substring; quotes, *, -, NEAR, AND/OR\n"
        "are plain text). Newest first, N per page (default 20, at most 100);\n"
        "--before TS shows the page older than timestamp TS (ms), as printed at\n"
        "the end of a full page. --session limits it to one conversation.");
    if (rc >= 0)
        return rc;
    const char *session = NULL, *v;
    int64_t before = 0;
    int limit = 20;
    char query[1024] = "";
    for (int i = 0; i < o.argc; i++) {
        if ((v = opt_value(&o, &i, "--session"))) {
            session = v;
        } else if ((v = opt_value(&o, &i, "--before"))) {
            char *end;
            before = strtoll(v, &end, 10);
            if (*end || before < 0) {
                fprintf(stderr, "omtp: --before wants a timestamp in ms, not '%s'\n", v);
                return CLI_EUSAGE;
            }
        } else if ((v = opt_value(&o, &i, "--limit"))) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 100) {
                fprintf(stderr, "omtp: --limit wants 1..100, not '%s'\n", v);
                return CLI_EUSAGE;
            }
            limit = (int)n;
        } else {
            if (query[0])
                strncat(query, " ", sizeof(query) - strlen(query) - 1);
            strncat(query, o.argv[i], sizeof(query) - strlen(query) - 1);
        }
    }
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
