/*
 * domain/msgcache.h - the recent messages of the message log's send path,
 * in memory: what a revoke, delete, edit or reaction checks (its type,
 * parties, packId, send time, status and reactions), so that those of a
 * recent message are decided without a store round trip (docs/storage.md,
 * "Delivery path", "Message control, read cursors and reactions").
 *
 * Coherent with the log: a message enters when its record is appended
 * (msgcache_add), its status changes when a control record is appended
 * (msgcache_set_status) -- always on the loop, in log order, and under the
 * operation's key (domain/oplock.h), so a hit is what the store will hold
 * once the log is applied. A miss is read from the store behind the read
 * barrier (the caller's business), never guessed.
 *
 * Memory: at most `max` messages (msg_cache_max); beyond, the oldest entry
 * is dropped (first in, first out: control concerns recent messages).
 * msgcache_bytes reports what the entries hold (/metrics).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_MSGCACHE_H
#define OMTP_DOMAIN_MSGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct msgcache msgcache;

typedef struct msgcache_msg {
    int type;   /* PT_MSG_SINGLE_CHAT, _GROUP_CHAT, _BIZ_NOTIFY */
    int status; /* 0, MC_REVOKE, MC_DELETE */
    int64_t timestamp;
    tars_str from, to, packId; /* owned by the entry */
} msgcache_msg;

msgcache *msgcache_new(size_t max);
void msgcache_free(msgcache *c);

/* m as appended (sessionId, seqId, type, from, to, packId, timestamp).
 * Out of memory: not added (a later check reads the store). */
void msgcache_add(msgcache *c, const omtp_msg_rec *m);
/* The entry, valid until the next add; NULL on a miss. */
const msgcache_msg *msgcache_find(msgcache *c, const char *sid, int64_t seq);
/* A control record of (sid, seq) was appended: its status now (an edit
 * leaves it). No entry: nothing to do. */
void msgcache_set_status(msgcache *c, const char *sid, int64_t seq, int status);

/* Reactions. A message added here has none (known); every reaction record
 * appended updates them (msgcache_react). Beyond MSGCACHE_RX_MAX reactions
 * on one message the entry forgets them: unknown, a later check reads the
 * store. */
#define MSGCACHE_RX_MAX 64
/* 1 when the reactions of (sid, seq) are known: *has = someone reacted
 * with emoji, *mine = user did, *distinct = how many different emoji; 0
 * when not (a miss, or forgotten). */
int msgcache_react_state(msgcache *c, const char *sid, int64_t seq, const tars_str *user,
                         const tars_str *emoji, bool *has, bool *mine, uint32_t *distinct);
/* A reaction record was appended: op 1 adds (user, emoji), 2 removes it. */
void msgcache_react(msgcache *c, const char *sid, int64_t seq, const tars_str *user,
                    const tars_str *emoji, int op);

size_t msgcache_count(const msgcache *c);
size_t msgcache_bytes(const msgcache *c);

#endif
