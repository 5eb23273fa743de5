/*
 * omtp_sync.h - a small BLOCKING OMTP client for scripts, tools and tests.
 *
 * Plain sockets and poll(2), no event loop: every call blocks the calling
 * thread until it has its answer or its timeout expires. Use the libuv client
 * (omtp_client.h) for anything long-lived; use this one where a straight line
 * of "send, wait for the reply, check it" is what you want.
 *
 * Model: a request gets a fresh UUID packId (unless the caller gives one) and
 * the call waits for the packet with the same packId and the ACK bit set.
 * Everything else that arrives meanwhile is queued, not dropped:
 *   - packets with ACK 0 are pushes (messages, control notices, kickouts,
 *     sync-data commands); omtp_sync_next_push() returns them in order;
 *   - replies to other packIds (pipelined requests) wait in a reply queue
 *     until omtp_sync_wait_reply() asks for them.
 * While blocked in a write the client keeps reading, so a server that pushes
 * a lot cannot deadlock it.
 *
 * Errors: functions return 0 or a negative OMTP_E* (omtp_errors.h).
 * OMTP_ECLOSED means the server closed the connection (all queued packets
 * can still be read); OMTP_ETIMEDOUT that the deadline passed; OMTP_EIO a
 * socket error; OMTP_EDECODE a reply whose payload did not decode, or did not
 * have the expected struct. Protocol outcomes (wrong password, not a member)
 * are NOT C errors: they come back as the reply's code (OMTP_EC_*), with the
 * server's words in `desc` where the reply has one.
 *
 * Ownership: an omtp_sync owns its socket and queues; omtp_sync_close frees
 * everything. Packets returned through an omtp_packet* belong to the caller
 * (omtp_packet_free). Reply structs filled by the helpers belong to the
 * caller (omtp_msg_free with the struct's descriptor).
 *
 * Threading: one thread per client object. Distinct objects may be used
 * from distinct threads concurrently.
 */
#ifndef OMTP_SYNC_H
#define OMTP_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/omtp_session.h"
#include "proto/omtp_packet.h"

typedef struct omtp_sync omtp_sync;

#define OMTP_SYNC_DEFAULT_TIMEOUT_MS 5000

/*
 * Connects to host:port (name or address) within timeout_ms (<= 0: the
 * default). On success *out is a new client; on failure *out is NULL and
 * the return is OMTP_ETIMEDOUT, OMTP_EIO (refused, unreachable; errno
 * kept), OMTP_EINVAL (unknown host) or OMTP_ENOMEM.
 */
int omtp_sync_connect(omtp_sync **out, const char *host, int port, int timeout_ms);
/* Closes the socket and frees the client and its queues. NULL is a no-op. */
/* Like omtp_sync_connect, then upgrades to a WebSocket at `path` (e.g.
 * "/ws": omtpd's ws_listen, docs/websocket.md); every frame after that is
 * one binary message. On a refused upgrade returns OMTP_ECLOSED with the
 * reason in why (e.g. the HTTP status). omtp_sync_send_raw still writes raw
 * socket bytes (tests use it to send hand-made WebSocket frames). */
int omtp_sync_connect_ws(omtp_sync **out, const char *host, int port, const char *path,
                         int timeout_ms, char *why, size_t whylen);
void omtp_sync_close(omtp_sync *c);

/* Per-request timeout used by the helpers (default 5000 ms). */
void omtp_sync_set_timeout(omtp_sync *c, int timeout_ms);
/* COMPRESS/CRYPTO bits (omtp_flags_with) added to every request the helpers
 * send, and the AES key for CRYPTO=1 (copied; NULL clears it). */
void omtp_sync_set_transform(omtp_sync *c, int compress, int crypto, const omtp_crypto_key *key);
/* Largest frame accepted from the server (default OMTP_DEFAULT_MAX_FRAME). */
void omtp_sync_set_max_frame(omtp_sync *c, uint32_t max_frame);
/* The user id of the last successful login, or "" (owned by the client). */
const char *omtp_sync_user(const omtp_sync *c);
/* The socket, for tests that want to poke at it (shutdown, etc.). */
int omtp_sync_fd(const omtp_sync *c);
/* True once the server closed the connection or an I/O error occurred. */
bool omtp_sync_closed(const omtp_sync *c);

/*
 * Sends one packet without waiting. `flags` is used as given (add the
 * transform bits yourself, or use omtp_sync_request). `pack_id` NULL means a
 * fresh UUID; the id used is copied to `pack_id_out` (37 bytes) if not NULL.
 * desc/body NULL sends an empty payload.
 */
int omtp_sync_send(omtp_sync *c, int type, int64_t flags, const char *pack_id,
                   const tars_struct_desc *desc, const void *body, char *pack_id_out);
/* Sends bytes as they are (hostile-input tests). */
int omtp_sync_send_raw(omtp_sync *c, const void *data, size_t len);

/*
 * Waits up to timeout_ms for the reply (ACK set) to `pack_id`, queueing
 * everything else. On success *reply holds the decoded packet (body NULL if
 * the payload was empty or did not decode). On OMTP_ECLOSED or
 * OMTP_ETIMEDOUT *reply is zeroed.
 */
int omtp_sync_wait_reply(omtp_sync *c, const char *pack_id, int timeout_ms, omtp_packet *reply);

/* omtp_sync_send + omtp_sync_wait_reply, with the client's transform bits
 * OR-ed into `flags` and its timeout (timeout_ms <= 0). */
int omtp_sync_request(omtp_sync *c, int type, int64_t flags, const tars_struct_desc *desc,
                      const void *body, int timeout_ms, omtp_packet *reply);

/*
 * Returns the oldest queued push (ACK 0 packet) in *p, or waits up to
 * timeout_ms for one (0 = only what is already buffered or readable now).
 * OMTP_ETIMEDOUT if none came; OMTP_ECLOSED if the connection is closed and
 * no push is left.
 */
int omtp_sync_next_push(omtp_sync *c, int timeout_ms, omtp_packet *p);
/* Number of pushes queued right now (does not read the socket). */
size_t omtp_sync_pending_pushes(const omtp_sync *c);

/*
 * Waits for the server to close the connection, discarding nothing (packets
 * still queue). 0 when closed, OMTP_ETIMEDOUT if still open at the deadline.
 */
int omtp_sync_wait_closed(omtp_sync *c, int timeout_ms);

/* ---- helpers for the common requests ------------------------------------ */

/*
 * PT_LOGIN with clientId = userName = user. Returns 0 when a LoginResp came
 * back; *code is its code (OMTP_EC_SUCCESS, OMTP_EC_CONN_USERNAME_OR_PASSWORD,
 * ...). The device id may be NULL (a fresh one is made up).
 */
int omtp_sync_login(omtp_sync *c, const char *user, const char *password, int device_type,
                    const char *device_id, int *code);
/* The last login reply's words (LoginResp.extraData: why it was refused,
 * "retry in N s"), "" if none; valid until the next login or close. */
const char *omtp_sync_login_desc(const omtp_sync *c);
/* PT_PING; 0 when the ACK came. */
int omtp_sync_ping(omtp_sync *c);
/* PT_LOGOUT; 0 when the ACK came or the server closed the connection. */
int omtp_sync_logout(omtp_sync *c);

/*
 * Sends a chat message (PT_MSG_SINGLE_CHAT to a user, PT_MSG_GROUP_CHAT to a
 * group id) from the logged-in user and waits for its MsgAck (*ack, caller
 * frees with omtp_msg_free(&omtp_MsgAck_desc, ack)). `pack_id` NULL = a
 * fresh one; pass one to test dedup. `flags` adds header flags (DUP,
 * HIGHPRJ). Returns 0 when a MsgAck arrived (check ack->code).
 */
int omtp_sync_send_msg(omtp_sync *c, int type, const char *to, const char *content,
                       const char *pack_id, int64_t flags, omtp_MsgAck *ack);
/* omtp_sync_send_msg with a contentType other than 1 (text): a media
 * message's JSON content (client/omtp_files.h, DESIGN "Media messages"). */
int omtp_sync_send_typed(omtp_sync *c, int type, const char *to, int content_type,
                         const char *content, const char *pack_id, int64_t flags, omtp_MsgAck *ack);
int omtp_sync_chat(omtp_sync *c, const char *to_user, const char *content, omtp_MsgAck *ack);
int omtp_sync_group_chat(omtp_sync *c, const char *group_id, const char *content, omtp_MsgAck *ack);

/* PT_HOTSESSION_SYNC from cursor_us (0 = everything). */
int omtp_sync_hot_sessions(omtp_sync *c, int64_t cursor_us, omtp_HotSessionResp *out);
/* PT_HISTORY_MSG_PULL: messages with seqId <= seq (<= 0 newest), newest first. */
int omtp_sync_history(omtp_sync *c, const char *session_id, int64_t seq, int count,
                      omtp_HistoryMsgPullResp *out);
/* PT_MSG_SEARCH (extension 104, spec/omtp-ext.tars): messages of your
 * sessions (or of session_id; NULL/"" = all) containing `query`, stored
 * before before_ms (<= 0: now), newest first, count 1..100 (<= 0: 20). A
 * refusal comes back in out->errorCode. Page on with before_ms = the last
 * message's timestamp. */
int omtp_sync_search(omtp_sync *c, const char *query, const char *session_id, int64_t before_ms,
                     int count, omtp_MsgSearchResp *out);
/*
 * The paging helpers: a reply holds fewer items than asked when they would
 * not fit one frame (docs/protocol.md, "Replies larger than a frame"); these
 * follow the reply's cursor and return everything in one struct.
 *
 * omtp_sync_history_all: up to `count` messages (<= 0: all of them) with
 * seqId <= seq (<= 0 newest), newest first, pulling page after page (each
 * below the oldest message received) until it has `count` or a page comes
 * back empty. A refusal (errorCode.code != 0) stops it: *out then holds
 * that reply.
 * omtp_sync_hot_sessions_all: every hot session after cursor_us, following
 * the returned timestamp until a page is empty; out->timestamp is the
 * cursor to ask with next time.
 */
int omtp_sync_history_all(omtp_sync *c, const char *session_id, int64_t seq, int count,
                          omtp_HistoryMsgPullResp *out);
int omtp_sync_hot_sessions_all(omtp_sync *c, int64_t cursor_us, omtp_HotSessionResp *out);
/*
 * The same for the replies paged with `after`/`next` (docs/protocol.md 7.2):
 * every page is asked for and merged into *out (out->next ends empty). A
 * refusal stops the walk with its code in out->errorCode.
 *   omtp_sync_friends_all: PT_FRIEND_SYNC from since_ms (0 = the list).
 *   omtp_sync_groups_all: PT_GROUPCHAT_SYNC from since_ms; out->timestamp is
 *     the cursor of the next sync.
 *   omtp_sync_members_all: PT_GROUPCHAT_MEMBERS_GET of group_id.
 */
int omtp_sync_friends_all(omtp_sync *c, int64_t since_ms, omtp_FriendSyncResp *out);
int omtp_sync_groups_all(omtp_sync *c, int64_t since_ms, omtp_GroupChatSyncResp *out);
int omtp_sync_members_all(omtp_sync *c, const char *group_id, omtp_GroupChatMemberGetResp *out);
/* PT_USERINFO_GET of n ids (0 = yourself), re-asking for the ids from `next`
 * on until every profile arrived; profiles in user-id order. */
int omtp_sync_userinfo_all(omtp_sync *c, const char *const *ids, size_t n,
                           omtp_UserInfoGetResp *out);
/* PT_HIGH_PRIOR_MSG_SYNC after seq. */
int omtp_sync_high_prior(omtp_sync *c, int64_t seq, int count, omtp_MsgHighPrioritySyncResp *out);
/* PT_MSG_READ: read cursor of session_id := seq. Reply in *out. */
int omtp_sync_read(omtp_sync *c, const char *session_id, int64_t seq, omtp_CommonErrorCode *out);
/* PT_MSG_CTRL (MC_REVOKE / MC_DELETE / MC_OVERRIDE with content) on the
 * message (session_id, seq) whose packId is target_pack_id (NULL = ""). */
int omtp_sync_ctrl(omtp_sync *c, int command, const char *session_id, int64_t seq,
                   const char *target_pack_id, const char *content, omtp_CommonErrorCode *out);

/* ---- extensions (spec/omtp-ext.tars; omtp_sync_ext.c) */
/* PT_PRESENCE_SUB: watch ids[0..n) (replaces this connection's list; n 0 =
 * none). *out: the current state of the users the server lets you see;
 * PresenceNotice pushes (PT_PRESENCE) follow through omtp_sync_next_push. */
int omtp_sync_presence_sub(omtp_sync *c, const char *const *ids, size_t n,
                           omtp_PresenceSubResp *out);
/* PT_TYPING (state 1 typing, 0 stopped). The server answers only a refusal:
 * waits up to wait_ms for one; *code = its code, 0 when none came. Other
 * users' TypingNotice pushes arrive as PT_TYPING pushes (body TypingNotice). */
int omtp_sync_typing(omtp_sync *c, const char *session_id, int state, int wait_ms, int *code);
/* PT_MSG_READERS: who of the session's members read up to seq. */
int omtp_sync_readers(omtp_sync *c, const char *session_id, int64_t seq, omtp_MsgReadersResp *out);
/* PT_MSG_REACTION (omtp_ext.c): op 1 adds, 2 removes `emoji` on message seq
 * of session_id. Reply in *out. Pushed ReactionNotices arrive through
 * omtp_sync_next_push (type PT_MSG_REACTION, body omtp_ReactionNotice). */
int omtp_sync_react(omtp_sync *c, const char *session_id, int64_t seq, const char *emoji, int op,
                    omtp_CommonErrorCode *out);

/*
 * Any request whose reply is a known struct: sends (type, desc/body) and
 * moves the reply payload into `out` (a struct of `reply_desc`'s type).
 * OMTP_EDECODE if the reply carried no such payload. Used by the helpers
 * above and by the CLI for groups, friends and users.
 */
int omtp_sync_call(omtp_sync *c, int type, const tars_struct_desc *desc, const void *body,
                   const tars_struct_desc *reply_desc, void *out);

#endif
