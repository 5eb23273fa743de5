/*
 * omtp_client.h - the asynchronous OMTP client (libuv).
 *
 * One omtp_client is one logical login (user, device) that stays online:
 * it connects, logs in, sends a PING every keepalive, and when the
 * connection drops it reconnects with backoff 0, 1, 2, 4, 8, 16, 16... s
 * (each delay +-25 % jitter), logs in again and catches up:
 *
 *   1. PT_HOTSESSION_SYNC from the last cursor (paged until empty); for
 *      every session whose last seqId is above the last one delivered,
 *      PT_HISTORY_MSG_PULL fills the gap; the missed messages are delivered
 *      through on_message with `catchup` true, oldest first;
 *   2. PT_HIGH_PRIOR_MSG_SYNC from the last high-priority seqId (control
 *      notices, HIGHPRJ messages), delivered through the same callbacks.
 *
 * Pushes that arrive during catch-up are held and delivered after it, and
 * every message is delivered at most once per session seqId (a push or
 * history item at or below the session's delivered seqId is dropped). The
 * very first sync (hot cursor 0) only records where the sessions are: it
 * does not replay old history (a UI loads that itself, from hot sessions).
 *
 * Sending messages (omtp_client_send_msg) is reliable: the message is kept
 * in an outbox until its MsgAck arrives. After a reconnect, or when an ack
 * does not come within the request timeout, it is sent again with the DUP
 * flag and the SAME packId (the server deduplicates by sender + packId),
 * until acked or until `give_up_ms` after the first attempt. A message the
 * server refuses for its rate limit (MsgAck code SERVER_REFUSED, 7) is not
 * failed either: it stays queued, and the outbox paces itself -- one
 * message at a time, 100 ms apart at first, a little faster with each one
 * accepted and twice slower with each one refused -- and returns to normal
 * once nothing waits. At most 64 messages are in flight at any time (the
 * rest wait, in order). So a long queue (hundreds of messages written
 * offline) is delivered, in order, at the rate the server allows, without
 * tripping its close-on-refusals limit.
 * Other requests
 * are not retried: their callback gets OMTP_ETIMEDOUT or, if the connection
 * dropped, OMTP_ECLOSED.
 *
 * Optional: zlib and AES-256-GCM payload transforms (header flags; the
 * server's configured key), TLS (OpenSSL memory BIOs over the TCP stream).
 *
 * Ownership: the client copies every string of the config. Structs handed
 * to callbacks are borrowed for the duration of the call only (copy with
 * tars_copy to keep them). Payload structs passed to request functions are
 * encoded before the call returns and stay the caller's.
 *
 * Threading: every function must be called on the thread running the
 * client's uv loop, and every callback runs there, EXCEPT omtp_client_post,
 * which may be called from any thread to run a function on the loop thread
 * (the config must have enable_post set). Callbacks may call any client
 * function, including omtp_client_destroy (which then takes effect after the
 * callback returns). Many clients may share one loop (omtp-bench runs
 * thousands on one loop).
 *
 * Errors: functions return 0 or a negative OMTP_E*. If a function that takes
 * a callback returns an error, that callback will never be called.
 */
#ifndef OMTP_CLIENT_H
#define OMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/omtp_packet.h"

typedef struct omtp_client omtp_client;

enum omtp_client_state {
    OMTP_CLIENT_IDLE = 0,       /* created, not started */
    OMTP_CLIENT_CONNECTING = 1, /* TCP connect (and TLS handshake) in progress */
    OMTP_CLIENT_LOGGING_IN = 2, /* LOGIN sent */
    OMTP_CLIENT_ONLINE = 3,     /* logged in (catch-up may still be running) */
    OMTP_CLIENT_WAITING = 4,    /* disconnected, reconnect timer armed */
    OMTP_CLIENT_STOPPED = 5,    /* stopped: by the caller, a refused login, a kickout,
                                   or (reconnect off) a drop */
};

/* What on_state reports. */
typedef struct omtp_client_event {
    int state;        /* enum omtp_client_state */
    int err;          /* OMTP_E* that caused a drop or stop, 0 if none */
    int code;         /* protocol code: login result, OMTP_EC_CONN_KICKOUT; 0 if none */
    const char *desc; /* human-readable reason ("" if none) */
    int attempt;      /* reconnect attempt number (WAITING), 0 on first connect */
    int delay_ms;     /* WAITING: time until the next attempt */
} omtp_client_event;

typedef struct omtp_client_callbacks {
    void (*on_state)(omtp_client *c, const omtp_client_event *ev, void *ud);
    /* a chat / group / biz message (types 14, 15, 16) */
    void (*on_message)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_MsgReq *msg,
                       bool catchup, void *ud);
    /* revoke / delete / edit notice (17) */
    void (*on_control)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_MsgControl *ctl,
                       bool catchup, void *ud);
    /* read cursor moved on one of the user's other devices (18) */
    void (*on_read)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_MsgReaded *rd, void *ud);
    /* this device was replaced (13); the client stops afterwards */
    void (*on_kickout)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_KickOutReq *k,
                       void *ud);
    /* the server asks for a resync (25); the client has already acked it */
    void (*on_sync_data)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_SyncDataReq *s,
                         void *ud);
    /* one page of hot sessions seen during catch-up */
    void (*on_hot_sessions)(omtp_client *c, const omtp_HotSessionResp *resp, void *ud);
    /* catch-up after a login finished (err 0) or failed */
    void (*on_catchup_done)(omtp_client *c, int err, void *ud);
    /* any other packet the server pushed */
    void (*on_packet)(omtp_client *c, const omtp_packet *p, void *ud);
    /* extensions (spec omtp-ext.tars): someone added (op 1) or removed (op 2)
     * a reaction on a message of one of the user's sessions (103). Replies
     * and mentions arrive in on_message (MsgReq.replyTo, .mentions); history
     * messages carry the aggregated MsgReq.reactions. */
    void (*on_reaction)(omtp_client *c, const omtp_OTIMHeader *hdr, const omtp_ReactionNotice *n,
                        void *ud);
    /* extensions (spec/omtp-ext.tars; omtp_client_ext.c): */
    /* watched users changed (101), after omtp_client_presence_sub */
    void (*on_presence)(omtp_client *c, const omtp_PresenceNotice *n, void *ud);
    /* someone in a conversation is typing (1) or stopped (0) (102) */
    void (*on_typing)(omtp_client *c, const omtp_TypingNotice *t, void *ud);
} omtp_client_callbacks;

typedef struct omtp_client_config {
    const char *host; /* name or address */
    int port;
    const char *user;
    const char *password;
    int device_type;        /* DEVICE_*; 0 -> DEVICE_LINUX */
    const char *device_id;  /* NULL -> a random one, kept across reconnects. An app
                             * should persist one per install: a password login from
                             * a device id that logged in before is never slowed by
                             * someone else's failed guesses (docs/server-core.md) */
    int keepalive_s;        /* PING interval; 0 -> 30; < 0 -> no heartbeat */
    int request_timeout_ms; /* 0 -> 10000 */
    int connect_timeout_ms; /* 0 -> 5000 (TCP connect + TLS handshake + login) */
    int give_up_ms;         /* outbox: 0 -> 300000 (5 min) */
    bool no_reconnect;      /* stop instead of reconnecting after a drop */
    bool no_catchup;        /* skip the sync after login */
    int64_t hot_cursor_us;  /* resume catch-up from here (0 = first sync) */
    int64_t hp_seq;         /* resume high-priority sync from here */
    int compress;           /* OMTP_COMPRESS_* for requests */
    int crypto;             /* OMTP_CRYPTO_* for requests */
    const omtp_crypto_key *key;
    bool tls;
    const char *tls_ca_file; /* NULL -> system default paths */
    bool tls_no_verify;      /* skip certificate verification (tests) */
    bool enable_post;        /* create the uv_async behind omtp_client_post */
    /* WebSocket (omtpd's ws_listen, docs/websocket.md): non-NULL = upgrade
     * this path (e.g. "/ws") first, then OMTP frames as binary messages;
     * with tls, wss. omtp_client_parse_server fills it from a ws:// URL. */
    const char *ws_path;
} omtp_client_config;

/* Parses a server given as "HOST:PORT", "[V6]:PORT", "ws://HOST:PORT/PATH"
 * or "wss://HOST:PORT/PATH" (path default /ws, port default 80/443) into
 * host, *port, *ws (WebSocket: path is set) and *tls (wss). 0 or
 * OMTP_EINVAL. */
int omtp_client_parse_server(const char *server, char *host, size_t hostlen, int *port, bool *ws,
                             bool *tls, char *path, size_t pathlen);

/* Creates a client on `loop` (does not connect). */
int omtp_client_new(uv_loop_t *loop, const omtp_client_config *cfg, const omtp_client_callbacks *cb,
                    void *ud, omtp_client **out);
/* Starts connecting (IDLE or STOPPED -> CONNECTING). */
int omtp_client_start(omtp_client *c);
/* Sends LOGOUT if online, closes, stops reconnecting; pending requests get
 * OMTP_ECLOSED (outbox messages stay queued until destroy or restart). */
void omtp_client_stop(omtp_client *c);
/* Stops and frees the client once its handles are closed (the loop must
 * keep running for that). Outbox callbacks get OMTP_ECLOSED. */
void omtp_client_destroy(omtp_client *c);

int omtp_client_state(const omtp_client *c);
void *omtp_client_userdata(const omtp_client *c);
const char *omtp_client_user(const omtp_client *c);
/* The catch-up cursors, for an application that persists them. */
void omtp_client_cursors(const omtp_client *c, int64_t *hot_cursor_us, int64_t *hp_seq);
/* The last seqId delivered for a session (0 if none). */
int64_t omtp_client_session_seq(const omtp_client *c, const char *session_id);
/* Bytes queued in the TCP write queue (backpressure for load generators). */
size_t omtp_client_write_queue(const omtp_client *c);
/* Number of messages in the outbox (sent or waiting, not yet acked). */
size_t omtp_client_outbox(const omtp_client *c);

/* Reply of a request: status 0 and the packet (body may be NULL), or
 * OMTP_ETIMEDOUT / OMTP_ECLOSED and reply NULL. */
typedef void (*omtp_reply_cb)(omtp_client *c, int status, const omtp_packet *reply, void *ud);

/*
 * Sends a request now (ONLINE only, else OMTP_ECLOSED). `flags` gets the
 * client's transform bits added. timeout_ms 0 = the configured one. The
 * packId used is copied to pack_id_out (37 bytes) if not NULL.
 */
int omtp_client_request(omtp_client *c, int type, int64_t flags, const tars_struct_desc *desc,
                        const void *body, int timeout_ms, omtp_reply_cb cb, void *ud,
                        char *pack_id_out);

/* ---- extensions (spec/omtp-ext.tars; omtp_client_ext.c). Each sends now
 * (ONLINE only, else OMTP_ECLOSED); replies come like omtp_client_request's.
 * A subscription is the connection's: after a reconnect, subscribe again
 * (e.g. from on_state ONLINE). */
/* PT_PRESENCE_SUB: watch ids[0..n) (replaces the list; n 0 = none); the
 * reply's body is a PresenceSubResp with the current states. */
int omtp_client_presence_sub(omtp_client *c, const char *const *ids, size_t n, omtp_reply_cb cb,
                             void *ud);
/* PT_TYPING (state 1 typing, 0 stopped). Success has no reply: cb (may be
 * NULL) gets OMTP_ETIMEDOUT after 3 s when it was accepted, status 0 with a
 * CommonErrorCode body when it was refused. */
int omtp_client_typing(omtp_client *c, const char *session_id, int state, omtp_reply_cb cb,
                       void *ud);
/* PT_MSG_READERS: the reply's body is a MsgReadersResp. */
int omtp_client_readers(omtp_client *c, const char *session_id, int64_t seq, omtp_reply_cb cb,
                        void *ud);

/* Result of a message send: status 0 and the server's MsgAck (check
 * ack->code), or OMTP_ETIMEDOUT (gave up) / OMTP_ECLOSED (destroyed). */
typedef void (*omtp_ack_cb)(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud);

/*
 * Queues a message (type PT_MSG_SINGLE_CHAT / _GROUP_CHAT / _BIZ_NOTIFY)
 * and sends it when online. `msg->from` is filled with the user when empty,
 * `sessionId` with the canonical id when empty. `flags` may carry HIGHPRJ.
 * Works offline too (sent after login).
 */
int omtp_client_send_msg(omtp_client *c, int type, const omtp_MsgReq *msg, int64_t flags,
                         omtp_ack_cb cb, void *ud, char *pack_id_out);
/* Text convenience: type 14 to a user, 15 to a group ("GC_..." id). */
int omtp_client_send_text(omtp_client *c, const char *to, const char *text, omtp_ack_cb cb,
                          void *ud);

/* PT_MSG_REACTION (omtp_ext.c): adds (op 1) or removes (op 2) `emoji` (1..32
 * bytes of UTF-8) on message seq of session_id; the reply is a
 * CommonErrorCode (reply->body). Replies and mentions: set MsgReq.replyTo /
 * .mentions ("@all" = the whole group, its creator only) in
 * omtp_client_send_msg. */
int omtp_client_react(omtp_client *c, const char *session_id, int64_t seq, const char *emoji,
                      int op, omtp_reply_cb cb, void *ud);

/* PT_MSG_SEARCH (omtp_ext.c): full-text search of your conversations, newest
 * first: `count` hits (1..100, 0 = 20) older than before_ms (0 = from now),
 * of session_id only unless it is NULL/"". The reply is a MsgSearchResp
 * (reply->body; its errorCode says a refusal, e.g. a query too short). */
int omtp_client_search(omtp_client *c, const char *query, const char *session_id, int64_t before_ms,
                       int count, omtp_reply_cb cb, void *ud);

/* Runs fn(c, arg) on the loop thread soon. Thread-safe (needs enable_post). */
int omtp_client_post(omtp_client *c, void (*fn)(omtp_client *c, void *arg), void *arg);

/* For tests: closes the TCP connection right now as if the network broke
 * (the client then reconnects as usual). */
void omtp_client_drop(omtp_client *c);

/* Decodes the payload of an inner OTIMPack (history items, lastMsgs, high
 * priority msgs) with the struct of its (type, ACK). On success *desc names
 * the struct and *body is a malloc'd struct (free with omtp_msg_free and
 * free()). key may be NULL. */
int omtp_inner_decode(const omtp_OTIMPack *p, const omtp_crypto_key *key,
                      const tars_struct_desc **desc, void **body);
/* Same for a stored chat message: decodes p into *m if it is a MsgReq.
 * Returns 0 (free *m with omtp_msg_free(&omtp_MsgReq_desc, m)) or
 * OMTP_EDECODE / another error (nothing to free). */
int omtp_inner_msg(const omtp_OTIMPack *p, const omtp_crypto_key *key, omtp_MsgReq *m);
/* The highest seqId among a hot session's lastMsgs (0 if none decodes). */
int64_t omtp_inner_last_seq(const omtp_HotSessionItem *it, const omtp_crypto_key *key);

#endif
