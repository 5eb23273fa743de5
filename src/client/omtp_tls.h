/*
 * omtp_tls.h - client-side TLS over memory BIOs (OpenSSL), transport-agnostic.
 *
 * The libuv client owns the socket; this module only transforms bytes:
 * ciphertext read from the socket goes in with omtp_tls_feed, plaintext comes
 * out of omtp_tls_read; plaintext to send goes in with omtp_tls_write and the
 * ciphertext to put on the socket comes out of omtp_tls_take (also after
 * feed/handshake, which may produce handshake records).
 *
 * Ownership: an omtp_tls owns its SSL object; the SSL_CTX is shared and
 * reference-counted by OpenSSL. Threading: one connection, one thread.
 */
#ifndef OMTP_TLS_H
#define OMTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "tars/tars.h"

typedef struct omtp_tls omtp_tls;

/* A new client context; ca_file NULL = system paths; verify false = accept
 * any certificate. Returns NULL on failure. Free with omtp_tls_ctx_free. */
void *omtp_tls_ctx_new(const char *ca_file, bool verify);
void omtp_tls_ctx_free(void *ctx);

omtp_tls *omtp_tls_new(void *ctx, const char *server_name);
void omtp_tls_free(omtp_tls *t);
/* Drives the handshake: 1 done, 0 needs more bytes, OMTP_EIO on failure
 * (why gets OpenSSL's reason). */
int omtp_tls_handshake(omtp_tls *t, char *why, size_t whylen);
/* Ciphertext in. 0 or OMTP_ENOMEM. */
int omtp_tls_feed(omtp_tls *t, const void *p, size_t n);
/* Plaintext out: bytes read (> 0), 0 if none available, OMTP_ECLOSED on a
 * close_notify, OMTP_EIO on error. */
int omtp_tls_read(omtp_tls *t, void *buf, size_t n);
/* Plaintext in (after the handshake). 0 or OMTP_EIO. */
int omtp_tls_write(omtp_tls *t, const void *p, size_t n);
/* Appends all pending ciphertext to out. Returns bytes appended. */
size_t omtp_tls_take(omtp_tls *t, tars_buf *out);

#endif
