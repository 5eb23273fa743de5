/*
 * omtp_tls.c - TLS over memory BIOs (see omtp_tls.h).
 */
#include "omtp_tls.h"
#include "proto/omtp_errors.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

struct omtp_tls {
    SSL *ssl;
    BIO *rbio; /* network -> SSL */
    BIO *wbio; /* SSL -> network */
};

void *omtp_tls_ctx_new(const char *ca_file, bool verify)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

void omtp_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

omtp_tls *omtp_tls_new(void *ctx, const char *server_name)
{
    omtp_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio)
        goto err;
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* SSL owns the BIOs now */
    SSL_set_connect_state(t->ssl);
    if (server_name) {
        SSL_set_tlsext_host_name(t->ssl, server_name);
        if (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER)
            SSL_set1_host(t->ssl, server_name);
    }
    return t;
err:
    if (t->ssl) {
        SSL_free(t->ssl);
    } else {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
    }
    free(t);
    return NULL;
}

void omtp_tls_free(omtp_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int omtp_tls_handshake(omtp_tls *t, char *why, size_t whylen)
{
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 1;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    unsigned long ec = ERR_get_error();
    char buf[200];
    ERR_error_string_n(ec, buf, sizeof(buf));
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK)
        snprintf(why, whylen, "TLS handshake failed: %s", X509_verify_cert_error_string(vr));
    else
        snprintf(why, whylen, "TLS handshake failed: %s", ec ? buf : "connection reset");
    ERR_clear_error();
    return OMTP_EIO;
}

int omtp_tls_feed(omtp_tls *t, const void *p, size_t n)
{
    return BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : OMTP_ENOMEM;
}

int omtp_tls_read(omtp_tls *t, void *buf, size_t n)
{
    int r = SSL_read(t->ssl, buf, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? OMTP_ECLOSED : OMTP_EIO;
}

int omtp_tls_write(omtp_tls *t, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int r = SSL_write(t->ssl, p, (int)n);
    if (r == (int)n)
        return 0;
    ERR_clear_error();
    return OMTP_EIO;
}

size_t omtp_tls_take(omtp_tls *t, tars_buf *out)
{
    size_t total = 0;
    int pend;
    while ((pend = (int)BIO_ctrl_pending(t->wbio)) > 0) {
        if (!tars_buf_reserve(out, (size_t)pend))
            break;
        int r = BIO_read(t->wbio, out->data + out->len, pend);
        if (r <= 0)
            break;
        out->len += (size_t)r;
        total += (size_t)r;
    }
    return total;
}
