/*
 * ws_api.c - a /v1/ request on the WebSocket listener handed to the
 * registered handler (ws_api.h): CORS, the body streamed to the handler
 * with backpressure, the answer (a short body, or a byte source read on
 * libuv's worker threads piece by piece as the client drains), the
 * lingering read of a body the handler refused early (so that a browser
 * sees the 413 instead of a reset connection), and the handler's `done`
 * when the connection closes.
 */
#include "core.h"
#include "ws_api.h"
#include "guard.h"
#include "ws_int.h"

#include "util/thread_prio.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PIECE_MAX  (1024 * 1024) /* bytes of a streamed answer read per worker job (<= 1 MiB) */
#define LINGER_MAX (16 * 1024 * 1024) /* body bytes read and dropped after an early answer */

struct ws_call {
    omtp_conn *c;
    omtp_ws_req *req; /* while the body is parsed; NULL after */
    const omtp_ws_api_ops *ops;
    void *ctx; /* the handler's, NULL when no handler took the request */
    char origin[256];
    bool cors;        /* echo Access-Control-Allow-Origin */
    bool head;        /* a HEAD request: no answer body */
    bool answered;    /* an answer was started (the rest is ignored) */
    bool finished;    /* the answer is queued whole */
    bool ended;       /* the handler heard `end` */
    bool held;        /* reading stopped by the handler */
    uint64_t dropped; /* body bytes dropped after the answer */
    /* streamed answer */
    bool has_src, busy, out_busy, dead;
    omtp_ws_source src;
    uint64_t off, left;
    uint8_t *ready; /* a piece read, waiting for the output to drain */
    size_t ready_n;
};

struct job {
    uv_work_t w;
    struct ws_call *k;
    uint64_t off;
    uint8_t *buf;
    size_t n;
    ssize_t got;
};

void omtp_ws_api_register(omtp_server *s, const omtp_ws_api_ops *ops)
{
    s->ws_api = ops;
}

static struct ws_call *call_of(omtp_conn *c)
{
    struct ws_call **slot = omtp_ws_call_slot(c);
    return slot ? *slot : NULL;
}

static void cors_lines(const struct ws_call *k, char *out, size_t outlen)
{
    if (!k->cors) {
        out[0] = 0;
        return;
    }
    snprintf(out, outlen,
             "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
             "Access-Control-Expose-Headers: Content-Length, Content-Range, Content-Disposition, "
             "ETag, Accept-Ranges\r\n",
             k->origin);
}

/* The answer is queued whole: close now, or once the body stopped coming. */
static void finish(struct ws_call *k)
{
    k->finished = true;
    bool body_left = k->req && k->req->body && !k->req->body_done;
    if (body_left && k->dropped < LINGER_MAX) {
        if (k->held) { /* drop the rest of the body: the client reads our answer */
            k->held = false;
            omtp_conn_resume(k->c);
        }
        return;
    }
    omtp_conn_close(k->c, NULL); /* after the output flushed */
}

static void emit_head(struct ws_call *k, int status, const char *extra, const char *ctype,
                      const void *body, size_t n)
{
    char cors[512];
    cors_lines(k, cors, sizeof(cors));
    size_t cap = 512 + strlen(cors) + strlen(extra) + strlen(ctype) + n;
    char *b = malloc(cap);
    if (!b) {
        omtp_conn_abort(k->c, "out of memory");
        return;
    }
    int h = snprintf(b, cap,
                     "HTTP/1.1 %d %s\r\n%s%sContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     status, omtp_ws_status_text(status), cors, extra, ctype, n);
    size_t len = (size_t)h;
    if (!k->head && n) {
        memcpy(b + len, body, n);
        len += n;
    }
    omtp_ws_emit(k->c, (uint8_t *)b, (uint8_t *)b, len);
}

void omtp_ws_api_reply(omtp_conn *c, int status, const char *extra, const char *ctype,
                       const void *body, size_t n)
{
    struct ws_call *k = call_of(c);
    if (!k || k->answered)
        return;
    k->answered = true;
    LOG_DEBUG("conn %llu %s HTTP %d", (unsigned long long)c->id, c->peer, status);
    emit_head(k, status, extra ? extra : "", ctype ? ctype : "text/plain; charset=utf-8", body, n);
    if (c->state != OMTP_CONN_CLOSING)
        finish(k);
}

static void text_reply(struct ws_call *k, int status, const char *extra, const char *text)
{
    char b[512];
    int n = snprintf(b, sizeof(b), "%s\n", text);
    omtp_ws_api_reply(k->c, status, extra, "text/plain; charset=utf-8", b, (size_t)n);
}

/* ---------------------------------------------------------- streamed answer */

static void call_dispose(struct ws_call *k)
{
    if (k->has_src && k->src.close)
        k->src.close(k->src.arg);
    k->has_src = false;
    free(k->ready);
    free(k->req);
    free(k);
}

static void job_work(uv_work_t *w)
{
    omtp_thread_background(); /* a file answer's reads yield the CPU to the chat loop */
    struct job *j = w->data;
    j->got = j->k->src.read(j->k->src.arg, j->off, j->buf, j->n);
}

static void pump(struct ws_call *k);

static void job_after(uv_work_t *w, int status)
{
    struct job *j = w->data;
    struct ws_call *k = j->k;
    k->busy = false;
    if (k->dead) {
        free(j->buf);
        free(j);
        call_dispose(k);
        return;
    }
    if (status < 0 || j->got <= 0 || (uint64_t)j->got > k->left) {
        free(j->buf);
        free(j);
        omtp_conn_abort(k->c, "file read failed while sending it");
        return;
    }
    k->off += (uint64_t)j->got;
    k->left -= (uint64_t)j->got;
    k->ready = j->buf;
    k->ready_n = (size_t)j->got;
    free(j);
    pump(k);
}

static void pump(struct ws_call *k)
{
    omtp_conn *c = k->c;
    if (c->state == OMTP_CONN_CLOSING)
        return;
    if (!k->out_busy && k->ready) {
        uint8_t *b = k->ready;
        k->ready = NULL;
        k->out_busy = true;
        omtp_conn_progress(c);
        if (omtp_ws_emit(c, b, b, k->ready_n))
            return;
    }
    if (!k->busy && !k->ready && k->left > 0) {
        size_t piece = PIECE_MAX;
        if (c->srv->cfg->out_buf_cap / 4 < piece)
            piece = c->srv->cfg->out_buf_cap / 4 ? c->srv->cfg->out_buf_cap / 4 : 4096;
        struct job *j = calloc(1, sizeof(*j));
        size_t n = k->left < piece ? (size_t)k->left : piece;
        uint8_t *buf = j ? malloc(n) : NULL;
        if (!buf) {
            free(j);
            omtp_conn_abort(c, "out of memory");
            return;
        }
        j->k = k;
        j->off = k->off;
        j->buf = buf;
        j->n = n;
        j->w.data = j;
        if (uv_queue_work(c->srv->loop, &j->w, job_work, job_after)) {
            free(buf);
            free(j);
            omtp_conn_abort(c, "could not start a worker job");
            return;
        }
        k->busy = true;
        return;
    }
    if (!k->busy && !k->ready && !k->left && k->has_src) {
        if (k->src.close)
            k->src.close(k->src.arg);
        k->has_src = false;
        finish(k);
    }
}

void omtp_ws_api_serve(omtp_conn *c, const char *head, const omtp_ws_source *src, uint64_t off,
                       uint64_t len)
{
    struct ws_call *k = call_of(c);
    if (!k || k->answered) {
        if (src->close)
            src->close(src->arg);
        return;
    }
    k->answered = true;
    /* the handler's head with the CORS lines after its status line */
    char cors[512];
    cors_lines(k, cors, sizeof(cors));
    const char *eol = strstr(head, "\r\n");
    size_t hl = strlen(head), first = eol ? (size_t)(eol - head) + 2 : hl;
    size_t cl = strlen(cors);
    uint8_t *b = malloc(hl + cl + 1);
    if (!b) {
        if (src->close)
            src->close(src->arg);
        omtp_conn_abort(c, "out of memory");
        return;
    }
    memcpy(b, head, first);
    memcpy(b + first, cors, cl);
    memcpy(b + first + cl, head + first, hl - first);
    if (omtp_ws_emit(c, b, b, hl + cl)) {
        if (src->close)
            src->close(src->arg);
        return;
    }
    k->src = *src;
    k->has_src = true;
    k->off = off;
    k->left = k->head ? 0 : len;
    k->out_busy = true; /* the head: the first piece goes when it drained */
    omtp_conn_progress(c);
    pump(k);
}

void omtp_ws_call_drained(omtp_conn *c)
{
    struct ws_call *k = call_of(c);
    if (!k)
        return;
    k->out_busy = false;
    omtp_conn_progress(c);
    pump(k);
}

/* ---------------------------------------------------------------- the body */

static void body_cb(void *arg, const uint8_t *p, size_t n)
{
    struct ws_call *k = arg;
    if (!k->answered && k->ctx && k->ops->body)
        k->ops->body(k->ctx, p, n);
    else
        k->dropped += n;
}

void omtp_ws_call_input(omtp_conn *c, const uint8_t *p, size_t n)
{
    struct ws_call *k = call_of(c);
    if (!k || c->state == OMTP_CONN_CLOSING)
        return;
    omtp_conn_progress(c);
    if (!k->req || !k->req->body || k->req->body_done)
        return; /* bytes after the request are not read */
    long used = omtp_ws_req_body(k->req, p, n, body_cb, k);
    if (c->state == OMTP_CONN_CLOSING)
        return;
    if (used < 0) {
        if (!k->answered)
            text_reply(k, 400, "", "malformed request body (bad chunked encoding)");
        else
            omtp_conn_close(c, NULL);
        return;
    }
    if (k->req->body_done) {
        if (!k->answered && !k->ended) {
            k->ended = true;
            if (k->ctx && k->ops->end)
                k->ops->end(k->ctx);
        } else if (k->finished) {
            omtp_conn_close(c, NULL); /* the refused body is over: our answer went */
        }
    } else if (k->finished && k->dropped >= LINGER_MAX) {
        omtp_conn_close(c, NULL);
    }
}

/* ---------------------------------------------------------------- the call */

void omtp_ws_call_start(omtp_conn *c, omtp_ws_req *req, const omtp_ws_decision *d,
                        const uint8_t *rest, size_t n)
{
    struct ws_call **slot = omtp_ws_call_slot(c);
    struct ws_call *k = calloc(1, sizeof(*k));
    if (!slot || !k) {
        free(k);
        free(req);
        omtp_conn_abort(c, "out of memory");
        return;
    }
    *slot = k;
    k->c = c;
    k->req = req;
    k->cors = d->cors;
    k->head = d->head;
    snprintf(k->origin, sizeof(k->origin), "%s", req->origin);
    if (d->route == OMTP_WS_PREFLIGHT) {
        char extra[512];
        snprintf(extra, sizeof(extra),
                 "Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Authorization, Content-Type, Range, "
                 "If-None-Match\r\nAccess-Control-Max-Age: 600\r\n");
        omtp_ws_api_reply(c, 204, extra, "text/plain", "", 0);
        return;
    }
    const omtp_ws_api_ops *ops = c->srv->ws_api;
    if (!ops) {
        text_reply(k, 404, "", "no API on this listener");
    } else {
        char path[1024];
        if (omtp_ws_req_path(req->url, path, sizeof(path)))
            path[0] = 0;
        const char *q = strchr(req->url, '?');
        omtp_ws_api_req r = {
            .method = http_method_str((enum http_method)req->method),
            .url = req->url,
            .path = path,
            .query = q ? q + 1 : "",
            .authorization = req->authorization,
            .range = req->range,
            .inm = req->inm,
            .origin = req->origin,
            .content_length = req->body && req->hp.content_length != ULLONG_MAX
                                  ? (int64_t)req->hp.content_length
                                  : -1,
            .has_body = req->body,
            .peer = c->peer,
            .conn_id = c->id,
        };
        k->ops = ops;
        k->ctx = ops->begin(c->srv, c, &r);
    }
    if (!req->body) {
        free(k->req);
        k->req = NULL;
        return;
    }
    if (!k->answered && !strcasecmp(req->expect, "100-continue")) /* curl waits for it */
        omtp_ws_emit(c, NULL, (const uint8_t *)"HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (n && c->state != OMTP_CONN_CLOSING)
        omtp_ws_call_input(c, rest, n);
}

void omtp_ws_call_free(omtp_conn *c)
{
    struct ws_call **slot = omtp_ws_call_slot(c);
    struct ws_call *k = slot ? *slot : NULL;
    if (!k)
        return;
    *slot = NULL;
    if (k->ctx && k->ops->done)
        k->ops->done(k->ctx, k->finished && !k->left && !k->ready);
    if (k->busy) {
        k->dead = true; /* the worker job disposes of it */
        return;
    }
    call_dispose(k);
}

void omtp_ws_api_hold(omtp_conn *c)
{
    struct ws_call *k = call_of(c);
    if (!k || k->answered || k->held)
        return;
    k->held = true;
    omtp_conn_pause(c);
}

void omtp_ws_api_resume(omtp_conn *c)
{
    struct ws_call *k = call_of(c);
    if (!k || !k->held)
        return;
    k->held = false;
    omtp_conn_resume(c);
}

void omtp_ws_api_transfer(omtp_conn *c, uint64_t stall_ms)
{
    omtp_conn_transfer(c, stall_ms);
}

void omtp_ws_api_authenticated(omtp_conn *c)
{
    omtp_guard_logged_in(c->srv, c);
}
