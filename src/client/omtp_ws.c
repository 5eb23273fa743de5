/*
 * omtp_ws.c - libomtp's client-side WebSocket (omtp_ws.h): the upgrade
 * request, the server's answer parsed with http-parser, frames with wslay's
 * client event API (masked frames out, no buffering of data messages in).
 */
#include "omtp_ws.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "proto/omtp_errors.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct omtp_ws {
    char *host, *path;
    char key[32], expect[32];
    /* the answer to the upgrade */
    http_parser hp;
    bool in_value, open, hs_done;
    int cur; /* 0 none, 1 accept, 2 protocol */
    char field[40], accept[64], protocol[64];
    size_t seen;
    /* frames */
    wslay_event_context_ptr ctx;
    const uint8_t *in;
    size_t in_len;
    tars_buf *out;
    void (*data)(void *ud, const uint8_t *p, size_t n);
    void *ud;
    bool in_data, text, closed;
    int close_code;
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u)
{
    (void)flags;
    omtp_ws *w = u;
    if (!w->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = w->in_len < len ? w->in_len : len;
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *u)
{
    (void)flags;
    omtp_ws *w = u;
    if (!w->out) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    tars_buf_put(w->out, data, len);
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *u)
{
    (void)ctx;
    (void)u;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void on_start(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_start_arg *a, void *u)
{
    (void)ctx;
    omtp_ws *w = u;
    if (a->opcode == WSLAY_BINARY_FRAME)
        w->in_data = true;
    else if (a->opcode == WSLAY_TEXT_FRAME)
        w->text = true, w->in_data = false;
}

static void on_chunk(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_chunk_arg *a, void *u)
{
    (void)ctx;
    omtp_ws *w = u;
    if (w->in_data && a->data_length)
        w->data(w->ud, a->data, a->data_length);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u)
{
    (void)ctx;
    omtp_ws *w = u;
    if (a->opcode == WSLAY_BINARY_FRAME)
        w->in_data = false;
    else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        w->closed = true;
        w->close_code = a->status_code;
    }
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_frame_recv_start_callback = on_start,
    .on_frame_recv_chunk_callback = on_chunk,
    .on_msg_recv_callback = on_msg,
};

omtp_ws *omtp_ws_new(const char *host_port, const char *path)
{
    omtp_ws *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->host = strdup(host_port);
    w->path = strdup(path && path[0] ? path : "/ws");
    unsigned char raw[16];
    if (!w->host || !w->path || RAND_bytes(raw, sizeof(raw)) != 1 ||
        wslay_event_context_client_init(&w->ctx, &callbacks, w)) {
        omtp_ws_free(w);
        return NULL;
    }
    wslay_event_config_set_no_buffering(w->ctx, 1);
    EVP_EncodeBlock((unsigned char *)w->key, raw, sizeof(raw));
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[96];
    int n = snprintf(buf, sizeof(buf), "%s%s", w->key, WS_GUID);
    SHA1((const unsigned char *)buf, (size_t)n, md);
    EVP_EncodeBlock((unsigned char *)w->expect, md, SHA_DIGEST_LENGTH);
    http_parser_init(&w->hp, HTTP_RESPONSE);
    w->hp.data = w;
    return w;
}

void omtp_ws_free(omtp_ws *w)
{
    if (!w)
        return;
    if (w->ctx)
        wslay_event_context_free(w->ctx);
    free(w->host);
    free(w->path);
    free(w);
}

void omtp_ws_request(omtp_ws *w, tars_buf *out)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: omtp\r\nUser-Agent: libomtp\r\n\r\n",
                     w->path, w->host, w->key);
    tars_buf_put(out, req, (size_t)n);
}

bool omtp_ws_is_open(const omtp_ws *w)
{
    return w->open;
}

static void put(char *dst, size_t size, const char *p, size_t n)
{
    size_t have = strlen(dst);
    if (have + n >= size)
        n = size - 1 - have;
    memcpy(dst + have, p, n);
    dst[have + n] = 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    omtp_ws *w = p->data;
    if (w->in_value) {
        w->field[0] = 0;
        w->in_value = false;
    }
    put(w->field, sizeof(w->field), at, n);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    omtp_ws *w = p->data;
    if (!w->in_value) {
        w->in_value = true;
        w->cur = !strcasecmp(w->field, "sec-websocket-accept")     ? 1
                 : !strcasecmp(w->field, "sec-websocket-protocol") ? 2
                                                                   : 0;
    }
    if (w->cur == 1)
        put(w->accept, sizeof(w->accept), at, n);
    else if (w->cur == 2)
        put(w->protocol, sizeof(w->protocol), at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    (void)p;
    return 1; /* the body of a refusal is not needed */
}

static int on_message_complete(http_parser *p)
{
    omtp_ws *w = p->data;
    w->hs_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings rsp_settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* The server's answer to the upgrade; returns bytes used, or -1. */
static long handshake(omtp_ws *w, const uint8_t *p, size_t n, char *why, size_t whylen)
{
    size_t used = http_parser_execute(&w->hp, &rsp_settings, (const char *)p, n);
    w->seen += used;
    enum http_errno e = HTTP_PARSER_ERRNO(&w->hp);
    if (e != HPE_OK && e != HPE_PAUSED) {
        snprintf(why, whylen, "the server's answer to the WebSocket upgrade is not HTTP (%s)",
                 http_errno_name(e));
        return -1;
    }
    if (!w->hp.upgrade && !w->hs_done) {
        if (w->seen > 16384) {
            snprintf(why, whylen, "the server's answer to the WebSocket upgrade is too long");
            return -1;
        }
        return (long)used;
    }
    if (w->hp.status_code != 101) {
        snprintf(why, whylen,
                 "the server refused the WebSocket upgrade with HTTP %u (is %s a WebSocket "
                 "endpoint of omtpd's ws_listen?)",
                 w->hp.status_code, w->path);
        return -1;
    }
    if (strcmp(w->accept, w->expect)) {
        snprintf(why, whylen,
                 "the server's Sec-WebSocket-Accept is wrong (not a WebSocket server?)");
        return -1;
    }
    if (strcasecmp(w->protocol, "omtp")) {
        snprintf(why, whylen, "the server did not choose the WebSocket subprotocol omtp");
        return -1;
    }
    w->open = true;
    return (long)used;
}

int omtp_ws_feed(omtp_ws *w, const uint8_t *p, size_t n,
                 void (*data)(void *ud, const uint8_t *p, size_t n), void *ud, tars_buf *out,
                 char *why, size_t whylen)
{
    int opened = 0;
    if (!w->open) {
        long used = handshake(w, p, n, why, whylen);
        if (used < 0)
            return -1;
        if (!w->open)
            return 0;
        opened = 1;
        p += used;
        n -= (size_t)used;
    }
    w->data = data;
    w->ud = ud;
    w->out = out;
    w->in = p;
    w->in_len = n;
    int r = wslay_event_recv(w->ctx);
    wslay_event_send(w->ctx); /* pong, the close echo */
    w->out = NULL;
    w->in = NULL;
    w->in_len = 0;
    if (w->text) {
        snprintf(why, whylen, "the server sent a WebSocket text message (OMTP is binary)");
        return -1;
    }
    if (w->closed) {
        snprintf(why, whylen, "the server closed the WebSocket (code %d)", w->close_code);
        return -1;
    }
    if (r || !wslay_event_get_read_enabled(w->ctx)) {
        snprintf(why, whylen, "WebSocket protocol error from the server");
        return -1;
    }
    return opened;
}

int omtp_ws_wrap(omtp_ws *w, const uint8_t *p, size_t n, tars_buf *out)
{
    struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = p, .msg_length = n};
    if (wslay_event_queue_msg(w->ctx, &m))
        return OMTP_ENOMEM;
    w->out = out;
    int r = wslay_event_send(w->ctx);
    w->out = NULL;
    return r ? OMTP_ENOMEM : 0;
}
