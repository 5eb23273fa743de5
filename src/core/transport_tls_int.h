/*
 * transport_tls_int.h - TLS as a layer under another transport (wss:
 * transport_ws.c over the same SSL_CTX as tls_listen). Implemented in
 * transport_tls.c next to the plain TLS transport, which uses the same
 * per-connection object.
 *
 * Ownership: the upper transport owns the omtp_tls_conn (new at its open,
 * free at its close). Threading: loop thread only.
 */
#ifndef OMTP_TRANSPORT_TLS_INT_H
#define OMTP_TRANSPORT_TLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

typedef struct omtp_tls_conn omtp_tls_conn;

/* An SSL object in accept state on the server's SSL_CTX; NULL on no memory. */
omtp_tls_conn *omtp_tls_conn_new(omtp_conn *c);
void omtp_tls_conn_free(omtp_tls_conn *t);
/* Ciphertext read from the socket: the plaintext it yields goes to `plain`
 * (in pieces); handshake records and alerts are queued on c. */
void omtp_tls_conn_input(omtp_conn *c, omtp_tls_conn *t, const uint8_t *p, size_t n,
                         void (*plain)(omtp_conn *c, const uint8_t *p, size_t n));
/* Plaintext to send: encrypted and queued on c. 0 or OMTP_ECLOSED. */
int omtp_tls_conn_write(omtp_conn *c, omtp_tls_conn *t, const uint8_t *p, size_t n);
/* close_notify, queued on c. */
void omtp_tls_conn_shutdown(omtp_conn *c, omtp_tls_conn *t);

#endif
