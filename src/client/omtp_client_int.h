/*
 * omtp_client_int.h - internals shared by omtp_client.c (connection,
 * requests, reconnect) and omtp_client_catchup.c (sync after login).
 * Not a public header.
 */
#ifndef OMTP_CLIENT_INT_H
#define OMTP_CLIENT_INT_H

#include "omtp_client.h"
#include "proto/omtp_session.h"
#include "omtp_seqmap.h"
#include "omtp_tls.h"
#include "omtp_ws.h"

#include <pthread.h>

/* A pending request, or an outbox message (msg true). */
typedef struct omtp_req {
    struct omtp_req *prev, *next;
    char id[37];
    int type;
    bool msg;      /* outbox entry: resent with DUP until acked or given up */
    bool inflight; /* sent on the current connection */
    bool paced;    /* outbox: its last send was a paced one (omtp_client.c) */
    int attempts;
    int64_t flags;
    uint64_t deadline; /* loop time (ms) */
    uint64_t first;    /* loop time of the first attempt (outbox) */
    int timeout_ms;
    tars_buf payload; /* outbox: the encoded plain MsgReq */
    char session[256];
    omtp_reply_cb rcb;
    omtp_ack_cb acb;
    void *ud;
} omtp_req;

typedef struct omtp_req_list {
    omtp_req *head, *tail;
    size_t n;
} omtp_req_list;

typedef struct omtp_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct omtp_client *c; /* NULL once detached (closing) */
    omtp_frame_reader rd;
    omtp_tls *tls;
    omtp_ws *ws; /* WebSocket (cfg.ws_path), over tls when set */
    bool handshaking;
    uint8_t tlsbuf[16384];
} omtp_conn;

/* A held push or a history item waiting for delivery. */
typedef struct omtp_held {
    omtp_OTIMHeader hdr;
    const tars_struct_desc *desc;
    void *body;
    int64_t seq;
} omtp_held;

typedef struct omtp_held_vec {
    omtp_held *v;
    size_t n, cap;
} omtp_held_vec;

typedef struct omtp_gap {
    char *session;
    int64_t from; /* last delivered seqId */
    int64_t to;   /* last seqId the server has */
    int64_t at;   /* next history pull: seqId <= at (0 = newest) */
} omtp_gap;

typedef struct omtp_catchup {
    bool active;
    bool first; /* first sync: record positions only */
    omtp_gap *gaps;
    size_t ngaps, capgaps, cur;
    omtp_held_vec got;  /* history of the current gap */
    omtp_held_vec held; /* pushes that arrived during catch-up */
} omtp_catchup;

typedef struct omtp_post {
    struct omtp_post *next;
    void (*fn)(omtp_client *c, void *arg);
    void *arg;
} omtp_post;

struct omtp_client {
    uv_loop_t *loop;
    omtp_client_config cfg; /* strings point into owned copies below */
    char *host, *user, *password, *device_id, *ca_file, *ws_path;
    omtp_crypto_key key;
    int64_t xflags;
    omtp_client_callbacks cb;
    void *ud;
    int state;
    bool stopping; /* no reconnect */
    bool destroyed;
    int open_handles;

    uv_timer_t req_timer, hb_timer, retry_timer;
    uv_async_t async;
    bool has_async;
    pthread_mutex_t post_mu;
    omtp_post *posts;
    uv_getaddrinfo_t gai;
    bool gai_busy;

    omtp_conn *conn;
    unsigned gen; /* connection generation */
    int attempt;  /* reconnect attempts since the last login */
    uint64_t last_rx;
    void *tls_ctx;

    omtp_req_list reqs;   /* plain requests in flight */
    omtp_req_list outbox; /* messages until acked */
    /* pacing after a SERVER_REFUSED (rate limit) ack (omtp_client.c,
     * "Outbox pacing"): win 1 = paced (one in flight, one per pace_ms, the
     * next not before pace_until, loop ms), 0 = normal */
    uint32_t win;
    uint32_t pace_ms;
    uint64_t pace_until;
    tars_buf enc;

    int64_t hot_cursor;
    int64_t hp_seq;
    bool synced; /* a catch-up finished once: later ones deliver what they find */
    omtp_seqmap seqs;
    int64_t own_ring[256]; /* recent own (session hash, seq) acks, see deliver */
    unsigned own_pos;
    omtp_catchup cu;
};

/* omtp_client.c */
int omtp__request(omtp_client *c, int type, int64_t flags, const tars_struct_desc *desc,
                  const void *body, int timeout_ms, omtp_reply_cb cb, void *ud);
void omtp__emit_state(omtp_client *c, int err, int code, const char *desc);
bool omtp__is_own(const omtp_client *c, const char *session, int64_t seq);

/* omtp_client_catchup.c */
void omtp__catchup_start(omtp_client *c);
void omtp__catchup_reset(omtp_client *c);
/* Delivers (or holds, during catch-up) one pushed message/control packet.
 * Takes ownership of p's contents. */
void omtp__on_push_msg(omtp_client *c, omtp_packet *p);
void omtp__held_free(omtp_held_vec *v);

#endif
