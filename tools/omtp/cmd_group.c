/*
 * cmd_group.c - `omtp group ...`: create, join, quit, members, info, list,
 * dismiss, send.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *group_usage =
    "omtp group create NAME [MEMBER...]   create a group (you are its creator); prints its id\n"
    "omtp group join GROUP [USER...]      add users (default: yourself)\n"
    "omtp group quit GROUP [USER...]      remove users (default: yourself)\n"
    "omtp group members GROUP             list the members\n"
    "omtp group info GROUP                name, creator, limits of one of your groups\n"
    "omtp group list                      the groups you are in\n"
    "omtp group dismiss GROUP             dismiss a group you created\n"
    "omtp group send GROUP TEXT...        send a message to the group\n"
    "omtp group send GROUP --file PATH    send a file to the group (docs/cli.md, Files)";

static int set_strs(tars_str_list *l, int argc, char **argv)
{
    l->items = calloc((size_t)argc + 1, sizeof(tars_str));
    if (!l->items)
        return -1;
    for (int i = 0; i < argc; i++)
        if (tars_str_set(&l->items[i], argv[i]))
            return -1;
    l->n = (uint32_t)argc;
    return 0;
}

/* After GROUP_USER_NOTEXIST: names every one of `ids` that is not a user
 * (the server's desc names one). */
static void say_not_users(omtp_sync *c, const char *cmd, int n, char **ids)
{
    if (n <= 0)
        return;
    omtp_UserInfoGetResp r;
    if (omtp_sync_userinfo_all(c, (const char *const *)ids, (size_t)n, &r))
        return;
    char list[1024] = "";
    int missing = 0;
    for (int i = 0; r.errorCode.code == 0 && i < n; i++) {
        bool found = false;
        for (uint32_t j = 0; j < r.userInfos.n && !found; j++)
            found = r.userInfos.items[j].userId.data &&
                    !strcmp(r.userInfos.items[j].userId.data, ids[i]);
        if (!found && strlen(list) + strlen(ids[i]) + 3 < sizeof(list)) {
            strcat(list, missing ? ", " : "");
            strcat(list, ids[i]);
            missing++;
        }
    }
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    if (missing)
        fprintf(stderr, "omtp %s: not a user: %s\n", cmd, list);
}

static int common_reply(int rc, const omtp_CommonErrorCode *e, const char *what, int kind,
                        const char *gid, const char *ok)
{
    if (rc)
        return cli_failed(what, rc);
    if (e->code)
        return cli_refused_req(what, kind, gid, e->code, e->desc.data);
    printf("%s\n", ok);
    return 0;
}

static int group_list(omtp_sync *c, cli_opts *o, const char *only)
{
    omtp_GroupChatSyncResp r;
    int rc = omtp_sync_groups_all(c, 0, &r); /* every page */
    if (rc)
        return cli_failed("group list", rc);
    if (r.errorCode.code) {
        rc = cli_refused_req("group list", CLI_REQ_ANY, "group list", r.errorCode.code,
                             r.errorCode.desc.data);
        omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
        return rc;
    }
    int shown = 0;
    for (uint32_t i = 0; i < r.groupchats.n; i++) {
        const omtp_GroupChatInfo *g = &r.groupchats.items[i];
        if (only && strcmp(g->groupId.data, only))
            continue;
        bool dismissed = false;
        for (uint32_t j = 0; j < r.delGroupChatIds.n; j++)
            if (!strcmp(r.delGroupChatIds.items[j].data, g->groupId.data))
                dismissed = true;
        if (dismissed)
            continue;
        shown++;
        if (o->json)
            printf("{\"groupId\":\"%s\",\"name\":\"%s\",\"creator\":\"%s\",\"memberLimit\":%d}\n",
                   g->groupId.data, g->name.data, g->creatorId.data, g->memberLimit);
        else if (only)
            printf("group:    %s\nname:     %s\ncreator:  %s\ndesc:     %s\nlimit:    %d\n",
                   g->groupId.data, g->name.data, g->creatorId.data, g->desc.data, g->memberLimit);
        else
            printf("%-40s %-24s creator %s\n", g->groupId.data, g->name.data, g->creatorId.data);
    }
    if (only && !shown) {
        fprintf(stderr,
                "omtp: group info: %s is not one of your groups (or it was dismissed)\n"
                "hint: list yours with `omtp group list`\n",
                only);
        rc = CLI_EREFUSED;
    } else if (!only && !shown && !o->json) {
        printf("(you are in no group: `omtp group create NAME [MEMBER...]`)\n");
    }
    omtp_msg_free(&omtp_GroupChatSyncResp_desc, &r);
    return rc;
}

int cmd_group(int argc, char **argv)
{
    cli_opts o;
    const char *file = NULL, *name = NULL;
    const cli_opt extra[] = {
        {"file", "PATH", "group send: send a file instead of TEXT (uploaded over --http)", &file,
         NULL},
        {"name", "NAME", "with --file: the name the members see", &name, NULL},
        {NULL, NULL, NULL, NULL, NULL},
    };
    int rc = cli_start_opts(argc, argv, &o, CLI_ONESHOT_DEVICE, 1, "omtp group SUBCOMMAND ...",
                            group_usage, extra);
    if (rc >= 0)
        return rc;
    const char *sub = o.argv[0];
    if ((file || name) && (strcmp(sub, "send") || !file || o.argc != 2)) {
        fprintf(stderr, "omtp group: --file goes with `group send GROUP --file PATH` (no TEXT); "
                        "--name with --file\n");
        return CLI_EUSAGE;
    }
    if (file)
        return cli_send_file(&o, PT_MSG_GROUP_CHAT, o.argv[1], file, name);
    int need = !strcmp(sub, "list")                               ? 1
               : (!strcmp(sub, "send") || !strcmp(sub, "create")) ? (strcmp(sub, "send") ? 2 : 3)
                                                                  : 2;
    static const char *subs[] = {"create", "join",    "quit", "members",
                                 "info",   "dismiss", "list", "send"};
    bool known = false;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        known |= !strcmp(sub, subs[i]);
    if (!known) {
        fprintf(stderr, "omtp group: unknown subcommand '%s'\nusage:\n%s\n", sub, group_usage);
        return CLI_EUSAGE;
    }
    if (o.argc < need) {
        fprintf(stderr, "usage:\n%s\n", group_usage);
        return CLI_EUSAGE;
    }
    if (!strcmp(sub, "send")) {
        char text[65536];
        cli_join(o.argc, o.argv, 2, text, sizeof(text));
        return cli_send_common(&o, PT_MSG_GROUP_CHAT, o.argv[1], text);
    }
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    const char *gid = o.argc > 1 ? o.argv[1] : "";
    char *self[1] = {o.user};
    int nusers = o.argc - 2;
    char **users = o.argv + 2;
    if (nusers <= 0) {
        nusers = 1;
        users = self;
    }
    char ok[600];
    if (!strcmp(sub, "create")) {
        omtp_GroupChatCreateReq q;
        omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
        tars_str_set(&q.groupInfo.name, o.argv[1]);
        tars_str_set(&q.groupInfo.creatorId, o.user);
        set_strs(&q.memberIds, o.argc - 2, o.argv + 2);
        omtp_GroupChatCreateResp r;
        rc = omtp_sync_call(c, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                            &omtp_GroupChatCreateResp_desc, &r);
        if (rc)
            rc = cli_failed("group create", rc);
        else if (r.errorCode.code) {
            rc = cli_refused_req("group create", CLI_REQ_GROUP_CREATE, o.argv[1], r.errorCode.code,
                                 r.errorCode.desc.data);
            if (r.errorCode.code == OMTP_EC_GROUP_USER_NOTEXIST)
                say_not_users(c, "group create", o.argc - 2, o.argv + 2);
        } else if (o.json)
            printf("{\"groupId\":\"%s\"}\n", r.groupId.data);
        else
            printf("%s\n", r.groupId.data);
        omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
        omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
    } else if (!strcmp(sub, "join")) {
        omtp_GroupChatJoinReq q;
        omtp_msg_init(&omtp_GroupChatJoinReq_desc, &q);
        tars_str_set(&q.groupId, gid);
        set_strs(&q.memberIds, nusers, users);
        omtp_GroupChatJoinResp r;
        rc = omtp_sync_call(c, PT_GROUPCHAT_JION, &omtp_GroupChatJoinReq_desc, &q,
                            &omtp_GroupChatJoinResp_desc, &r);
        if (users == self)
            snprintf(ok, sizeof(ok), "joined %s", gid);
        else
            snprintf(ok, sizeof(ok), "added %d member%s to %s", nusers, nusers == 1 ? "" : "s",
                     gid);
        rc = common_reply(rc, &r.errorCode, "group join", CLI_REQ_GROUP_JOIN, gid, ok);
        if (rc == CLI_EREFUSED && r.errorCode.code == OMTP_EC_GROUP_USER_NOTEXIST)
            say_not_users(c, "group join", nusers, users);
        omtp_msg_free(&omtp_GroupChatJoinResp_desc, &r);
        omtp_msg_free(&omtp_GroupChatJoinReq_desc, &q);
    } else if (!strcmp(sub, "quit")) {
        omtp_GroupChatQuitReq q;
        omtp_msg_init(&omtp_GroupChatQuitReq_desc, &q);
        tars_str_set(&q.groupId, gid);
        tars_str_set(&q.operatorId, o.user);
        set_strs(&q.memberIds, nusers, users);
        omtp_CommonErrorCode e;
        rc = omtp_sync_call(c, PT_GROUPCHAT_QUIT, &omtp_GroupChatQuitReq_desc, &q,
                            &omtp_CommonErrorCode_desc, &e);
        if (users == self)
            snprintf(ok, sizeof(ok), "left %s", gid);
        else
            snprintf(ok, sizeof(ok), "removed %d member%s from %s", nusers, nusers == 1 ? "" : "s",
                     gid);
        rc = common_reply(rc, &e, "group quit", CLI_REQ_GROUP_QUIT, gid, ok);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
        omtp_msg_free(&omtp_GroupChatQuitReq_desc, &q);
    } else if (!strcmp(sub, "dismiss")) {
        omtp_GroupChatDismissReq q;
        omtp_msg_init(&omtp_GroupChatDismissReq_desc, &q);
        tars_str_set(&q.groupId, gid);
        tars_str_set(&q.operatorId, o.user);
        omtp_CommonErrorCode e;
        rc = omtp_sync_call(c, PT_GROUPCHAT_DISMISS, &omtp_GroupChatDismissReq_desc, &q,
                            &omtp_CommonErrorCode_desc, &e);
        snprintf(ok, sizeof(ok), "dismissed %s", gid);
        rc = common_reply(rc, &e, "group dismiss", CLI_REQ_GROUP_DISMISS, gid, ok);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
        omtp_msg_free(&omtp_GroupChatDismissReq_desc, &q);
    } else if (!strcmp(sub, "members")) {
        omtp_GroupChatMemberGetResp r;
        rc = omtp_sync_members_all(c, gid, &r); /* every page */
        if (rc)
            rc = cli_failed("group members", rc);
        else if (r.errorCode.code)
            rc = cli_refused_req("group members", CLI_REQ_GROUP_MEMBERS, gid, r.errorCode.code,
                                 r.errorCode.desc.data);
        else
            for (uint32_t i = 0; i < r.memberIds.n; i++)
                printf("%s\n", r.memberIds.items[i].data);
        omtp_msg_free(&omtp_GroupChatMemberGetResp_desc, &r);
    } else if (!strcmp(sub, "info")) {
        rc = group_list(c, &o, gid);
    } else {
        rc = group_list(c, &o, NULL);
    }
    omtp_sync_close(c);
    return rc;
}
