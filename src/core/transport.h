/*
 * transport.h - the seam between a connection and its bytes on the wire.
 *
 * A connection (conn.c) owns the socket (one uv_tcp_t), the output queue
 * with its write coalescing and out_buf_cap, the frame reader, deadlines and
 * the life cycle. What turns socket bytes into OMTP frame bytes and back is
 * its transport: plain TCP (transport_tcp.c: the identity, reading straight
 * into the frame reader) or TLS (transport_tls.c: an SSL object over two
 * memory BIOs). A WebSocket transport would be a third vtable (unwrapping
 * frames in `input`, wrapping them in `write`: transport_ws.c, which also
 * serves the web app's files before any upgrade); no handler, nothing above
 * the core, knows which transport a connection uses.
 *
 * Ownership: the transport's per-connection state is omtp_conn_transport
 * (conn.c stores it, the transport allocates it in `open` and frees it in
 * `close`); the ops tables are static and read-only. Bytes handed to `write`
 * are borrowed for the call (a referenced wire may be queued instead of
 * copied). Threading: loop thread only, like the connection.
 */
#ifndef OMTP_TRANSPORT_H
#define OMTP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server.h"

/* Transports, the index of their counters (omtp_metrics.tp_*) and the
 * `transport` label of /metrics. */
enum omtp_transport_kind {
    OMTP_TP_TCP = 0,
    OMTP_TP_TLS = 1,
    OMTP_TP_WS = 2,  /* WebSocket (transport_ws.c, ws_listen) */
    OMTP_TP_WSS = 3, /* WebSocket over TLS (wss_listen) */
    OMTP_TP_KINDS = 4
};
_Static_assert(OMTP_TP_KINDS <= OMTP_TRANSPORTS_MAX, "omtp_metrics.tp_* too small");
/* "tcp", "tls", "ws", "wss" (metrics label, logs). */
const char *omtp_transport_name(int kind);

typedef struct omtp_transport_ops {
    int kind; /* enum omtp_transport_kind */
    /* The connection was admitted: set up the per-connection state. 0, or
     * OMTP_ENOMEM (the connection is closed without a word). NULL = none. */
    int (*open)(omtp_conn *c);
    /* libuv wants a buffer for the next socket read (start_read's alloc). */
    void (*alloc)(omtp_conn *c, uv_buf_t *buf);
    /* n socket bytes arrived in the buffer `alloc` gave: make frame bytes of
     * them in the connection's frame reader and run what completed
     * (omtp_conn_run_frames, omtp_conn_input_done). */
    void (*input)(omtp_conn *c, const uint8_t *p, size_t n);
    /* Frame bytes to send (w referenced when the bytes are w's, else NULL):
     * queue their socket form with omtp_conn_queue. 0 or OMTP_ECLOSED. */
    int (*write)(omtp_conn *c, omtp_wire *w, const uint8_t *p, size_t n);
    /* A graceful close began (e.g. TLS close_notify); output still flushes.
     * NULL = nothing to say. */
    void (*shutdown)(omtp_conn *c);
    /* The socket closed: free the per-connection state. NULL = none. */
    void (*close)(omtp_conn *c);
    /* Everything queued was written (the connection is not closing): the
     * transport may queue more (a file sent piece by piece). NULL = none. */
    void (*drained)(omtp_conn *c);
} omtp_transport_ops;

extern const omtp_transport_ops omtp_transport_tcp;
extern const omtp_transport_ops omtp_transport_tls;
extern const omtp_transport_ops omtp_transport_ws;
extern const omtp_transport_ops omtp_transport_wss;

/* ---- what conn.c offers its transports ---- */

/* The transport's per-connection state slot. */
void **omtp_conn_transport(omtp_conn *c);
/* The connection's frame reader (proto/omtp_frame.h). */
struct omtp_frame_reader *omtp_conn_reader(omtp_conn *c);
/* A buffer in the frame reader sized for the next read (grows with what
 * arrived, guard-accounted); len 0 on out of memory (libuv then reports
 * UV_ENOBUFS). */
void omtp_conn_reader_buf(omtp_conn *c, uv_buf_t *buf);
/* Runs every complete frame in the reader; returns how many. */
unsigned omtp_conn_run_frames(omtp_conn *c);
/* After a read: frees an empty reader, files the partial frame's deadline,
 * reports the held bytes to the guard. `frames` = how many completed. */
void omtp_conn_input_done(omtp_conn *c, unsigned frames);
/* Queues socket bytes (w referenced, or `own` malloc'd bytes taken over)
 * behind the connection's output, with write coalescing and out_buf_cap.
 * 0 or OMTP_ECLOSED (own is freed either way on failure). */
int omtp_conn_queue(omtp_conn *c, omtp_wire *w, uint8_t *own, const uint8_t *data, size_t len);
/* Whether the socket is closing (nothing more can be queued). */
bool omtp_conn_handle_closing(const omtp_conn *c);

#endif
