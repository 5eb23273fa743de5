/*
 * h_tls.h - one OMTP request/answer over a TLS connection the test opened
 * itself (OpenSSL), for the tests of omtpd's TLS listener.
 *
 * Threading: test thread only; failures fail the test (cmocka), like the
 * rest of the harness. The caller owns the SSL, the frame reader and the
 * decoded packet (free it with omtp_packet_free).
 */
#ifndef H_TLS_H
#define H_TLS_H

#include <openssl/ssl.h>

#include "proto/omtp_frame.h"
#include "proto/omtp_packet.h"

/* Opens a TLS connection to 127.0.0.1:port (no certificate check: the
 * tests' servers use self-signed ones). The caller frees *ctx and closes
 * *fd after SSL_free of the result. */
SSL *h_tls_connect(int port, SSL_CTX **ctx, int *fd);

/* Sends one packet of `type` (body `body` of struct `d`, or none) and
 * decodes the next frame that arrives into *out. */
void h_tls_call(SSL *ssl, omtp_frame_reader *rd, int type, const char *packId,
                const tars_struct_desc *d, const void *body, omtp_packet *out);

#endif
