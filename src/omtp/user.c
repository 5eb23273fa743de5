/*
 * user.c - profiles and attributes: PT_USERINFO_GET (54), PT_USERINFO_UPDATE
 * (55), PT_USERATTRIBUTE_SET (56) / GET (57), PT_SESSIONATTRIBUTE_SET (58).
 *
 * Authority: a user reads anyone's profile but writes only its own; user
 * attributes (what you note about someone, e.g. a remark) and session
 * attributes (pin, mute, ...) are private to their owner. A userId field
 * naming someone else is refused with MSG_FORBIDDEN; an empty one means the
 * logged-in user.
 *
 * Rulings (docs/protocol.md, "Server behaviour"):
 *  - USERINFO_GET: unknown ids are skipped; an empty list returns your own
 *    profile; at most OMTP_USERINFO_BATCH ids per request.
 *  - USERINFO_UPDATE merges: empty strings and birthday 0 keep the stored
 *    value.
 *  - USERATTRIBUTE_SET: empty friendId or attrName -> ATTR_FIELD_EMPTY; the
 *    friendId must be a user (USER_RELATION_INVALID), not necessarily a
 *    friend; an empty attrValue is stored as empty. The user's other devices
 *    get SYNC_DATA_CMD 1.
 *  - USERATTRIBUTE_GET: an empty payload returns all your attributes; a
 *    UserAttribute payload filters by its non-empty friendId / attrName.
 *  - SESSIONATTRIBUTE_SET: only for a session you belong to (a single chat
 *    or business session by its spelling, a group by membership), else
 *    MSG_FORBIDDEN; hot sessions show it in `attribute`; your other devices
 *    get SYNC_DATA_CMD 2 with {"sessionId":..}.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "domain/group_state.h"
#include "domain/msg.h"
#include "handlers.h"
#include "hooks/webhook.h"
#include "cluster_hooks.h"
#include "core/idlist.h"

#define OMTP_USERINFO_BATCH 1000
#define OMTP_ATTR_NAME_MAX  OMTP_LIMIT_ATTR_NAME /* proto/omtp_limits.h */
#define OMTP_ATTR_VALUE_MAX OMTP_LIMIT_ATTR_VALUE

enum { UOP_INFO_GET, UOP_INFO_UPDATE, UOP_ATTR_SET, UOP_ATTR_GET, UOP_SESSION_ATTR };

typedef struct uop {
    int kind;
    omtp_req *req;
    omtp_server *srv;
    char userId[OMTP_ID_MAX + 1];
    tars_str_list ids;             /* info get */
    omtp_UserInfo_list infos;      /* info get */
    omtp_UserAttribute_list attrs; /* attr get */
    int ec;
    char desc[256];
} uop;

static void uop_free(uop *u)
{
    omtp_ids_free(&u->ids);
    omtp_list_free(&omtp_UserInfo_desc, &u->infos);
    omtp_list_free(&omtp_UserAttribute_desc, &u->attrs);
    free(u);
}

static void uop_fail(uop *u, int ec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void uop_fail(uop *u, int ec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->desc, sizeof(u->desc), fmt, ap);
    va_end(ap);
    u->ec = ec;
}

/* ------------------------------------------------------ store thread */

static int work_info_update(omtp_db *db, uop *u)
{
    const omtp_UserInfo *in = &((const omtp_UserInfoUpdateReq *)u->req->body)->userInfo;
    tars_str me = {.data = u->userId, .len = (uint32_t)strlen(u->userId)};
    tars_str_list one = {.items = &me, .n = 1};
    omtp_UserInfo_list cur = {0};
    int rc = omtp_db_user_info_get(db, &one, &cur);
    if (rc)
        return rc;
    if (cur.n == 0) {
        omtp_list_free(&omtp_UserInfo_desc, &cur);
        uop_fail(u, OMTP_EC_PARAM, "user %s has no profile", u->userId);
        return 0;
    }
    omtp_UserInfo *v = &cur.items[0];
    if ((in->name.len && tars_str_setn(&v->name, in->name.data, in->name.len)) ||
        (in->avator.len && tars_str_setn(&v->avator, in->avator.data, in->avator.len)) ||
        (in->mobile.len && tars_str_setn(&v->mobile, in->mobile.data, in->mobile.len)))
        rc = OMTP_ENOMEM;
    if (in->birthday)
        v->birthday = in->birthday;
    if (rc == 0)
        rc = omtp_db_user_info_update(db, v);
    omtp_list_free(&omtp_UserInfo_desc, &cur);
    return rc;
}

static int work_attr_set(omtp_db *db, uop *u)
{
    const omtp_UserAttribute *in = &((const omtp_UserAttrSetReq *)u->req->body)->attribute;
    tars_str_list one = {.items = (tars_str *)&in->friendId, .n = 1};
    int missing = 0;
    int rc = omtp_ids_missing(db, &one, &missing, NULL, 0);
    if (rc)
        return rc;
    if (missing) {
        uop_fail(u, OMTP_EC_USER_RELATION_INVALID, "friendId %s is not a user", in->friendId.data);
        return 0;
    }
    omtp_UserAttribute a = *in; /* shallow: only userId differs */
    a.userId.data = u->userId;
    a.userId.len = (uint32_t)strlen(u->userId);
    return omtp_db_user_attr_set(db, &a);
}

/* The length of the user's attribute object of the session (as hot sessions
 * carry it) before (*was) and once `in` is applied (*len). */
static int session_attrs_after(omtp_db *db, const char *user, const omtp_SessionAttrSetReq *in,
                               size_t *was, size_t *len)
{
    omtp_hot_rec_list one = {0};
    int rc = omtp_db_hot_session_get(db, user, in->sessionId.data, &one);
    if (rc && rc != OMTP_ENOTFOUND)
        return rc;
    const char *cur = one.n && one.items[0].attribute.len ? one.items[0].attribute.data : "{}";
    json_t *o = json_loads(cur, 0, NULL);
    size_t bound = strlen(cur) + 6 * ((size_t)in->attrName.len + in->attrValue.len) + 8;
    omtp_hot_rec_list_free(&one);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    char *before = o ? json_dumps(o, JSON_COMPACT) : NULL;
    *was = before ? strlen(before) : bound;
    free(before);
    json_t *v = json_stringn(in->attrValue.data ? in->attrValue.data : "", in->attrValue.len);
    char *text = NULL;
    if (o && v && json_object_set_new(o, in->attrName.data, v) == 0)
        text = json_dumps(o, JSON_COMPACT);
    else
        json_decref(v); /* not UTF-8 (or no memory): count the worst case */
    json_decref(o);
    *len = text ? strlen(text) : bound;
    free(text);
    return 0;
}

static int work_session_attr(omtp_db *db, uop *u)
{
    const omtp_SessionAttrSetReq *in = u->req->body;
    bool member = false;
    int rc = omtp_chat_session_access(db, u->userId, in->sessionId.data, &member);
    if (rc)
        return rc;
    if (!member) {
        uop_fail(u, OMTP_EC_MSG_FORBIDDEN, "%s does not take part in session %s", u->userId,
                 in->sessionId.data);
        return 0;
    }
    size_t was = 0, json = 0;
    if ((rc = session_attrs_after(db, u->userId, in, &was, &json)))
        return rc;
    /* a set that does not grow the object is always allowed (it may be how
     * attributes stored before the limit get smaller) */
    if (json > OMTP_LIMIT_SESSION_ATTRS_JSON && json > was) {
        uop_fail(u, OMTP_EC_PARAM,
                 "SessionAttrSetReq.attrValue: the attributes of session %s would take %zu "
                 "bytes as JSON; at most %d are allowed (set others to \"\" first)",
                 in->sessionId.data, json, OMTP_LIMIT_SESSION_ATTRS_JSON);
        return 0;
    }
    return omtp_db_session_attr_set(db, u->userId, in->sessionId.data, in->attrName.data,
                                    in->attrValue.data);
}

static int uop_work(omtp_db *db, void *arg)
{
    uop *u = arg;
    switch (u->kind) {
    case UOP_INFO_GET:
        return omtp_db_user_info_get(db, &u->ids, &u->infos);
    case UOP_INFO_UPDATE:
        return work_info_update(db, u);
    case UOP_ATTR_SET:
        return work_attr_set(db, u);
    case UOP_ATTR_GET: {
        const omtp_UserAttribute *f = u->req->body;
        return omtp_db_user_attr_get(db, u->userId, f ? f->friendId.data : NULL,
                                     f ? f->attrName.data : NULL, &u->attrs);
    }
    default:
        return work_session_attr(db, u);
    }
}

/* ------------------------------------------------------- loop thread */

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const omtp_UserInfo *)a)->userId.data, ((const omtp_UserInfo *)b)->userId.data);
}

static int cmp_attr(const void *a, const void *b)
{
    const omtp_UserAttribute *x = a, *y = b;
    int c = strcmp(x->friendId.data, y->friendId.data);
    return c ? c : strcmp(x->attrName.data, y->attrName.data);
}

/* Compares attribute a with the cursor (friendId cur[0..flen), attrName an). */
static int attr_after(const omtp_UserAttribute *a, const char *cur, size_t flen, const char *an)
{
    size_t n = a->friendId.len < flen ? a->friendId.len : flen;
    int c = memcmp(a->friendId.data, cur, n);
    if (c == 0)
        c = a->friendId.len < flen ? -1 : a->friendId.len > flen ? 1 : 0;
    return c ? c : strcmp(a->attrName.data, an);
}

static void uop_done(void *arg, int status)
{
    uop *u = arg;
    omtp_req *req = u->req;
    if (u->ec) {
        omtp_reply_code(req, u->ec, "%s", u->desc);
        uop_free(u);
        return;
    }
    if (status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("user op %d by %s failed: %s", u->kind, u->userId, omtp_strerror(status));
        omtp_reply_code(req, OMTP_EC_DB_ERROR, "storage failed (%s), try again",
                        omtp_strerror(status));
        uop_free(u);
        return;
    }
    size_t used = 0, budget = omtp_reply_budget(u->srv->cfg);
    if (u->kind == UOP_INFO_GET) {
        /* user-id order; `next` = the first id not answered (protocol.md 7.2) */
        omtp_UserInfoGetResp r;
        omtp_msg_init(&omtp_UserInfoGetResp_desc, &r);
        omtp_UserInfo_list *l = &u->infos;
        if (l->n > 1)
            qsort(l->items, l->n, sizeof *l->items, cmp_info);
        uint32_t k = omtp_fit_structs(&omtp_UserInfo_desc, l->items, l->n, &used, budget);
        r.userInfos.items = l->items; /* borrowed for the encode */
        r.userInfos.n = k;
        if (k < l->n) {
            tars_str_set(&r.next, l->items[k].userId.data);
            u->srv->metrics.replies_paged++;
        }
        omtp_reply(req, &omtp_UserInfoGetResp_desc, &r);
        memset(&r.userInfos, 0, sizeof(r.userInfos));
        omtp_msg_free(&omtp_UserInfoGetResp_desc, &r);
    } else if (u->kind == UOP_ATTR_GET) {
        /* (friendId, attrName) order after the cursor "friendId/attrName"
         * carried in the filter's attrValue; `next` is the cursor of the
         * following page (protocol.md 7.2) */
        omtp_UserAttrGetResp r;
        omtp_msg_init(&omtp_UserAttrGetResp_desc, &r);
        const omtp_UserAttribute *f = req->body;
        omtp_UserAttribute_list *l = &u->attrs;
        if (l->n > 1)
            qsort(l->items, l->n, sizeof *l->items, cmp_attr);
        uint32_t lo = 0;
        if (f && f->attrValue.len) {
            const char *cur = f->attrValue.data, *slash = strchr(cur, '/');
            size_t flen = slash ? (size_t)(slash - cur) : strlen(cur);
            const char *an = slash ? slash + 1 : "";
            while (lo < l->n && attr_after(&l->items[lo], cur, flen, an) <= 0)
                lo++;
        }
        uint32_t k = lo >= l->n ? 0
                                : omtp_fit_structs(&omtp_UserAttribute_desc, l->items + lo,
                                                   l->n - lo, &used, budget);
        r.attributes.items = k ? l->items + lo : NULL; /* borrowed for the encode */
        r.attributes.n = k;
        if (lo + k < l->n) {
            const omtp_UserAttribute *a = &l->items[lo + k - 1];
            char next[OMTP_ID_MAX + OMTP_LIMIT_ATTR_NAME + 2];
            snprintf(next, sizeof next, "%s/%s", a->friendId.data, a->attrName.data);
            tars_str_set(&r.next, next);
            u->srv->metrics.replies_paged++;
        }
        omtp_reply(req, &omtp_UserAttrGetResp_desc, &r);
        memset(&r.attributes, 0, sizeof(r.attributes));
        omtp_msg_free(&omtp_UserAttrGetResp_desc, &r);
    } else {
        char *content = NULL;
        int cmd = SYNC_FRIEND;
        if (u->kind == UOP_SESSION_ATTR) {
            const omtp_SessionAttrSetReq *in = req->body;
            content = omtp_json_kv("sessionId", in->sessionId.data, NULL);
            cmd = SYNC_SESSION;
        } else if (u->kind == UOP_ATTR_SET) {
            const omtp_UserAttrSetReq *in = req->body;
            content =
                omtp_json_kv("userId", u->userId, "friendId", in->attribute.friendId.data, NULL);
        }
        omtp_conn *conn = req->conn;
        omtp_conn_ref(conn);
        omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
        if (content)
            omtp_sync_cmd_user(u->srv, u->userId, cmd, content, conn);
        free(content);
        omtp_conn_unref(conn);
    }
    uop_free(u);
}

static void uop_start(omtp_req *req, int kind, uop *prepared)
{
    uop *u = prepared ? prepared : calloc(1, sizeof(*u));
    if (!u) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    u->kind = kind;
    u->req = req;
    u->srv = req->conn->srv;
    snprintf(u->userId, sizeof(u->userId), "%s", req->conn->userId);
    int rc = omtp_store_submit(u->srv->store, uop_work, uop_done, u);
    if (rc) {
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "store unavailable: %s",
                        omtp_strerror(rc));
        uop_free(u);
    }
}

/* An owner field must be empty or the logged-in user. */
static bool own(omtp_req *req, const tars_str *id, const char *field)
{
    if (id->len && strcmp(id->data, req->conn->userId) != 0) {
        omtp_reply_code(req, OMTP_EC_MSG_FORBIDDEN, "%s %s is not the logged-in user %s", field,
                        id->data, req->conn->userId);
        return false;
    }
    return true;
}

void handle_userinfo_get(omtp_req *req)
{
    const omtp_UserInfoGetReq *q = req->body;
    uint32_t n = q ? q->userIds.n : 0;
    if (n > OMTP_USERINFO_BATCH) {
        omtp_reply_code(req, OMTP_EC_PARAM, "%u user ids, at most %d per request", n,
                        OMTP_USERINFO_BATCH);
        return;
    }
    uop *u = calloc(1, sizeof(*u));
    if (!u) {
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    char why[160];
    int rc = omtp_ids_normalize(q ? &q->userIds : NULL, n ? NULL : req->conn->userId, &u->ids, why,
                                sizeof(why));
    if (rc) {
        omtp_reply_code(req, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        "userIds: %s", rc == OMTP_EINVAL ? why : "out of memory");
        uop_free(u);
        return;
    }
    uop_start(req, UOP_INFO_GET, u);
}

void handle_userinfo_update(omtp_req *req)
{
    const omtp_UserInfoUpdateReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no UserInfoUpdateReq payload");
        return;
    }
    if (!own(req, &q->userInfo.userId, "userInfo.userId"))
        return;
    uop_start(req, UOP_INFO_UPDATE, NULL);
}

void handle_user_attr_set(omtp_req *req)
{
    /* "device.*" with an empty friendId: per-connection device state
     * (webhook.h); other nodes hear about it for their offline-push
     * decisions (the webhooks sit below the OMTP adapters: they do not call
     * the cluster) */
    omtp_conn *dc = req->conn;
    omtp_conn_ref(dc);
    bool device = omtp_webhook_device_attr(req);
    if (device)
        omtp_server_cluster_device_changed(dc);
    omtp_conn_unref(dc);
    if (device)
        return;
    const omtp_UserAttrSetReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no UserAttrSetReq payload");
        return;
    }
    const omtp_UserAttribute *a = &q->attribute;
    if (!own(req, &a->userId, "attribute.userId"))
        return;
    if (a->friendId.len == 0 || a->attrName.len == 0) {
        omtp_reply_code(req, OMTP_EC_ATTR_FIELD_EMPTY, "attribute.%s is empty",
                        a->friendId.len == 0 ? "friendId" : "attrName");
        return;
    }
    if (a->friendId.len > OMTP_ID_MAX || a->attrName.len > OMTP_ATTR_NAME_MAX ||
        a->attrValue.len > OMTP_ATTR_VALUE_MAX) {
        omtp_reply_code(req, OMTP_EC_PARAM,
                        "attribute too long (friendId <= %d, attrName <= %d, attrValue <= %d "
                        "bytes)",
                        OMTP_ID_MAX, OMTP_ATTR_NAME_MAX, OMTP_ATTR_VALUE_MAX);
        return;
    }
    uop_start(req, UOP_ATTR_SET, NULL);
}

void handle_user_attr_get(omtp_req *req)
{
    const omtp_UserAttribute *f = req->body; /* NULL: all */
    if (f && !own(req, &f->userId, "userId"))
        return;
    uop_start(req, UOP_ATTR_GET, NULL);
}

void handle_session_attr_set(omtp_req *req)
{
    const omtp_SessionAttrSetReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "no SessionAttrSetReq payload");
        return;
    }
    if (!own(req, &q->userId, "userId"))
        return;
    if (q->sessionId.len == 0 || q->sessionId.len > 2 * OMTP_ID_MAX + 8) {
        omtp_reply_code(req, OMTP_EC_PARAM, "sessionId is %s",
                        q->sessionId.len ? "too long" : "empty");
        return;
    }
    if (q->attrName.len == 0) {
        omtp_reply_code(req, OMTP_EC_ATTR_FIELD_EMPTY, "attrName is empty");
        return;
    }
    if (q->attrName.len > OMTP_ATTR_NAME_MAX || q->attrValue.len > OMTP_ATTR_VALUE_MAX) {
        omtp_reply_code(req, OMTP_EC_PARAM, "attrName <= %d and attrValue <= %d bytes",
                        OMTP_ATTR_NAME_MAX, OMTP_ATTR_VALUE_MAX);
        return;
    }
    uop_start(req, UOP_SESSION_ATTR, NULL);
}
