/*
 * cmd_social.c - `omtp friends add|del|list` and `omtp user get|set`.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *friends_usage = "omtp friends add USER [REMARK...]   add a friend (mutual)\n"
                                   "omtp friends del USER               remove a friend\n"
                                   "omtp friends list                   list your friends";

static const char *user_usage =
    "omtp user get [USER...]             show user info (default: yourself)\n"
    "omtp user set FIELD=VALUE...        change your info; fields: name, avatar, mobile,\n"
    "                                    birthday (a number, e.g. 19900131)";

int cmd_friends(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, CLI_ONESHOT_DEVICE, 1, "omtp friends SUBCOMMAND ...",
                       friends_usage);
    if (rc >= 0)
        return rc;
    const char *sub = o.argv[0];
    bool add = !strcmp(sub, "add"), del = !strcmp(sub, "del"), list = !strcmp(sub, "list");
    if (!add && !del && !list) {
        fprintf(stderr, "omtp friends: unknown subcommand '%s'\nusage:\n%s\n", sub, friends_usage);
        return CLI_EUSAGE;
    }
    if ((add || del) && o.argc < 2) {
        fprintf(stderr, "usage:\n%s\n", friends_usage);
        return CLI_EUSAGE;
    }
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    if (list) {
        omtp_FriendSyncResp r;
        rc = omtp_sync_friends_all(c, 0, &r); /* every page */
        if (rc) {
            rc = cli_failed("friends list", rc);
        } else if (r.errorCode.code) {
            rc = cli_refused_req("friends list", CLI_REQ_ANY, "friends list", r.errorCode.code,
                                 r.errorCode.desc.data);
        } else {
            for (uint32_t i = 0; i < r.friends.n; i++) {
                const omtp_FriendInfo *f = &r.friends.items[i];
                if (o.json)
                    printf("{\"friendId\":\"%s\",\"remark\":\"%s\"}\n", f->friendId.data,
                           f->remark.data);
                else
                    printf("%-24s %s\n", f->friendId.data, f->remark.data);
            }
            if (!o.json && r.friends.n == 0)
                printf("(no friends yet: `omtp friends add USER`)\n");
        }
        omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
    } else {
        omtp_FriendAddReq q; /* FriendDelReq has the same layout */
        omtp_msg_init(&omtp_FriendAddReq_desc, &q);
        q.friends.items = calloc(1, sizeof(omtp_FriendInfo));
        q.friends.n = 1;
        omtp_FriendInfo *f = &q.friends.items[0];
        omtp_msg_init(&omtp_FriendInfo_desc, f);
        char remark[1024];
        cli_join(o.argc, o.argv, 2, remark, sizeof(remark));
        tars_str_set(&f->userId, o.user);
        tars_str_set(&f->friendId, o.argv[1]);
        tars_str_set(&f->remark, remark);
        omtp_CommonErrorCode e;
        rc = omtp_sync_call(c, add ? PT_FRIEND_ADD : PT_FRIEND_DEL,
                            add ? &omtp_FriendAddReq_desc : &omtp_FriendDelReq_desc, &q,
                            &omtp_CommonErrorCode_desc, &e);
        if (rc)
            rc = cli_failed(add ? "friends add" : "friends del", rc);
        else if (e.code)
            rc = cli_refused_req(add ? "friends add" : "friends del",
                                 add ? CLI_REQ_FRIEND_ADD : CLI_REQ_FRIEND_DEL, o.argv[1], e.code,
                                 e.desc.data);
        else
            printf("%s %s\n", add ? "added friend" : "removed friend", o.argv[1]);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
        omtp_msg_free(&omtp_FriendAddReq_desc, &q);
    }
    omtp_sync_close(c);
    return rc;
}

static int user_get(omtp_sync *c, int n, char **ids, omtp_UserInfoGetResp *r)
{
    /* every page (profiles larger than a frame come in several) */
    return omtp_sync_userinfo_all(c, (const char *const *)ids, (size_t)n, r);
}

int cmd_user(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, CLI_ONESHOT_DEVICE, 1, "omtp user get|set ...", user_usage);
    if (rc >= 0)
        return rc;
    const char *sub = o.argv[0];
    bool get = !strcmp(sub, "get"), set = !strcmp(sub, "set");
    if (!get && !set) {
        fprintf(stderr, "omtp user: unknown subcommand '%s'\nusage:\n%s\n", sub, user_usage);
        return CLI_EUSAGE;
    }
    if (set && o.argc < 2) {
        fprintf(stderr, "usage:\n%s\n", user_usage);
        return CLI_EUSAGE;
    }
    for (int i = 1; set && i < o.argc; i++) {
        const char *eq = strchr(o.argv[i], '=');
        size_t kl = eq ? (size_t)(eq - o.argv[i]) : 0;
        if (!eq || !((kl == 4 && !strncmp(o.argv[i], "name", 4)) ||
                     (kl == 6 && !strncmp(o.argv[i], "avatar", 6)) ||
                     (kl == 6 && !strncmp(o.argv[i], "mobile", 6)) ||
                     (kl == 8 && !strncmp(o.argv[i], "birthday", 8)))) {
            fprintf(stderr, "omtp user set: bad field '%s'\nusage:\n%s\n", o.argv[i], user_usage);
            return CLI_EUSAGE;
        }
    }
    omtp_sync *c;
    if ((rc = cli_login(&o, &c)))
        return rc;
    char *self[1] = {o.user};
    omtp_UserInfoGetResp r;
    if (get)
        rc = user_get(c, o.argc > 1 ? o.argc - 1 : 1, o.argc > 1 ? o.argv + 1 : self, &r);
    else
        rc = user_get(c, 1, self, &r);
    if (rc) {
        rc = cli_failed("user get", rc);
    } else if (r.errorCode.code) {
        rc = cli_refused_req(get ? "user get" : "user set", CLI_REQ_USER,
                             o.argc > 1 && get ? o.argv[1] : o.user, r.errorCode.code,
                             r.errorCode.desc.data);
    } else if (get) {
        for (uint32_t i = 0; i < r.userInfos.n; i++) {
            const omtp_UserInfo *u = &r.userInfos.items[i];
            if (o.json)
                printf("{\"userId\":\"%s\",\"name\":\"%s\",\"avatar\":\"%s\",\"mobile\":\"%s\","
                       "\"birthday\":%lld}\n",
                       u->userId.data, u->name.data, u->avator.data, u->mobile.data,
                       (long long)u->birthday);
            else
                printf("user:     %s\nname:     %s\navatar:   %s\nmobile:   %s\nbirthday: %lld\n",
                       u->userId.data, u->name.data, u->avator.data, u->mobile.data,
                       (long long)u->birthday);
        }
        /* name the ids the server does not know (it leaves them out) */
        char **ids = o.argc > 1 ? o.argv + 1 : self;
        int nids = o.argc > 1 ? o.argc - 1 : 1;
        for (int i = 0; i < nids; i++) {
            bool found = false;
            for (uint32_t j = 0; j < r.userInfos.n && !found; j++)
                found = r.userInfos.items[j].userId.data &&
                        !strcmp(r.userInfos.items[j].userId.data, ids[i]);
            if (!found) {
                fprintf(stderr,
                        "omtp user get: no user %s\nhint: check the id; an administrator "
                        "lists users with `omtpd user list`\n",
                        ids[i]);
                rc = CLI_EREFUSED;
            }
        }
    } else {
        omtp_UserInfoUpdateReq q;
        omtp_msg_init(&omtp_UserInfoUpdateReq_desc, &q);
        if (r.userInfos.n)
            tars_copy(&omtp_UserInfo_desc, &q.userInfo, &r.userInfos.items[0]);
        tars_str_set(&q.userInfo.userId, o.user);
        for (int i = 1; i < o.argc; i++) {
            const char *eq = strchr(o.argv[i], '=');
            const char *v = eq + 1;
            if (!strncmp(o.argv[i], "name=", 5))
                tars_str_set(&q.userInfo.name, v);
            else if (!strncmp(o.argv[i], "avatar=", 7))
                tars_str_set(&q.userInfo.avator, v);
            else if (!strncmp(o.argv[i], "mobile=", 7))
                tars_str_set(&q.userInfo.mobile, v);
            else
                q.userInfo.birthday = atoll(v);
        }
        omtp_CommonErrorCode e;
        rc = omtp_sync_call(c, PT_USERINFO_UPDATE, &omtp_UserInfoUpdateReq_desc, &q,
                            &omtp_CommonErrorCode_desc, &e);
        if (rc)
            rc = cli_failed("user set", rc);
        else if (e.code)
            rc = cli_refused_req("user set", CLI_REQ_USER, o.user, e.code, e.desc.data);
        else
            printf("updated %s\n", o.user);
        omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
        omtp_msg_free(&omtp_UserInfoUpdateReq_desc, &q);
    }
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    omtp_sync_close(c);
    return rc;
}
