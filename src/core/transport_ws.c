/*
 * transport_ws.c - WebSocket (transport.h; docs/websocket.md): the ws_listen
 * listener's connections (and wss_listen's, over TLS). A connection starts
 * in the HTTP phase: its request head is parsed (ws_http.h) and either
 * upgraded (GET /ws -> 101, subprotocol omtp), answered with a file of
 * web_root (ws_static.h) or refused (400, 403, 404, 405, 426, 431), then
 * closed. After the upgrade each binary WebSocket message carries exactly
 * one OMTP frame, byte for byte as on TCP: ws_frames.h (wslay) hands its
 * bytes to the connection's frame reader and the frame runs when the message
 * ends; each OMTP frame to send becomes one binary WebSocket message.
 *
 * Everything else is the connection's (conn.c): deadlines (a handshake that
 * never completes ends at the pre-login timeout), the output cap, rate
 * limits, kickout, the guard's counts. A graceful close sends a close frame
 * (1000; 1001 when the server stops).
 *
 * State: struct ws per connection (a few dozen bytes plus, while inside a
 * message, wslay's context; the request parser from the first bytes until
 * the request is answered; an open file only while it is sent), freed in ws_close. Loop
 * thread only (the scratch read buffer is shared by the loop's connections).
 */
#include "core.h"
#include "guard.h"
#include "transport.h"
#include "transport_tls_int.h"
#include "ws_frames.h"
#include "ws_http.h"
#include "ws_int.h"
#include "ws_static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/omtp_frame.h"

#define FILE_CHUNK (32 * 1024) /* bytes of a file read and queued per drain */

enum { PH_HTTP, PH_OPEN, PH_FILE, PH_API, PH_DONE };

struct ws {
    uint8_t phase;
    bool secure;     /* wss: the bytes go through tls */
    bool close_sent; /* a close frame went out: nothing more is sent */
    int fd;          /* PH_FILE */
    omtp_tls_conn *tls;
    omtp_ws_req *req;     /* PH_HTTP */
    omtp_ws_frames fr;    /* PH_OPEN */
    uint32_t msg_len;     /* bytes of the binary message being received (<= max_frame) */
    unsigned frames;      /* OMTP frames run during this input */
    uint64_t file_left;   /* bytes of the file still to send */
    struct ws_call *call; /* PH_API: a /v1/ request (ws_api.c) */
};

static char ws_scratch[64 * 1024]; /* socket reads; loop thread only */

static struct ws *ws_of(omtp_conn *c)
{
    return *omtp_conn_transport(c);
}

/* Puts bytes on the wire (own: malloc'd, taken over; else copied). */
int omtp_ws_emit(omtp_conn *c, uint8_t *own, const uint8_t *p, size_t n)
{
    struct ws *ws = ws_of(c);
    if (ws->secure) {
        int rc = omtp_tls_conn_write(c, ws->tls, own ? own : p, n);
        free(own);
        return rc;
    }
    if (!own) {
        own = malloc(n ? n : 1);
        if (!own) {
            omtp_conn_abort(c, "out of memory");
            return OMTP_ECLOSED;
        }
        memcpy(own, p, n);
    }
    return omtp_conn_queue(c, NULL, own, own, n);
}

static int sink_emit(void *arg, const uint8_t *p, size_t n)
{
    return omtp_ws_emit(arg, NULL, p, n) ? -1 : 0;
}

static int sink_data(void *arg, const uint8_t *p, size_t n)
{
    omtp_conn *c = arg;
    struct ws *ws = ws_of(c);
    if (c->state == OMTP_CONN_CLOSING)
        return 0;
    omtp_frame_reader *rd = omtp_conn_reader(c);
    if ((uint64_t)ws->msg_len + n > rd->max_frame) /* checked on the frame heads already */
        return OMTP_WS_CLOSE_TOO_BIG;
    ws->msg_len += (uint32_t)n;
    if (omtp_frame_reader_feed(rd, p, n)) {
        omtp_conn_abort(c, "out of memory for input");
        return 0;
    }
    return 0;
}

static int sink_end(void *arg)
{
    omtp_conn *c = arg;
    struct ws *ws = ws_of(c);
    if (c->state == OMTP_CONN_CLOSING)
        return 0;
    omtp_frame_reader *rd = omtp_conn_reader(c);
    uint64_t len = ws->msg_len;
    ws->msg_len = 0;
    size_t pend = omtp_frame_reader_pending(rd);
    const uint8_t *h = rd->buf ? rd->buf + rd->start : NULL;
    uint64_t flen = pend >= OMTP_FRAME_HDR
                        ? (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3]
                        : 0;
    if (pend != len || flen != len) {
        char why[160];
        snprintf(why, sizeof(why),
                 "a WebSocket message of %llu bytes is not one OMTP frame (its length field "
                 "says %llu): each binary message carries exactly one frame",
                 (unsigned long long)len, (unsigned long long)flen);
        omtp_send_error_frame(c, OMTP_EC_PROTOCOL, why);
        LOG_INFO("conn %llu %s: %s", (unsigned long long)c->id, c->peer, why);
        return OMTP_WS_CLOSE_PROTOCOL;
    }
    ws->frames += omtp_conn_run_frames(c);
    /* a LOGIN just succeeded: the next message may already be in this read */
    if (ws->fr.max_msg != rd->max_frame)
        omtp_ws_frames_set_limit(&ws->fr, rd->max_frame);
    return 0;
}

static int ws_open_common(omtp_conn *c, bool secure)
{
    struct ws *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return OMTP_ENOMEM;
    ws->fd = -1;
    ws->secure = secure;
    /* the request parser comes with the first bytes (ws_in): thousands of
     * connections accepted in a burst hold none until they speak */
    if (secure && !(ws->tls = omtp_tls_conn_new(c))) {
        free(ws);
        return OMTP_ENOMEM;
    }
    *omtp_conn_transport(c) = ws;
    return 0;
}

static int ws_open(omtp_conn *c)
{
    return ws_open_common(c, false);
}

static int wss_open(omtp_conn *c)
{
    return ws_open_common(c, true);
}

struct ws_call **omtp_ws_call_slot(omtp_conn *c)
{
    struct ws *ws = ws_of(c);
    return ws ? &ws->call : NULL;
}

static void ws_close(omtp_conn *c)
{
    struct ws *ws = ws_of(c);
    if (!ws)
        return;
    if (ws->call)
        omtp_ws_call_free(c);
    omtp_ws_frames_free(&ws->fr);
    free(ws->req);
    if (ws->fd >= 0)
        close(ws->fd);
    omtp_tls_conn_free(ws->tls);
    free(ws);
    *omtp_conn_transport(c) = NULL;
}

static void ws_alloc(omtp_conn *c, uv_buf_t *buf)
{
    (void)c;
    *buf = uv_buf_init(ws_scratch, sizeof(ws_scratch));
}

/* Answers the request with a short text and closes. */
void omtp_ws_http_refuse(omtp_conn *c, int status, const char *why)
{
    struct ws *ws = ws_of(c);
    const char *extra = status == 426   ? "Sec-WebSocket-Version: 13\r\n"
                        : status == 405 ? "Allow: GET, HEAD\r\n"
                                        : "";
    size_t n;
    uint8_t *b = omtp_ws_http_error(status, extra, why, &n);
    ws->phase = PH_DONE;
    if (omtp_guard_log_unauth(c->srv))
        LOG_INFO("conn %llu %s HTTP %d: %s", (unsigned long long)c->id, c->peer, status, why);
    if (b && omtp_ws_emit(c, b, b, n))
        return;
    omtp_conn_close(c, NULL);
}

/* Queues the next piece of the file; closes after the last. */
static void file_next(omtp_conn *c)
{
    struct ws *ws = ws_of(c);
    if (!ws || ws->phase != PH_FILE || c->state == OMTP_CONN_CLOSING)
        return;
    if (!ws->file_left) {
        ws->phase = PH_DONE;
        omtp_conn_close(c, NULL); /* after the output flushed */
        return;
    }
    size_t want = ws->file_left < FILE_CHUNK ? (size_t)ws->file_left : FILE_CHUNK;
    uint8_t *b = malloc(want);
    if (!b) {
        omtp_conn_abort(c, "out of memory");
        return;
    }
    ssize_t got = read(ws->fd, b, want);
    if (got <= 0) { /* the file shrank or failed: the length said is not kept */
        free(b);
        omtp_conn_abort(c, "static file read failed");
        return;
    }
    ws->file_left -= (uint64_t)got;
    omtp_ws_emit(c, b, b, (size_t)got);
}

static void serve_file(omtp_conn *c, const omtp_ws_decision *d)
{
    struct ws *ws = ws_of(c);
    omtp_ws_file f;
    omtp_ws_static_open(c->srv->cfg->web_root, ws->req->url, ws->req->inm, &f);
    LOG_DEBUG("conn %llu %s %s %s -> %d", (unsigned long long)c->id, c->peer,
              d->head ? "HEAD" : "GET", ws->req->url, f.status);
    if (f.status == 404) {
        omtp_ws_http_refuse(c, 404,
                            c->srv->cfg->web_root[0] ? "no such file"
                                                     : "no web app here (web_root is not set)");
        return;
    }
    if (omtp_ws_emit(c, NULL, (const uint8_t *)f.head, f.head_len)) {
        if (f.fd >= 0)
            close(f.fd);
        return;
    }
    if (f.fd < 0 || d->head) {
        if (f.fd >= 0)
            close(f.fd);
        ws->phase = PH_DONE;
        omtp_conn_close(c, NULL);
        return;
    }
    ws->fd = f.fd;
    ws->file_left = f.size;
    ws->phase = PH_FILE;
    file_next(c);
}

static void upgrade(omtp_conn *c, const omtp_ws_decision *d)
{
    struct ws *ws = ws_of(c);
    char accept[32], head[320];
    omtp_ws_accept_key(ws->req->key, accept);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, d->offered ? "Sec-WebSocket-Protocol: omtp\r\n" : "");
    if (omtp_guard_log_unauth(c->srv))
        LOG_INFO("conn %llu WebSocket%s open %s%s%s", (unsigned long long)c->id,
                 ws->secure ? " (TLS)" : "", c->peer, ws->req->origin[0] ? " origin " : "",
                 ws->req->origin);
    free(ws->req);
    ws->req = NULL;
    ws->phase = PH_OPEN;
    static const omtp_ws_sink sink = {.data = sink_data, .end = sink_end, .emit = sink_emit};
    omtp_ws_frames_init(&ws->fr, &sink, c, omtp_conn_reader(c)->max_frame);
    omtp_ws_emit(c, NULL, (const uint8_t *)head, (size_t)n);
}

static void frames_in(omtp_conn *c, const uint8_t *p, size_t n)
{
    struct ws *ws = ws_of(c);
    omtp_ws_frames_set_limit(&ws->fr, omtp_conn_reader(c)->max_frame); /* prelogin until login */
    if (!omtp_ws_frames_feed(&ws->fr, p, n) || c->state == OMTP_CONN_CLOSING)
        return;
    ws->close_sent = true; /* ws_frames sent the close (or its echo) */
    char why[128];
    if (ws->fr.failed) {
        omtp_conn_abort(c, "out of memory for WebSocket input");
        return;
    }
    if (ws->fr.peer_closed)
        snprintf(why, sizeof(why), "peer closed the WebSocket (code %d)", ws->fr.peer_code);
    else
        snprintf(why, sizeof(why), "WebSocket closed with %d: %s", ws->fr.close_code,
                 ws->fr.close_code == OMTP_WS_CLOSE_UNSUPPORTED ? "text message (OMTP is binary)"
                 : ws->fr.close_code == OMTP_WS_CLOSE_TOO_BIG
                     ? "message longer than the frame limit (max_frame, max_prelogin_frame "
                       "before login)"
                     : "protocol error (unmasked, bad control frame or bad frame head)");
    omtp_conn_close(c, why);
}

/* Plain bytes of the connection (after TLS for wss). */
static void ws_in(omtp_conn *c, const uint8_t *p, size_t n)
{
    struct ws *ws = ws_of(c);
    ws->frames = 0;
    if (ws->phase == PH_HTTP) {
        if (!ws->req) {
            if (!(ws->req = malloc(sizeof(*ws->req)))) {
                omtp_conn_abort(c, "out of memory");
                return;
            }
            omtp_ws_req_init(ws->req);
        }
        size_t used = omtp_ws_req_feed(ws->req, p, n);
        if (ws->req->state == OMTP_WS_REQ_BAD) {
            omtp_ws_http_refuse(c, ws->req->status,
                                ws->req->status == 431 ? "request head too long"
                                                       : "not an HTTP/1.1 request");
        } else if (ws->req->state == OMTP_WS_REQ_DONE) {
            omtp_ws_decision d;
            omtp_ws_req_decide(ws->req, c->srv->cfg->ws_allowed_origins, ws->secure, &d);
            if (d.route == OMTP_WS_REFUSE)
                omtp_ws_http_refuse(c, d.status, d.why);
            else if (d.route == OMTP_WS_API || d.route == OMTP_WS_PREFLIGHT) {
                omtp_ws_req *req = ws->req;
                ws->req = NULL; /* the call owns it now */
                ws->phase = PH_API;
                omtp_ws_call_start(c, req, &d, p + used, n - used);
            } else if (d.route == OMTP_WS_STATIC)
                serve_file(c, &d);
            else {
                upgrade(c, &d);
                if (used < n && c->state != OMTP_CONN_CLOSING)
                    frames_in(c, p + used, n - used);
            }
        }
        if (ws->phase != PH_HTTP && ws->req) { /* answered: the parser goes */
            free(ws->req);
            ws->req = NULL;
        }
    } else if (ws->phase == PH_OPEN) {
        frames_in(c, p, n);
    } else if (ws->phase == PH_API) {
        omtp_ws_call_input(c, p, n);
    } /* PH_FILE, PH_DONE: what the client sends now is not read */
    omtp_conn_input_done(c, ws->frames);
}

static void ws_input(omtp_conn *c, const uint8_t *p, size_t n)
{
    if (!ws_of(c)) {
        omtp_conn_abort(c, "WebSocket state missing");
        return;
    }
    ws_in(c, p, n);
}

static void wss_input(omtp_conn *c, const uint8_t *p, size_t n)
{
    struct ws *ws = ws_of(c);
    if (!ws) {
        omtp_conn_abort(c, "WebSocket state missing");
        return;
    }
    omtp_tls_conn_input(c, ws->tls, p, n, ws_in);
}

static int ws_write(omtp_conn *c, omtp_wire *w, const uint8_t *p, size_t n)
{
    (void)w; /* framed into an owned buffer: the wire is not kept */
    struct ws *ws = ws_of(c);
    if (!ws || ws->close_sent)
        return OMTP_ECLOSED;
    if (ws->phase != PH_OPEN)
        return 0; /* no OMTP frame before the upgrade (e.g. a refusal): dropped */
    uint8_t hdr[10];
    size_t hl = omtp_ws_frame_head(hdr, 2, n);
    uint8_t *b = malloc(hl + n);
    if (!b) {
        omtp_conn_abort(c, "out of memory");
        return OMTP_ECLOSED;
    }
    memcpy(b, hdr, hl);
    memcpy(b + hl, p, n);
    int rc = omtp_ws_emit(c, b, b, hl + n);
    return rc ? rc : omtp_conn_handle_closing(c) ? OMTP_ECLOSED : 0;
}

static void ws_shutdown(omtp_conn *c)
{
    struct ws *ws = ws_of(c);
    if (!ws)
        return;
    if (ws->phase == PH_OPEN && !ws->close_sent) {
        uint8_t cf[4];
        omtp_ws_close_frame(cf, c->srv->stopping ? OMTP_WS_CLOSE_GOING_AWAY : OMTP_WS_CLOSE_NORMAL);
        ws->close_sent = true;
        omtp_ws_emit(c, NULL, cf, sizeof(cf));
    }
    if (ws->secure)
        omtp_tls_conn_shutdown(c, ws->tls);
}

static void ws_drained(omtp_conn *c)
{
    struct ws *ws = ws_of(c);
    if (ws && ws->phase == PH_API)
        omtp_ws_call_drained(c);
    else
        file_next(c);
}

const omtp_transport_ops omtp_transport_ws = {
    .kind = OMTP_TP_WS,
    .open = ws_open,
    .alloc = ws_alloc,
    .input = ws_input,
    .write = ws_write,
    .shutdown = ws_shutdown,
    .close = ws_close,
    .drained = ws_drained,
};

const omtp_transport_ops omtp_transport_wss = {
    .kind = OMTP_TP_WSS,
    .open = wss_open,
    .alloc = ws_alloc,
    .input = wss_input,
    .write = ws_write,
    .shutdown = ws_shutdown,
    .close = ws_close,
    .drained = ws_drained,
};
