/*
 * ws_frames.c - RFC 6455 frames of one server connection on wslay's event
 * API (ws_frames.h): wslay parses and checks the frames and answers control
 * frames; this file hands binary data to the sink, refuses text, adds up
 * fragments against the limit, and frees the context between messages.
 */
#include "ws_frames.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

/* Exists while the connection is inside a frame or message. */
struct omtp_ws_rx {
    wslay_event_context_ptr ctx;
    omtp_ws_frames *f;
    /* bytes fed since the context was made, bytes of the frames completed:
     * equal (and no message open) = nothing pending inside wslay */
    uint64_t fed, framed, cur_frame;
    uint64_t msg_total; /* payload bytes announced by this message's frames */
    const uint8_t *in;  /* the bytes being fed */
    size_t in_len;
    bool in_msg;   /* inside a (fragmented) data message */
    bool cur_ctrl; /* the frame being received is a control frame */
};

/* Contexts of connections that went idle on a message boundary, ready for
 * the next message of any connection: a wslay context in that state is as
 * good as new, and making one costs two 4 KiB allocations. Bounded (8 x
 * ~8.5 KiB); loop thread only (the fuzz target is single-threaded too). */
#define RX_CACHE 8
static struct omtp_ws_rx *rx_cache[RX_CACHE];
static int rx_cached;

static void rx_release(struct omtp_ws_rx *rx, bool clean)
{
    if (clean && rx_cached < RX_CACHE) {
        wslay_event_context_ptr ctx = rx->ctx;
        memset(rx, 0, sizeof(*rx));
        rx->ctx = ctx;
        rx_cache[rx_cached++] = rx;
        return;
    }
    wslay_event_context_free(rx->ctx);
    free(rx);
}

static struct omtp_ws_rx *rx_get(void);

static void fail(omtp_ws_frames *f, int code)
{
    if (f->close_code || f->peer_closed)
        return;
    f->close_code = (uint16_t)code;
    if (f->rx) {
        wslay_event_queue_close(f->rx->ctx, (uint16_t)code, NULL, 0);
        wslay_event_shutdown_read(f->rx->ctx);
    }
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u)
{
    (void)flags;
    struct omtp_ws_rx *rx = u;
    if (!rx->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = rx->in_len < len ? rx->in_len : len;
    memcpy(buf, rx->in, n);
    rx->in += n;
    rx->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *u)
{
    (void)flags;
    struct omtp_ws_rx *rx = u;
    if (rx->f->sink->emit(rx->f->arg, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static uint64_t head_len(uint64_t payload)
{
    /* a client frame is masked (wslay closes 1002 otherwise): 4 key bytes;
     * wslay refuses a length not in its shortest form, so this is exact */
    return 2 + 4 + (payload < 126 ? 0 : payload < 65536 ? 2 : 8);
}

static void on_start(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_start_arg *a, void *u)
{
    (void)ctx;
    struct omtp_ws_rx *rx = u;
    omtp_ws_frames *f = rx->f;
    rx->cur_frame = head_len(a->payload_length) + a->payload_length;
    rx->cur_ctrl = a->opcode >= 8; /* wslay buffers these and answers them itself */
    if (a->opcode == WSLAY_TEXT_FRAME) {
        fail(f, OMTP_WS_CLOSE_UNSUPPORTED); /* OMTP is binary */
        return;
    }
    if (a->opcode == WSLAY_BINARY_FRAME || a->opcode == WSLAY_CONTINUATION_FRAME) {
        if (a->opcode == WSLAY_BINARY_FRAME)
            rx->msg_total = 0;
        rx->in_msg = true;
        /* wslay checks one frame's head against the limit; without its
         * buffering it does not add up fragments: the sum is checked here,
         * also on the head, before the fragment's payload is taken */
        rx->msg_total += a->payload_length;
        if (rx->msg_total > f->max_msg)
            fail(f, OMTP_WS_CLOSE_TOO_BIG);
    }
}

static void on_chunk(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_chunk_arg *a, void *u)
{
    (void)ctx;
    struct omtp_ws_rx *rx = u;
    omtp_ws_frames *f = rx->f;
    /* control frames (even between fragments) are wslay's, not data */
    if (!rx->in_msg || rx->cur_ctrl || f->close_code || f->peer_closed || !a->data_length)
        return;
    int rc = f->sink->data(f->arg, a->data, a->data_length);
    if (rc)
        fail(f, rc);
}

static void on_end(wslay_event_context_ptr ctx, void *u)
{
    (void)ctx;
    struct omtp_ws_rx *rx = u;
    rx->framed += rx->cur_frame;
    rx->cur_frame = 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u)
{
    (void)ctx;
    struct omtp_ws_rx *rx = u;
    omtp_ws_frames *f = rx->f;
    if (a->opcode == WSLAY_BINARY_FRAME) {
        rx->in_msg = false;
        if (f->close_code || f->peer_closed)
            return;
        int rc = f->sink->end(f->arg);
        if (rc)
            fail(f, rc);
    } else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        f->peer_closed = true; /* wslay queued the echo */
        f->peer_code = a->status_code ? a->status_code : 1005;
    }
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_frame_recv_start_callback = on_start,
    .on_frame_recv_chunk_callback = on_chunk,
    .on_frame_recv_end_callback = on_end,
    .on_msg_recv_callback = on_msg,
};

static struct omtp_ws_rx *rx_get(void)
{
    if (rx_cached)
        return rx_cache[--rx_cached];
    struct omtp_ws_rx *rx = calloc(1, sizeof(*rx));
    if (!rx || wslay_event_context_server_init(&rx->ctx, &callbacks, rx)) {
        free(rx);
        return NULL;
    }
    wslay_event_config_set_no_buffering(rx->ctx, 1); /* data goes to the sink as it comes */
    return rx;
}

void omtp_ws_frames_init(omtp_ws_frames *f, const omtp_ws_sink *sink, void *arg, uint32_t max_msg)
{
    memset(f, 0, sizeof(*f));
    f->sink = sink;
    f->arg = arg;
    f->max_msg = max_msg;
}

void omtp_ws_frames_free(omtp_ws_frames *f)
{
    if (!f->rx)
        return;
    rx_release(f->rx, false); /* maybe inside a message: not reusable */
    f->rx = NULL;
}

void omtp_ws_frames_set_limit(omtp_ws_frames *f, uint32_t max_msg)
{
    f->max_msg = max_msg;
    if (f->rx)
        wslay_event_config_set_max_recv_msg_length(f->rx->ctx, max_msg);
}

int omtp_ws_frames_feed(omtp_ws_frames *f, const uint8_t *p, size_t n)
{
    if (f->close_code || f->peer_closed || f->failed)
        return 1;
    if (!f->rx) {
        if (!(f->rx = rx_get())) {
            f->failed = true;
            return 1;
        }
        f->rx->f = f;
    }
    struct omtp_ws_rx *rx = f->rx;
    wslay_event_context_ptr ctx = rx->ctx;
    wslay_event_config_set_max_recv_msg_length(ctx, f->max_msg);
    rx->in = p;
    rx->in_len = n;
    rx->fed += n;
    int r = wslay_event_recv(ctx);
    rx->in = NULL;
    rx->in_len = 0;
    if (r == WSLAY_ERR_NOMEM) {
        f->failed = true;
        return 1;
    }
    if (r) {
        /* wslay's frame layer refused the frame head (a fragmented or
         * oversized control frame, a reserved opcode, a length not in its
         * shortest form) and queued a close without a code: say 1002 */
        if (!f->close_code && !f->peer_closed) {
            f->close_code = OMTP_WS_CLOSE_PROTOCOL;
            uint8_t cf[4];
            omtp_ws_close_frame(cf, OMTP_WS_CLOSE_PROTOCOL);
            f->sink->emit(f->arg, cf, sizeof(cf));
        }
        return 1;
    }
    bool wslay_closing = !wslay_event_get_read_enabled(ctx) && !f->close_code && !f->peer_closed;
    wslay_event_send(ctx); /* pong, the close echo, a close wslay or fail() queued */
    if (wslay_closing)     /* wslay refused something itself: unmasked (1002), too big (1009) */
        f->close_code = wslay_event_get_status_code_sent(ctx);
    if (f->close_code || f->peer_closed)
        return 1;
    if (rx->fed == rx->framed && !rx->in_msg && !wslay_event_want_write(ctx)) {
        rx_release(rx, true); /* between messages: keep nothing */
        f->rx = NULL;
    }
    return 0;
}

size_t omtp_ws_frame_head(uint8_t hdr[10], int opcode, uint64_t n)
{
    hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        hdr[1] = (uint8_t)n;
        return 2;
    }
    if (n < 65536) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(n >> 8);
        hdr[3] = (uint8_t)n;
        return 4;
    }
    hdr[1] = 127;
    for (int k = 0; k < 8; k++)
        hdr[2 + k] = (uint8_t)(n >> (56 - 8 * k));
    return 10;
}

void omtp_ws_close_frame(uint8_t out[4], int code)
{
    out[0] = 0x88;
    out[1] = 2;
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
}
