/*
 * http_internal.h - what the HTTP endpoint files share (http*.c only).
 *
 * An http_req is created by the HTTP thread for each request and carries its
 * route, path parameters and parsed JSON body to the loop thread. The
 * endpoint function (loop thread) owns the request from then on and must
 * answer it exactly once, synchronously or from a store completion, with
 * http_reply_json(), http_reply_error() or http_reply_text(). After that
 * call the request must not be touched: the HTTP thread may free it.
 *
 * Error replies are {"error":{"code":"snake_case","message":"words"}}.
 */
#ifndef OMTP_HTTP_INTERNAL_H
#define OMTP_HTTP_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "core/server.h"
#include "proto/omtp_session.h"
#include "store/store.h"

struct http_upload;

typedef struct http_req http_req;
typedef void (*http_endpoint_fn)(http_req *r);

#define HTTP_MAX_PARAMS 2
/* longest {id} path segment: a session id (GET /v1/sessions/{id}/messages) */
#define HTTP_PARAM_MAX OMTP_SESSION_ID_MAX

struct http_req {
    atomic_int refs;                             /* HTTP thread 1, loop 1 while queued/running */
    struct MHD_Connection *_Atomic conn;         /* NULL once the HTTP side finished */
    const struct http_route *route;              /* matched route */
    char param[HTTP_MAX_PARAMS][HTTP_PARAM_MAX]; /* {id} segments of the path */
    char *body;                                  /* raw body (NUL-terminated) */
    size_t body_len, body_cap;
    bool too_big;      /* body went over the cap while reading */
    bool rejected;     /* an error answer (resp) waits for the body's end */
    char allow[64];    /* methods of the path, for 405 */
    char line[160];    /* "METHOD /path" for logs */
    char method[16];   /* for the request log */
    char path[160];    /* for the request log: the path, spaces as '?' */
    char caller[40];   /* name of the API key that authenticated it, "" if none */
    uint64_t t0;       /* uv_hrtime() when the headers were in */
    bool handed;       /* suspended and queued to the loop */
    atomic_bool ready; /* response filled by the loop */
    json_t *json;      /* parsed body (an object) or NULL */
    json_t *args;      /* query-string arguments (name -> string) or NULL */
    omtp_server *srv;
    /* response, filled on the loop thread */
    unsigned status;
    char *resp; /* malloc'ed */
    size_t resp_len;
    const char *ctype;
    http_req *next; /* queue link (HTTP thread -> loop) */
    /* loop thread: list of requests owned by endpoints, for shutdown */
    http_req *iprev, *inext;
    struct omtp_http *owner;
    bool answered; /* response handed to the HTTP thread */
    /* file routes (http_files.c) */
    char user[OMTP_ID_MAX + 1]; /* a user's login token authenticated it; "" = API key */
    struct http_upload *up;     /* POST /v1/files: the upload (HTTP thread), NULL otherwise */
    omtp_file_rec file;         /* upload: what was stored; download: what to serve */
    bool serve_file;            /* the loop answered with `file` to serve (download) */
    bool thumb;                 /* GET .../thumb */
    /* POST /v1/files by a user with file_quota_bytes / file_upload_rate:
     * the quota and rate are asked (loop) before a body byte is read */
    bool pre_wait;               /* HTTP thread: suspended for that answer */
    bool prechecking;            /* queued to the loop for it (not an endpoint) */
    unsigned long long declared; /* Content-Length, 0 if none */
    char range[96];              /* the Range header, "" if none */
    char inm[160];               /* the If-None-Match header, "" if none */
};

struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/users/{}/token": {} = one path segment */
    bool auth;           /* needs an API key */
    bool body;           /* expects a JSON object body */
    http_endpoint_fn fn;
};
/* What a route's body and answer are (http.c keeps the file routes in a
 * table of their own): HTTP_RK_JSON, HTTP_RK_UPLOAD (the body is a file,
 * streamed to the file store), HTTP_RK_FILE (answers with a file). The file
 * routes accept a user's login token besides an API key (r->user). */
enum { HTTP_RK_JSON = 0, HTTP_RK_UPLOAD, HTTP_RK_FILE };
int http_route_kind(const struct http_route *rt);

/* ---- replies (loop thread; each answers the request exactly once) */

/* Sends `obj` (stolen) as JSON with `status`; NULL (a failed json_pack)
 * answers 500. */
void http_reply_json(http_req *r, unsigned status, json_t *obj);
/* {"error":{"code": code, "message": printf(fmt, ...)}} with `status`. */
void http_reply_error(http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends `text` (malloc'ed, stolen) with a content type. */
void http_reply_text(http_req *r, unsigned status, const char *ctype, char *text, size_t len);
/* Maps a chat/group protocol code (OMTP_EC_*) to an HTTP error reply. */
void http_reply_ec(http_req *r, int ec, const char *desc);
/* Replies 503/500 for a failed store submit or store error (OMTP_E*). */
void http_reply_store_err(http_req *r, int err);
/* Answers a domain refusal (domain/caller.h: the reason names the error,
 * its HTTP status comes from one table: unknown_* / not_member 404, a
 * conflict 409, no_privilege 403, internal 500, unavailable 503, any other
 * 400); false when the operation succeeded and nothing was sent. */
struct omtp_dom_outcome;
bool http_reply_refused(http_req *r, const struct omtp_dom_outcome *res);

/* A refusal found by a store work item (store thread), answered later from
 * its completion on the loop thread. status 0: none. Ids are at most
 * OMTP_ID_MAX bytes, so msg holds a message naming two of them whole. */
typedef struct http_refusal {
    unsigned status;
    const char *code; /* a string literal */
    char msg[400];
} http_refusal;
/* Records the refusal in *f and returns rc, so that a work item can
 * `return http_refuse(&c->refusal, rc, 404, "unknown_user", ...)`. */
int http_refuse(http_refusal *f, int rc, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answers the recorded refusal; false (nothing sent) if there is none. */
bool http_reply_refusal(http_req *r, const http_refusal *f);

/* ---- body fields (loop thread). Each getter returns false after it has
 * replied 400 (missing_field / invalid_field), so callers just return. */

/* A string field; *out = NULL when absent and not required. */
bool http_get_str(http_req *r, const char *key, bool required, size_t maxlen, const char **out);
/* A user or app id field (proto/omtp_session.h: OMTP_ID_RULE). */
bool http_get_id(http_req *r, const char *key, bool required, const char **out);
/* A group id field: 1..OMTP_ID_MAX bytes, no control characters or '/'. */
bool http_get_group_id(http_req *r, const char *key, bool required, const char **out);
/* An integer field; *out = def when absent and not required. */
bool http_get_int(http_req *r, const char *key, bool required, int64_t def, int64_t *out);
/* A user id or an array of user ids (1..max, duplicates dropped) into *out (init'ed
 * here; the caller frees it with omtp_list_free-style tars_str_list_free). */
bool http_get_ids(http_req *r, const char *key, bool required, uint32_t max, tars_str_list *out);
/* Whether s is a valid user or app id (see http_get_id). */
bool http_valid_id(const char *s);
/* Whether s is a valid group id (see http_get_group_id). */
bool http_valid_group_id(const char *s);

/* ---- query-string arguments (loop thread) */

/* An argument's value, or NULL when absent; *len (if given) its bytes. */
const char *http_arg(http_req *r, const char *name, size_t *len);
/* An optional integer argument in [lo, hi] into *out (left as it is when
 * absent or empty); false after replying 400 invalid_field. */
bool http_arg_int(http_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out);
/* A stored message as the API shows it (search, history): sessionId, seqId,
 * timestamp, from, to, contentType, content ("" once revoked), status,
 * flags, packId. NULL when out of memory. */
json_t *http_msg_json(const omtp_msg_rec *m);
/* A user record as GET /v1/users/{id} shows it (http_users.c). */
json_t *http_user_json(const omtp_user_rec *u);

void http_str_list_free(tars_str_list *l);
int http_str_list_push(tars_str_list *l, const char *s);

/* Answers with r->file (loop thread): the HTTP thread serves its bytes
 * (http_file_response). */
void http_reply_file(http_req *r);

/* ---- file routes, HTTP thread side (http_files.c) */

/* The user a login token ("v1.<user>.<expiry>.<mac>") is valid for: true
 * and user filled; false with *expired set when it is authentic but past
 * its expiry. */
bool http_user_token(const uint8_t secret[32], const char *token, char *user, size_t userlen,
                     bool *expired);
/* Headers of an upload are in (route, auth done): checks the name and the
 * declared size and opens the upload. false: refused (r->resp/status set,
 * via the reject callback). */
bool http_upload_begin(http_req *r, struct MHD_Connection *c, unsigned long long declared,
                       void (*reject)(http_req *r, unsigned status, const char *code,
                                      const char *msg));
/* Body bytes of an upload. */
void http_upload_data(http_req *r, const char *data, size_t n);
/* The whole body is in: commits (sniff, thumbnail) into r->file. false: the
 * upload failed (status, code, message filled). */
bool http_upload_finish(http_req *r, unsigned *status, const char **code, char *msg, size_t msglen);
/* Drops an unfinished upload (client gone, refused): nothing stays behind. */
void http_upload_abort(http_req *r);
/* Whether the upload already failed (too large, disk full): the rest of the
 * body is drained and dropped up to HTTP_DRAIN_MAX. */
bool http_upload_failed(const http_req *r, uint64_t *dropped);
/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" Range header value
 * against size. 0: no usable Range (serve all); 1: [*off, *off + *len),
 * inside the file; -1: not satisfiable (416). */
int http_parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);
/* The response serving r->file (Range, ETag, Content-Disposition, nosniff);
 * *status is 200, 206, 304 or 416, or 404/500 when the bytes are gone. */
struct MHD_Response *http_file_response(http_req *r, unsigned *status);

/* ---- endpoints */
void http_ep_healthz(http_req *r);
void http_ep_metrics(http_req *r);
void http_ep_notify(http_req *r);
void http_ep_sync(http_req *r);
void http_ep_messages(http_req *r);
void http_ep_user_create(http_req *r);
void http_ep_user_get(http_req *r);
void http_ep_user_update(http_req *r);
void http_ep_user_delete(http_req *r);
void http_ep_user_password(http_req *r);
void http_ep_user_token(http_req *r);
void http_ep_user_role(http_req *r);
void http_ep_group_create(http_req *r);
void http_ep_group_get(http_req *r);
void http_ep_group_dismiss(http_req *r);
void http_ep_group_add(http_req *r);
void http_ep_group_remove(http_req *r);
void http_ep_search(http_req *r);
void http_ep_session_messages(http_req *r);
void http_ep_user_list(http_req *r);
void http_ep_user_sessions(http_req *r);
void http_ep_file_upload(http_req *r);
void http_ep_file_get(http_req *r);
void http_ep_file_thumb(http_req *r);

/* http_ops.c: the series above as Prometheus text (malloc'd), the
 * metrics source omtp_http_start registers (core/server.h). */
char *http_metrics_text(void *arg);
/* HTTP request counters by status class (1xx..5xx), for /metrics. */
void http_counts(omtp_server *srv, uint64_t out[6]);
/* HTTP connections refused at http_max_conns / http_max_conns_per_ip. */
uint64_t http_refused(omtp_server *srv);
/* HTTP connections shut down by the slow-client guard (http_guard.c): no
 * whole request within http_timeout_s, shed at http_max_conns, over
 * http_max_conns_per_ip. */
void http_guard_stats(omtp_server *srv, uint64_t *timeouts, uint64_t *full, uint64_t *per_ip);

/* http_guard.c: slow-client protection (see the file's comment). */
typedef struct http_guard http_guard;
http_guard *http_guard_new(unsigned max_conns, unsigned max_per_ip, unsigned timeout_s);
void http_guard_free(http_guard *g);
/* The connection limit to give libmicrohttpd (a little above max_conns). */
unsigned http_guard_mhd_limit(const http_guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls = the guard); the code is an
 * enum MHD_ConnectionNotificationCode. */
void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
/* HTTP threads: the whole request arrived / its response completed. */
void http_guard_request_in(http_guard *g, struct MHD_Connection *c);
void http_guard_request_done(http_guard *g, struct MHD_Connection *c);
/* HTTP thread: the connection's request authenticated (API key or user
 * token): it stops counting for http_max_conns_per_ip. */
void http_guard_authenticated(http_guard *g, struct MHD_Connection *c);
/* HTTP threads: an upload's body bytes arrived: its deadline starts over, so
 * an upload is cut only when it stalls for http_timeout_s. */
void http_guard_progress(http_guard *g, struct MHD_Connection *c);
/* Loop thread (tick): shuts down connections past their deadline. */
void http_guard_sweep(http_guard *g);
void http_guard_counts(http_guard *g, uint64_t *timeouts, uint64_t *full, uint64_t *per_ip);

#endif
