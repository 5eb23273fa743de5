/*
 * test_core_transport.c - the transport seam seen from outside (core/transport.h):
 * plain TCP and TLS connections to one omtpd are counted apart in /metrics
 * (omtp_conns, omtp_bytes_in_total, omtp_bytes_out_total by
 * transport="tcp|tls"), a closed connection leaves its gauge, and series of
 * subsystems above the core reach /metrics through their metrics source
 * (the webhooks').
 */
#include "h_http.h"
#include "harness.h"
#include "h_tls.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits (up to 10 s) for sample `name` to equal v; returns its last value. */
static double wait_metric(int port, const char *name, double v)
{
    double got = -1;
    for (int i = 0; i < 100; i++) {
        got = h_metric(port, name);
        if (got == v)
            break;
        usleep(100 * 1000);
    }
    return got;
}

static void test_tcp_and_tls_counted_apart(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-tp-XXXXXX";
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
             "tls_port_file = %s/tls-port\nhttp_listen = 127.0.0.1:0\n"
             "http_port_file = %s/http-port\n",
             dir, dir, dir, dir);
    h_server *s = h_server_start(conf, NULL);
    h_user_add(s, "alice", "pw-alice");
    char pf[300];
    snprintf(pf, sizeof(pf), "%s/http-port", dir);
    int hport = h_http_port(pf);
    snprintf(pf, sizeof(pf), "%s/tls-port", dir);
    int tport = h_http_port(pf);
    assert_true(tport > 0);

    /* every transport has its series from the first scrape */
    assert_true(h_metric(hport, "omtp_conns{transport=\"tcp\"}") == 0);
    assert_true(h_metric(hport, "omtp_conns{transport=\"tls\"}") == 0);
    assert_true(h_metric(hport, "omtp_bytes_in_total{transport=\"tls\"}") == 0);

    omtp_sync *c = h_login(s, "alice", "pw-alice", DEVICE_IOS);

    SSL_CTX *ctx;
    int fd;
    SSL *ssl = h_tls_connect(tport, &ctx, &fd);
    omtp_frame_reader rd;
    omtp_frame_reader_init(&rd, 0);
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, "alice");
    tars_str_set(&lr.password, "pw-alice");
    lr.deviceType = DEVICE_LINUX;
    omtp_packet r;
    h_tls_call(ssl, &rd, PT_LOGIN, "tp-login", &omtp_LoginReq_desc, &lr, &r);
    assert_int_equal(((omtp_LoginResp *)r.body)->code, 0);
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    for (int i = 0; i < 5; i++) {
        h_tls_call(ssl, &rd, PT_PING, "tp-ping", NULL, NULL, &r);
        omtp_packet_free(&r);
    }

    assert_true(wait_metric(hport, "omtp_conns{transport=\"tcp\"}", 1) == 1);
    assert_true(wait_metric(hport, "omtp_conns{transport=\"tls\"}", 1) == 1);
    double tcp_in = h_metric(hport, "omtp_bytes_in_total{transport=\"tcp\"}");
    double tls_in = h_metric(hport, "omtp_bytes_in_total{transport=\"tls\"}");
    double tcp_out = h_metric(hport, "omtp_bytes_out_total{transport=\"tcp\"}");
    double tls_out = h_metric(hport, "omtp_bytes_out_total{transport=\"tls\"}");
    assert_true(tcp_in > 0 && tcp_out > 0);
    /* TLS counts what crossed the socket: the handshake (a certificate
     * went out) and records, more than the plain login and pings */
    assert_true(tls_in > 0 && tls_out > 0);
    assert_true(tls_out > tcp_out);

    /* more pings over TLS move only the TLS counters */
    for (int i = 0; i < 5; i++) {
        h_tls_call(ssl, &rd, PT_PING, "tp-ping", NULL, NULL, &r);
        omtp_packet_free(&r);
    }
    assert_true(h_metric(hport, "omtp_bytes_in_total{transport=\"tls\"}") > tls_in);
    assert_true(h_metric(hport, "omtp_bytes_in_total{transport=\"tcp\"}") == tcp_in);

    /* a closed connection leaves its gauge */
    omtp_frame_reader_free(&rd);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    assert_true(wait_metric(hport, "omtp_conns{transport=\"tls\"}", 0) == 0);
    assert_true(h_metric(hport, "omtp_conns{transport=\"tcp\"}") == 1);
    omtp_sync_close(c);
    assert_true(wait_metric(hport, "omtp_conns{transport=\"tcp\"}", 0) == 0);

    h_server_stop_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The webhooks sit above the core: their series reach /metrics through
 * the metrics source they register (they were rendered nowhere before). */
static void test_webhook_series_in_metrics(void **st)
{
    (void)st;
    char conf[512];
    snprintf(conf, sizeof(conf),
             "http_listen = 127.0.0.1:0\nhttp_port_file = /tmp/omtp-tp-http-%d\n"
             "push_webhook_url = http://127.0.0.1:9/push\n",
             (int)getpid());
    h_server *s = h_server_start(conf, NULL);
    char pf[64];
    snprintf(pf, sizeof(pf), "/tmp/omtp-tp-http-%d", (int)getpid());
    int hport = h_http_port(pf);
    assert_true(h_metric(hport, "omtp_webhook_push_events_total{result=\"queued\"}") == 0);
    /* the HTTP API's own series, also a metrics source */
    assert_true(h_metric(hport, "omtp_http_responses_total{class=\"2xx\"}") >= 1);
    h_server_stop_free(s);
    unlink(pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tcp_and_tls_counted_apart, h_teardown),
        cmocka_unit_test_teardown(test_webhook_series_in_metrics, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
