/*
 * http.c - the HTTP API's plumbing: libmicrohttpd daemon, routing, API-key
 * check, the hand-over to the loop thread, and JSON replies.
 *
 * Two threads meet here. The HTTP thread (libmicrohttpd's internal polling
 * thread) reads a request, matches its route, checks the API key and the
 * body cap, parses the JSON body, then suspends the HTTP connection and
 * queues the request (mutex + uv_async_t). It reads only the immutable
 * config, never server state. The loop thread takes the queue, runs the
 * endpoint, and the endpoint's reply fills the response and resumes the
 * connection; the HTTP thread then sends it.
 *
 * A request is reference counted: one reference for the HTTP side (dropped
 * when libmicrohttpd reports the request complete) and one for the loop
 * while an endpoint owns it (dropped by the reply). Suspended connections
 * are never closed by libmicrohttpd except at daemon shutdown, which runs on
 * the loop thread, so resuming from the loop never races with a close.
 *
 * Shutdown: new requests are refused with 503 on the HTTP thread, requests
 * still owned by endpoints (waiting for the store) are answered 503 and
 * resumed, and once libmicrohttpd has finished them the daemon stops. Their
 * endpoints complete later (the store drains) and only drop their reference.
 *
 * Memory: a request holds its body (capped by http_max_body) and its
 * response; libmicrohttpd bounds header memory per connection.
 */
#include "http.h"
#include "http_internal.h"

#include "domain/credentials.h"
#include "domain/files.h"
#include "domain/files_ingest.h"
#include "domain/files_sweep.h"
#include "util/thread_prio.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#define HTTP_DEFAULT_MAX_BODY (1024u * 1024u)
#define HTTP_MAX_KEYS         32
#define HTTP_THREADS          2 /* a pool, so one busy thread does not stall /healthz */
/* libmicrohttpd's memory per connection (its default: 32 KiB): the read
 * buffer an upload's body arrives in, so an upload takes 4-8x fewer
 * recv/write rounds (docs/files.md "Speed"). It also bounds a request's
 * headers: the worst case is http_max_conns x 128 KiB (32 MiB at the
 * default 256), touched only by a client that sends that much. */
#define HTTP_CONN_MEMORY  (128 * 1024)
#define HTTP_LIMIT_LOG_S  10 /* one line per kind of message at most this often */
#define HTTP_LOG_KINDS    8  /* kinds of libmicrohttpd message remembered */
#define HTTP_LOG_KEY      40 /* bytes of a message that tell its kind */
#define HTTP_STOP_WAIT_MS 2000
#define HTTP_KEY_NAME_MAX 32
#define HTTP_DRAIN_MAX    (8u * 1024u * 1024u) /* read and drop up to this before an error */

typedef struct omtp_http {
    omtp_server *srv;
    struct MHD_Daemon *d;
    uv_async_t async;
    bool async_init;
    pthread_mutex_t mu; /* guards queue and closing */
    http_req *head, *tail;
    bool closing;
    http_req *inflight; /* loop thread: requests owned by endpoints */
    size_t max_body;
    /* API keys: written by the loop thread (start, SIGHUP), read by the
     * HTTP threads under keys_mu */
    pthread_mutex_t keys_mu;
    unsigned char keys[HTTP_MAX_KEYS][SHA256_DIGEST_LENGTH];
    char key_names[HTTP_MAX_KEYS][HTTP_KEY_NAME_MAX + 1]; /* "ops", or "key#2" */
    unsigned nkeys;
    _Atomic uint64_t counts[6]; /* responses by status class */
    _Atomic uint64_t refused;   /* connections refused at a connection limit */
    pthread_mutex_t log_mu;     /* guards log_kinds (libmicrohttpd's threads) */
    struct http_log_kind {
        char key[HTTP_LOG_KEY + 1];
        int64_t last_s; /* monotonic second it was last written */
        uint64_t count; /* messages since */
    } log_kinds[HTTP_LOG_KINDS];
    http_guard *guard; /* slow-client deadline and shedding (http_guard.c) */
} omtp_http;

static const struct http_route routes[] = {
    {"GET", "/healthz", false, false, http_ep_healthz},
    {"GET", "/metrics", false, false, http_ep_metrics},
    {"POST", "/v1/notify", true, true, http_ep_notify},
    {"POST", "/v1/sync", true, true, http_ep_sync},
    {"POST", "/v1/messages", true, true, http_ep_messages},
    {"POST", "/v1/users", true, true, http_ep_user_create},
    {"GET", "/v1/users/{}", true, false, http_ep_user_get},
    {"PATCH", "/v1/users/{}", true, true, http_ep_user_update},
    {"DELETE", "/v1/users/{}", true, false, http_ep_user_delete},
    {"PUT", "/v1/users/{}/password", true, true, http_ep_user_password},
    {"POST", "/v1/users/{}/token", true, true, http_ep_user_token},
    {"PUT", "/v1/users/{}/role", true, true, http_ep_user_role},
    {"POST", "/v1/groups", true, true, http_ep_group_create},
    {"GET", "/v1/groups/{}", true, false, http_ep_group_get},
    {"DELETE", "/v1/groups/{}", true, false, http_ep_group_dismiss},
    {"POST", "/v1/groups/{}/members", true, true, http_ep_group_add},
    {"DELETE", "/v1/groups/{}/members/{}", true, false, http_ep_group_remove},
    {"GET", "/v1/search", true, false, http_ep_search},
    {"GET", "/v1/sessions/{}/messages", true, false, http_ep_session_messages},
    {"GET", "/v1/users", true, false, http_ep_user_list},
    {"GET", "/v1/users/{}/sessions", true, false, http_ep_user_sessions},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* files (http_files.c): an API key or a user's login token */
static const struct http_route file_routes[] = {
    {"POST", "/v1/files", true, false, http_ep_file_upload},
    {"GET", "/v1/files/{}", true, false, http_ep_file_get},
    {"GET", "/v1/files/{}/thumb", true, false, http_ep_file_thumb},
};
#define NFILE_ROUTES (sizeof(file_routes) / sizeof(file_routes[0]))

int http_route_kind(const struct http_route *rt)
{
    if (rt < file_routes || rt >= file_routes + NFILE_ROUTES)
        return HTTP_RK_JSON;
    return rt == &file_routes[0] ? HTTP_RK_UPLOAD : HTTP_RK_FILE;
}

/* ------------------------------------------------------------ requests */

static void req_unref(http_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    free(r->body);
    free(r->resp);
    if (r->json)
        json_decref(r->json);
    if (r->args)
        json_decref(r->args);
    free(r);
}

/* ------------------------------------------------------------- routing */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* MHD's percent-decoding of the path and query, except that "%00" stays
 * as it is: a decoded NUL would cut "/v1/users/y%00z" to "/v1/users/y", and
 * on_request refuses a path that still holds "%00". Returns the new length. */
static size_t unescape_url(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi || lo)) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* Matches path against pattern segment by segment; "{}" takes one
 * non-empty segment into params. */
static bool path_match(const char *pattern, const char *path,
                       char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX])
{
    int np = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (p[0] == '{' && p[1] == '}') {
            size_t n = strcspn(u, "/");
            if (n == 0 || n >= HTTP_PARAM_MAX || np >= HTTP_MAX_PARAMS)
                return false;
            memcpy(params[np], u, n);
            params[np][n] = '\0';
            np++;
            u += n;
            p += 2;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

/* Whether the raw (still escaped) path of uri holds a control character,
 * literally or escaped (%00..%1F, %7F). The path on_request sees is
 * unescaped (unescape_url keeps only %00 as it is), so this looks at the
 * bytes the client sent: "/healthz%0a" or "/v1/users/a%01b" are refused on
 * every route, not matched or looked up. The query string is not a path
 * segment. */
static bool path_has_control(const char *uri)
{
    static const char hexd[] = "0123456789abcdef";
    for (const char *u = uri; *u && *u != '?'; u++) {
        unsigned char ch = (unsigned char)*u;
        if (ch < 0x20 || ch == 0x7f)
            return true;
        if (ch != '%' || !u[1] || !u[2])
            continue;
        const char *hi = strchr(hexd, tolower((unsigned char)u[1]));
        const char *lo = strchr(hexd, tolower((unsigned char)u[2]));
        if (!hi || !lo || !*hi || !*lo)
            continue;
        int v = (int)(hi - hexd) * 16 + (int)(lo - hexd);
        if (v < 0x20 || v == 0x7f)
            return true;
    }
    return false;
}

/* One query-string argument into r->args (the first of a repeated name wins;
 * a name without '=' has the value ""). MHD has percent-decoded both. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    http_req *r = cls;
    if (!key || json_object_getn(r->args, key, key_size))
        return MHD_YES;
    json_t *v = json_stringn_nocheck(value ? value : "", value ? value_size : 0);
    if (v)
        json_object_setn_new_nocheck(r->args, key, key_size, v);
    return MHD_YES;
}

/* The query string's arguments, read on the HTTP thread while the
 * connection's headers are there (endpoints run on the loop: http_arg). */
static void collect_args(http_req *r, struct MHD_Connection *c)
{
    r->args = json_object();
    if (r->args)
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_arg, r);
}

/* *con_cls before the first on_request of a request whose raw path holds a
 * control character (set by on_uri, replaced by the request there). */
static char bad_path_mark;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    return path_has_control(uri) ? &bad_path_mark : NULL;
}

/* The route for (method, path), or NULL; *allow lists the methods the path
 * has when it exists under another method. */
static const struct http_route *route_find(const char *method, const char *path,
                                           char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX],
                                           char *allow, size_t allowlen)
{
    allow[0] = '\0';
    for (size_t i = 0; i < NROUTES + NFILE_ROUTES; i++) {
        const struct http_route *rt = i < NROUTES ? &routes[i] : &file_routes[i - NROUTES];
        if (!path_match(rt->pattern, path, params))
            continue;
        if (strcmp(rt->method, method) == 0)
            return rt;
        size_t used = strlen(allow);
        snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", rt->method);
    }
    return NULL;
}

/* --------------------------------------------------------------- auth */

/* Whether p[0..n) is "NAME=KEY": NAME 1..32 of [A-Za-z0-9_.-], KEY
 * non-empty and not starting with '=' (so base64 padding is not a name). */
static size_t key_name_len(const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    if (!eq || eq == p || eq - p > HTTP_KEY_NAME_MAX || (size_t)(eq - p) + 1 >= n || eq[1] == '=')
        return 0;
    for (const char *k = p; k < eq; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' && *k != '-')
            return 0;
    return (size_t)(eq - p);
}

/* Fills keys/names from "NAME=KEY, KEY2, ..." (names are what the request
 * log shows as the caller; an unnamed key is "key#N", N its position). */
static unsigned parse_keys(const char *list, unsigned char keys[][SHA256_DIGEST_LENGTH],
                           char names[][HTTP_KEY_NAME_MAX + 1])
{
    const char *p = list;
    unsigned nkeys = 0;
    while (*p && nkeys < HTTP_MAX_KEYS) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m > 0) {
            size_t nl = key_name_len(p, m);
            if (nl)
                snprintf(names[nkeys], HTTP_KEY_NAME_MAX + 1, "%.*s", (int)nl, p);
            else
                snprintf(names[nkeys], HTTP_KEY_NAME_MAX + 1, "key#%u", nkeys + 1);
            const char *k = nl ? p + nl + 1 : p;
            SHA256((const unsigned char *)k, m - (size_t)(k - p), keys[nkeys++]);
        }
        p += n;
    }
    return nkeys;
}

/* Constant time in the key's content: hashes the presented key and compares
 * digests with CRYPTO_memcmp against every configured key. */
static bool auth_ok(omtp_http *h, struct MHD_Connection *c, char *caller, size_t callerlen)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    if (n == 0)
        return false;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)v, n, d);
    int ok = 0, which = -1;
    pthread_mutex_lock(&h->keys_mu);
    for (unsigned i = 0; i < h->nkeys; i++) {
        int eq = CRYPTO_memcmp(d, h->keys[i], sizeof(d)) == 0;
        ok |= eq;
        which = eq ? (int)i : which;
    }
    if (which >= 0)
        snprintf(caller, callerlen, "%s", h->key_names[which]);
    pthread_mutex_unlock(&h->keys_mu);
    return ok != 0;
}

/* ------------------------------------------------ responses (HTTP thread) */

static enum MHD_Result send_buf(omtp_http *h, struct MHD_Connection *c, http_req *r,
                                unsigned status, const char *ctype, char *buf, size_t len,
                                const char *allow, bool www_auth)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, buf ? buf : (char *)"", buf ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow && *allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (www_auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    atomic_fetch_add(&h->counts[status / 100 < 6 ? status / 100 : 0], 1);
    /* the request log: what, who (the API key's name, never the key), how
     * long; health checks and scrapes only at debug */
    int lvl = r->route && !r->route->auth && status < 400 ? OMTP_LOG_DEBUG : OMTP_LOG_INFO;
    omtp_log(lvl, "http request method=%s path=%s status=%u caller=%s duration_ms=%.2f", r->method,
             r->path, status, r->caller[0] ? r->caller : "-", (double)(uv_hrtime() - r->t0) / 1e6);
    return ret;
}

static char *error_body(const char *code, const char *msg, size_t *len)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (o)
        json_decref(o);
    *len = s ? strlen(s) : 0;
    return s;
}

/* error_body() with a printf-style message. */
static char *error_vbody(const char *code, size_t *len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static char *error_vbody(const char *code, size_t *len, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return error_body(code, msg, len);
}

static enum MHD_Result send_error(omtp_http *h, struct MHD_Connection *c, http_req *r,
                                  unsigned status, const char *code, const char *allow,
                                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static enum MHD_Result send_error(omtp_http *h, struct MHD_Connection *c, http_req *r,
                                  unsigned status, const char *code, const char *allow,
                                  const char *fmt, ...)
{
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    char *body = error_vbody(code, &len, fmt, ap);
    va_end(ap);
    return send_buf(h, c, r, status, "application/json", body, len, allow, status == 401);
}

/* Records an error answer on the request, sent when its body was read. */
static void reject(http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->resp = error_vbody(code, &r->resp_len, fmt, ap);
    va_end(ap);
    r->rejected = true;
    r->status = status;
}

static enum MHD_Result send_rejection(omtp_http *h, struct MHD_Connection *c, http_req *r)
{
    char *buf = r->resp;
    r->resp = NULL;
    return send_buf(h, c, r, r->status, "application/json", buf, r->resp_len,
                    r->status == 405 ? r->allow : NULL, r->status == 401);
}

/* reject() for callers with a finished message (http_files.c). */
static void reject_msg(http_req *r, unsigned status, const char *code, const char *msg)
{
    reject(r, status, code, "%s", msg);
}

/* A user's login token in Authorization: Bearer (file routes): r->user and
 * the request log's caller ("user:ID"). */
static bool user_ok(omtp_http *h, struct MHD_Connection *c, http_req *r)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    char tok[OMTP_TOKEN_MAX + 1];
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    if (n == 0 || n >= sizeof(tok))
        return false;
    memcpy(tok, v, n);
    tok[n] = 0;
    bool expired = false;
    if (!http_user_token(h->srv->token_secret, tok, r->user, sizeof(r->user), &expired))
        return false;
    snprintf(r->caller, sizeof(r->caller), "user:%.34s", r->user);
    return true;
}

/* The loop found the file r->file names readable: its bytes, or an error. */
static enum MHD_Result send_file(omtp_http *h, struct MHD_Connection *c, http_req *r)
{
    unsigned status = 500;
    struct MHD_Response *resp = http_file_response(r, &status);
    if (!resp)
        return send_error(h, c, r, status, status == 404 ? "not_found" : "storage", NULL, "%s",
                          status == 404 ? "the file's bytes are gone (removed by the operator?)"
                                        : "the file store failed; retry later");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    atomic_fetch_add(&h->counts[status / 100 < 6 ? status / 100 : 0], 1);
    LOG_INFO("http request method=%s path=%s status=%u caller=%s duration_ms=%.2f", r->method,
             r->path, status, r->caller[0] ? r->caller : "-", (double)(uv_hrtime() - r->t0) / 1e6);
    return ret;
}

/* ------------------------------------------------ the HTTP thread's side */

/* Suspends the connection and queues the request for the loop, unless the
 * server is closing (false). The closing check, the queueing and the wake-up
 * happen under one lock, so omtp_http_stop() -- which sets `closing` and
 * drains under that lock -- never misses a request nor races the async
 * handle's close. */
static bool hand_to_loop(omtp_http *h, struct MHD_Connection *c, http_req *r)
{
    pthread_mutex_lock(&h->mu);
    if (h->closing) {
        pthread_mutex_unlock(&h->mu);
        return false;
    }
    atomic_fetch_add(&r->refs, 1);
    r->handed = true;
    MHD_suspend_connection(c);
    if (h->tail)
        h->tail->next = r;
    else
        h->head = r;
    h->tail = r;
    uv_async_send(&h->async);
    pthread_mutex_unlock(&h->mu);
    return true;
}

/* The HTTP API's threads (where file transfers run: sendfile, sha256,
 * fsync) yield the CPU to the chat loop: each raises its own nice value by
 * http_nice at its first request (util/thread_prio.h; it stays). */
static void thread_nice(const omtp_http *h)
{
    omtp_thread_nice((int)h->srv->cfg->http_nice);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    omtp_http *h = cls;
    bool bad_path = *con_cls == &bad_path_mark;
    http_req *r = bad_path ? NULL : *con_cls;

    if (!r) { /* headers are in: route, authenticate, check the declared size */
        thread_nice(h);
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        atomic_init(&r->refs, 1);
        atomic_init(&r->conn, c);
        atomic_init(&r->ready, false);
        r->srv = h->srv;
        r->t0 = uv_hrtime();
        snprintf(r->line, sizeof(r->line), "%s %s", method, url);
        snprintf(r->method, sizeof(r->method), "%s", method);
        /* for the log: the path as one word (no spaces or control bytes) */
        size_t pl = 0;
        for (const char *u = url; *u && pl + 1 < sizeof(r->path); u++)
            r->path[pl++] = (unsigned char)*u <= ' ' || *u == 0x7f ? '?' : *u;
        r->path[pl] = 0;
        *con_cls = r;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        /* unescape_url kept a NUL encoded, and on_uri saw any other control
         * character in the raw path: no id or path segment holds one */
        bool nul = strstr(url, "%00") != NULL;
        r->route =
            nul || bad_path ? NULL : route_find(method, url, r->param, r->allow, sizeof(r->allow));
        if (nul) {
            reject(r, 400, "invalid_id", "the path holds a NUL byte (%%00): no id contains one");
        } else if (bad_path) {
            reject(r, 400, "invalid_id",
                   "the path holds a control character (%%01..%%1F or %%7F): no id or path "
                   "segment contains one");
        } else if (!r->route) {
            if (r->allow[0])
                reject(r, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                       method, url, r->allow);
            else
                reject(r, 404, "not_found", "no endpoint %s %s", method, url);
        } else if (r->route->auth && !auth_ok(h, c, r->caller, sizeof(r->caller)) &&
                   !(http_route_kind(r->route) != HTTP_RK_JSON && user_ok(h, c, r))) {
            reject(r, 401, "unauthorized", "%s",
                   http_route_kind(r->route) != HTTP_RK_JSON
                       ? "missing, wrong or expired credentials (Authorization: Bearer followed "
                         "by an API key or a user's login token; a token expired: get a new one)"
                   : h->nkeys ? "missing or wrong API key (Authorization: Bearer KEY)"
                              : "no api_keys are configured on this server");
        } else if (http_route_kind(r->route) == HTTP_RK_UPLOAD) {
            r->declared = declared;
            const omtp_config *fc = h->srv->cfg;
            bool limited = r->user[0] && (fc->file_quota_bytes || fc->file_upload_rate) &&
                           !(fc->max_file_size && declared > fc->max_file_size);
            if (limited) {
                /* the user's quota and rate first: no body byte is read (or
                 * stored) before they pass; answered by precheck_done */
                r->pre_wait = r->prechecking = true;
                if (!hand_to_loop(h, c, r)) {
                    r->pre_wait = r->prechecking = false;
                    reject(r, 503, "unavailable", "the server is shutting down");
                }
            } else {
                http_upload_begin(r, c, declared, reject_msg);
            }
        } else if (declared > h->max_body) {
            reject(r, 413, "body_too_large", "request body is larger than %zu bytes", h->max_body);
        }
        if (r->route && r->route->auth && r->caller[0])
            http_guard_authenticated(h->guard, c); /* not a pre-auth slot of its address */
        if (r->route && !r->rejected)
            collect_args(r, c);
        if (r->route && http_route_kind(r->route) == HTTP_RK_FILE && !r->rejected) {
            const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
            snprintf(r->range, sizeof(r->range), "%s", v ? v : "");
            v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
            snprintf(r->inm, sizeof(r->inm), "%s", v ? v : "");
        }
        /* An early error waits for the body to be read (and dropped): closing
         * with unread input would reset the connection and could cost the
         * client the answer. A body too big to be worth draining is refused
         * at once. */
        if (r->rejected && declared > HTTP_DRAIN_MAX) {
            http_guard_request_in(h->guard, c);
            return send_rejection(h, c, r);
        }
        return MHD_YES;
    }

    if (r->pre_wait && !r->handed) { /* the loop answered the quota and rate */
        r->pre_wait = false;
        if (!r->rejected)
            http_upload_begin(r, c, r->declared, reject_msg);
        if (r->rejected && r->declared > HTTP_DRAIN_MAX) {
            http_guard_request_in(h->guard, c);
            return send_rejection(h, c, r);
        }
        /* libmicrohttpd repeats the headers' call (no data) after a resume
         * from it: not the end of the body */
        if (*data_size == 0)
            return MHD_YES;
    }

    if (r->handed) { /* resumed by the loop: the response is ready */
        if (!atomic_load(&r->ready))
            return MHD_YES;
        if (r->serve_file)
            return send_file(h, c, r);
        char *buf = r->resp;
        r->resp = NULL;
        return send_buf(h, c, r, r->status, r->ctype, buf, r->resp_len, NULL, false);
    }

    if (*data_size && r->up) { /* an upload's bytes: to the file store as they come */
        size_t n = *data_size;
        uint64_t dropped;
        *data_size = 0;
        http_upload_data(r, data, n);
        http_guard_progress(h->guard, c); /* bytes flowing: not a stalled client */
        if (http_upload_failed(r, &dropped) && dropped > HTTP_DRAIN_MAX)
            return MHD_NO; /* too much to drain for an answer: close */
        return MHD_YES;
    }

    if (*data_size) { /* body bytes */
        size_t n = *data_size;
        *data_size = 0;
        if (r->too_big || r->rejected)
            return MHD_YES;
        if (r->body_len + n > h->max_body) {
            r->too_big = true;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 1024;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, data, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }

    /* the whole request is in */
    http_guard_request_in(h->guard, c);
    if (r->rejected)
        return send_rejection(h, c, r);
    if (r->too_big)
        return send_error(h, c, r, 413, "body_too_large", NULL,
                          "request body is larger than %zu bytes", h->max_body);
    if (r->up) {
        unsigned st;
        const char *code;
        char msg[300];
        if (!http_upload_finish(r, &st, &code, msg, sizeof(msg)))
            return send_error(h, c, r, st, code, NULL, "%s", msg);
    }
    if (r->route->body && r->body_len) {
        json_error_t je;
        r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!r->json)
            return send_error(h, c, r, 400, "bad_json", NULL,
                              "malformed JSON at line %d column %d: %s", je.line, je.column,
                              je.text);
        if (!json_is_object(r->json))
            return send_error(h, c, r, 400, "bad_json", NULL, "the body must be a JSON object");
    }
    if (r->route->body && !r->json)
        r->json = json_object();
    if (!hand_to_loop(h, c, r)) {
        if (r->up)
            omtp_ingest_unpin(&r->file); /* never recorded (domain/files_pins.h) */
        return send_error(h, c, r, 503, "unavailable", NULL, "the server is shutting down");
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    omtp_http *h = cls;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        http_guard_request_done(h->guard, c); /* keep-alive: the next request's deadline */
    http_req *r = *con_cls;
    *con_cls = NULL;
    if (!r || r == (void *)&bad_path_mark)
        return;
    http_upload_abort(r); /* an upload that did not finish leaves nothing */
    atomic_store(&r->conn, NULL);
    req_unref(r);
}

/* libmicrohttpd's messages (its threads). Under a flood it writes one per
 * connection (a refusal at the connection limit, a client gone mid-request),
 * so each kind of message (its first HTTP_LOG_KEY bytes) is written at most
 * once per HTTP_LIMIT_LOG_S, with the count of those it stood for. A client
 * closing its connection is not the server's problem: debug level. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    omtp_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    bool limit = strstr(msg, "limit") && strstr(msg, "onnection");
    if (limit)
        atomic_fetch_add(&h->refused, 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t count = 0;
    pthread_mutex_lock(&h->log_mu);
    struct http_log_kind *k = NULL, *lru = &h->log_kinds[0];
    for (int i = 0; i < HTTP_LOG_KINDS; i++) {
        if (strncmp(h->log_kinds[i].key, msg, HTTP_LOG_KEY) == 0) {
            k = &h->log_kinds[i];
            break;
        }
        if (h->log_kinds[i].last_s < lru->last_s)
            lru = &h->log_kinds[i];
    }
    if (!k) {
        k = lru;
        snprintf(k->key, sizeof(k->key), "%.*s", HTTP_LOG_KEY, msg);
        k->last_s = 0;
        k->count = 0;
    }
    k->count++;
    if (!k->last_s || ts.tv_sec - k->last_s >= HTTP_LIMIT_LOG_S) {
        count = k->count;
        k->count = 0;
        k->last_s = ts.tv_sec;
    }
    pthread_mutex_unlock(&h->log_mu);
    if (!count)
        return;
    char more[96] = "";
    if (count > 1)
        snprintf(more, sizeof(more), " (%llu such messages in the last %d s)",
                 (unsigned long long)count, HTTP_LIMIT_LOG_S);
    if (limit)
        LOG_WARN("http: %s%s; limits: http_max_conns %u, http_max_conns_per_ip %u", msg, more,
                 h->srv->cfg->http_max_conns, h->srv->cfg->http_max_conns_per_ip);
    else if (strstr(msg, "closed") || strstr(msg, "closure"))
        LOG_DEBUG("http: %s%s", msg, more);
    else
        LOG_WARN("http: %s%s", msg, more);
}

/* ----------------------------------------------------- the loop's side */

static void inflight_add(omtp_http *h, http_req *r)
{
    r->owner = h;
    r->iprev = NULL;
    r->inext = h->inflight;
    if (h->inflight)
        h->inflight->iprev = r;
    h->inflight = r;
}

static void inflight_del(http_req *r)
{
    omtp_http *h = r->owner;
    if (!h)
        return;
    if (r->iprev)
        r->iprev->inext = r->inext;
    else
        h->inflight = r->inext;
    if (r->inext)
        r->inext->iprev = r->iprev;
    r->owner = NULL;
    r->iprev = r->inext = NULL;
}

/* Fills the response and resumes the connection (once). */
static void answer(http_req *r, unsigned status, const char *ctype, char *text, size_t len)
{
    if (r->answered) {
        free(text);
        return;
    }
    r->answered = true;
    r->status = status;
    r->ctype = ctype;
    r->resp = text;
    r->resp_len = len;
    atomic_store(&r->ready, true);
    struct MHD_Connection *c = atomic_load(&r->conn);
    if (c)
        MHD_resume_connection(c);
}

void http_reply_file(http_req *r)
{
    r->serve_file = true;
    answer(r, 200, NULL, NULL, 0);
    inflight_del(r);
    req_unref(r);
}

void http_reply_text(http_req *r, unsigned status, const char *ctype, char *text, size_t len)
{
    answer(r, status, ctype, text, len);
    inflight_del(r);
    req_unref(r);
}

void http_reply_json(http_req *r, unsigned status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL; /* NULL obj: building it failed */
    if (obj)
        json_decref(obj);
    if (!s) {
        size_t len;
        char *e = error_body("internal", "could not build the response", &len);
        http_reply_text(r, 500, "application/json", e, len);
        return;
    }
    http_reply_text(r, status, "application/json", s, strlen(s));
}

void http_reply_error(http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    size_t len;
    va_list ap;
    va_start(ap, fmt);
    char *body = error_vbody(code, &len, fmt, ap);
    va_end(ap);
    http_reply_text(r, status, "application/json", body, len);
}

int http_refuse(http_refusal *f, int rc, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    f->status = status;
    f->code = code;
    return rc;
}

bool http_reply_refusal(http_req *r, const http_refusal *f)
{
    if (!f->status)
        return false;
    http_reply_error(r, f->status, f->code, "%s", f->msg);
    return true;
}

/* Loop thread: the quota and rate of an upload whose body waits (r was
 * handed with `prechecking`). A refusal becomes the request's answer (sent
 * at once when the declared body is too big to drain); either way the
 * connection resumes and the HTTP thread goes on (http_upload_begin). */
static void precheck_done(void *arg, const omtp_dom_outcome *res)
{
    http_req *r = arg;
    if (!r->answered) { /* else the shutdown answered it (and released it) */
        if (res->code != 0) {
            unsigned st = !strcmp(res->reason, "rate_limited")  ? 429
                          : !strcmp(res->reason, "unavailable") ? 503
                          : !strcmp(res->reason, "storage")     ? 500
                                                                : 413;
            omtp_files_count(!strcmp(res->reason, "rate_limited")     ? OMTP_FC_RATE
                             : !strcmp(res->reason, "quota_exceeded") ? OMTP_FC_QUOTA
                             : !strcmp(res->reason, "too_large")      ? OMTP_FC_TOO_LARGE
                                                                      : OMTP_FC_N,
                             1);
            LOG_INFO("files: an upload by %s was refused before its body (%llu bytes "
                     "declared): %s",
                     r->user, r->declared, res->desc);
            reject(r, st, res->reason, "%s", res->desc);
        }
        inflight_del(r); /* the shutdown no longer answers it: it goes on */
        r->prechecking = false;
        r->handed = false;
        struct MHD_Connection *c = atomic_load(&r->conn);
        if (c)
            MHD_resume_connection(c);
        req_unref(r); /* the loop's reference (hand_to_loop) */
    }
    req_unref(r); /* the domain call's */
}

static void precheck_start(http_req *r)
{
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = r->user};
    atomic_fetch_add(&r->refs, 1); /* held by the domain call */
    omtp_dom_file_upload_begin(r->srv, &who, r->declared, precheck_done, r);
}

static void on_async(uv_async_t *a)
{
    omtp_http *h = a->data;
    pthread_mutex_lock(&h->mu);
    http_req *r = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->mu);
    while (r) {
        http_req *next = r->next;
        r->next = NULL;
        inflight_add(h, r);
        if (h->srv->stopping)
            http_reply_error(r, 503, "unavailable", "the server is shutting down");
        else if (r->prechecking)
            precheck_start(r);
        else
            r->route->fn(r);
        r = next;
    }
}

void http_counts(omtp_server *srv, uint64_t out[6])
{
    omtp_http *h = srv->http;
    for (int i = 0; i < 6; i++)
        out[i] = h ? atomic_load(&h->counts[i]) : 0;
}

uint64_t http_refused(omtp_server *srv)
{
    omtp_http *h = srv->http;
    return h ? atomic_load(&h->refused) : 0;
}

void http_guard_stats(omtp_server *srv, uint64_t *timeouts, uint64_t *full, uint64_t *per_ip)
{
    omtp_http *h = srv->http;
    http_guard_counts(h ? h->guard : NULL, timeouts, full, per_ip);
}

void omtp_http_tick(omtp_server *srv)
{
    omtp_http *h = srv->http;
    if (h && h->guard && h->d)
        http_guard_sweep(h->guard);
}

/* --------------------------------------------------------- start, stop */

static int resolve(const char *hostport, struct sockaddr_storage *ss, char *why, size_t whylen)
{
    char host[128];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1]) {
        snprintf(why, whylen, "http_listen \"%s\" is not HOST:PORT", hostport);
        return OMTP_EINVAL;
    }
    size_t hl = (size_t)(colon - hostport);
    if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') { /* [::1]:9080 */
        hostport++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        snprintf(why, whylen, "http_listen host is too long");
        return OMTP_EINVAL;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(why, whylen, "http_listen \"%s\": %s", hostport, gai_strerror(rc));
        return OMTP_EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

static void on_async_closed(uv_handle_t *hd)
{
    omtp_http *h = hd->data;
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->log_mu);
    pthread_mutex_destroy(&h->keys_mu);
    free(h);
}

void omtp_http_reload(omtp_server *srv)
{
    omtp_http *h = srv->http;
    if (!h) {
        if (srv->cfg->http_listen[0])
            LOG_WARN("reload: the HTTP API was off at start: http_listen needs a restart");
        return;
    }
    static unsigned char keys[HTTP_MAX_KEYS][SHA256_DIGEST_LENGTH]; /* loop thread only */
    static char names[HTTP_MAX_KEYS][HTTP_KEY_NAME_MAX + 1];
    unsigned n = parse_keys(srv->cfg->api_keys, keys, names);
    pthread_mutex_lock(&h->keys_mu);
    memcpy(h->keys, keys, sizeof(keys));
    memcpy(h->key_names, names, sizeof(names));
    unsigned old = h->nkeys;
    h->nkeys = n;
    pthread_mutex_unlock(&h->keys_mu);
    OPENSSL_cleanse(keys, sizeof(keys));
    LOG_INFO("http: %u API key(s) now (were %u)", n, old);
    if (n == 0)
        LOG_WARN("http: no api_keys configured: every /v1 request will be refused (401)");
}

int omtp_http_start(omtp_server *srv)
{
    const omtp_config *cfg = srv->cfg;
    if (!cfg->http_listen[0])
        return 0;
    char why[256];
    struct sockaddr_storage ss;
    int rc = resolve(cfg->http_listen, &ss, why, sizeof(why));
    if (rc < 0) {
        LOG_ERROR("http: %s", why);
        return rc;
    }
    omtp_http *h = calloc(1, sizeof(*h));
    if (!h)
        return OMTP_ENOMEM;
    h->srv = srv;
    h->max_body = cfg->http_max_body ? cfg->http_max_body : HTTP_DEFAULT_MAX_BODY;
    pthread_mutex_init(&h->keys_mu, NULL);
    h->nkeys = parse_keys(cfg->api_keys, h->keys, h->key_names);
    if (h->nkeys == 0)
        LOG_WARN("http: no api_keys configured: every /v1 request will be refused (401)");
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->log_mu, NULL);
    if (uv_async_init(srv->loop, &h->async, on_async) != 0) {
        rc = OMTP_EIO;
        goto err;
    }
    h->async.data = h;
    h->async_init = true;
    srv->http = h;
    if ((rc = omtp_metrics_add_source(srv, http_metrics_text, srv)))
        goto err;

    /* Slow clients: epoll (MHD_USE_AUTO) in a pool of HTTP_THREADS polling
     * threads, so a connection that trickles never blocks a thread; at most
     * http_max_conns connections and http_max_conns_per_ip per address (a
     * few addresses cannot take every slot); a connection silent for
     * http_timeout_s (headers or body not coming) is closed. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned max_conns = cfg->http_max_conns ? cfg->http_max_conns : 1;
    unsigned threads = max_conns >= HTTP_THREADS ? HTTP_THREADS : 1;
    h->guard = http_guard_new(max_conns, cfg->http_max_conns_per_ip, cfg->http_timeout_s);
    if (!h->guard) {
        rc = OMTP_ENOMEM;
        goto err;
    }
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_url, h, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, h->guard, MHD_OPTION_THREAD_POOL_SIZE,
        threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->http_timeout_s ? cfg->http_timeout_s : 1), MHD_OPTION_CONNECTION_LIMIT,
        http_guard_mhd_limit(h->guard), MHD_OPTION_END);
    if (!h->d) {
        LOG_ERROR("http: cannot listen on %s: %s", cfg->http_listen, strerror(errno));
        rc = OMTP_EIO;
        goto err;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    if (cfg->http_port_file[0]) {
        FILE *f = fopen(cfg->http_port_file, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
            LOG_ERROR("http: cannot write %s: %s", cfg->http_port_file, strerror(errno));
            rc = OMTP_EIO;
            goto err;
        }
    }
    LOG_INFO("http: API listening on %s (port %u), %u api key(s), body cap %zu bytes, "
             "%u connections (%u per address), %u s timeout",
             cfg->http_listen, port, h->nkeys, h->max_body, max_conns, cfg->http_max_conns_per_ip,
             cfg->http_timeout_s);
    return 0;
err:
    omtp_http_stop(srv, 0);
    if (!h->async_init) { /* stop only frees what it knows about */
        pthread_mutex_destroy(&h->mu);
        pthread_mutex_destroy(&h->log_mu);
        pthread_mutex_destroy(&h->keys_mu);
        free(h);
    }
    return rc;
}

int omtp_http_stop(omtp_server *srv, uint64_t wait_ms)
{
    omtp_http *h = srv->http;
    if (!h)
        return 0;
    srv->http = NULL;
    if (h->d) {
        /* 1. no new hand-overs: later requests get 503 on the HTTP thread */
        pthread_mutex_lock(&h->mu);
        h->closing = true;
        http_req *q = h->head;
        h->head = h->tail = NULL;
        pthread_mutex_unlock(&h->mu);
        while (q) {
            http_req *next = q->next;
            q->next = NULL;
            inflight_add(h, q);
            q = next;
        }
        /* 2. answer whatever endpoints still own, so nothing stays suspended
         * (libmicrohttpd refuses to stop with suspended connections) */
        for (http_req *r = h->inflight; r; r = r->inext) {
            size_t len;
            char *body = error_body("unavailable", "the server is shutting down", &len);
            answer(r, 503, "application/json", body, len);
        }
        /* 3. wait (bounded) for the HTTP thread to send them */
        struct timespec ts = {0, 2 * 1000 * 1000};
        uint64_t most = wait_ms && wait_ms < HTTP_STOP_WAIT_MS ? wait_ms : HTTP_STOP_WAIT_MS;
        for (uint64_t waited = 0; waited < most; waited += 2) {
            bool pending = false;
            for (http_req *r = h->inflight; r; r = r->inext)
                pending |= atomic_load(&r->conn) != NULL;
            if (!pending)
                break;
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(h->d);
        h->d = NULL;
        /* endpoints still running finish later and only drop their reference */
        while (h->inflight)
            inflight_del(h->inflight);
    }
    http_guard_free(h->guard); /* the daemon reported every connection closed */
    h->guard = NULL;
    if (h->async_init)
        uv_close((uv_handle_t *)&h->async, on_async_closed);
    return 0;
}
