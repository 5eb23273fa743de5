/*
 * attr.c - user and session attributes, the OMTP user info (domain/attr.h).
 */
#include "domain/attr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/idlist.h"
#include "core/server.h"
#include "domain/group_state.h"
#include "domain/msg.h"
#include "proto/omtp_limits.h"

enum { AOP_INFO_GET, AOP_INFO_UPDATE, AOP_ATTR_SET, AOP_ATTR_GET, AOP_SESSION_ATTR };

typedef struct aop {
    int kind;
    omtp_server *srv;
    omtp_conn *conn; /* the acting device (referenced), or NULL */
    omtp_dom_attr_done cb;
    void *arg;
    char userId[OMTP_ID_MAX + 1];
    tars_str_list ids;           /* info get, normalised */
    omtp_UserInfo info;          /* info update: a copy of the request */
    omtp_UserAttribute attr;     /* attr set / get: a copy of the request */
    omtp_SessionAttrSetReq sess; /* session attr: a copy of the request */
    omtp_dom_outcome res;
    omtp_dom_attr_out out;
} aop;

/* the user's other devices hear about a stored set */
static void push_change(aop *a)
{
    char *content = NULL;
    int cmd = SYNC_FRIEND;
    if (a->kind == AOP_SESSION_ATTR) {
        content = omtp_json_kv("sessionId", a->sess.sessionId.data, NULL);
        cmd = SYNC_SESSION;
    } else if (a->kind == AOP_ATTR_SET) {
        content = omtp_json_kv("userId", a->userId, "friendId", a->attr.friendId.data, NULL);
    }
    if (content)
        omtp_sync_cmd_user(a->srv, a->userId, cmd, content, a->conn);
    free(content);
}

/* Calls back, then (after a stored set) pushes, then frees. */
static void aop_end(aop *a)
{
    a->cb(a->arg, &a->res, &a->out);
    if (!a->res.code)
        push_change(a);
    if (a->conn)
        omtp_conn_unref(a->conn);
    omtp_ids_free(&a->ids);
    omtp_msg_free(&omtp_UserInfo_desc, &a->info);
    omtp_msg_free(&omtp_UserAttribute_desc, &a->attr);
    omtp_msg_free(&omtp_SessionAttrSetReq_desc, &a->sess);
    omtp_list_free(&omtp_UserInfo_desc, &a->out.infos);
    omtp_list_free(&omtp_UserAttribute_desc, &a->out.attrs);
    free(a);
}

/* ------------------------------------------------------ store thread */

static int work_info_update(omtp_db *db, aop *a)
{
    const omtp_UserInfo *in = &a->info;
    tars_str me = {.data = a->userId, .len = (uint32_t)strlen(a->userId)};
    tars_str_list one = {.items = &me, .n = 1};
    omtp_UserInfo_list cur = {0};
    int rc = omtp_db_user_info_get(db, &one, &cur);
    if (rc)
        return rc;
    if (cur.n == 0) {
        omtp_list_free(&omtp_UserInfo_desc, &cur);
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "unknown_user", "user %s has no profile",
                        a->userId);
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

static int work_attr_set(omtp_db *db, aop *a)
{
    tars_str_list one = {.items = &a->attr.friendId, .n = 1};
    int missing = 0;
    int rc = omtp_ids_missing(db, &one, &missing, NULL, 0);
    if (rc)
        return rc;
    if (missing) {
        omtp_dom_refuse(&a->res, OMTP_EC_USER_RELATION_INVALID, "unknown_user",
                        "friendId %s is not a user", a->attr.friendId.data);
        return 0;
    }
    omtp_UserAttribute v = a->attr; /* shallow: only userId differs */
    v.userId.data = a->userId;
    v.userId.len = (uint32_t)strlen(a->userId);
    return omtp_db_user_attr_set(db, &v);
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
    if (o && v) {
        /* json_object_set_new takes v even when it fails (a name that is
         * not UTF-8): never release it again here */
        if (json_object_set_new(o, in->attrName.data, v) == 0)
            text = json_dumps(o, JSON_COMPACT);
    } else {
        json_decref(v); /* no memory (or not UTF-8): count the worst case */
    }
    json_decref(o);
    *len = text ? strlen(text) : bound;
    free(text);
    return 0;
}

static int work_session_attr(omtp_db *db, aop *a)
{
    const omtp_SessionAttrSetReq *in = &a->sess;
    bool member = false;
    int rc = omtp_chat_session_access(db, a->userId, in->sessionId.data, &member);
    if (rc)
        return rc;
    if (!member) {
        omtp_dom_refuse(&a->res, OMTP_EC_MSG_FORBIDDEN, "not_member",
                        "%s does not take part in session %s", a->userId, in->sessionId.data);
        return 0;
    }
    size_t was = 0, json = 0;
    if ((rc = session_attrs_after(db, a->userId, in, &was, &json)))
        return rc;
    /* a set that does not grow the object is always allowed (it may be how
     * attributes stored before the limit get smaller) */
    if (json > OMTP_LIMIT_SESSION_ATTRS_JSON && json > was) {
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "invalid_field",
                        "SessionAttrSetReq.attrValue: the attributes of session %s would take %zu "
                        "bytes as JSON; at most %d are allowed (set others to \"\" first)",
                        in->sessionId.data, json, OMTP_LIMIT_SESSION_ATTRS_JSON);
        return 0;
    }
    return omtp_db_session_attr_set(db, a->userId, in->sessionId.data, in->attrName.data,
                                    in->attrValue.data);
}

static int aop_work(omtp_db *db, void *arg)
{
    aop *a = arg;
    switch (a->kind) {
    case AOP_INFO_GET:
        return omtp_db_user_info_get(db, &a->ids, &a->out.infos);
    case AOP_INFO_UPDATE:
        return work_info_update(db, a);
    case AOP_ATTR_SET:
        return work_attr_set(db, a);
    case AOP_ATTR_GET:
        return omtp_db_user_attr_get(db, a->userId, a->attr.friendId.data, a->attr.attrName.data,
                                     &a->out.attrs);
    default:
        return work_session_attr(db, a);
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

static void aop_done(void *arg, int status)
{
    aop *a = arg;
    if (!a->res.code && status < 0) {
        if (status != OMTP_ENOSPC) /* the store logs disk full, once a minute */
            LOG_ERROR("user op %d by %s failed: %s", a->kind, a->userId, omtp_strerror(status));
        omtp_dom_refuse(&a->res, OMTP_EC_DB_ERROR, "storage", "storage failed (%s), try again",
                        omtp_strerror(status));
        a->res.err = status;
    }
    if (!a->res.code && a->out.infos.n > 1)
        qsort(a->out.infos.items, a->out.infos.n, sizeof *a->out.infos.items, cmp_info);
    if (!a->res.code && a->out.attrs.n > 1)
        qsort(a->out.attrs.items, a->out.attrs.n, sizeof *a->out.attrs.items, cmp_attr);
    aop_end(a); /* the answer first, then the push */
}

static aop *aop_new(omtp_server *s, const omtp_dom_caller *who, int kind, omtp_dom_attr_done cb,
                    void *arg)
{
    aop *a = calloc(1, sizeof(*a));
    if (!a) {
        omtp_dom_outcome res = {.code = OMTP_EC_SERVER_EXCEPTION, .reason = "internal"};
        snprintf(res.desc, sizeof(res.desc), "out of memory");
        omtp_dom_attr_out out;
        memset(&out, 0, sizeof(out));
        cb(arg, &res, &out);
        return NULL;
    }
    a->kind = kind;
    a->srv = s;
    a->cb = cb;
    a->arg = arg;
    omtp_msg_init(&omtp_UserInfo_desc, &a->info);
    omtp_msg_init(&omtp_UserAttribute_desc, &a->attr);
    omtp_msg_init(&omtp_SessionAttrSetReq_desc, &a->sess);
    if (who->role != OMTP_DOM_USER || !who->user) {
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "no_privilege",
                        "attributes and OMTP profiles belong to logged-in users");
        aop_end(a);
        return NULL;
    }
    snprintf(a->userId, sizeof(a->userId), "%s", who->user);
    a->conn = who->conn;
    if (a->conn)
        omtp_conn_ref(a->conn);
    return a;
}

static void aop_submit(aop *a)
{
    int rc = omtp_store_submit(a->srv->store, aop_work, aop_done, a);
    if (rc) {
        omtp_dom_refuse(&a->res, OMTP_EC_SERVICE_UNAVAILABLE, "unavailable",
                        "store unavailable: %s", omtp_strerror(rc));
        a->res.err = rc;
        aop_end(a);
    }
}

/* An owner field must be empty or the acting user. */
static bool own(aop *a, const tars_str *id, const char *field)
{
    if (id->len && strcmp(id->data, a->userId) != 0) {
        omtp_dom_refuse(&a->res, OMTP_EC_MSG_FORBIDDEN, "no_privilege",
                        "%s %s is not the logged-in user %s", field, id->data, a->userId);
        return false;
    }
    return true;
}

static bool copied(aop *a, const tars_struct_desc *d, void *dst, const void *src)
{
    if (tars_copy(d, dst, src) == TARS_OK)
        return true;
    omtp_dom_refuse(&a->res, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
    return false;
}

void omtp_dom_userinfo_get(omtp_server *s, const omtp_dom_caller *who, const tars_str_list *ids,
                           omtp_dom_attr_done cb, void *arg)
{
    aop *a = aop_new(s, who, AOP_INFO_GET, cb, arg);
    if (!a)
        return;
    uint32_t n = ids ? ids->n : 0;
    if (n > OMTP_DOM_USERINFO_BATCH) {
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "invalid_field",
                        "%u user ids, at most %d per request", n, OMTP_DOM_USERINFO_BATCH);
        return aop_end(a);
    }
    char why[160];
    int rc = omtp_ids_normalize(ids, n ? NULL : a->userId, &a->ids, why, sizeof(why));
    if (rc) {
        omtp_dom_refuse(&a->res, rc == OMTP_EINVAL ? OMTP_EC_PARAM : OMTP_EC_SERVER_EXCEPTION,
                        rc == OMTP_EINVAL ? "invalid_field" : "internal", "userIds: %s",
                        rc == OMTP_EINVAL ? why : "out of memory");
        return aop_end(a);
    }
    aop_submit(a);
}

void omtp_dom_userinfo_update(omtp_server *s, const omtp_dom_caller *who, const omtp_UserInfo *in,
                              omtp_dom_attr_done cb, void *arg)
{
    aop *a = aop_new(s, who, AOP_INFO_UPDATE, cb, arg);
    if (!a)
        return;
    if (!own(a, &in->userId, "userInfo.userId") || !copied(a, &omtp_UserInfo_desc, &a->info, in))
        return aop_end(a);
    aop_submit(a);
}

void omtp_dom_attr_set(omtp_server *s, const omtp_dom_caller *who, const omtp_UserAttribute *in,
                       omtp_dom_attr_done cb, void *arg)
{
    aop *a = aop_new(s, who, AOP_ATTR_SET, cb, arg);
    if (!a)
        return;
    if (!own(a, &in->userId, "attribute.userId"))
        return aop_end(a);
    if (in->friendId.len == 0 || in->attrName.len == 0) {
        omtp_dom_refuse(&a->res, OMTP_EC_ATTR_FIELD_EMPTY, "invalid_field", "attribute.%s is empty",
                        in->friendId.len == 0 ? "friendId" : "attrName");
        return aop_end(a);
    }
    if (in->friendId.len > OMTP_ID_MAX || in->attrName.len > OMTP_LIMIT_ATTR_NAME ||
        in->attrValue.len > OMTP_LIMIT_ATTR_VALUE) {
        omtp_dom_refuse(
            &a->res, OMTP_EC_PARAM, "invalid_field",
            "attribute too long (friendId <= %d, attrName <= %d, attrValue <= %d bytes)",
            OMTP_ID_MAX, OMTP_LIMIT_ATTR_NAME, OMTP_LIMIT_ATTR_VALUE);
        return aop_end(a);
    }
    if (!copied(a, &omtp_UserAttribute_desc, &a->attr, in))
        return aop_end(a);
    aop_submit(a);
}

void omtp_dom_attr_get(omtp_server *s, const omtp_dom_caller *who, const omtp_UserAttribute *filter,
                       omtp_dom_attr_done cb, void *arg)
{
    aop *a = aop_new(s, who, AOP_ATTR_GET, cb, arg);
    if (!a)
        return;
    if (filter) {
        if (!own(a, &filter->userId, "userId") ||
            !copied(a, &omtp_UserAttribute_desc, &a->attr, filter))
            return aop_end(a);
    } /* else all: empty filter fields match any */
    aop_submit(a);
}

void omtp_dom_session_attr_set(omtp_server *s, const omtp_dom_caller *who,
                               const omtp_SessionAttrSetReq *q, omtp_dom_attr_done cb, void *arg)
{
    aop *a = aop_new(s, who, AOP_SESSION_ATTR, cb, arg);
    if (!a)
        return;
    if (!own(a, &q->userId, "userId"))
        return aop_end(a);
    if (q->sessionId.len == 0 || q->sessionId.len > 2 * OMTP_ID_MAX + 8) {
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "invalid_field", "sessionId is %s",
                        q->sessionId.len ? "too long" : "empty");
        return aop_end(a);
    }
    if (q->attrName.len == 0) {
        omtp_dom_refuse(&a->res, OMTP_EC_ATTR_FIELD_EMPTY, "invalid_field", "attrName is empty");
        return aop_end(a);
    }
    if (q->attrName.len > OMTP_LIMIT_ATTR_NAME || q->attrValue.len > OMTP_LIMIT_ATTR_VALUE) {
        omtp_dom_refuse(&a->res, OMTP_EC_PARAM, "invalid_field",
                        "attrName <= %d and attrValue <= %d bytes", OMTP_LIMIT_ATTR_NAME,
                        OMTP_LIMIT_ATTR_VALUE);
        return aop_end(a);
    }
    if (!copied(a, &omtp_SessionAttrSetReq_desc, &a->sess, q))
        return aop_end(a);
    aop_submit(a);
}
