/*
 * http_msg.c - POST /v1/notify, /v1/sync and /v1/messages. Loop thread.
 *
 * Messages go through chat.c's pipeline (omtp_chat_submit): stored with a
 * per-session seqId, committed, then pushed to every online device, exactly
 * as an OMTP send. A notification to N users is N biz messages, one per
 * BM_<appId>_<userId> session; its dedup key is (appId, "<id>:<userId>"),
 * so a retried call stores and pushes nothing twice and answers with the
 * original seqIds. Recipients are checked in one store round trip first:
 * an unknown user fails the whole call (404) before anything is stored.
 */
#include "http_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "proto/omtp_proto.h"

#define HTTP_MAX_RECIPIENTS 1000
#define HTTP_MAX_NOTIFY_ID  100

/* ------------------------------------------------ recipients exist? */

/* Store-thread check that every id of `ids` is a user; unknown ones go to
 * `missing`. Runs as the first step of notify and sync. */
typedef struct users_check {
    const tars_str_list *ids;
    tars_str_list missing;
} users_check;

static int users_check_run(omtp_db *db, users_check *uc)
{
    for (uint32_t i = 0; i < uc->ids->n; i++) {
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        int rc = omtp_db_user_get(db, uc->ids->items[i].data, &u);
        omtp_user_rec_free(&u);
        if (rc == OMTP_ENOTFOUND) {
            if (http_str_list_push(&uc->missing, uc->ids->items[i].data) != 0)
                return OMTP_ENOMEM;
        } else if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* Replies 404 naming the unknown users; true if there were any. */
static bool reply_missing(http_req *r, const tars_str_list *missing)
{
    if (missing->n == 0)
        return false;
    char names[400] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < missing->n && used + 4 < sizeof(names); i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                         missing->items[i].data);
        used += n > 0 ? (size_t)n : 0;
    }
    http_reply_error(r, 404, "unknown_user", "no such user: %s", names);
    return true;
}

/* ------------------------------------------------------ /v1/notify */

typedef struct notify_ctx {
    http_req *r;
    omtp_server *srv;
    char appId[OMTP_ID_MAX + 1];
    char id[HTTP_MAX_NOTIFY_ID + 1];
    char *content, *pushInfo;
    int32_t contentType;
    bool high;
    tars_str_list to;
    users_check uc;
    uint32_t pending;
    json_t *results;
    int fail_ec; /* first failure, for an all-failed call */
    char fail_desc[256];
    uint32_t failed;
} notify_ctx;

typedef struct notify_slot {
    notify_ctx *ctx;
    uint32_t idx;
} notify_slot;

static void notify_free(notify_ctx *c)
{
    http_str_list_free(&c->to);
    http_str_list_free(&c->uc.missing);
    free(c->content);
    free(c->pushInfo);
    if (c->results)
        json_decref(c->results);
    free(c);
}

static void notify_finish(notify_ctx *c)
{
    if (c->failed == c->to.n) {
        http_reply_ec(c->r, c->fail_ec, c->fail_desc);
    } else {
        json_t *o =
            json_pack("{s:s,s:s,s:O}", "appId", c->appId, "id", c->id, "results", c->results);
        http_reply_json(c->r, 200, o);
    }
    notify_free(c);
}

static int notify_check_work(omtp_db *db, void *arg)
{
    return users_check_run(db, &((notify_ctx *)arg)->uc);
}

static void notify_one_done(void *arg, int code, const char *desc, const omtp_msg_rec *stored,
                            bool dup)
{
    notify_slot *s = arg;
    notify_ctx *c = s->ctx;
    const char *user = c->to.items[s->idx].data;
    json_t *item;
    if (code == OMTP_EC_SUCCESS && stored) {
        item = json_pack("{s:s,s:s,s:I,s:I,s:b}", "userId", user, "sessionId",
                         stored->msg.sessionId.data, "seqId", (json_int_t)stored->msg.seqId,
                         "timestamp", (json_int_t)stored->msg.timestamp, "duplicate", dup);
    } else {
        if (c->failed++ == 0) {
            c->fail_ec = code;
            snprintf(c->fail_desc, sizeof(c->fail_desc), "%s", desc ? desc : "");
        }
        item = json_pack("{s:s,s:{s:s,s:s}}", "userId", user, "error", "code",
                         omtp_error_code_name(code), "message", desc ? desc : "");
    }
    if (item)
        json_array_set_new(c->results, s->idx, item);
    free(s);
    if (--c->pending == 0)
        notify_finish(c);
}

static void notify_checked(void *arg, int status)
{
    notify_ctx *c = arg;
    if (status < 0) {
        http_reply_store_err(c->r, status);
        notify_free(c);
        return;
    }
    if (reply_missing(c->r, &c->uc.missing)) {
        notify_free(c);
        return;
    }
    c->results = json_array();
    for (uint32_t i = 0; c->results && i < c->to.n; i++)
        json_array_append_new(c->results, json_null());
    /* pending counts the submits plus one guard, so a failing submit in the
     * middle cannot finish the call before the loop is done */
    c->pending = 1;
    for (uint32_t i = 0; i < c->to.n; i++) {
        omtp_msg_rec m;
        omtp_msg_rec_init(&m);
        char packId[HTTP_MAX_NOTIFY_ID + OMTP_ID_MAX + 2];
        snprintf(packId, sizeof(packId), "%s:%s", c->id, c->to.items[i].data);
        m.type = PT_MSG_BIZ_NOTIFY;
        m.flags = c->high ? OMTP_F_HIGHPRJ : 0;
        int rc = tars_str_set(&m.packId, packId);
        rc |= tars_str_set(&m.msg.from, c->appId);
        rc |= tars_str_set(&m.msg.to, c->to.items[i].data);
        rc |= tars_str_set(&m.msg.content, c->content);
        rc |= tars_str_set(&m.msg.pushInfo, c->pushInfo ? c->pushInfo : "");
        m.msg.contentType = c->contentType;
        notify_slot *s = malloc(sizeof(*s));
        if (s && rc == 0) {
            s->ctx = c;
            s->idx = i;
            c->pending++;
            rc = omtp_chat_submit(c->srv, &m, notify_one_done, s);
            if (rc < 0)
                c->pending--;
        } else {
            rc = OMTP_ENOMEM;
        }
        omtp_msg_rec_free(&m);
        if (rc < 0) {
            free(s);
            /* report it like a failed store of this recipient */
            notify_slot *fs = malloc(sizeof(*fs));
            if (fs) {
                fs->ctx = c;
                fs->idx = i;
                c->pending++;
                notify_one_done(fs, OMTP_EC_SERVER_EXCEPTION, omtp_strerror(rc), NULL, false);
            }
        }
    }
    if (--c->pending == 0)
        notify_finish(c);
}

void http_ep_notify(http_req *r)
{
    const char *appId, *id, *content, *pushInfo;
    int64_t contentType;
    tars_str_list to;
    if (!http_get_id(r, "appId", true, &appId) ||
        !http_get_ids(r, "to", true, HTTP_MAX_RECIPIENTS, &to))
        return;
    json_t *hp = r->json ? json_object_get(r->json, "highPriority") : NULL;
    if (!http_get_str(r, "id", true, HTTP_MAX_NOTIFY_ID, &id) ||
        !http_get_str(r, "content", true, r->srv->cfg->max_content, &content) ||
        !http_get_str(r, "pushInfo", false, 4096, &pushInfo) ||
        !http_get_int(r, "contentType", false, 0, &contentType)) {
        http_str_list_free(&to);
        return;
    }
    if (hp && !json_is_boolean(hp)) {
        http_str_list_free(&to);
        http_reply_error(r, 400, "invalid_field", "the field \"highPriority\" must be a boolean");
        return;
    }
    if (!*id || !*content) {
        http_str_list_free(&to);
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" must not be empty",
                         *id ? "content" : "id");
        return;
    }
    notify_ctx *c = calloc(1, sizeof(*c));
    if (!c || !(c->content = strdup(content)) || (pushInfo && !(c->pushInfo = strdup(pushInfo)))) {
        if (c)
            free(c->content);
        free(c);
        http_str_list_free(&to);
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    c->r = r;
    c->srv = r->srv;
    snprintf(c->appId, sizeof(c->appId), "%s", appId);
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->contentType = (int32_t)contentType;
    c->high = hp && json_is_true(hp);
    c->to = to;
    c->uc.ids = &c->to;
    int rc = omtp_store_submit(r->srv->store, notify_check_work, notify_checked, c);
    if (rc < 0) {
        http_reply_store_err(r, rc);
        notify_free(c);
    }
}

/* -------------------------------------------------------- /v1/sync */

typedef struct sync_ctx {
    http_req *r;
    omtp_server *srv;
    int32_t command;
    char *content;
    tars_str_list to;
    users_check uc;
} sync_ctx;

static void sync_free(sync_ctx *c)
{
    http_str_list_free(&c->to);
    http_str_list_free(&c->uc.missing);
    free(c->content);
    free(c);
}

static int sync_check_work(omtp_db *db, void *arg)
{
    return users_check_run(db, &((sync_ctx *)arg)->uc);
}

static void sync_checked(void *arg, int status)
{
    sync_ctx *c = arg;
    if (status < 0) {
        http_reply_store_err(c->r, status);
        sync_free(c);
        return;
    }
    if (reply_missing(c->r, &c->uc.missing)) {
        sync_free(c);
        return;
    }
    omtp_SyncDataReq body;
    omtp_msg_init(&omtp_SyncDataReq_desc, &body);
    body.command = c->command;
    omtp_wire *w = NULL;
    if (tars_str_set(&body.content, c->content) == 0)
        w = omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &body);
    omtp_msg_free(&omtp_SyncDataReq_desc, &body);
    if (!w) {
        http_reply_error(c->r, 500, "internal", "out of memory");
        sync_free(c);
        return;
    }
    json_t *results = json_array();
    json_int_t total = 0;
    for (uint32_t i = 0; i < c->to.n; i++) {
        int n = omtp_push_user(c->srv, c->to.items[i].data, w, NULL);
        total += n;
        json_array_append_new(results,
                              json_pack("{s:s,s:i}", "userId", c->to.items[i].data, "devices", n));
    }
    omtp_wire_unref(w);
    http_reply_json(
        c->r, 200,
        json_pack("{s:i,s:I,s:o}", "command", c->command, "devices", total, "results", results));
    sync_free(c);
}

void http_ep_sync(http_req *r)
{
    const char *content;
    int64_t command;
    tars_str_list to;
    if (!http_get_ids(r, "to", true, HTTP_MAX_RECIPIENTS, &to))
        return;
    if (!http_get_int(r, "command", true, 0, &command) ||
        !http_get_str(r, "content", false, r->srv->cfg->max_content, &content)) {
        http_str_list_free(&to);
        return;
    }
    if (command < 1 || command > INT32_MAX) {
        http_str_list_free(&to);
        http_reply_error(r, 400, "invalid_field",
                         "the field \"command\" must be a positive integer (1 friends, 2 "
                         "sessions, 3 groups)");
        return;
    }
    sync_ctx *c = calloc(1, sizeof(*c));
    if (!c || !(c->content = strdup(content ? content : ""))) {
        free(c);
        http_str_list_free(&to);
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    c->r = r;
    c->srv = r->srv;
    c->command = (int32_t)command;
    c->to = to;
    c->uc.ids = &c->to;
    int rc = omtp_store_submit(r->srv->store, sync_check_work, sync_checked, c);
    if (rc < 0) {
        http_reply_store_err(r, rc);
        sync_free(c);
    }
}

/* ---------------------------------------------------- /v1/messages */

/* The sender, the recipient (or group) and membership are checked in one
 * store round trip first, so each gets its own HTTP answer (404 unknown
 * user / group, 403 not a member); chat.c checks again when it stores. */
typedef struct message_ctx {
    http_req *r;
    omtp_server *srv;
    omtp_msg_rec m;
    unsigned status; /* a refusal found by the check */
    const char *code;
    char msg[320];
} message_ctx;

static void message_free(message_ctx *c)
{
    omtp_msg_rec_free(&c->m);
    free(c);
}

static int refuse(message_ctx *c, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(message_ctx *c, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->status = status;
    c->code = code;
    return 0;
}

static int user_exists(omtp_db *db, const char *id, bool *yes)
{
    omtp_user_rec u;
    omtp_user_rec_init(&u);
    int rc = omtp_db_user_get(db, id, &u);
    omtp_user_rec_free(&u);
    *yes = rc == 0;
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static int message_check_work(omtp_db *db, void *arg)
{
    message_ctx *c = arg;
    const char *from = c->m.msg.from.data, *to = c->m.msg.to.data;
    bool yes = false;
    int rc = user_exists(db, from, &yes);
    if (rc || !yes)
        return rc ? rc : refuse(c, 404, "unknown_user", "no such user: %s (from)", from);
    if (c->m.type == PT_MSG_SINGLE_CHAT) {
        rc = user_exists(db, to, &yes);
        if (rc || !yes)
            return rc ? rc : refuse(c, 404, "unknown_user", "no such user: %s (to)", to);
        return 0;
    }
    omtp_GroupChatInfo g;
    bool dismissed = false;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    rc = omtp_db_group_get(db, to, &g, &dismissed);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && dismissed))
        return refuse(c, 404, "unknown_group", "no such group: %s", to);
    if (rc == 0)
        rc = omtp_db_group_is_member(db, to, from, &yes);
    if (rc == 0 && !yes)
        return refuse(c, 403, "not_member", "%s is not a member of %s", from, to);
    return rc;
}

static void message_done(void *arg, int code, const char *desc, const omtp_msg_rec *stored,
                         bool dup)
{
    http_req *r = arg;
    if (code != OMTP_EC_SUCCESS || !stored) {
        http_reply_ec(r, code, desc);
        return;
    }
    http_reply_json(r, dup ? 200 : 201,
                    json_pack("{s:s,s:I,s:I,s:s,s:b}", "sessionId", stored->msg.sessionId.data,
                              "seqId", (json_int_t)stored->msg.seqId, "timestamp",
                              (json_int_t)stored->msg.timestamp, "packId", stored->packId.data,
                              "duplicate", dup));
}

static void message_checked(void *arg, int status)
{
    message_ctx *c = arg;
    http_req *r = c->r;
    if (status < 0)
        http_reply_store_err(r, status);
    else if (c->status)
        http_reply_error(r, c->status, c->code, "%s", c->msg);
    else if ((status = omtp_chat_submit(c->srv, &c->m, message_done, r)) < 0)
        http_reply_store_err(r, status);
    message_free(c);
}

void http_ep_messages(http_req *r)
{
    const char *from, *to, *type, *content, *pushInfo, *id;
    int64_t contentType;
    if (!http_get_id(r, "from", true, &from) || !http_get_id(r, "to", true, &to) ||
        !http_get_str(r, "type", false, 16, &type) ||
        !http_get_str(r, "content", true, r->srv->cfg->max_content, &content) ||
        !http_get_str(r, "pushInfo", false, 4096, &pushInfo) ||
        !http_get_str(r, "id", false, OMTP_PACKID_MAX, &id) ||
        !http_get_int(r, "contentType", false, 0, &contentType))
        return;
    json_t *hp = json_object_get(r->json, "highPriority");
    if (hp && !json_is_boolean(hp)) {
        http_reply_error(r, 400, "invalid_field", "the field \"highPriority\" must be a boolean");
        return;
    }
    int ptype;
    if (!type || strcmp(type, "single") == 0) {
        ptype = PT_MSG_SINGLE_CHAT;
    } else if (strcmp(type, "group") == 0) {
        ptype = PT_MSG_GROUP_CHAT;
    } else {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"type\" must be \"single\" or \"group\"");
        return;
    }
    if (!*content) {
        http_reply_error(r, 400, "invalid_field", "the field \"content\" must not be empty");
        return;
    }
    message_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    c->r = r;
    c->srv = r->srv;
    omtp_msg_rec_init(&c->m);
    c->m.type = ptype;
    c->m.flags = hp && json_is_true(hp) ? OMTP_F_HIGHPRJ : 0;
    int rc = tars_str_set(&c->m.packId, id ? id : "");
    rc |= tars_str_set(&c->m.msg.from, from);
    rc |= tars_str_set(&c->m.msg.to, to);
    rc |= tars_str_set(&c->m.msg.content, content);
    rc |= tars_str_set(&c->m.msg.pushInfo, pushInfo ? pushInfo : "");
    c->m.msg.contentType = (int32_t)contentType;
    if (rc == 0)
        rc = omtp_store_submit(r->srv->store, message_check_work, message_checked, c);
    else
        rc = OMTP_ENOMEM;
    if (rc < 0) {
        http_reply_store_err(r, rc);
        message_free(c);
    }
}
