/*
 * http_browse.c - the backend's read endpoints (the HTTP adapters of
 * domain/browse.h; docs/http-api.md "Reading"):
 *
 *   GET /v1/sessions/{sessionId}/messages?before=SEQ&limit=N
 *       200 {"sessionId", "messages":[message JSON, newest first], "next":
 *       the `before` of the next page (the last seqId) or null}
 *   GET /v1/users?prefix=&after=&limit=
 *       200 {"users":[user JSON in byte order of userId], "next": the `after`
 *       of the next page (the last userId) or null}
 *   GET /v1/users/{userId}/sessions?since=&limit=
 *       200 {"userId", "sessions":[{sessionId, readSeqId, unreadCount,
 *       changedUs, attribute, lastMsg: message JSON or null}], "next": the
 *       `since` of the next page or null}
 *
 * "next" is null when the page was not full: nothing more to read.
 * Refusals: 400 invalid_field (limit/before/since not a number or out of
 * range, prefix/after outside the id alphabet), 400 invalid_id (a path id
 * the protocol cannot spell), 404 unknown_session / unknown_user, 503
 * storage.
 *
 * Threading: loop thread.
 */
#include <string.h>

#include <jansson.h>

#include "domain/browse.h"
#include "http_internal.h"

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

/* The page size asked for (0 = the domain's default), kept in the request's
 * arguments so that the completion can tell a full page. */
static bool page_limit(http_req *r, int64_t max, int64_t *limit)
{
    if (!http_arg_int(r, "limit", 1, max, limit))
        return false;
    json_object_set_new(r->args, "_limit", json_integer((json_int_t)*limit));
    return true;
}

static bool page_full(http_req *r, uint32_t n, int64_t def)
{
    json_int_t want = json_integer_value(json_object_get(r->args, "_limit"));
    return n > 0 && (json_int_t)n >= (want ? want : def);
}

/* A JSON array of the n records at `items` (each `size` bytes), each made by
 * `make`; on a failure answers 500 and returns NULL. */
static json_t *json_list(http_req *r, const void *items, uint32_t n, size_t size,
                         json_t *(*make)(const void *rec))
{
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < n; i++) {
        json_t *o = make((const char *)items + (size_t)i * size);
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        http_reply_error(r, 500, "internal", "out of memory");
    return list;
}

static json_t *msg_item(const void *rec)
{
    return http_msg_json(rec);
}
static json_t *user_item(const void *rec)
{
    return http_user_json(rec);
}

/* ------------------------------------------------------------- history */

static void got_history(void *arg, const omtp_dom_outcome *res, omtp_msg_rec_list *out)
{
    http_req *r = arg;
    if (http_reply_refused(r, res))
        return;
    json_t *list = json_list(r, out->items, out->n, sizeof(*out->items), msg_item);
    if (!list)
        return;
    json_t *next = json_null();
    if (page_full(r, out->n, OMTP_DOM_HISTORY_DEFAULT) && out->items[out->n - 1].msg.seqId > 1)
        next = json_integer((json_int_t)out->items[out->n - 1].msg.seqId);
    http_reply_json(
        r, 200,
        json_pack("{s:s,s:o,s:o}", "sessionId", r->param[0], "messages", list, "next", next));
}

void http_ep_session_messages(http_req *r)
{
    int64_t before = 0, limit = 0;
    if (!http_arg_int(r, "before", 1, INT64_MAX, &before) ||
        !page_limit(r, OMTP_DOM_HISTORY_MAX, &limit))
        return;
    omtp_dom_history(r->srv, &api, r->param[0], before, (int)limit, got_history, r);
}

/* --------------------------------------------------------------- users */

static void got_users(void *arg, const omtp_dom_outcome *res, omtp_user_rec_list *out)
{
    http_req *r = arg;
    if (http_reply_refused(r, res))
        return;
    json_t *list = json_list(r, out->items, out->n, sizeof(*out->items), user_item);
    if (!list)
        return;
    json_t *next = page_full(r, out->n, OMTP_DOM_USERS_DEFAULT)
                       ? json_string(out->items[out->n - 1].userId.data)
                       : json_null();
    http_reply_json(r, 200, json_pack("{s:o,s:o}", "users", list, "next", next));
}

void http_ep_user_list(http_req *r)
{
    int64_t limit = 0;
    if (!page_limit(r, OMTP_DOM_USERS_MAX, &limit))
        return;
    omtp_dom_users_page(r->srv, &api, http_arg(r, "prefix", NULL), http_arg(r, "after", NULL),
                        (int)limit, got_users, r);
}

/* -------------------------------------------------------- hot sessions */

static json_t *hot_json(const omtp_hot_rec *h)
{
    json_t *last = h->hasLast ? http_msg_json(&h->last) : json_null();
    if (!last)
        return NULL;
    json_t *attr =
        h->attribute.len ? json_loadb(h->attribute.data, h->attribute.len, 0, NULL) : json_object();
    if (!attr)
        attr = json_object();
    return json_pack("{s:s%,s:I,s:i,s:I,s:o,s:o}", "sessionId", h->sessionId.data,
                     (size_t)h->sessionId.len, "readSeqId", (json_int_t)h->readSeqId, "unreadCount",
                     h->unreadCount < 0 ? 0 : (int)h->unreadCount, "changedUs",
                     (json_int_t)h->changedUs, "attribute", attr, "lastMsg", last);
}

static json_t *hot_item(const void *rec)
{
    return hot_json(rec);
}

static void got_sessions(void *arg, const omtp_dom_outcome *res, omtp_hot_rec_list *out)
{
    http_req *r = arg;
    if (http_reply_refused(r, res))
        return;
    json_t *list = json_list(r, out->items, out->n, sizeof(*out->items), hot_item);
    if (!list)
        return;
    json_t *next = page_full(r, out->n, OMTP_DOM_HOT_DEFAULT)
                       ? json_integer((json_int_t)out->items[out->n - 1].changedUs)
                       : json_null();
    http_reply_json(
        r, 200, json_pack("{s:s,s:o,s:o}", "userId", r->param[0], "sessions", list, "next", next));
}

void http_ep_user_sessions(http_req *r)
{
    int64_t since = 0, limit = 0;
    if (!http_arg_int(r, "since", 0, INT64_MAX, &since) || !page_limit(r, OMTP_DOM_HOT_MAX, &limit))
        return;
    omtp_dom_user_sessions(r->srv, &api, r->param[0], since, (int)limit, got_sessions, r);
}
