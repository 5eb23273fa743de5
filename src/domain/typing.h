/*
 * domain/typing.h - typing notices (spec/omtp-ext.tars PT_TYPING 102;
 * docs/protocol.md, Extensions chapter). Never stored. src/omtp/ext.c is
 * the OMTP adapter.
 *
 * Rules (rulings in docs/protocol.md):
 *  - state is 1 (typing) or 0 (stopped), else PARAM;
 *  - a single chat (SC_<a>_<b>, by its spelling) relays to the other user's
 *    online devices; a group relays to its members' online devices (the
 *    sending device excepted; the sender's other devices get it too and
 *    ignore their own user id); a business session or anything else is
 *    PARAM;
 *  - a group the user is not a member of (or that does not exist) and a
 *    single chat that is not the user's: MSG_FORBIDDEN (43), the code
 *    session attributes use for sessions one is not in;
 *  - at most one relay per (user, session) per OMTP_TYPING_INTERVAL_MS:
 *    extra ones are dropped silently (success, nothing relayed);
 *  - success answers nothing (the callback's code 0: the adapter frees the
 *    request without a reply).
 *
 * Memory: the rate limit keeps 16 bytes per (user, session) relayed within
 * the last interval (an open-addressing table of 64-bit hashes, rebuilt
 * without the stale entries when it fills).
 *
 * Threading: loop thread; the callback on the loop thread (from inside the
 * call unless the group's members had to be read from the store).
 */
#ifndef OMTP_DOMAIN_TYPING_H
#define OMTP_DOMAIN_TYPING_H

#include "core/server.h"
#include "domain/caller.h"

#define OMTP_TYPING_INTERVAL_MS 1000

typedef void (*omtp_dom_typing_done)(void *arg, const omtp_dom_outcome *res);

void omtp_dom_typing(omtp_server *s, const omtp_dom_caller *who, const char *sessionId, int state,
                     omtp_dom_typing_done cb, void *arg);
/* Relays made and dropped (the rate limit) since start. */
void omtp_dom_typing_stats(omtp_server *s, uint64_t *relayed, uint64_t *dropped);
void omtp_dom_typing_free(omtp_server *s);

#endif
