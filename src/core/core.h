/*
 * core.h - internals shared by the omtpd core files (server.c, conn.c,
 * wire.c, reply.c, dispatch.c) and the few adapters that drive a
 * connection's life (omtp/auth.c, omtp/cluster_host.c). Handlers use
 * server.h only. Includes nothing above src/core.
 *
 * Threading: loop thread only, like server.h.
 */
#ifndef OMTP_CORE_H
#define OMTP_CORE_H

#include "proto/omtp_limits.h"
#include "ratelimit.h"
#include "server.h"

/* Transform variants of a wire: bit 0 zlib, bit 1 AES. */
enum { OMTP_V_PLAIN = 0, OMTP_V_ZLIB = 1, OMTP_V_AES = 2, OMTP_V_ZLIB_AES = 3 };

struct omtp_wire {
    int refs;
    int type;
    int64_t flags; /* without transform bits */
    char packId[OMTP_PACKID_MAX + 1];
    tars_buf payload;  /* plain encoded payload */
    tars_buf frame[4]; /* full frames per variant, built on first use */
    int8_t state[4];   /* 0 not built, 1 built, -1 failed */
};

/* The full frame of variant v (built now if needed). Returns 0 or OMTP_E*. */
int omtp_wire_frame(omtp_wire *w, int v, const omtp_crypto_key *key, uint32_t max_frame,
                    const uint8_t **p, size_t *n);
/* A wire around an already-encoded plain payload (copied). */
omtp_wire *omtp_wire_new_raw(int type, int64_t flags, const char *packId, const uint8_t *payload,
                             size_t len);

/* Variant for a push to c: AES if the peer used it, zlib if it used zlib and
 * the payload exceeds compress_threshold. */
int omtp_conn_push_variant(const omtp_conn *c, const omtp_wire *w);
/* Queues variant v of w on c. Same contract as omtp_conn_send_wire. */
int omtp_conn_send_wire_v(omtp_conn *c, omtp_wire *w, int v);
/* Requests in flight on c (dispatch counts them to pause reading). */
void omtp_conn_req_started(omtp_conn *c);
void omtp_conn_req_done(omtp_conn *c);
/* The connection's request rate-limit bucket (dispatch.c charges it). */
omtp_ratelimit *omtp_conn_ratelimit(omtp_conn *c);
/* Whether the version warning was already logged (sets it). */
bool omtp_conn_version_warned(omtp_conn *c);
/* Stops reading from c (shutdown). */
void omtp_conn_pause(omtp_conn *c);
/* Starts reading again after omtp_conn_pause (an HTTP upload whose writer
 * caught up, transport_ws.c); no-op while closing or stopping. */
void omtp_conn_resume(omtp_conn *c);
/* An HTTP file transfer (ws_api.h): from now on the connection ends when it
 * made no progress (omtp_conn_progress: bytes read or sent) for stall_ms,
 * instead of at the pre-login timeout; 0 = back to the usual deadlines. */
void omtp_conn_transfer(omtp_conn *c, uint64_t stall_ms);
void omtp_conn_progress(omtp_conn *c);
/* Closes at once, dropping queued output. */
void omtp_conn_abort(omtp_conn *c, const char *reason);
/* guard.c: closes c for `reason` (enum omtp_shed_reason, counted and
 * logged rate-limited), releasing its partial frame at once; with `why`, an
 * error frame saying it goes out first. */
void omtp_conn_shed(omtp_conn *c, int reason, const char *why);
/* auth.c: c just logged in (frames up to max_frame, no longer counted as
 * unauthenticated). */
void omtp_conn_logged_in(omtp_conn *c);

/* dispatch.c: one complete frame (OTIMPack bytes) from c. */
void omtp_dispatch_frame(omtp_conn *c, const uint8_t *frame, size_t len);
/* An error frame for c when no request could be parsed (type 0, ACK,
 * CommonErrorCode). */
void omtp_send_error_frame(omtp_conn *c, int code, const char *desc);

/* reqcheck.c: OMTP_EINVAL (and `why` naming the field) when an identifier
 * field of the request (…Id, …Ids, to, from, userName, password, attrName)
 * holds a NUL byte; 0 otherwise. */
int omtp_req_check_ids(const tars_struct_desc *d, const void *obj, char *why, size_t whylen);

/* server.c: presence and timers */
void omtp_presence_add(omtp_server *s, omtp_conn *c);
void omtp_presence_remove(omtp_server *s, omtp_conn *c);
void omtp_server_conn_opened(omtp_server *s, omtp_conn *c);
void omtp_server_conn_closed(omtp_server *s, omtp_conn *c);
/* The TLS listener's SSL_CTX (an SSL_CTX *), NULL without TLS. */
struct ssl_ctx_st *omtp_server_ssl_ctx(omtp_server *s);
/* Login throttle: delay (ms) to apply before checking a login from peer. */
uint32_t omtp_login_delay_ms(omtp_server *s, const char *peer);
void omtp_login_failed(omtp_server *s, const char *peer);
void omtp_login_succeeded(omtp_server *s, const char *peer);

/* conn.c: writes the output each connection collected during this loop
 * iteration (write coalescing, see conn.c); server.c calls it from a
 * uv_check and a uv_prepare handle. */
void omtp_conn_flush_all(omtp_server *s);
/* server.c: head of the list of connections with collected output. */
omtp_conn **omtp_server_flush_list(omtp_server *s);

/* conn.c: accept on a listener of transport `kind` (enum
 * omtp_transport_kind, transport.h). */
void omtp_conn_accept(omtp_server *s, uv_stream_t *listener, int kind);
/* Timer wheel, one uv_timer for all connections (server.c drives it). */
void omtp_wheel_insert(omtp_server *s, omtp_conn *c, uint64_t deadline_ms);
void omtp_wheel_remove(omtp_server *s, omtp_conn *c);
/* When the connection's current deadline is (loop ms). */
uint64_t omtp_conn_deadline(const omtp_conn *c);
/* Deadline passed: closes c with the reason it timed out. */
void omtp_conn_expire(omtp_conn *c);

/* The connection-private parts that server.c links through. */
struct omtp_conn_link {
    omtp_conn *prev, *next;
};
struct omtp_conn_link *omtp_conn_wheel_link(omtp_conn *c);
int *omtp_conn_wheel_slot(omtp_conn *c);
struct omtp_conn_link *omtp_conn_all_link(omtp_conn *c);
omtp_conn **omtp_conn_bucket_next(omtp_conn *c);

#endif
