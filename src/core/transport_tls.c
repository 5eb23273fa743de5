/*
 * transport_tls.c - TLS (transport.h): an SSL object with two memory BIOs
 * per connection, on the listener's SSL_CTX (server.c). Ciphertext read
 * from the socket is written into the read BIO and plaintext is read with
 * SSL_read into the frame reader; plaintext output goes through SSL_write
 * and the write BIO's ciphertext is queued as an owned buffer. The
 * handshake runs inside the same calls (SSL_set_accept_state).
 *
 * State: struct omtp_tls_conn (SSL *, which owns both BIOs), one allocation per TLS
 * connection, freed in tls_close. Loop thread only (the scratch buffer is
 * shared by every TLS connection of the loop).
 */
#include "core.h"
#include "transport.h"
#include "transport_tls_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include "proto/omtp_frame.h"

#define READ_CHUNK 8192

struct omtp_tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio;
};

static char tls_scratch[64 * 1024]; /* ciphertext reads; loop thread only */

static struct omtp_tls_conn *tls_of(omtp_conn *c)
{
    return *omtp_conn_transport(c);
}

omtp_tls_conn *omtp_tls_conn_new(omtp_conn *c)
{
    struct omtp_tls_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(omtp_server_ssl_ctx(c->srv));
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    return t;
}

void omtp_tls_conn_free(omtp_tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

static int tls_open(omtp_conn *c)
{
    omtp_tls_conn *t = omtp_tls_conn_new(c);
    if (!t)
        return OMTP_ENOMEM;
    *omtp_conn_transport(c) = t;
    return 0;
}

static void tls_close(omtp_conn *c)
{
    struct omtp_tls_conn *t = tls_of(c);
    if (!t)
        return;
    omtp_tls_conn_free(t);
    *omtp_conn_transport(c) = NULL;
}

/* Queues the ciphertext the write BIO holds. */
static void tls_flush_t(omtp_conn *c, omtp_tls_conn *t)
{
    size_t pend;
    while ((pend = BIO_ctrl_pending(t->wbio)) > 0) {
        uint8_t *b = malloc(pend);
        if (!b) {
            omtp_conn_abort(c, "out of memory");
            return;
        }
        int n = BIO_read(t->wbio, b, (int)pend);
        if (n <= 0) {
            free(b);
            return;
        }
        if (omtp_conn_queue(c, NULL, b, b, (size_t)n))
            return;
    }
}

static void tls_flush(omtp_conn *c)
{
    tls_flush_t(c, tls_of(c));
}

static void tls_alloc(omtp_conn *c, uv_buf_t *buf)
{
    (void)c;
    *buf = uv_buf_init(tls_scratch, sizeof(tls_scratch));
}

static void tls_input(omtp_conn *c, const uint8_t *p, size_t n)
{
    struct omtp_tls_conn *t = tls_of(c);
    if (!t) {
        omtp_conn_abort(c, "TLS session missing");
        return;
    }
    if (BIO_write(t->rbio, p, (int)n) != (int)n) {
        omtp_conn_abort(c, "TLS input buffer failure");
        return;
    }
    omtp_frame_reader *rd = omtp_conn_reader(c);
    unsigned frames = 0;
    for (;;) {
        if (c->state == OMTP_CONN_CLOSING)
            break;
        uint8_t *dst;
        size_t room;
        if (omtp_frame_reader_space(rd, READ_CHUNK, &dst, &room)) {
            omtp_conn_abort(c, "out of memory for input");
            return;
        }
        int r = SSL_read(t->ssl, dst, room > INT32_MAX ? INT32_MAX : (int)room);
        if (r > 0) {
            omtp_frame_reader_commit(rd, (size_t)r);
            frames += omtp_conn_run_frames(c);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            tls_flush(c);
            omtp_conn_close(c, "peer closed the TLS session");
            return;
        }
        char err[160];
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        tls_flush(c);
        omtp_conn_close(c, err[0] ? err : "TLS error");
        return;
    }
    omtp_conn_input_done(c, frames);
    tls_flush(c); /* handshake records, alerts */
}

static int tls_write(omtp_conn *c, omtp_wire *w, const uint8_t *p, size_t n)
{
    (void)w; /* encrypted into owned ciphertext: the wire is not kept */
    struct omtp_tls_conn *t = tls_of(c);
    if (!t)
        return OMTP_ECLOSED;
    int r = SSL_write(t->ssl, p, (int)n);
    if (r <= 0) {
        omtp_conn_abort(c, "TLS write failed");
        return OMTP_ECLOSED;
    }
    tls_flush(c);
    return omtp_conn_handle_closing(c) ? OMTP_ECLOSED : 0;
}

static void tls_shutdown(omtp_conn *c)
{
    struct omtp_tls_conn *t = tls_of(c);
    if (!t)
        return;
    SSL_shutdown(t->ssl); /* close_notify */
    tls_flush(c);
}

/* ---- TLS under another transport (transport_tls_int.h; wss) ---- */

static uint8_t tls_plain[16 * 1024]; /* plaintext for the upper transport; loop thread only */

void omtp_tls_conn_input(omtp_conn *c, omtp_tls_conn *t, const uint8_t *p, size_t n,
                         void (*plain)(omtp_conn *c, const uint8_t *p, size_t n))
{
    if (BIO_write(t->rbio, p, (int)n) != (int)n) {
        omtp_conn_abort(c, "TLS input buffer failure");
        return;
    }
    while (c->state != OMTP_CONN_CLOSING) {
        int r = SSL_read(t->ssl, tls_plain, (int)sizeof(tls_plain));
        if (r > 0) {
            plain(c, tls_plain, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            tls_flush_t(c, t);
            omtp_conn_close(c, "peer closed the TLS session");
            return;
        }
        char err[160];
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        tls_flush_t(c, t);
        omtp_conn_close(c, err[0] ? err : "TLS error");
        return;
    }
    if (!omtp_conn_handle_closing(c))
        tls_flush_t(c, t); /* handshake records, alerts */
}

int omtp_tls_conn_write(omtp_conn *c, omtp_tls_conn *t, const uint8_t *p, size_t n)
{
    if (SSL_write(t->ssl, p, (int)n) <= 0) {
        omtp_conn_abort(c, "TLS write failed");
        return OMTP_ECLOSED;
    }
    tls_flush_t(c, t);
    return omtp_conn_handle_closing(c) ? OMTP_ECLOSED : 0;
}

void omtp_tls_conn_shutdown(omtp_conn *c, omtp_tls_conn *t)
{
    if (!t)
        return;
    SSL_shutdown(t->ssl); /* close_notify */
    tls_flush_t(c, t);
}

const omtp_transport_ops omtp_transport_tls = {
    .kind = OMTP_TP_TLS,
    .open = tls_open,
    .alloc = tls_alloc,
    .input = tls_input,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .close = tls_close,
};
