/*
 * friend.c - PT_FRIEND_ADD (51), PT_FRIEND_DEL (52), PT_FRIEND_SYNC (53).
 *
 * Friendship is mutual: adding alice->bob makes both friends of each other
 * in one store call; alice's remark is hers. Every FriendInfo of a request
 * must have userId = the logged-in user (or empty, meaning the same); the
 * whole request is applied in one transaction or not at all. After the
 * commit the other side's devices and the requester's other devices get
 * PT_SYNC_DATA_CMD command 1 (content {"userId":<who changed it>}).
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - ADD of an existing friend updates the remark; ADD of yourself or of an
 *    unknown user is USER_RELATION_INVALID.
 *  - DEL of someone who is not a friend succeeds and changes nothing (a
 *    retried DEL must not fail).
 *  - SYNC: FriendSyncResp cannot express deletions, so when anything changed
 *    after the timestamp (ms) the complete current list is returned, else an
 *    empty list. The reply carries no cursor: the client keeps the time it
 *    sent the request (server clock skew aside, re-asking from a slightly
 *    earlier time is harmless).
 *  - The list is paged to fit a frame: friendId order; a non-empty `next`
 *    means more, asked with the same timestamp and `after` = next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/group_state.h"
#include "handlers.h"
#include "core/idlist.h"

enum { FOP_ADD, FOP_DEL, FOP_SYNC };

typedef struct fop {
    int kind;
    omtp_req *req;
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1];
    int64_t since;
    tars_str_list others;         /* the other sides, for the push */
    bool *changedSide;            /* per request entry: did it change anything */
    omtp_FriendInfo_list friends; /* sync result */
    bool changed;
    int ec;
    char desc[256];
} fop;

static void fop_free(fop *f)
{
    omtp_ids_free(&f->others);
    free(f->changedSide);
    omtp_list_free(&omtp_FriendInfo_desc, &f->friends);
    free(f);
}

static void fop_fail(fop *f, int ec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fop_fail(fop *f, int ec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->desc, sizeof(f->desc), fmt, ap);
    va_end(ap);
    f->ec = ec;
}

static int fop_work(omtp_db *db, void *arg)
{
    fop *f = arg;
    if (f->kind == FOP_SYNC)
        return omtp_db_friend_list(db, f->userId, f->since, &f->friends, &f->changed);
    const omtp_FriendAddReq *q = f->req->body; /* FriendDelReq has the same shape */
    const omtp_FriendInfo_list *l = &q->friends;
    if (f->kind == FOP_ADD) {
        int missing = 0;
        char first[OMTP_ID_MAX + 1];
        int rc = omtp_ids_missing(db, &f->others, &missing, first, sizeof(first));
        if (rc)
            return rc;
        if (missing) {
            fop_fail(f, OMTP_EC_USER_RELATION_INVALID, "friendId %s is not a user", first);
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
            snprintf(f->desc, sizeof(f->desc), "%s", db->errmsg);
            return rc; /* rolls the whole request back */
        }
    }
    return 0;
}

static int cmp_friend(const void *a, const void *b)
{
    return strcmp(((const omtp_FriendInfo *)a)->friendId.data,
                  ((const omtp_FriendInfo *)b)->friendId.data);
}

static void fop_done(void *arg, int status)
{
    fop *f = arg;
    omtp_req *req = f->req;
    if (f->ec) {
        omtp_reply_code(req, f->ec, "%s", f->desc);
        fop_free(f);
        return;
    }
    if (status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("friend op by %s failed: %s %s", f->userId, omtp_strerror(status), f->desc);
        omtp_reply_code(req, OMTP_EC_DB_ERROR, "storage failed (%s), try again",
                        omtp_strerror(status));
        fop_free(f);
        return;
    }
    if (f->kind == FOP_SYNC) {
        omtp_FriendSyncResp r;
        omtp_msg_init(&omtp_FriendSyncResp_desc, &r);
        if (f->changed) {
            /* one page in friendId order after the cursor (protocol.md 7.2) */
            const omtp_FriendSyncReq *q = req->body;
            const char *after = q->after.len ? q->after.data : "";
            omtp_FriendInfo_list *l = &f->friends;
            if (l->n > 1)
                qsort(l->items, l->n, sizeof *l->items, cmp_friend);
            uint32_t lo = 0;
            while (lo < l->n && strcmp(l->items[lo].friendId.data, after) <= 0)
                lo++;
            size_t used = 0;
            uint32_t k = lo >= l->n
                             ? 0
                             : omtp_fit_structs(&omtp_FriendInfo_desc, l->items + lo, l->n - lo,
                                                &used, omtp_reply_budget(f->srv->cfg));
            r.friends.items = k ? l->items + lo : NULL; /* borrowed for the encode */
            r.friends.n = k;
            if (lo + k < l->n) {
                tars_str_set(&r.next, l->items[lo + k - 1].friendId.data);
                f->srv->metrics.replies_paged++;
            }
        }
        omtp_reply(req, &omtp_FriendSyncResp_desc, &r);
        memset(&r.friends, 0, sizeof(r.friends));
        omtp_msg_free(&omtp_FriendSyncResp_desc, &r);
        fop_free(f);
        return;
    }
    /* who to tell, taken before the reply frees the request */
    omtp_server *s = f->srv;
    const omtp_FriendAddReq *q = req->body;
    tars_str_list changed = {.items = calloc(q->friends.n + 1, sizeof(tars_str)), .n = 0};
    for (uint32_t i = 0; changed.items && i < q->friends.n; i++)
        if (f->changedSide[i])
            changed.items[changed.n++] = q->friends.items[i].friendId; /* borrowed */
    tars_str_list targets = {0};
    char why[160];
    if (changed.items)
        omtp_ids_normalize(&changed, NULL, &targets, why, sizeof(why));
    free(changed.items);
    omtp_conn *conn = req->conn;
    omtp_conn_ref(conn);
    omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
    char *content = targets.n ? omtp_json_kv("userId", f->userId, NULL) : NULL;
    if (content) {
        for (uint32_t i = 0; i < targets.n; i++)
            omtp_push_sync_cmd(s, targets.items[i].data, SYNC_FRIEND, content);
        omtp_sync_cmd_user(s, f->userId, SYNC_FRIEND, content, conn);
    }
    free(content);
    omtp_ids_free(&targets);
    omtp_conn_unref(conn);
    fop_free(f);
}

static void fop_submit(fop *f)
{
    int rc = omtp_store_submit(f->srv->store, fop_work, fop_done, f);
    if (rc) {
        omtp_reply_code(f->req, OMTP_EC_SERVICE_UNAVAILABLE, "store unavailable: %s",
                        omtp_strerror(rc));
        fop_free(f);
    }
}

static fop *fop_new(omtp_req *req, int kind)
{
    fop *f = calloc(1, sizeof(*f));
    if (!f) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return NULL;
    }
    f->kind = kind;
    f->req = req;
    f->srv = req->conn->srv;
    snprintf(f->userId, sizeof(f->userId), "%s", req->conn->userId);
    return f;
}

/* ADD and DEL: validates every FriendInfo, collects the other sides. */
static void handle_change(omtp_req *req, int kind)
{
    const omtp_FriendAddReq *q = req->body;
    if (!q || q->friends.n == 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "friends is empty");
        return;
    }
    const char *me = req->conn->userId;
    tars_str_list ids = {.items = calloc(q->friends.n, sizeof(tars_str)), .n = 0};
    if (!ids.items) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < q->friends.n; i++) {
        const omtp_FriendInfo *fi = &q->friends.items[i];
        if (fi->userId.len && strcmp(fi->userId.data, me) != 0) {
            omtp_reply_code(req, OMTP_EC_MSG_FORBIDDEN,
                            "friends[%u].userId %s is not the logged-in user %s", i,
                            fi->userId.data, me);
            free(ids.items);
            return;
        }
        if (fi->friendId.len == 0 || strcmp(fi->friendId.data, me) == 0) {
            omtp_reply_code(req, OMTP_EC_USER_RELATION_INVALID, "friends[%u].friendId is %s", i,
                            fi->friendId.len ? "yourself" : "empty");
            free(ids.items);
            return;
        }
        ids.items[ids.n++] = fi->friendId; /* borrowed */
    }
    fop *f = fop_new(req, kind);
    if (!f) {
        free(ids.items);
        return;
    }
    char why[160];
    int rc = omtp_ids_normalize(&ids, NULL, &f->others, why, sizeof(why));
    free(ids.items);
    f->changedSide = calloc(q->friends.n, sizeof(bool));
    if (rc || !f->changedSide) {
        omtp_reply_code(req, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        "friendId: %s", rc == OMTP_EINVAL ? why : "out of memory");
        fop_free(f);
        return;
    }
    fop_submit(f);
}

void handle_friend_add(omtp_req *req)
{
    handle_change(req, FOP_ADD);
}

void handle_friend_del(omtp_req *req)
{
    handle_change(req, FOP_DEL);
}

void handle_friend_sync(omtp_req *req)
{
    const omtp_FriendSyncReq *q = req->body;
    if (!q || q->timestamp < 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "%s", q ? "timestamp is negative" : "no payload");
        return;
    }
    fop *f = fop_new(req, FOP_SYNC);
    if (!f)
        return;
    f->since = q->timestamp;
    fop_submit(f);
}
