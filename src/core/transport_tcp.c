/*
 * transport_tcp.c - plain TCP (transport.h): socket bytes are frame bytes.
 * Reads land straight in the frame reader (no copy); a frame to send is
 * queued as the wire's own bytes (a reference, no copy). No per-connection
 * state. Loop thread only.
 */
#include "transport.h"

#include "proto/omtp_frame.h"

static void tcp_alloc(omtp_conn *c, uv_buf_t *buf)
{
    omtp_conn_reader_buf(c, buf);
}

static void tcp_input(omtp_conn *c, const uint8_t *p, size_t n)
{
    (void)p; /* already in the reader: tcp_alloc handed out its space */
    omtp_frame_reader_commit(omtp_conn_reader(c), n);
    omtp_conn_input_done(c, omtp_conn_run_frames(c));
}

static int tcp_write(omtp_conn *c, omtp_wire *w, const uint8_t *p, size_t n)
{
    return omtp_conn_queue(c, w, NULL, p, n);
}

const omtp_transport_ops omtp_transport_tcp = {
    .kind = OMTP_TP_TCP,
    .alloc = tcp_alloc,
    .input = tcp_input,
    .write = tcp_write,
};
