/*
 * cmd_react.c - the `omtp` commands of the extensions reactions, replies
 * and mentions (spec omtp-ext.tars; docs/protocol.md, Extensions):
 *
 *   omtp react   SESSION|USER SEQ EMOJI        add a reaction
 *   omtp unreact SESSION|USER SEQ EMOJI        take it back
 *   omtp reply   SESSION|USER SEQ TEXT...      answer message SEQ; words
 *                                              "@id" in TEXT mention id
 *                                              ("@all": the whole group)
 *
 * and how history shows them (cli_print_ext, called by cli_print_msg).
 * One-shot commands: log in, ask, print, log out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proto/omtp_limits.h"

#define DEFAULT_ONESHOT_DEVICE CLI_ONESHOT_DEVICE /* as the other one-shot commands (cli.h) */

void cli_print_ext(FILE *f, const omtp_MsgReq *m)
{
    if (m->replyTo > 0)
        fprintf(f, "        (reply to #%lld)\n", (long long)m->replyTo);
    if (m->mentions.n) {
        fprintf(f, "        (mentions");
        for (uint32_t i = 0; i < m->mentions.n; i++)
            fprintf(f, " @%s", m->mentions.items[i].data + (m->mentions.items[i].data[0] == '@'));
        fprintf(f, ")\n");
    }
    if (m->reactions.n) {
        fprintf(f, "       ");
        for (uint32_t k = 0; k < m->reactions.n; k++) {
            fprintf(f, " %s %u (", m->reactions.keys[k].data, m->reactions.vals[k].n);
            for (uint32_t i = 0; i < m->reactions.vals[k].n; i++)
                fprintf(f, "%s%s", i ? " " : "", m->reactions.vals[k].items[i].data);
            fprintf(f, ")");
        }
        fprintf(f, "\n");
    }
}

/* SESSION|USER SEQ ...: the session id and the seq, or an exit code. */
static int target(const cli_opts *o, char *sid, size_t n, int64_t *seq)
{
    *seq = atoll(o->argv[1]);
    if (*seq <= 0) {
        fprintf(stderr, "omtp: SEQ must be a message number (see `omtp history SESSION`)\n");
        return CLI_EUSAGE;
    }
    if (cli_resolve_session(o->user, o->argv[0], sid, n))
        return cli_bad_peer(o->argv[0]);
    return -1;
}

static int react_cmd(int argc, char **argv, int op, const char *verb, const char *usage,
                     const char *desc)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEFAULT_ONESHOT_DEVICE, 3, usage, desc);
    if (rc >= 0)
        return rc;
    char sid[600];
    int64_t seq;
    if ((rc = target(&o, sid, sizeof sid, &seq)) >= 0)
        return rc;
    const char *emoji = o.argv[2];
    if (!*emoji || strlen(emoji) > OMTP_LIMIT_EMOJI) {
        fprintf(stderr, "omtp: EMOJI must be 1..%d bytes of UTF-8\n", OMTP_LIMIT_EMOJI);
        return CLI_EUSAGE;
    }
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    omtp_CommonErrorCode e;
    rc = omtp_sync_react(c, sid, seq, emoji, op, &e);
    if (rc)
        rc = cli_failed(verb, rc);
    else if (e.code)
        rc = cli_refused(verb, e.code, e.desc.data);
    else if (o.json)
        printf("{\"sessionId\":\"%s\",\"seq\":%lld,\"op\":%d}\n", sid, (long long)seq, op);
    else
        printf("%s %s on message #%lld in %s\n", op == 1 ? "reacted" : "removed", emoji,
               (long long)seq, sid);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    omtp_sync_close(c);
    return rc;
}

int cmd_react(int argc, char **argv)
{
    return react_cmd(argc, argv, 1, "react", "omtp react SESSION|USER SEQ EMOJI [OPTIONS]",
                     "Adds a reaction (an emoji, 1..32 bytes) to message SEQ of a conversation;\n"
                     "everyone in it sees it. Each emoji once per message.");
}

int cmd_unreact(int argc, char **argv)
{
    return react_cmd(argc, argv, 2, "unreact", "omtp unreact SESSION|USER SEQ EMOJI [OPTIONS]",
                     "Takes back a reaction you added.");
}

int cmd_reply(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEFAULT_ONESHOT_DEVICE, 3,
                       "omtp reply SESSION|USER SEQ TEXT... [OPTIONS]",
                       "Answers message SEQ of a conversation (a user or a GC_ group id). Words\n"
                       "of TEXT written @id mention that user; @all mentions the whole group\n"
                       "(its creator only).");
    if (rc >= 0)
        return rc;
    char sid[600];
    int64_t seq;
    if ((rc = target(&o, sid, sizeof sid, &seq)) >= 0)
        return rc;
    bool group = !strncmp(sid, "GC_", 3);
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    char text[65536];
    cli_join(o.argc, o.argv, 2, text, sizeof text);
    tars_str_set(&m.to, group ? sid : o.argv[0]);
    tars_str_set(&m.content, text);
    m.contentType = 1;
    m.replyTo = seq;
    m.mentions.items = calloc((size_t)o.argc, sizeof(tars_str));
    for (int i = 2; m.mentions.items && i < o.argc; i++)
        for (char *w = strchr(o.argv[i], '@'); w; w = strchr(w + 1, '@')) {
            if (w != o.argv[i] && w[-1] != ' ')
                continue;
            size_t n = strcspn(w + 1, " ,.:;!?");
            if (n == 0 || m.mentions.n >= (uint32_t)o.argc)
                continue;
            if (n == 3 && !strncmp(w + 1, "all", 3))
                tars_str_set(&m.mentions.items[m.mentions.n++], "@all");
            else
                tars_str_setn(&m.mentions.items[m.mentions.n++], w + 1, n);
        }
    omtp_sync *c;
    if ((rc = cli_login(&o, &c))) {
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        return rc;
    }
    omtp_MsgAck ack;
    int crc = omtp_sync_call(c, group ? PT_MSG_GROUP_CHAT : PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc,
                             &m, &omtp_MsgAck_desc, &ack);
    if (crc)
        rc = cli_failed("reply", crc);
    else if (ack.code)
        rc = cli_refused_req("reply", group ? CLI_REQ_GROUP_SEND : CLI_REQ_SEND, o.argv[0],
                             ack.code, ack.desc.data);
    else if (o.json)
        printf("{\"sessionId\":\"%s\",\"seq\":%lld,\"replyTo\":%lld}\n", ack.sessionId.data,
               (long long)ack.seqId, (long long)seq);
    else
        printf("replied to #%lld: session %s seq %lld\n", (long long)seq, ack.sessionId.data,
               (long long)ack.seqId);
    if (!crc)
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_sync_close(c);
    return rc;
}
