/*
 * sync.h - helpers the sync handlers share with the monitor handlers.
 *
 * Threading: reentrant (pure data conversion); any thread.
 */
#ifndef OMTP_SYNC_HANDLERS_H
#define OMTP_SYNC_HANDLERS_H

#include "core/server.h"

/* Initialises a hot-session record for sessionId with no cursor, no unread,
 * no last message and attribute "{}". Returns 0 or OMTP_ENOMEM (the record
 * is then still safe to free). */
int omtp_sync_hot_rec_init(omtp_hot_rec *r, const char *sessionId);

/* Fills out->sessions from recs (strings are moved out of recs; each last
 * message becomes lastMsgs[0] as an OTIMPack, see omtp_chat_msg_pack).
 * `out` must be initialised; code and timestamp are left to the caller.
 * Returns 0 or OMTP_ENOMEM. */
int omtp_sync_hot_resp_build(omtp_hot_rec_list *recs, omtp_HotSessionResp *out);

#endif
