/*
 * test_core_tls.c - the TLS listener: a self-signed certificate made with
 * the openssl command, a blocking OpenSSL client, login and ping inside TLS,
 * and the plain listener still working beside it.
 */
#include "harness.h"
#include "h_tls.h"
#include "h_http.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_tls_login_ping(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost 2>/dev/null",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "tls_listen = 127.0.0.1:0\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\n"
             "tls_port_file = %s/tls-port\n",
             dir, dir, dir);
    h_server *s = h_server_start(conf, NULL);
    h_user_add(s, "alice", "pw-alice");
    char pf[300];
    snprintf(pf, sizeof(pf), "%s/tls-port", dir);
    int port = h_http_port(pf);
    assert_true(port > 0);

    SSL_CTX *ctx;
    int fd;
    SSL *ssl = h_tls_connect(port, &ctx, &fd);

    omtp_frame_reader rd;
    omtp_frame_reader_init(&rd, 0);
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, "alice");
    tars_str_set(&lr.password, "pw-alice");
    lr.deviceType = DEVICE_LINUX;
    omtp_packet r;
    h_tls_call(ssl, &rd, PT_LOGIN, "tls-login", &omtp_LoginReq_desc, &lr, &r);
    assert_string_equal(r.header.packId.data, "tls-login");
    assert_non_null(r.body);
    assert_int_equal(((omtp_LoginResp *)r.body)->code, 0);
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    for (int i = 0; i < 20; i++) {
        h_tls_call(ssl, &rd, PT_PING, "tls-ping", NULL, NULL, &r);
        assert_int_equal(r.header.type, PT_PING);
        assert_true(r.header.flags & OMTP_F_ACK);
        omtp_packet_free(&r);
    }
    omtp_frame_reader_free(&rd);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);

    /* plain TCP beside it */
    omtp_sync *c = h_login(s, "alice", "pw-alice", DEVICE_IOS);
    omtp_sync_close(c);
    /* plaintext at the TLS port is refused, the server lives on */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    const char junk[] = "\x00\x00\x00\x08hello";
    assert_int_equal(write(fd, junk, 8), 8);
    char buf[256];
    assert_true(h_raw_read_until_close(fd, buf, sizeof(buf), 5000) >= 0);
    close(fd);
    assert_true(h_server_alive(s));
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tls_login_ping, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
