/*
 * ws_api.h - HTTP API requests on the WebSocket listener (ws_listen /
 * wss_listen; docs/websocket.md "File endpoints"): every path under /v1/
 * is handed to a handler that a layer above registers at start (the core
 * includes no domain code). Today that is the file endpoints
 * (src/http/http_wsfiles.c: POST /v1/files, GET /v1/files/{id}[/thumb]),
 * the same rules as the HTTP API listener's through domain/files.h.
 *
 * What the core does (transport_ws.c): parses the head (ws_http.h), checks
 * the Origin against ws_allowed_origins (403) and answers CORS preflights
 * (OPTIONS), hands the head to `begin`, streams the body (http-parser
 * de-chunks) to `body` in pieces of at most 64 KiB, stops reading the
 * socket while the handler holds (omtp_ws_api_hold: its writer is behind)
 * and starts again on omtp_ws_api_resume, sends the answer the handler gives
 * (a short text/JSON, or a byte source read piece by piece on libuv's
 * worker threads as the client drains -- the loop never reads a file), then
 * closes (one request per connection, Connection: close).
 *
 * Lifetime: `begin` returns the handler's context for the request; after
 * it, exactly one `done(ctx)` comes on the loop thread: when the answer was
 * sent and the connection closes, or when the connection closed before
 * (client gone, stalled past the deadline, server stopping) -- the handler
 * then removes what it half wrote. The handler may answer any time before
 * that (also from within begin/body/end) with omtp_ws_api_reply or
 * omtp_ws_api_serve; a second answer is ignored. `c` stays valid until
 * done (the core holds it); do not use it afterwards.
 *
 * Deadlines: the request head must come within prelogin_timeout_s like any
 * unauthenticated connection; a handler that accepts a transfer calls
 * omtp_ws_api_transfer(c, stall_ms) and the connection then ends only when
 * no byte moved (in or out) for stall_ms.
 *
 * Threading: loop thread for everything here; omtp_ws_source.read runs on a
 * libuv worker thread (one at a time per source).
 */
#ifndef OMTP_CORE_WS_API_H
#define OMTP_CORE_WS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct omtp_conn omtp_conn;
typedef struct omtp_server omtp_server;

/* The request as the handler sees it (valid during begin only). */
typedef struct omtp_ws_api_req {
    const char *method;        /* "GET", "HEAD", "POST", ... */
    const char *url;           /* the request target, query included */
    const char *path;          /* percent-decoded path, no query */
    const char *query;         /* after '?', "" when none (not decoded) */
    const char *authorization; /* "" when absent */
    const char *range;         /* "" when absent */
    const char *inm;           /* If-None-Match, "" when absent */
    const char *origin;        /* "" when absent (already checked) */
    int64_t content_length;    /* -1: none or chunked */
    bool has_body;             /* body bytes will come (POST/PUT with a body) */
    const char *peer;          /* "ip:port", for logs */
    uint64_t conn_id;          /* for logs */
} omtp_ws_api_req;

typedef struct omtp_ws_api_ops {
    /* A complete head of a /v1/ request; returns the handler's context
     * (non-NULL; `done` frees it). */
    void *(*begin)(omtp_server *s, omtp_conn *c, const omtp_ws_api_req *req);
    /* Body bytes (copy what you keep). */
    void (*body)(void *ctx, const uint8_t *p, size_t n);
    /* The body is complete (not called for requests without one). */
    void (*end)(void *ctx);
    /* The request is over (answered or the connection closed); free ctx.
     * `answered`: an answer was queued whole. */
    void (*done)(void *ctx, bool answered);
} omtp_ws_api_ops;

/* Registers the handler of /v1/ on the ws listeners (a part's start; NULL
 * = none: /v1/ answers 404). Loop thread. */
void omtp_ws_api_register(omtp_server *s, const omtp_ws_api_ops *ops);

/* Stops reading the request body until omtp_ws_api_resume (the handler's
 * writer is behind, or it authenticates first). */
void omtp_ws_api_hold(omtp_conn *c);
void omtp_ws_api_resume(omtp_conn *c);
/* Switches the connection to the transfer deadline (see above). */
void omtp_ws_api_transfer(omtp_conn *c, uint64_t stall_ms);
/* The request carried valid credentials (a user's login token): the
 * connection stops counting as unauthenticated for max_conns_per_ip and is
 * no longer shed as an idle unauthenticated one, like a logged-in OMTP
 * connection (a user downloading ten files from one NAT address does not
 * lock others out of it). Loop thread. */
void omtp_ws_api_authenticated(omtp_conn *c);

/* Answers with status, extra header lines ("Name: value\r\n"..., may be
 * ""), a Content-Type and a body (copied), then closes. CORS headers are
 * added by the core. */
void omtp_ws_api_reply(omtp_conn *c, int status, const char *extra, const char *ctype,
                       const void *body, size_t n);

/* A byte source for a streamed answer: read fills buf with up to n bytes
 * at offset off (a worker thread, one call at a time) and returns how many
 * (> 0) or -1 on failure (the connection is then aborted: the length was
 * announced); close frees it (loop thread, once, after the last read). */
typedef struct omtp_ws_source {
    ssize_t (*read)(void *arg, uint64_t off, uint8_t *buf, size_t n);
    void (*close)(void *arg);
    void *arg;
} omtp_ws_source;
/* Answers with the head `head` (status line .. blank line, built by the
 * handler; CORS lines are inserted by the core) then `len` bytes of src
 * from `off` (len 0 or a HEAD request: the head only), then closes. The
 * source is closed in every case. */
void omtp_ws_api_serve(omtp_conn *c, const char *head, const omtp_ws_source *src, uint64_t off,
                       uint64_t len);

#endif
