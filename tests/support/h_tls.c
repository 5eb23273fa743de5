/*
 * h_tls.c - see h_tls.h.
 */
#include "h_tls.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

SSL *h_tls_connect(int port, SSL_CTX **ctx, int *fd)
{
    *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(*ctx);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    SSL *ssl = SSL_new(*ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, *fd);
    assert_int_equal(SSL_connect(ssl), 1);
    return ssl;
}

void h_tls_call(SSL *ssl, omtp_frame_reader *rd, int type, const char *packId,
                const tars_struct_desc *d, const void *body, omtp_packet *out)
{
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode(&b, type, 0, packId, d, body, NULL, 0), 0);
    assert_int_equal(SSL_write(ssl, b.data, (int)b.len), (int)b.len);
    tars_buf_free(&b);
    for (;;) {
        const uint8_t *f;
        size_t len;
        int rc = omtp_frame_reader_next(rd, &f, &len);
        assert_true(rc >= 0);
        if (rc == 1) {
            int stage;
            char why[200];
            assert_int_equal(omtp_packet_decode(f, len, NULL, out, &stage, why, sizeof(why)), 0);
            return;
        }
        uint8_t *p;
        size_t room;
        assert_int_equal(omtp_frame_reader_space(rd, 4096, &p, &room), 0);
        int n = SSL_read(ssl, p, (int)room);
        assert_true(n > 0);
        omtp_frame_reader_commit(rd, (size_t)n);
    }
}
