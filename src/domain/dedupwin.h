/*
 * domain/dedupwin.h - the in-memory dedup window of the send path on the
 * message log (DESIGN "Delivery path"; docs/storage.md).
 *
 * (from, packId) of every message appended in the last `window_s` seconds
 * (at most `max` entries, oldest dropped first) -> where it went (session,
 * seqId, timestamp), its fingerprint (msg.h, omtp_chat_fingerprint) and the
 * log position its ack waits for. A reuse found here is answered from it
 * (the original's ack, or MSG_REPEATED for a different message); a resend
 * flagged DUP that is not found here is looked up in the store (24 h).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_DEDUPWIN_H
#define OMTP_DOMAIN_DEDUPWIN_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct dedupwin dedupwin;

typedef struct dedup_hit {
    int32_t type;
    int64_t seqId, timestamp;
    uint64_t print;
    uint64_t lsn_end; /* the original's record ends here (its ack waits for it) */
    const char *sessionId;
} dedup_hit;

dedupwin *dedupwin_new(uint32_t window_s, size_t max);
void dedupwin_free(dedupwin *w);
/* The entry of (from, packId) still in the window, or false. */
bool dedupwin_find(dedupwin *w, const tars_str *from, const tars_str *packId, int64_t now_ms,
                   dedup_hit *out);
/* Remembers m (as appended). 0 or OMTP_ENOMEM (the window then misses it). */
int dedupwin_add(dedupwin *w, const omtp_msg_rec *m, uint64_t print, uint64_t lsn_end,
                 int64_t now_ms);
/* The send path's two steps, so that memory trouble refuses a message
 * BEFORE it is appended instead of leaving it out of the window after:
 * reserve the entry for m (from, packId, sessionId set), NULL = out of
 * memory; then either commit it once m is appended (cannot fail) or
 * release it (the append failed). */
typedef struct dedup_slot dedup_slot;
dedup_slot *dedupwin_reserve(dedupwin *w, const omtp_msg_rec *m);
void dedupwin_commit(dedupwin *w, dedup_slot *e, const omtp_msg_rec *m, uint64_t print,
                     uint64_t lsn_end, int64_t now_ms);
void dedupwin_release(dedup_slot *e);
/* Entries dropped by dedup_window_max before dedup_window_s passed: a
 * packId reused WITHOUT the DUP flag after that is not caught (raise
 * dedup_window_max). A DUP-flagged resend is still found in the store. */
uint64_t dedupwin_early_drops(const dedupwin *w);
size_t dedupwin_count(const dedupwin *w);
size_t dedupwin_bytes(const dedupwin *w);

#endif
