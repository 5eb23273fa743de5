/*
 * cmd_presence.c - the extension commands of `omtp` (spec/omtp-ext.tars):
 *   omtp presence USER...        watch users: their state, then each change
 *   omtp typing SESSION|USER [1|0]   tell a conversation you are typing
 *   omtp readers SESSION SEQ     who of the members read up to SEQ
 * docs/protocol.md, "Extensions".
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DEVICE_EXT CLI_ONESHOT_DEVICE /* like the other one-shot commands (cli.h) */

static void print_state(const omtp_PresenceInfo *p, bool json)
{
    if (json) {
        printf("{\"userId\":\"%s\",\"online\":%s,\"devices\":%d,\"lastSeen\":%lld}\n",
               p->userId.data, p->online ? "true" : "false", p->devices, (long long)p->lastSeen);
    } else {
        char ts[32] = "hidden or never";
        if (p->lastSeen)
            cli_fmt_time(p->lastSeen, ts, sizeof(ts));
        printf("%-20s %-7s devices %d  last seen %s\n", p->userId.data,
               p->online ? "online" : "away", p->devices, p->online ? "now" : ts);
    }
    fflush(stdout);
}

int cmd_presence(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEVICE_EXT, 1, "omtp presence USER...",
                       "Watches the presence of friends and people you share a conversation\n"
                       "with: prints their state, then one line per change, until Ctrl-C.\n"
                       "Users you may not watch are left out silently. --json: one object a line.");
    if (rc >= 0)
        return rc;
    for (int i = 0; i < o.argc; i++)
        if (!omtp_id_valid(o.argv[i]))
            return cli_bad_peer(o.argv[i]);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    omtp_PresenceSubResp r;
    rc = omtp_sync_presence_sub(c, (const char *const *)o.argv, (size_t)o.argc, &r);
    if (rc) {
        rc = cli_failed("presence", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused("presence", r.errorCode.code, r.errorCode.desc.data);
    } else {
        if (!r.users.n)
            fprintf(stderr, "omtp presence: none of these users may be watched (friends and "
                            "people you share a conversation with only)\n");
        for (uint32_t i = 0; i < r.users.n; i++)
            print_state(&r.users.items[i], o.json);
    }
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    while (!rc) {
        omtp_packet p;
        int e = omtp_sync_next_push(c, 25000, &p);
        if (e == OMTP_ETIMEDOUT) {
            if ((e = omtp_sync_ping(c)) != 0)
                rc = cli_failed("presence", e);
            continue;
        }
        if (e) {
            rc = cli_failed("presence", e);
            break;
        }
        if (p.header.type == PT_PRESENCE && p.body) {
            const omtp_PresenceNotice *n = p.body;
            for (uint32_t i = 0; i < n->users.n; i++)
                print_state(&n->users.items[i], o.json);
        }
        omtp_packet_free(&p);
    }
    omtp_sync_close(c);
    return rc;
}

int cmd_typing(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEVICE_EXT, 1, "omtp typing SESSION|USER [1|0]",
                       "Tells the other members of a conversation that you are typing (1, the\n"
                       "default) or stopped (0). At most one notice per second is relayed.");
    if (rc >= 0)
        return rc;
    char sid[600];
    if (cli_resolve_session(o.user, o.argv[0], sid, sizeof(sid)))
        return cli_bad_peer(o.argv[0]);
    int state = o.argc > 1 ? atoi(o.argv[1]) : 1;
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    int code = 0;
    rc = omtp_sync_typing(c, sid, state, 1000, &code);
    if (rc)
        rc = cli_failed("typing", rc);
    else if (code)
        rc = cli_refused("typing", code, "refused (see docs/protocol.md, Extensions)");
    else
        printf("%s: typing %s\n", sid, state ? "started" : "stopped");
    omtp_sync_close(c);
    return rc;
}

static void print_ids(const char *label, const tars_str_list *l)
{
    printf("%s (%u):", label, l->n);
    for (uint32_t i = 0; i < l->n; i++)
        printf("%s%s", i ? ", " : " ", l->items[i].data);
    printf("\n");
}

int cmd_readers(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEVICE_EXT, 2, "omtp readers SESSION|USER SEQ",
                       "Shows which members of a conversation have read message SEQ and which\n"
                       "have not (the sender is in neither). Groups of up to 500 members.");
    if (rc >= 0)
        return rc;
    char sid[600];
    if (cli_resolve_session(o.user, o.argv[0], sid, sizeof(sid)))
        return cli_bad_peer(o.argv[0]);
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    omtp_MsgReadersResp r;
    rc = omtp_sync_readers(c, sid, atoll(o.argv[1]), &r);
    if (rc) {
        rc = cli_failed("readers", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused("readers", r.errorCode.code, r.errorCode.desc.data);
    } else if (o.json) {
        printf("{\"readers\":[");
        for (uint32_t i = 0; i < r.readers.n; i++)
            printf("%s\"%s\"", i ? "," : "", r.readers.items[i].data);
        printf("],\"unread\":[");
        for (uint32_t i = 0; i < r.unread.n; i++)
            printf("%s\"%s\"", i ? "," : "", r.unread.items[i].data);
        printf("]}\n");
    } else {
        print_ids("read", &r.readers);
        print_ids("unread", &r.unread);
    }
    omtp_msg_free(&omtp_MsgReadersResp_desc, &r);
    omtp_sync_close(c);
    return rc;
}
