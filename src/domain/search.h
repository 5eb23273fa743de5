/*
 * domain/search.h - full-text search over a user's messages (PT_MSG_SEARCH
 * 104, spec/omtp-ext.tars; GET /v1/search). src/omtp/search.c and
 * src/http/http_search.c are its adapters; the index lives in the store
 * (omtp_db_msg_search, docs/storage.md "Search").
 *
 * Rulings (docs/protocol.md, Extensions, "Search"):
 *  - query: 1..OMTP_LIMIT_SEARCH_QUERY bytes of valid UTF-8, at least
 *    OMTP_SEARCH_QUERY_MIN_CHARS characters (the trigram index cannot
 *    answer shorter ones without reading everything), else PARAM with the
 *    reason in words. It is plain text: quotes, `*`, `-`, NEAR, AND/OR/NOT
 *    match themselves. Matching is by substring, case-insensitive for ASCII.
 *  - count: 0 = 20, 1..OMTP_SEARCH_COUNT_MAX, else PARAM.
 *  - beforeTimestamp: <= 0 = now; results have timestamp < it (paging: ask
 *    again with the last result's timestamp).
 *  - sessionId: "" = every session the user is a member of; else it must be
 *    readable as for history (omtp_chat_session_access), else
 *    HISTORYMSG_DENY.
 *  - Revoked and deleted messages never match; edited ones match their new
 *    text; newest first.
 *
 * Callers: OMTP_DOM_USER searches as who->user; OMTP_DOM_API as `asUser`
 * (which must be a user: PARAM, reason "unknown_user").
 *
 * Threading: loop thread; the callback runs once on the loop thread (from
 * inside the call for a refusal decided before the store). `out` is
 * borrowed for the callback (the callback may move its items away).
 */
#ifndef OMTP_DOMAIN_SEARCH_H
#define OMTP_DOMAIN_SEARCH_H

#include <stdint.h>

#include "domain/caller.h"
#include "store/store.h"

typedef struct omtp_dom_search_req {
    const char *asUser; /* OMTP_DOM_API: the user searched as; else ignored */
    const char *query;
    size_t queryLen;       /* bytes of query (it may hold a NUL: refused) */
    const char *sessionId; /* NULL or "" = all the user's sessions */
    int64_t beforeMs;
    int32_t count;
} omtp_dom_search_req;

typedef void (*omtp_dom_search_done)(void *arg, const omtp_dom_outcome *res,
                                     omtp_msg_rec_list *out);

/* Checks the request fields alone (no store): 0, or OMTP_EC_PARAM with the
 * reason in why. Used by the call below; exported for the fuzz target. */
int omtp_dom_search_check(const omtp_dom_search_req *q, char *why, size_t whylen);

void omtp_dom_search(omtp_server *s, const omtp_dom_caller *who, const omtp_dom_search_req *q,
                     omtp_dom_search_done cb, void *arg);

#endif
