/*
 * chat.h - storing and delivering messages, for code outside the OMTP
 * request path (the HTTP API, admin tools, other handlers).
 *
 * The OMTP handlers (handle_single_chat, handle_biz_notify, ... in
 * handlers.h) and omtp_chat_submit() share one pipeline:
 *
 *   validate -> store thread: checks + msg_append (dedup by (from, packId))
 *            -> commit -> loop: completion -> push to every online device of
 *               the recipients and of the sender (minus the sending
 *               connection), plus connections monitoring the session.
 *
 * Completions run on the loop in commit order and push synchronously, so
 * pushes of one session reach each device in seqId order.
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_CHAT_H
#define OMTP_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/server.h"

/*
 * Completion of omtp_chat_submit(), on the loop thread. `code` is an
 * OMTP_EC_* value (OMTP_EC_SUCCESS when the message is committed), `desc`
 * says in words what was wrong ("" on success). On success `stored` is the
 * message as stored (canonical sessionId, seqId, timestamp; borrowed for the
 * duration of the call) and `dup` tells that (from, packId) had been stored
 * before: `stored` is then the original and nothing was stored or pushed
 * again. On failure `stored` is NULL.
 */
typedef void (*omtp_chat_done_fn)(void *arg, int code, const char *desc, const omtp_msg_rec *stored,
                                  bool dup);

/*
 * Stores and delivers one message outside any connection (e.g. the HTTP
 * API). `m` is borrowed (copied before return). What is read from it:
 *
 *   m->type        PT_MSG_SINGLE_CHAT: from user m->msg.from to user m->msg.to
 *                  (both must exist; cfg->friends_only applies);
 *                  PT_MSG_BIZ_NOTIFY: from = the appId (any non-empty id, not
 *                  a user), to = an existing user; session BM_<appId>_<to>;
 *                  PT_MSG_GROUP_CHAT: to = the group id, from must be a
 *                  member of the (not dismissed) group.
 *   m->flags       only HIGHPRJ and COUNTER are kept. HIGHPRJ also queues the
 *                  message in the recipients' high-priority queues.
 *   m->packId      the dedup key with m->msg.from; "" = a fresh UUID (no
 *                  dedup across calls).
 *   m->msg         from, to, pushInfo, contentType, content. sessionId,
 *                  seqId, timestamp and status are ignored (server's).
 *
 * Content must be 1..cfg->max_content bytes (MSG_TOO_SHORT / MSG_TOO_LONG).
 * The message is pushed to every online device of the recipients and of the
 * sender (there is no sending connection to leave out).
 *
 * Returns 0 and calls `done` exactly once later (never from inside this
 * call), or returns a negative OMTP_E* (OMTP_ENOMEM, OMTP_EINVAL for a bad
 * type) and never calls `done`.
 */
int omtp_chat_submit(omtp_server *s, const omtp_msg_rec *m, omtp_chat_done_fn done, void *arg);

/*
 * Builds the OTIMPack clients see for a stored message (history, hot
 * sessions, high-priority queue): header {m->type, version 1, m->flags,
 * m->packId}, payload = the encoded MsgReq. A revoked message (status 1)
 * comes with its content blanked. `out` must be initialised; on error it is
 * left initialised. Returns 0 or OMTP_ENOMEM. Reentrant (any thread).
 */
int omtp_chat_msg_pack(const omtp_msg_rec *m, omtp_OTIMPack *out);

/*
 * Dedup guard: (from, packId) identifies a message, so a resend must carry
 * the same message. Call with the request before msg_append and with the
 * stored original after it reported a duplicate: false means the sender
 * reused a packId for a DIFFERENT message (another recipient, type or
 * content) -- answered with MSG_REPEATED (46) instead of the original's ack,
 * so the new message is never silently swallowed. Messages edited or
 * revoked since are compared by type and recipient only. Any thread.
 */
uint64_t omtp_chat_fingerprint(const omtp_msg_rec *m);
bool omtp_chat_same_message(uint64_t requestPrint, const omtp_msg_rec *original,
                            uint64_t originalPrint);

/*
 * Whether `user` may read session `sid` (history, read cursor): it is a
 * member (membership row in the store), or the session holds no message yet
 * and its id names the user (nothing to leak). Monitoring is checked by the
 * caller (omtp_monitor_watching). Store thread only (runs inside a work
 * item). Returns 0 with *allowed set, or a negative OMTP_E* from the store.
 */
int omtp_chat_session_access(omtp_db *db, const char *user, const char *sid, bool *allowed);

#endif
