/*
 * cmd_msg.c - one-shot message commands: login, send, sessions, history,
 * read, revoke, edit, delete.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/omtp_client.h"
#include "client/omtp_files.h"

#define DEFAULT_ONESHOT_DEVICE CLI_ONESHOT_DEVICE

#define resolve_session cli_resolve_session

static int start(int argc, char **argv, cli_opts *o, int min_args, const char *usage_line,
                 const char *desc)
{
    return cli_start(argc, argv, o, DEFAULT_ONESHOT_DEVICE, min_args, usage_line, desc);
}

int cmd_login(int argc, char **argv)
{
    cli_opts o;
    int rc = start(argc, argv, &o, 0, "omtp login [OPTIONS]",
                   "Connects, logs in and out, and says whether it worked.");
    if (rc >= 0)
        return rc;
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    printf("logged in to %s:%d as %s (device %s)\n", o.host, o.port, o.user,
           cli_device_name(o.device));
    omtp_sync_logout(c);
    omtp_sync_close(c);
    return 0;
}

int cli_send_common(cli_opts *o, int type, const char *to, const char *text)
{
    omtp_sync *c;
    int rc = cli_login(o, &c);
    if (rc)
        return rc;
    omtp_MsgAck ack;
    rc = omtp_sync_send_msg(c, type, to, text, NULL, 0, &ack);
    if (rc) {
        rc = cli_failed("send", rc);
    } else if (ack.code != 0) {
        rc = cli_refused_req(o->cmd, type == PT_MSG_GROUP_CHAT ? CLI_REQ_GROUP_SEND : CLI_REQ_SEND,
                             to, ack.code, ack.desc.data);
    } else if (o->json) {
        printf("{\"sessionId\":\"%s\",\"seq\":%lld,\"timestamp\":%lld}\n", ack.sessionId.data,
               (long long)ack.seqId, (long long)ack.timestamp);
    } else {
        printf("sent to %s: session %s seq %lld\n", to, ack.sessionId.data, (long long)ack.seqId);
    }
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_sync_close(c);
    return rc;
}

int cmd_send(int argc, char **argv)
{
    cli_opts o;
    const char *file = NULL, *name = NULL;
    const cli_opt extra[] = {
        {"file", "PATH", "send a file instead of TEXT: uploaded over HTTP (--http, --token)", &file,
         NULL},
        {"name", "NAME", "with --file: the name the peer sees (default: PATH's last part)", &name,
         NULL},
        {NULL, NULL, NULL, NULL, NULL},
    };
    int rc = cli_start_opts(
        argc, argv, &o, DEFAULT_ONESHOT_DEVICE, 1, "omtp send USER TEXT... | --file PATH [OPTIONS]",
        "Sends a one-to-one message; prints the session id and the message's seq.\n"
        "TEXT '-' reads the message from standard input.\n"
        "--file PATH uploads the file to omtpd (POST /v1/files, over --http with your\n"
        "--token) and sends a media message referencing it: an image (contentType 3),\n"
        "voice (2, audio), video (6) or file (7), by the type the server sniffed.",
        extra);
    if (rc >= 0)
        return rc;
    if (file) {
        if (o.argc != 1) {
            fprintf(stderr, "omtp send: --file sends the file alone: give USER and no TEXT\n");
            return CLI_EUSAGE;
        }
        return cli_send_file(&o, PT_MSG_SINGLE_CHAT, o.argv[0], file, name);
    }
    if (name) {
        fprintf(stderr, "omtp send: --name goes with --file\n");
        return CLI_EUSAGE;
    }
    if (o.argc < 2) {
        fprintf(stderr, "usage: omtp send USER TEXT... | --file PATH [OPTIONS]\n(run with --help "
                        "for details)\n");
        return CLI_EUSAGE;
    }
    char text[65536] = "";
    if (o.argc == 2 && !strcmp(o.argv[1], "-")) {
        size_t n = fread(text, 1, sizeof(text) - 1, stdin);
        text[n] = 0;
        while (n && text[n - 1] == '\n')
            text[--n] = 0;
    } else {
        for (int i = 1; i < o.argc; i++) {
            if (i > 1)
                strncat(text, " ", sizeof(text) - strlen(text) - 1);
            strncat(text, o.argv[i], sizeof(text) - strlen(text) - 1);
        }
    }
    return cli_send_common(&o, PT_MSG_SINGLE_CHAT, o.argv[0], text);
}

int cmd_sessions(int argc, char **argv)
{
    cli_opts o;
    int rc = start(argc, argv, &o, 0, "omtp sessions [--json] [OPTIONS]",
                   "Lists your conversations (most recent first) with unread counts and the\n"
                   "last message.");
    if (rc >= 0)
        return rc;
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    int64_t cursor = 0;
    int total = 0;
    if (!o.json)
        printf("%-32s %6s %6s  %s\n", "SESSION", "UNREAD", "LAST", "LAST MESSAGE");
    for (int page = 0; page < 1000; page++) {
        omtp_HotSessionResp r;
        rc = omtp_sync_hot_sessions(c, cursor, &r);
        if (rc) {
            rc = cli_failed("sessions", rc);
            break;
        }
        if (r.code) {
            rc = cli_refused_req(o.cmd, CLI_REQ_ANY, "sessions", r.code, NULL);
            omtp_msg_free(&omtp_HotSessionResp_desc, &r);
            break;
        }
        for (uint32_t i = 0; i < r.sessions.n; i++) {
            const omtp_HotSessionItem *it = &r.sessions.items[i];
            total++;
            if (o.json) {
                printf("{\"sessionId\":\"%s\",\"unread\":%d,\"readSeq\":%lld,\"lastSeq\":%lld,"
                       "\"attribute\":%s}\n",
                       it->sessionId.data, it->unreadCount, (long long)it->readSeqId,
                       (long long)omtp_inner_last_seq(it, NULL),
                       it->attribute.len ? it->attribute.data : "null");
                continue;
            }
            printf("%-32s %6d %6lld  ", it->sessionId.data, it->unreadCount,
                   (long long)omtp_inner_last_seq(it, NULL));
            omtp_MsgReq m;
            if (it->lastMsgs.n && omtp_inner_msg(&it->lastMsgs.items[0], NULL, &m) == 0) {
                char media[512];
                printf("%s: %.60s", m.from.data,
                       omtp_file_summary(m.contentType, m.content.data, m.content.len, media,
                                         sizeof(media))
                           ? media
                           : m.content.data);
                omtp_msg_free(&omtp_MsgReq_desc, &m);
            }
            printf("\n");
        }
        bool more = r.sessions.n > 0 && r.timestamp > cursor;
        cursor = r.timestamp;
        omtp_msg_free(&omtp_HotSessionResp_desc, &r);
        if (!more)
            break;
    }
    if (!rc && !o.json && total == 0)
        printf("(no conversations yet: start one with `omtp send USER TEXT`)\n");
    omtp_sync_close(c);
    return rc;
}

/*
 * An empty one-to-one conversation: is the other side a user at all? (The
 * server answers an empty history for any single-chat session id of the
 * caller.) Returns 0 if so (or if it cannot tell), else CLI_EREFUSED after
 * saying that there is no such user.
 */
static int check_peer(omtp_sync *c, cli_opts *o, const char *arg, const char *sid)
{
    char peer[300] = "";
    if (strncmp(sid, "SC_", 3))
        return 0;
    if (strncmp(arg, "SC_", 3)) {
        snprintf(peer, sizeof(peer), "%s", arg);
    } else {
        /* SC_<a>_<b>: ids contain no '_' (docs/protocol.md) */
        const char *a = sid + 3, *us = strchr(a, '_');
        if (!us)
            return 0;
        size_t al = (size_t)(us - a);
        if (al == strlen(o->user) && !strncmp(a, o->user, al))
            snprintf(peer, sizeof(peer), "%s", us + 1);
        else
            snprintf(peer, sizeof(peer), "%.*s", (int)(al < 256 ? al : 256), a);
    }
    if (!peer[0] || !strcmp(peer, o->user))
        return 0;
    const char *ids[1] = {peer};
    omtp_UserInfoGetResp r;
    int rc = omtp_sync_userinfo_all(c, ids, 1, &r);
    bool missing = rc == 0 && r.errorCode.code == 0 && r.userInfos.n == 0;
    if (rc == 0)
        omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    if (!missing)
        return 0;
    fprintf(stderr,
            "omtp %s: no user %s, so there is no conversation %s\nhint: check the id (`omtp "
            "user get ID` shows a user); your conversations: `omtp sessions`\n",
            o->cmd, peer, sid);
    return CLI_EREFUSED;
}

int cmd_history(int argc, char **argv)
{
    cli_opts o;
    int rc = start(argc, argv, &o, 1, "omtp history SESSION|USER [COUNT|all [BEFORE_SEQ]] [--json]",
                   "Shows the last COUNT (default 20; `all` = the whole conversation) messages\n"
                   "of a conversation, oldest first; BEFORE_SEQ pages back (messages with\n"
                   "seq <= it). Long histories are fetched page by page.\n"
                   "SESSION is a session id (SC_..., GC_...) or the other user's id.");
    if (rc >= 0)
        return rc;
    bool all = o.argc > 1 && strcmp(o.argv[1], "all") == 0;
    int count = o.argc > 1 && !all ? atoi(o.argv[1]) : 20;
    int64_t before = o.argc > 2 ? atoll(o.argv[2]) : 0;
    if (count <= 0)
        count = 20;
    if (all)
        count = 0;
    char sid[600];
    if (resolve_session(o.user, o.argv[0], sid, sizeof(sid)))
        return cli_bad_peer(o.argv[0]);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    omtp_HistoryMsgPullResp r;
    rc = omtp_sync_history_all(c, sid, before, count, &r);
    if (rc) {
        rc = cli_failed("history", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused_req(o.cmd, CLI_REQ_HISTORY, sid, r.errorCode.code, r.errorCode.desc.data);
    } else if (r.msgs.n == 0 && (rc = check_peer(c, &o, o.argv[0], sid))) {
        /* said there: no such user */
    } else {
        if (!o.json && r.msgs.n == 0)
            printf("(no messages in %s)\n", sid);
        for (uint32_t i = r.msgs.n; i-- > 0;)
            cli_print_msg(stdout, &r.msgs.items[i], o.json);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &r);
    omtp_sync_close(c);
    return rc;
}

/* Finds the packId and seq of message `seq` (<= 0: the newest). */
static int find_msg(omtp_sync *c, const char *sid, int64_t seq, char *pack_id, int64_t *found)
{
    omtp_HistoryMsgPullResp r;
    int rc = omtp_sync_history(c, sid, seq, 1, &r);
    if (rc) {
        rc = cli_failed("looking the message up", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused_req("looking the message up", CLI_REQ_HISTORY, sid, r.errorCode.code,
                             r.errorCode.desc.data);
    } else if (r.msgs.n == 0 || (seq > 0 && r.msgs.items[0].payload.len == 0)) {
        rc = CLI_EREFUSED;
    } else {
        omtp_MsgReq m;
        *found = 0;
        if (omtp_inner_msg(&r.msgs.items[0], NULL, &m) == 0) {
            *found = m.seqId;
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        snprintf(pack_id, 37, "%s",
                 r.msgs.items[0].header.packId.data ? r.msgs.items[0].header.packId.data : "");
        if (seq > 0 && *found != seq)
            rc = CLI_EREFUSED;
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &r);
    return rc;
}

int cmd_read(int argc, char **argv)
{
    cli_opts o;
    int rc = start(argc, argv, &o, 1, "omtp read SESSION|USER [SEQ]",
                   "Moves your read cursor of a conversation to SEQ (default: its newest\n"
                   "message), so its unread count drops to 0.");
    if (rc >= 0)
        return rc;
    char sid[600];
    if (resolve_session(o.user, o.argv[0], sid, sizeof(sid)))
        return cli_bad_peer(o.argv[0]);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    int64_t seq = o.argc > 1 ? atoll(o.argv[1]) : 0;
    if (seq <= 0) {
        char pid[37];
        rc = find_msg(c, sid, 0, pid, &seq);
        if (rc == CLI_EREFUSED && seq == 0) {
            rc = check_peer(c, &o, o.argv[0], sid);
            if (!rc)
                printf("%s has no messages\n", sid);
            omtp_sync_close(c);
            return rc;
        }
    }
    if (!rc) {
        omtp_CommonErrorCode e;
        rc = omtp_sync_read(c, sid, seq, &e);
        if (rc)
            rc = cli_failed("read", rc);
        else if (e.code)
            rc = cli_refused_req(o.cmd, CLI_REQ_READ, sid, e.code, e.desc.data);
        else
            printf("%s read up to seq %lld\n", sid, (long long)seq);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    }
    omtp_sync_close(c);
    return rc;
}

static int ctrl_cmd(int argc, char **argv, int command, const char *verb, const char *usage_line,
                    const char *desc)
{
    cli_opts o;
    int need = command == MC_OVERRIDE ? 3 : 2;
    int rc = start(argc, argv, &o, need, usage_line, desc);
    if (rc >= 0)
        return rc;
    int64_t seq = atoll(o.argv[1]);
    if (seq <= 0) {
        fprintf(stderr, "omtp: SEQ must be a message number (see `omtp history SESSION`)\n");
        return CLI_EUSAGE;
    }
    char sid[600];
    if (resolve_session(o.user, o.argv[0], sid, sizeof(sid)))
        return cli_bad_peer(o.argv[0]);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    char pid[37] = "";
    int64_t found = 0;
    rc = find_msg(c, sid, seq, pid, &found);
    if (rc == CLI_EREFUSED && found != seq) {
        fprintf(stderr,
                "omtp: %s: no message #%lld in %s\nhint: list them with `omtp history %s`\n", verb,
                (long long)seq, sid, o.argv[0]);
    } else if (!rc) {
        char text[65536] = "";
        for (int i = 2; i < o.argc; i++) {
            if (i > 2)
                strncat(text, " ", sizeof(text) - strlen(text) - 1);
            strncat(text, o.argv[i], sizeof(text) - strlen(text) - 1);
        }
        omtp_CommonErrorCode e;
        rc = omtp_sync_ctrl(c, command, sid, seq, pid, command == MC_OVERRIDE ? text : NULL, &e);
        if (rc)
            rc = cli_failed(verb, rc);
        else if (e.code)
            rc = cli_refused_req(verb, CLI_REQ_CTRL, sid, e.code, e.desc.data);
        else
            printf("%s: message #%lld in %s\n",
                   command == MC_REVOKE   ? "revoked"
                   : command == MC_DELETE ? "deleted"
                                          : "edited",
                   (long long)seq, sid);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    }
    omtp_sync_close(c);
    return rc;
}

int cmd_revoke(int argc, char **argv)
{
    return ctrl_cmd(argc, argv, MC_REVOKE, "revoke", "omtp revoke SESSION|USER SEQ",
                    "Revokes a message you sent (within the server's time limit); everyone in\n"
                    "the conversation sees it as revoked.");
}

int cmd_edit(int argc, char **argv)
{
    return ctrl_cmd(argc, argv, MC_OVERRIDE, "edit", "omtp edit SESSION|USER SEQ TEXT...",
                    "Replaces the text of a message you sent (within the time limit).");
}

int cmd_delete(int argc, char **argv)
{
    return ctrl_cmd(argc, argv, MC_DELETE, "delete", "omtp delete SESSION|USER SEQ",
                    "Deletes a message you sent (or, in a group you created, any message).");
}
