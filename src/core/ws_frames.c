/*
 * ws_frames.c - RFC 6455 frames of one server connection on wslay's event
 * API (ws_frames.h): wslay parses and checks the frames and answers control
 * frames; this file hands binary data to the sink, refuses text, and frees
 * the context between messages.
 */
#include "ws_frames.h"

#include <string.h>
#include <wslay/wslay.h>

static void fail(omtp_ws_frames *f, int code)
{
    if (f->close_code || f->peer_closed)
        return;
    f->close_code = code;
    if (f->ctx) {
        wslay_event_queue_close(f->ctx, (uint16_t)code, NULL, 0);
        wslay_event_shutdown_read(f->ctx);
    }
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u)
{
    (void)flags;
    omtp_ws_frames *f = u;
    if (!f->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = f->in_len < len ? f->in_len : len;
    memcpy(buf, f->in, n);
    f->in += n;
    f->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *u)
{
    (void)flags;
    omtp_ws_frames *f = u;
    if (f->sink.emit(f->sink.arg, data, len)) {
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
    omtp_ws_frames *f = u;
    f->cur_frame = head_len(a->payload_length) + a->payload_length;
    f->cur_ctrl = a->opcode >= 8; /* wslay buffers these and answers them itself */
    if (a->opcode == WSLAY_TEXT_FRAME) {
        fail(f, OMTP_WS_CLOSE_UNSUPPORTED); /* OMTP is binary */
        return;
    }
    if (a->opcode == WSLAY_BINARY_FRAME || a->opcode == WSLAY_CONTINUATION_FRAME) {
        if (a->opcode == WSLAY_BINARY_FRAME)
            f->msg_total = 0;
        f->in_msg = true;
        /* wslay checks one frame's head against the limit; without its
         * buffering it does not add up fragments: the sum is checked here,
         * also on the head, before the fragment's payload is taken */
        f->msg_total += a->payload_length;
        if (f->msg_total > f->max_msg)
            fail(f, OMTP_WS_CLOSE_TOO_BIG);
    }
}

static void on_chunk(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_chunk_arg *a, void *u)
{
    (void)ctx;
    omtp_ws_frames *f = u;
    /* control frames (even between fragments) are wslay's, not data */
    if (!f->in_msg || f->cur_ctrl || f->close_code || f->peer_closed || !a->data_length)
        return;
    int rc = f->sink.data(f->sink.arg, a->data, a->data_length);
    if (rc)
        fail(f, rc);
}

static void on_end(wslay_event_context_ptr ctx, void *u)
{
    (void)ctx;
    omtp_ws_frames *f = u;
    f->framed += f->cur_frame;
    f->cur_frame = 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u)
{
    (void)ctx;
    omtp_ws_frames *f = u;
    if (a->opcode == WSLAY_BINARY_FRAME) {
        f->in_msg = false;
        if (f->close_code || f->peer_closed)
            return;
        int rc = f->sink.end(f->sink.arg);
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

void omtp_ws_frames_init(omtp_ws_frames *f, const omtp_ws_sink *sink, uint64_t max_msg)
{
    memset(f, 0, sizeof(*f));
    f->sink = *sink;
    f->max_msg = max_msg;
}

void omtp_ws_frames_free(omtp_ws_frames *f)
{
    if (f->ctx)
        wslay_event_context_free(f->ctx);
    f->ctx = NULL;
}

int omtp_ws_frames_feed(omtp_ws_frames *f, const uint8_t *p, size_t n)
{
    if (f->close_code || f->peer_closed || f->failed)
        return 1;
    if (!f->ctx) {
        if (wslay_event_context_server_init(&f->ctx, &callbacks, f)) {
            f->ctx = NULL;
            f->failed = true;
            return 1;
        }
        wslay_event_config_set_no_buffering(f->ctx, 1); /* data goes to the sink as it comes */
        f->fed = f->framed = 0;
    }
    wslay_event_config_set_max_recv_msg_length(f->ctx, f->max_msg);
    f->in = p;
    f->in_len = n;
    f->fed += n;
    int r = wslay_event_recv(f->ctx);
    f->in = NULL;
    f->in_len = 0;
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
            f->sink.emit(f->sink.arg, cf, sizeof(cf));
        }
        return 1;
    }
    bool wslay_closing = !wslay_event_get_read_enabled(f->ctx) && !f->close_code && !f->peer_closed;
    wslay_event_send(f->ctx); /* pong, the close echo, a close wslay or fail() queued */
    if (wslay_closing)        /* wslay refused something itself: unmasked (1002), too big (1009) */
        f->close_code = wslay_event_get_status_code_sent(f->ctx);
    if (f->close_code || f->peer_closed)
        return 1;
    if (f->fed == f->framed && !f->in_msg && !wslay_event_want_write(f->ctx)) {
        wslay_event_context_free(f->ctx); /* between messages: keep nothing */
        f->ctx = NULL;
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
