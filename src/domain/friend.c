/*
 * friend.c - the friend operations (domain/friend.h).
 */
#include "domain/friend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"
#include "core/server.h"
#include "domain/check_cache.h"
#include "domain/group_state.h"

enum { FOP_ADD, FOP_DEL, FOP_SYNC };

typedef struct fop {
    int kind;
    omtp_server *srv;
    omtp_conn *conn; /* the acting device (referenced), or NULL */
    omtp_dom_friend_done cb;
    void *arg;
    char userId[OMTP_ID_MAX + 1];
    int64_t since;
    omtp_FriendAddReq req; /* add/del: a copy of the entries */
    tars_str_list others;  /* the other sides, normalised */
    bool *changedSide;     /* per entry: did it change anything */
    char errmsg[256];      /* the store's, for the log */
    omtp_dom_outcome res;
    omtp_dom_friend_out out;
} fop;

static void push_changes(fop *f);

/* Calls back, then (after a stored add/del) pushes, then frees. */
static void fop_end(fop *f)
{
    f->cb(f->arg, &f->res, &f->out);
    if (!f->res.code && f->kind != FOP_SYNC)
        push_changes(f);
    if (f->conn)
        omtp_conn_unref(f->conn);
    omtp_msg_free(&omtp_FriendAddReq_desc, &f->req);
    omtp_ids_free(&f->others);
    free(f->changedSide);
    omtp_list_free(&omtp_FriendInfo_desc, &f->out.friends);
    free(f);
}

static int fop_work(omtp_db *db, void *arg)
{
    fop *f = arg;
    if (f->kind == FOP_SYNC)
        return omtp_db_friend_list(db, f->userId, f->since, &f->out.friends, &f->out.changed);
    const omtp_FriendInfo_list *l = &f->req.friends;
    if (f->kind == FOP_ADD) {
        int missing = 0;
        char first[OMTP_ID_MAX + 1];
        int rc = omtp_ids_missing(db, &f->others, &missing, first, sizeof(first));
        if (rc)
            return rc;
        if (missing) {
            omtp_dom_refuse(&f->res, OMTP_EC_USER_RELATION_INVALID, "unknown_user",
                            "friendId %s is not a user", first);
            return 0;
        }
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const char *other = l->items[i].friendId.data;
        int rc;
        if (f->kind == FOP_ADD) {
            rc = omtp_db_friend_add(db, f->userId, other, l->items[i].remark.data);
            f->changedSide[i] = rc == 0;
        } else {
            bool yes = false;
            rc = omtp_db_friend_is(db, f->userId, other, &yes);
            if (rc == 0 && yes) {
                rc = omtp_db_friend_del(db, f->userId, other);
                f->changedSide[i] = rc == 0;
            }
            if (rc == OMTP_ENOTFOUND)
                rc = 0;
        }
        if (rc) {
            snprintf(f->errmsg, sizeof(f->errmsg), "%s", db->errmsg);
            return rc; /* rolls the whole request back */
        }
    }
    return 0;
}

/* PT_SYNC_DATA_CMD 1 to the other sides that changed and to the acting
 * user's other devices. */
static void push_changes(fop *f)
{
    const omtp_FriendInfo_list *l = &f->req.friends;
    tars_str_list changed = {.items = calloc(l->n + 1, sizeof(tars_str)), .n = 0};
    for (uint32_t i = 0; changed.items && i < l->n; i++)
        if (f->changedSide[i])
            changed.items[changed.n++] = l->items[i].friendId; /* borrowed */
    tars_str_list targets = {0};
    char why[160];
    if (changed.items)
        omtp_ids_normalize(&changed, NULL, &targets, why, sizeof(why));
    free(changed.items);
    char *content = targets.n ? omtp_json_kv("userId", f->userId, NULL) : NULL;
    if (content) {
        for (uint32_t i = 0; i < targets.n; i++)
            omtp_push_sync_cmd(f->srv, targets.items[i].data, SYNC_FRIEND, content);
        omtp_sync_cmd_user(f->srv, f->userId, SYNC_FRIEND, content, f->conn);
    }
    free(content);
    omtp_ids_free(&targets);
}

/* The send checks' friend cache (check_cache.h) forgets the pairs an add
 * or del touches, both directions: when submitted and when completed. */
static void fop_invalidate(fop *f)
{
    if (f->kind == FOP_SYNC)
        return;
    for (uint32_t i = 0; i < f->req.friends.n; i++)
        omtp_cc_invalidate_friends(f->srv, f->userId, f->req.friends.items[i].friendId.data);
}

static void fop_done(void *arg, int status)
{
    fop *f = arg;
    fop_invalidate(f);
    if (!f->res.code && status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("friend op by %s failed: %s %s", f->userId, omtp_strerror(status), f->errmsg);
        omtp_dom_refuse(&f->res, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
                        omtp_strerror(status));
        f->res.err = status;
    }
    fop_end(f); /* the answer first, then the pushes */
}

static fop *fop_new(omtp_server *s, const omtp_dom_caller *who, int kind, omtp_dom_friend_done cb,
                    void *arg)
{
    fop *f = calloc(1, sizeof(*f));
    if (!f) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        omtp_dom_friend_out out;
        memset(&out, 0, sizeof(out));
        cb(arg, &res, &out);
        return NULL;
    }
    f->kind = kind;
    f->srv = s;
    f->cb = cb;
    f->arg = arg;
    omtp_msg_init(&omtp_FriendAddReq_desc, &f->req);
    if (who->role != OMTP_DOM_USER || !who->user) {
        omtp_dom_refuse(&f->res, OMTP_EC_PARAM, "no_privilege",
                        "friendships are changed by their users");
        fop_end(f);
        return NULL;
    }
    snprintf(f->userId, sizeof(f->userId), "%s", who->user);
    f->conn = who->conn;
    if (f->conn)
        omtp_conn_ref(f->conn);
    return f;
}

static void fop_submit(fop *f)
{
    fop_invalidate(f);
    int rc = omtp_store_submit(f->srv->store, fop_work, fop_done, f);
    if (rc) {
        omtp_dom_refuse(&f->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        f->res.err = rc;
        fop_end(f);
    }
}

/* add and del: validates every FriendInfo, copies them, collects the other
 * sides. */
static void change(omtp_server *s, const omtp_dom_caller *who, int kind,
                   const omtp_FriendInfo_list *l, omtp_dom_friend_done cb, void *arg)
{
    fop *f = fop_new(s, who, kind, cb, arg);
    if (!f)
        return;
    if (!l || l->n == 0) {
        omtp_dom_refuse(&f->res, OMTP_EC_PARAM, "invalid_field", "friends is empty");
        return fop_end(f);
    }
    const char *me = f->userId;
    for (uint32_t i = 0; i < l->n; i++) {
        const omtp_FriendInfo *fi = &l->items[i];
        if (fi->userId.len && strcmp(fi->userId.data, me) != 0) {
            omtp_dom_refuse(&f->res, OMTP_EC_MSG_FORBIDDEN, "no_privilege",
                            "friends[%u].userId %s is not the logged-in user %s", i,
                            fi->userId.data, me);
            return fop_end(f);
        }
        if (fi->friendId.len == 0 || strcmp(fi->friendId.data, me) == 0) {
            omtp_dom_refuse(&f->res, OMTP_EC_USER_RELATION_INVALID, "invalid_field",
                            "friends[%u].friendId is %s", i,
                            fi->friendId.len ? "yourself" : "empty");
            return fop_end(f);
        }
    }
    omtp_FriendAddReq shallow = {.friends = *l};
    tars_str_list ids = {.items = calloc(l->n, sizeof(tars_str)), .n = 0};
    f->changedSide = calloc(l->n, sizeof(bool));
    if (!ids.items || !f->changedSide ||
        tars_copy(&omtp_FriendAddReq_desc, &f->req, &shallow) != TARS_OK) {
        free(ids.items);
        omtp_dom_refuse(&f->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        return fop_end(f);
    }
    for (uint32_t i = 0; i < l->n; i++)
        ids.items[ids.n++] = l->items[i].friendId; /* borrowed */
    char why[160];
    int rc = omtp_ids_normalize(&ids, NULL, &f->others, why, sizeof(why));
    free(ids.items);
    if (rc) {
        omtp_dom_refuse(&f->res, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        rc == OMTP_EINVAL ? "invalid_field" : "internal", "friendId: %s",
                        rc == OMTP_EINVAL ? why : "out of memory");
        return fop_end(f);
    }
    fop_submit(f);
}

void omtp_dom_friend_add(omtp_server *s, const omtp_dom_caller *who,
                         const omtp_FriendInfo_list *friends, omtp_dom_friend_done cb, void *arg)
{
    change(s, who, FOP_ADD, friends, cb, arg);
}

void omtp_dom_friend_del(omtp_server *s, const omtp_dom_caller *who,
                         const omtp_FriendInfo_list *friends, omtp_dom_friend_done cb, void *arg)
{
    change(s, who, FOP_DEL, friends, cb, arg);
}

void omtp_dom_friend_sync(omtp_server *s, const omtp_dom_caller *who, int64_t since,
                          omtp_dom_friend_done cb, void *arg)
{
    fop *f = fop_new(s, who, FOP_SYNC, cb, arg);
    if (!f)
        return;
    if (since < 0) {
        omtp_dom_refuse(&f->res, OMTP_EC_PARAM, "invalid_field", "timestamp is negative");
        return fop_end(f);
    }
    f->since = since;
    fop_submit(f);
}
