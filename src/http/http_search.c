/*
 * http_search.c - GET /v1/search?userId=&q=&sessionId=&before=&limit= (the
 * HTTP adapter of domain/search.h; docs/http-api.md "Search"). The backend
 * searches as the user it names, over that user's sessions: the same rules
 * and refusals as PT_MSG_SEARCH.
 *
 * 200 {"messages":[{sessionId, seqId, timestamp, from, to, contentType,
 * content, status, flags, packId}...], "next": the `before` of the next page
 * (the last message's timestamp) or null when this page was not full}.
 * Refusals: 400 invalid_field (query empty / too short / too long / not
 * UTF-8, limit or before not a number or out of range), 404 unknown_user,
 * 403 no_privilege (sessionId the user may not read), 503 storage.
 *
 * Threading: loop thread.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "domain/search.h"
#include "http_internal.h"
#include "proto/omtp_limits.h"

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

static void found(void *arg_, const omtp_dom_outcome *res, omtp_msg_rec_list *out)
{
    http_req *r = arg_;
    if (res->code) {
        if (res->err < 0) {
            http_reply_store_err(r, res->err);
            return;
        }
        const char *why = res->reason ? res->reason : "internal";
        unsigned status = !strcmp(why, "unknown_user")   ? 404
                          : !strcmp(why, "no_privilege") ? 403
                          : !strcmp(why, "internal")     ? 500
                                                         : 400;
        http_reply_error(r, status, why, "%s", res->desc);
        return;
    }
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < out->n; i++) {
        json_t *o = http_msg_json(&out->items[i]);
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    json_t *next = json_null();
    if (out->n && (int64_t)out->n == (int64_t)json_array_size(list) &&
        json_integer_value(json_object_get(r->args, "_limit")) == (json_int_t)out->n)
        next = json_integer((json_int_t)out->items[out->n - 1].msg.timestamp);
    http_reply_json(r, 200, json_pack("{s:o,s:o}", "messages", list, "next", next));
}

void http_ep_search(http_req *r)
{
    size_t qlen = 0;
    const char *user = http_arg(r, "userId", NULL);
    const char *q = http_arg(r, "q", &qlen);
    const char *sid = http_arg(r, "sessionId", NULL);
    int64_t before = 0, limit = 20;
    if (!user || !*user) {
        http_reply_error(r, 400, "missing_field", "userId is required: the user to search as");
        return;
    }
    if (!http_valid_id(user)) {
        http_reply_error(r, 400, "invalid_id", "userId is not a valid user id");
        return;
    }
    if (!q) {
        http_reply_error(r, 400, "missing_field", "q is required: the text to search for");
        return;
    }
    if (!http_arg_int(r, "before", 0, INT64_MAX, &before) ||
        !http_arg_int(r, "limit", 1, OMTP_SEARCH_COUNT_MAX, &limit))
        return;
    /* the page size, so that `found` can say whether a next page may exist */
    json_object_set_new(r->args, "_limit", json_integer((json_int_t)limit));
    omtp_dom_search_req sq = {.asUser = user,
                              .query = q,
                              .queryLen = qlen,
                              .sessionId = sid,
                              .beforeMs = before,
                              .count = (int32_t)limit};
    omtp_dom_search(r->srv, &api, &sq, found, r);
}
