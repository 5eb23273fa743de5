/*
 * http_msg.c - POST /v1/notify, /v1/sync and /v1/messages. Loop thread.
 *
 * Messages go through the domain (domain/msg.h) as the HTTP API caller
 * (OMTP_DOM_API): the same checks, store work and pushes as an OMTP send. A notification to N users
 * is N biz messages, one per BM_<appId>_<userId> session; its dedup key is (appId,
 * "<id>:<userId>"), so a retried call stores and pushes nothing twice and answers with the original
 * seqIds. Recipients are checked in one store round trip first: an unknown user fails the whole
 * call (404) before anything is stored.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/msg.h"
#include "proto/omtp_proto.h"

#define HTTP_MAX_RECIPIENTS 1000
#define HTTP_MAX_NOTIFY_ID  100

/* Who the HTTP API acts as (domain/msg.h): the business backend. */
static const omtp_dom_caller api_caller = {.role = OMTP_DOM_API};

/* The longest "content" the API reads: max_content, the one size rule the
 * domain applies too (0, which start-up replaces, = no limit of its own). */
static size_t content_max(const http_req *r)
{
    return r->srv->cfg->max_content ? r->srv->cfg->max_content : SIZE_MAX;
}

/* ------------------------------------------------ recipients exist? */

/* What notify and sync share: a request to a list of users, all of which
 * must exist. The endpoint's context starts with this struct. */
typedef struct recipients recipients;
struct recipients {
    http_req *r;
    omtp_server *srv;
    tars_str_list to;            /* the given ids */
    tars_str_list missing;       /* unknown ones, found by the check */
    void (*send)(recipients *t); /* loop thread, once all exist; owns t */
    void (*free)(recipients *t); /* the whole context */
};

/* Store thread: every id of t->to is a user; unknown ones go to missing. */
static int recipients_check_work(omtp_db *db, void *arg)
{
    recipients *t = arg;
    for (uint32_t i = 0; i < t->to.n; i++) {
        bool yes = false;
        int rc = omtp_db_user_exists(db, t->to.items[i].data, &yes);
        if (rc < 0)
            return rc;
        if (!yes && http_str_list_push(&t->missing, t->to.items[i].data) != 0)
            return OMTP_ENOMEM;
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

static void recipients_checked(void *arg, int status)
{
    recipients *t = arg;
    if (status < 0) {
        http_reply_store_err(t->r, status);
    } else if (!reply_missing(t->r, &t->missing)) {
        t->send(t);
        return;
    }
    t->free(t);
}

/* Takes over t (its to, send and free set): checks the recipients in one
 * store round trip, then answers 404 or calls t->send. */
static void recipients_submit(http_req *r, recipients *t)
{
    t->r = r;
    t->srv = r->srv;
    int rc = omtp_store_submit(r->srv->store, recipients_check_work, recipients_checked, t);
    if (rc < 0) {
        http_reply_store_err(r, rc);
        t->free(t);
    }
}

/* Frees t's lists (the context's free function calls it). */
static void recipients_clear(recipients *t)
{
    http_str_list_free(&t->to);
    http_str_list_free(&t->missing);
}

/* ------------------------------------------------------ /v1/notify */

typedef struct notify_ctx {
    recipients t; /* first: the context is a recipients */
    char appId[OMTP_ID_MAX + 1];
    char id[HTTP_MAX_NOTIFY_ID + 1];
    char *content, *pushInfo;
    int32_t contentType;
    bool high;
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

static void notify_free(recipients *t)
{
    notify_ctx *c = (notify_ctx *)t;
    recipients_clear(t);
    free(c->content);
    free(c->pushInfo);
    if (c->results)
        json_decref(c->results);
    free(c);
}

static void notify_finish(notify_ctx *c)
{
    if (c->failed == c->t.to.n) {
        http_reply_ec(c->t.r, c->fail_ec, c->fail_desc);
    } else {
        json_t *o =
            json_pack("{s:s,s:s,s:O}", "appId", c->appId, "id", c->id, "results", c->results);
        http_reply_json(c->t.r, 200, o);
    }
    notify_free(&c->t);
}

static void notify_one_done(void *arg, int code, const char *desc, const omtp_msg_rec *stored,
                            bool dup)
{
    notify_slot *s = arg;
    notify_ctx *c = s->ctx;
    const char *user = c->t.to.items[s->idx].data;
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

static void notify_one_result(void *arg, const omtp_dom_result *res)
{
    notify_one_done(arg, res->code, res->desc, res->stored, res->dup);
}

static void notify_send(recipients *t)
{
    notify_ctx *c = (notify_ctx *)t;
    c->results = json_array();
    for (uint32_t i = 0; c->results && i < c->t.to.n; i++)
        json_array_append_new(c->results, json_null());
    /* pending counts the submits plus one guard, so a failing submit in the
     * middle cannot finish the call before the loop is done */
    c->pending = 1;
    for (uint32_t i = 0; i < c->t.to.n; i++) {
        omtp_msg_rec m;
        omtp_msg_rec_init(&m);
        char packId[HTTP_MAX_NOTIFY_ID + OMTP_ID_MAX + 2];
        snprintf(packId, sizeof(packId), "%s:%s", c->id, c->t.to.items[i].data);
        m.type = PT_MSG_BIZ_NOTIFY;
        m.flags = c->high ? OMTP_F_HIGHPRJ : 0;
        int rc = tars_str_set(&m.packId, packId);
        rc |= tars_str_set(&m.msg.from, c->appId);
        rc |= tars_str_set(&m.msg.to, c->t.to.items[i].data);
        rc |= tars_str_set(&m.msg.content, c->content);
        rc |= tars_str_set(&m.msg.pushInfo, c->pushInfo ? c->pushInfo : "");
        m.msg.contentType = c->contentType;
        notify_slot *s = malloc(sizeof(*s));
        if (s && rc == 0) {
            s->ctx = c;
            s->idx = i;
            c->pending++;
            rc = omtp_dom_send_biz(c->t.srv, &api_caller, &m, notify_one_result, s);
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
        !http_get_str(r, "content", true, content_max(r), &content) ||
        !http_get_str(r, "pushInfo", false, OMTP_LIMIT_PUSHINFO, &pushInfo) ||
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
    snprintf(c->appId, sizeof(c->appId), "%s", appId);
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->contentType = (int32_t)contentType;
    c->high = hp && json_is_true(hp);
    c->t.to = to;
    c->t.send = notify_send;
    c->t.free = notify_free;
    recipients_submit(r, &c->t);
}

/* -------------------------------------------------------- /v1/sync */

typedef struct sync_ctx {
    recipients t; /* first: the context is a recipients */
    int32_t command;
    char *content;
} sync_ctx;

static void sync_free(recipients *t)
{
    sync_ctx *c = (sync_ctx *)t;
    recipients_clear(t);
    free(c->content);
    free(c);
}

static void sync_send(recipients *t)
{
    sync_ctx *c = (sync_ctx *)t;
    omtp_SyncDataReq body;
    omtp_msg_init(&omtp_SyncDataReq_desc, &body);
    body.command = c->command;
    omtp_wire *w = NULL;
    if (tars_str_set(&body.content, c->content) == 0)
        w = omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &body);
    omtp_msg_free(&omtp_SyncDataReq_desc, &body);
    if (!w) {
        http_reply_error(c->t.r, 500, "internal", "out of memory");
        sync_free(&c->t);
        return;
    }
    json_t *results = json_array();
    json_int_t total = 0;
    for (uint32_t i = 0; i < c->t.to.n; i++) {
        int n = omtp_push_user(c->t.srv, c->t.to.items[i].data, w, NULL);
        total += n;
        json_array_append_new(
            results, json_pack("{s:s,s:i}", "userId", c->t.to.items[i].data, "devices", n));
    }
    omtp_wire_unref(w);
    http_reply_json(
        c->t.r, 200,
        json_pack("{s:i,s:I,s:o}", "command", c->command, "devices", total, "results", results));
    sync_free(&c->t);
}

void http_ep_sync(http_req *r)
{
    const char *content;
    int64_t command;
    tars_str_list to;
    if (!http_get_ids(r, "to", true, HTTP_MAX_RECIPIENTS, &to))
        return;
    if (!http_get_int(r, "command", true, 0, &command) ||
        !http_get_str(r, "content", false, content_max(r), &content)) {
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
    c->command = (int32_t)command;
    c->t.to = to;
    c->t.send = sync_send;
    c->t.free = sync_free;
    recipients_submit(r, &c->t);
}

/* ---------------------------------------------------- /v1/messages */

/* One domain call (domain/msg.h) checks, stores and pushes; its refusal
 * reason gives each missing party its own HTTP answer (404 unknown user /
 * group, 403 not a member). */
typedef struct message_ctx {
    http_req *r;
    char from[OMTP_ID_MAX + 1], to[OMTP_ID_MAX + 1];
} message_ctx;

static void message_done(void *arg, const omtp_dom_result *res)
{
    message_ctx *c = arg;
    http_req *r = c->r;
    const omtp_msg_rec *stored = res->stored;
    bool dup = res->dup;
    switch (res->reason) {
    case OMTP_DOM_UNKNOWN_SENDER:
        http_reply_error(r, 404, "unknown_user", "no such user: %s (from)", c->from);
        break;
    case OMTP_DOM_UNKNOWN_RECIPIENT:
        http_reply_error(r, 404, "unknown_user", "no such user: %s (to)", c->to);
        break;
    case OMTP_DOM_UNKNOWN_GROUP:
        http_reply_error(r, 404, "unknown_group", "no such group: %s", c->to);
        break;
    case OMTP_DOM_NOT_MEMBER:
        http_reply_error(r, 403, "not_member", "%s is not a member of %s", c->from, c->to);
        break;
    default:
        if (res->code != OMTP_EC_SUCCESS || !stored) {
            http_reply_ec(r, res->code, res->desc);
            break;
        }
        http_reply_json(r, dup ? 200 : 201,
                        json_pack("{s:s,s:I,s:I,s:s,s:b}", "sessionId", stored->msg.sessionId.data,
                                  "seqId", (json_int_t)stored->msg.seqId, "timestamp",
                                  (json_int_t)stored->msg.timestamp, "packId", stored->packId.data,
                                  "duplicate", dup));
        break;
    }
    free(c);
}

void http_ep_messages(http_req *r)
{
    const char *from, *to, *type, *content, *pushInfo, *id;
    int64_t contentType;
    if (!http_get_id(r, "from", true, &from) || !http_get_str(r, "to", true, OMTP_ID_MAX, &to) ||
        !http_get_str(r, "type", false, 16, &type) ||
        !http_get_str(r, "content", true, content_max(r), &content) ||
        !http_get_str(r, "pushInfo", false, OMTP_LIMIT_PUSHINFO, &pushInfo) ||
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
    /* "to" is a user id for a single chat, a group id for a group chat */
    if (ptype == PT_MSG_SINGLE_CHAT && !http_valid_id(to)) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"to\" must be a user id: " OMTP_ID_RULE);
        return;
    }
    if (ptype == PT_MSG_GROUP_CHAT && !http_valid_group_id(to)) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"to\" must be a group id of 1..%d bytes without '/' or "
                         "control characters",
                         OMTP_ID_MAX);
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
    snprintf(c->from, sizeof c->from, "%s", from);
    snprintf(c->to, sizeof c->to, "%s", to);
    /* borrowed strings: the domain copies what it keeps */
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = ptype;
    m.flags = hp && json_is_true(hp) ? OMTP_F_HIGHPRJ : 0;
    m.packId = (tars_str){(char *)(id ? id : ""), (uint32_t)strlen(id ? id : "")};
    m.msg.from = (tars_str){(char *)from, (uint32_t)strlen(from)};
    m.msg.to = (tars_str){(char *)to, (uint32_t)strlen(to)};
    m.msg.content = (tars_str){(char *)content, (uint32_t)strlen(content)};
    m.msg.pushInfo =
        (tars_str){(char *)(pushInfo ? pushInfo : ""), (uint32_t)strlen(pushInfo ? pushInfo : "")};
    m.msg.contentType = (int32_t)contentType;
    int rc = ptype == PT_MSG_GROUP_CHAT
                 ? omtp_dom_send_group(r->srv, &api_caller, &m, message_done, c)
                 : omtp_dom_send_single(r->srv, &api_caller, &m, message_done, c);
    if (rc < 0) {
        free(c);
        http_reply_store_err(r, rc);
    }
}
