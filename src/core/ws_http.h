/*
 * ws_http.h - the HTTP/1.1 request a WebSocket listener receives (the
 * upgrade of GET /ws, or a GET/HEAD of the web app's files), parsed by
 * http-parser (Debian libhttp-parser-dev), and the decision what to answer.
 *
 * omtp_ws_req holds the parser and the few header values the listener
 * needs, each bounded; it lives only until the request is answered
 * (transport_ws.c allocates it at accept and frees it after the answer).
 * No I/O, no server state: the fuzz target (tests/fuzz/fuzz_ws.c) drives it
 * directly. Threading: none of its own (the loop thread uses it).
 */
#ifndef OMTP_WS_HTTP_H
#define OMTP_WS_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The whole request head may be at most this long (431 above). */
#define OMTP_WS_REQ_MAX 8192

enum omtp_ws_req_state {
    OMTP_WS_REQ_MORE = 0, /* the head is not complete yet */
    OMTP_WS_REQ_DONE = 1, /* complete: decide with omtp_ws_req_decide */
    OMTP_WS_REQ_BAD = 2,  /* not HTTP/1.x, or too long: answer `status` and close */
};

typedef struct omtp_ws_req {
    http_parser hp;
    int state;       /* enum omtp_ws_req_state */
    int status;      /* OMTP_WS_REQ_BAD: 400 or 431 */
    size_t seen;     /* bytes of the head so far */
    int cur;         /* header value being captured (index, -1 none) */
    bool in_value;   /* last callback was a value (a new field begins a header) */
    bool truncated;  /* a captured value did not fit */
    char field[40];  /* current header name (truncated names capture nothing) */
    unsigned method; /* enum http_method */
    char url[1024];
    /* captured header values (several lines of one header joined by ", ") */
    char host[256], origin[256], key[64], version[16], protocol[256], upgrade[64], connection[128],
        inm[160], authorization[1024], range[128], expect[32];
    /* a request with a body under /v1/ (ws_api.h): the parser stops after
     * the head (state DONE, body true); omtp_ws_req_body feeds the body */
    bool body;
    bool body_done; /* the whole body was parsed */
    void (*body_cb)(void *arg, const uint8_t *p, size_t n);
    void *body_arg;
} omtp_ws_req;

void omtp_ws_req_init(omtp_ws_req *r);
/* Feeds bytes of the request; returns how many were part of the head (the
 * rest, after an upgrade, are WebSocket frames). r->state says what now. */
size_t omtp_ws_req_feed(omtp_ws_req *r, const uint8_t *p, size_t n);

/* Feeds bytes of the body of a request with r->body (after its head was
 * decided): de-chunked body bytes go to cb; returns how many bytes were
 * used (less than n once the body is complete: the rest is not ours).
 * -1 on a malformed body (bad chunk encoding). */
long omtp_ws_req_body(omtp_ws_req *r, const uint8_t *p, size_t n,
                      void (*cb)(void *arg, const uint8_t *p, size_t n), void *arg);

/* Whether a request path belongs to the HTTP API on this listener
 * (ws_api.h): "/v1" and below. */
bool omtp_ws_api_path(const char *path);

/* What a complete request asks for. */
enum omtp_ws_route {
    OMTP_WS_UPGRADE = 0,   /* accept the WebSocket (101) */
    OMTP_WS_STATIC = 1,    /* serve a file under web_root (GET/HEAD) */
    OMTP_WS_REFUSE = 2,    /* answer `status` with `why` and close */
    OMTP_WS_API = 3,       /* a /v1/ request for the registered handler (ws_api.h) */
    OMTP_WS_PREFLIGHT = 4, /* OPTIONS of a /v1/ path from an allowed Origin: CORS */
};

typedef struct omtp_ws_decision {
    int route;    /* enum omtp_ws_route */
    int status;   /* OMTP_WS_REFUSE: 400, 403, 405, 426 */
    bool head;    /* HEAD request (headers only) */
    bool offered; /* the client offered subprotocols (and omtp among them) */
    bool cors;    /* OMTP_WS_API/PREFLIGHT: answer with Access-Control-Allow-Origin */
    char why[160];
} omtp_ws_decision;

/* Decides a complete request. allowed_origins: the ws_allowed_origins
 * setting (comma list, "*" = any; "" = the listener's own origin, i.e.
 * http(s)://<Host>); secure: the listener is wss (own origin is https). */
void omtp_ws_req_decide(const omtp_ws_req *r, const char *allowed_origins, bool secure,
                        omtp_ws_decision *d);

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2): 28 characters + NUL. */
void omtp_ws_accept_key(const char *key, char out[32]);

/* The path of the request URL, percent-decoded, without query or fragment,
 * into out. -1 when it is not a safe path under the root: not starting
 * with '/', a NUL, a backslash, a "." or ".." segment (also %2e%2e), a bad
 * escape, or too long. */
int omtp_ws_req_path(const char *url, char *out, size_t outlen);

/* Writes a complete answer head (status line, the given extra header
 * lines, Content-Length of the text body, Connection: close) plus the body
 * text; returns its malloc'd bytes and length in *len, NULL on no memory. */
uint8_t *omtp_ws_http_error(int status, const char *extra, const char *body, size_t *len);
/* "Bad Request" etc. */
const char *omtp_ws_status_text(int status);

#endif
