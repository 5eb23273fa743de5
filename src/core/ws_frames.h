/*
 * ws_frames.h - the server side of RFC 6455 framing for one connection,
 * on wslay's event API (Debian libwslay-dev): client frames in, the data of
 * each binary message out to a sink as it arrives (no message buffering by
 * wslay), control frames answered by wslay (pong, the close echo), and the
 * frame head of what the server sends.
 *
 * Rules (DESIGN "WebSocket", docs/websocket.md): a binary message goes to
 * the sink (begin, chunks, end); a text message closes 1003; an unmasked
 * client frame 1002 (wslay); a message longer than the limit 1009, decided
 * on the frame head before any of its payload is kept (wslay); an invalid
 * control frame (fragmented, > 125 bytes), a reserved opcode or bad length
 * encoding 1002.
 *
 * Memory: wslay's context holds two 4 KiB buffers, so it exists only while
 * the connection is inside a frame or message (or has a control frame to
 * answer): after input that ended on a message boundary it is freed and the
 * next input makes a new one (omtp_ws_frames_feed). An idle connection
 * keeps only struct omtp_ws_frames (40 bytes).
 *
 * Threading: the loop thread (transport_ws.c) or the fuzz target
 * (tests/fuzz/fuzz_ws.c) drives it; a small cache of idle wslay contexts
 * (ws_frames.c) is shared by the connections of that one thread.
 */
#ifndef OMTP_WS_FRAMES_H
#define OMTP_WS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Close codes (RFC 6455 7.4.1) the server uses. */
enum {
    OMTP_WS_CLOSE_NORMAL = 1000,
    OMTP_WS_CLOSE_GOING_AWAY = 1001,
    OMTP_WS_CLOSE_PROTOCOL = 1002,
    OMTP_WS_CLOSE_UNSUPPORTED = 1003,
    OMTP_WS_CLOSE_POLICY = 1008,
    OMTP_WS_CLOSE_TOO_BIG = 1009,
    OMTP_WS_CLOSE_INTERNAL = 1011,
};

/* What the frames go to (a static table; `arg` is per connection). */
typedef struct omtp_ws_sink {
    /* A binary message's bytes (several calls per message); 0, or a close
     * code to end the connection with. */
    int (*data)(void *arg, const uint8_t *p, size_t n);
    /* The binary message is complete; 0 or a close code. */
    int (*end)(void *arg);
    /* Bytes to put on the wire (control frames wslay answers); 0 or -1. */
    int (*emit)(void *arg, const uint8_t *p, size_t n);
} omtp_ws_sink;

struct omtp_ws_rx; /* wslay's context and the input accounting (ws_frames.c) */

/* Per connection, kept small: 40 bytes while idle. */
typedef struct omtp_ws_frames {
    struct omtp_ws_rx *rx; /* NULL while idle (between messages) */
    const omtp_ws_sink *sink;
    void *arg;
    uint32_t max_msg;    /* the limit of a message (1009 above) */
    uint16_t close_code; /* the code closed with (the first error), 0 none */
    uint16_t peer_code;  /* the peer sent close with this code (1005 = none) */
    bool peer_closed;    /* the peer sent close */
    bool failed;         /* out of memory */
} omtp_ws_frames;

void omtp_ws_frames_init(omtp_ws_frames *f, const omtp_ws_sink *sink, void *arg, uint32_t max_msg);
void omtp_ws_frames_free(omtp_ws_frames *f);

/* Changes the message limit (at login: max_prelogin_frame -> max_frame),
 * also in the middle of a feed. */
void omtp_ws_frames_set_limit(omtp_ws_frames *f, uint32_t max_msg);

/* Feeds n bytes read from the client. Returns 0 while the connection goes
 * on; otherwise it ends: f->close_code (a close frame with it went to
 * emit), f->peer_closed (the echo went to emit) or f->failed. */
int omtp_ws_frames_feed(omtp_ws_frames *f, const uint8_t *p, size_t n);

/* The head of an unmasked server frame (FIN set) of opcode (2 binary, 8
 * close) with a payload of n bytes, into hdr; returns its length (2..10). */
size_t omtp_ws_frame_head(uint8_t hdr[10], int opcode, uint64_t n);
/* A complete close frame with `code` (and no reason) into out[4]. */
void omtp_ws_close_frame(uint8_t out[4], int code);

#endif
