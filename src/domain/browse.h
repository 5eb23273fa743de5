/*
 * domain/browse.h - the read operations of the business backend: a
 * session's history, the user list and a user's hot sessions (the HTTP API's
 * GET /v1/sessions/{id}/messages, GET /v1/users, GET /v1/users/{id}/sessions;
 * src/http/http_browse.c adapts them; docs/http-api.md "Reading").
 *
 * Rulings:
 *  - History: newest first, seqId < beforeSeq (beforeSeq <= 0: from the
 *    newest; 1: nothing older exists, an empty page), at most `limit`
 *    (1..OMTP_DOM_HISTORY_MAX; 0 = OMTP_DOM_HISTORY_DEFAULT), deleted
 *    messages left out, revoked ones with their content emptied by the
 *    adapter. A session with no stored message does not exist for this
 *    call: PARAM, reason "unknown_session". The session id must be one the
 *    protocol can spell (omtp_dom_session_id_valid): else PARAM, reason
 *    "invalid_id". OMTP_DOM_USER reads only sessions it may read as for
 *    history (omtp_chat_session_access: HISTORYMSG_DENY, "no_privilege");
 *    the API and the CLI read every session.
 *  - Users: byte order of user ids (stable: the cursor is the last id of a
 *    page), ids > `after` starting with `prefix`, at most `limit`
 *    (1..OMTP_DOM_USERS_MAX; 0 = OMTP_DOM_USERS_DEFAULT). prefix and after
 *    are "" or made of the id alphabet (else PARAM "invalid_field"). Only the
 *    API and the CLI (a user: PARAM "no_privilege").
 *  - Hot sessions: the user's sessions changed after `sinceUs` (the cursor:
 *    the last item's changedUs), oldest change first as PT_HOT_SESSION_SYNC
 *    pages them, at most `limit` (1..OMTP_DOM_HOT_MAX; 0 =
 *    OMTP_DOM_HOT_DEFAULT), each with the read cursor, the unread count and
 *    the last visible message. The user must exist (PARAM "unknown_user").
 *    Only the API and the CLI.
 *
 * Threading: loop thread; the callback runs once on the loop thread (from
 * inside the call for a refusal decided before the store). Outputs are
 * borrowed for the callback.
 */
#ifndef OMTP_DOMAIN_BROWSE_H
#define OMTP_DOMAIN_BROWSE_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/caller.h"
#include "store/store.h"

#define OMTP_DOM_HISTORY_DEFAULT 50
#define OMTP_DOM_HISTORY_MAX     200
#define OMTP_DOM_USERS_DEFAULT   100
#define OMTP_DOM_USERS_MAX       1000
#define OMTP_DOM_HOT_DEFAULT     100
#define OMTP_DOM_HOT_MAX         1000

/* Whether sid is a session id the protocol spells: "SC_<id>_<id>",
 * "BM_<id>_<id>" (ids of the alphabet, proto/omtp_session.h) or a group id,
 * "GC_" and 1..OMTP_ID_MAX bytes without '/' or control bytes. */
bool omtp_dom_session_id_valid(const char *sid);

typedef void (*omtp_dom_history_done)(void *arg, const omtp_dom_outcome *res,
                                      omtp_msg_rec_list *out);
void omtp_dom_history(omtp_server *s, const omtp_dom_caller *who, const char *sessionId,
                      int64_t beforeSeq, int limit, omtp_dom_history_done cb, void *arg);

typedef void (*omtp_dom_users_done)(void *arg, const omtp_dom_outcome *res,
                                    omtp_user_rec_list *out);
void omtp_dom_users_page(omtp_server *s, const omtp_dom_caller *who, const char *prefix,
                         const char *after, int limit, omtp_dom_users_done cb, void *arg);

typedef void (*omtp_dom_hot_done)(void *arg, const omtp_dom_outcome *res, omtp_hot_rec_list *out);
void omtp_dom_user_sessions(omtp_server *s, const omtp_dom_caller *who, const char *userId,
                            int64_t sinceUs, int limit, omtp_dom_hot_done cb, void *arg);

#endif
