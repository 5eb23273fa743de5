/*
 * check_cache.c - the send checks' caches (check_cache.h).
 *
 * First cut: every query is a miss that runs one store read (the same
 * omtp_db_* calls send_work makes); caching comes next.
 */
#include "domain/check_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"

const char *const omtp_cc_names[OMTP_CC_N] = {"users", "friends", "groups"};

typedef struct cc_read {
    omtp_server *srv;
    int kind;
    char key[OMTP_ID_MAX + 1], key2[OMTP_ID_MAX + 1];
    bool yes;
    omtp_cc_group g;
    tars_str_list ids;
    omtp_cc_bool_fn bcb;
    omtp_cc_group_fn gcb;
    void *arg;
} cc_read;

static int read_work(omtp_db *db, void *arg)
{
    cc_read *r = arg;
    if (r->kind == OMTP_CC_USERS)
        return omtp_db_user_exists(db, r->key, &r->yes);
    if (r->kind == OMTP_CC_FRIENDS)
        return omtp_db_friend_is(db, r->key, r->key2, &r->yes);
    omtp_GroupChatInfo g;
    bool dismissed = false;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    int rc = omtp_db_group_get(db, r->key, &g, &dismissed);
    if (rc == 0) {
        r->g.exists = true;
        r->g.dismissed = dismissed;
        snprintf(r->g.creator, sizeof(r->g.creator), "%s",
                 g.creatorId.data ? g.creatorId.data : "");
    }
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    if (rc == OMTP_ENOTFOUND)
        return 0;
    if (rc != 0 || dismissed)
        return rc;
    rc = omtp_db_group_members(db, r->key, &r->ids);
    if (rc == 0)
        omtp_ids_sort(&r->ids);
    return rc;
}

static void read_done(void *arg, int status)
{
    cc_read *r = arg;
    if (r->kind != OMTP_CC_GROUPS) {
        r->bcb(r->arg, status, status == 0 && r->yes);
    } else {
        if (status == 0 && r->g.exists && !r->g.dismissed) {
            r->g.members = omtp_members_new(&r->ids);
            if (!r->g.members)
                status = OMTP_ENOMEM;
        }
        r->gcb(r->arg, status, &r->g);
        omtp_members_unref(r->g.members);
    }
    omtp_ids_free(&r->ids);
    free(r);
}

static int start_read(omtp_server *s, int kind, const char *a, const char *b, omtp_cc_bool_fn bcb,
                      omtp_cc_group_fn gcb, void *arg)
{
    if (strlen(a) > OMTP_ID_MAX || (b && strlen(b) > OMTP_ID_MAX))
        return OMTP_EINVAL;
    cc_read *r = calloc(1, sizeof(*r));
    if (!r)
        return OMTP_ENOMEM;
    r->srv = s;
    r->kind = kind;
    strcpy(r->key, a);
    if (b)
        strcpy(r->key2, b);
    r->bcb = bcb;
    r->gcb = gcb;
    r->arg = arg;
    int rc = s->store ? omtp_store_submit(s->store, read_work, read_done, r) : OMTP_ECLOSED;
    if (rc != 0) {
        free(r);
        return rc;
    }
    return 0;
}

int omtp_cc_user_exists(omtp_server *s, const char *userId, bool *yes, omtp_cc_bool_fn cb,
                        void *arg)
{
    (void)yes;
    return start_read(s, OMTP_CC_USERS, userId, NULL, cb, NULL, arg);
}

int omtp_cc_friends(omtp_server *s, const char *a, const char *b, bool *yes, omtp_cc_bool_fn cb,
                    void *arg)
{
    (void)yes;
    return start_read(s, OMTP_CC_FRIENDS, a, b, cb, NULL, arg);
}

int omtp_cc_group_get(omtp_server *s, const char *groupId, omtp_cc_group *out, omtp_cc_group_fn cb,
                      void *arg)
{
    (void)out;
    return start_read(s, OMTP_CC_GROUPS, groupId, NULL, NULL, cb, arg);
}

bool omtp_cc_is_member(const omtp_members *m, const char *userId)
{
    return m && omtp_ids_contains(&m->ids, userId);
}

void omtp_cc_invalidate_user(omtp_server *s, const char *userId)
{
    (void)s;
    (void)userId;
}

void omtp_cc_user_deleted(omtp_server *s, const char *userId)
{
    (void)s;
    (void)userId;
}

void omtp_cc_invalidate_friends(omtp_server *s, const char *a, const char *b)
{
    (void)s;
    (void)a;
    (void)b;
}

void omtp_cc_stats_get(omtp_server *s, omtp_cc_stats out[OMTP_CC_N])
{
    (void)s;
    memset(out, 0, sizeof(omtp_cc_stats) * OMTP_CC_N);
}

void omtp_cc_close(omtp_server *s)
{
    (void)s;
}
