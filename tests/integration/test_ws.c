/*
 * test_ws.c - omtpd's WebSocket listener (ws_listen; docs/websocket.md)
 * over real sockets: chat between a WebSocket and a TCP client both ways,
 * a fragmented message, the close code of each bad input (text 1003,
 * unmasked 1002, oversize 1009 decided on the frame head, bad control frame
 * 1002, a message that is not one OMTP frame 1002), the HTTP refusals (400,
 * 426, 403) and the Origin rules, a stalled handshake closed at the
 * pre-login timeout, kickout across transports, the rate limit and the
 * output cap per WebSocket connection, wss, and /metrics by transport.
 */
#include "h_http.h"
#include "h_tls.h"
#include "h_ws.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/omtp_packet.h"

static omtp_sync *ws_login(int port, const char *user, const char *pw, int device)
{
    omtp_sync *c;
    char why[256];
    int rc = omtp_sync_connect_ws(&c, "127.0.0.1", port, "/ws", 5000, why, sizeof(why));
    if (rc)
        fail_msg("WebSocket connect: %s", why);
    int code = -1;
    assert_int_equal(omtp_sync_login(c, user, pw, device, NULL, &code), 0);
    assert_int_equal(code, 0);
    return c;
}

/* The next chat push on c: its content must be `want`. */
static void expect_chat(omtp_sync *c, const char *from, const char *want)
{
    omtp_packet p;
    for (;;) {
        assert_int_equal(omtp_sync_next_push(c, 10000, &p), 0);
        if (p.header.type == PT_MSG_SINGLE_CHAT)
            break;
        omtp_packet_free(&p);
    }
    omtp_MsgReq *m = p.body;
    assert_string_equal(m->from.data, from);
    assert_string_equal(m->content.data, want);
    omtp_packet_free(&p);
}

static void test_chat_ws_and_tcp_both_ways(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start("max_content = 100000\n", &wsp);
    h_user_add(s, "alice", "pw-alice");
    h_user_add(s, "bob", "pw-bob");
    omtp_sync *a = ws_login(wsp, "alice", "pw-alice", DEVICE_IOS);
    omtp_sync *b = h_login(s, "bob", "pw-bob", DEVICE_IOS);
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(a, "bob", "from the browser side", &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    expect_chat(b, "alice", "from the browser side");
    assert_int_equal(omtp_sync_chat(b, "alice", "from the terminal side", &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    expect_chat(a, "bob", "from the terminal side");
    /* a large message (several WebSocket frame-length forms) survives */
    char big[70000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(omtp_sync_chat(a, "bob", big, &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    expect_chat(b, "alice", big);
    omtp_sync_close(a);
    omtp_sync_close(b);
    h_server_stop_free(s);
}

static void test_fragmented_message(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start(NULL, &wsp);
    h_user_add(s, "alice", "pw-alice");
    int fd = h_ws_open(wsp);
    omtp_LoginReq q;
    omtp_msg_init(&omtp_LoginReq_desc, &q);
    tars_str_set(&q.clientId, "alice");
    tars_str_set(&q.userName, "alice");
    tars_str_set(&q.password, "pw-alice");
    q.deviceType = DEVICE_IOS;
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(
        omtp_packet_encode(&b, PT_LOGIN, 0, "frag-login", &omtp_LoginReq_desc, &q, NULL, 0), 0);
    omtp_msg_free(&omtp_LoginReq_desc, &q);
    /* three fragments, a ping between them (control frames may interleave) */
    size_t third = b.len / 3;
    h_ws_frame(fd, false, 2, true, b.data, third);
    h_ws_frame(fd, true, 9, true, "hi", 2);
    h_ws_frame(fd, false, 0, true, b.data + third, third);
    usleep(50 * 1000); /* the rest in a later read */
    h_ws_frame(fd, true, 0, true, b.data + 2 * third, b.len - 2 * third);
    tars_buf_free(&b);
    uint8_t buf[4096];
    size_t n;
    assert_int_equal(h_ws_read_frame(fd, buf, sizeof(buf), &n, 5000), 10); /* pong */
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "hi", 2);
    omtp_packet p;
    assert_int_equal(h_ws_read_packet(fd, &p, 10000), 0);
    assert_int_equal(p.header.type, PT_LOGIN);
    assert_int_equal(((omtp_LoginResp *)p.body)->code, 0);
    omtp_packet_free(&p);
    close(fd);
    h_server_stop_free(s);
}

static void test_bad_input_close_codes(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start(NULL, &wsp);
    h_user_add(s, "alice", "pw-alice");

    int fd = h_ws_open(wsp); /* text: OMTP is binary */
    h_ws_frame(fd, true, 1, true, "hello", 5);
    assert_int_equal(h_ws_read_close(fd, 5000), 1003);
    assert_true(h_ws_closed_within(fd, 5000));
    close(fd);

    fd = h_ws_open(wsp); /* a client frame must be masked */
    h_ws_frame(fd, true, 2, false, "\0\0\0\x05x", 5);
    assert_int_equal(h_ws_read_close(fd, 5000), 1002);
    close(fd);

    /* too big before login: refused on the head, when the first bytes of
     * its payload come (max_prelogin_frame 16 KiB by default; 1 MiB
     * announced, 100 bytes sent) */
    fd = h_ws_open(wsp);
    static uint8_t chunk[12000];
    h_ws_frame_head(fd, true, 2, 1 << 20);
    h_ws_send_all(fd, chunk, 100);
    assert_int_equal(h_ws_read_close(fd, 5000), 1009);
    close(fd);

    /* the same over fragments: the sum counts */
    fd = h_ws_open(wsp);
    h_ws_frame(fd, false, 2, true, chunk, sizeof(chunk));
    h_ws_frame_head(fd, true, 0, sizeof(chunk));
    h_ws_send_all(fd, chunk, 100);
    assert_int_equal(h_ws_read_close(fd, 5000), 1009);
    close(fd);

    fd = h_ws_open(wsp); /* a fragmented control frame */
    h_ws_frame(fd, false, 9, true, "x", 1);
    assert_int_equal(h_ws_read_close(fd, 5000), 1002);
    close(fd);

    fd = h_ws_open(wsp); /* a control frame longer than 125 bytes */
    h_ws_frame(fd, true, 9, true, chunk, 126);
    assert_int_equal(h_ws_read_close(fd, 5000), 1002);
    close(fd);

    fd = h_ws_open(wsp); /* a reserved opcode */
    h_ws_frame(fd, true, 3, true, "x", 1);
    assert_int_equal(h_ws_read_close(fd, 5000), 1002);
    close(fd);

    fd = h_ws_open(wsp); /* a message holding two OMTP frames is not one frame */
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode(&b, PT_PING, 0, "p1", NULL, NULL, NULL, 0), 0);
    assert_int_equal(omtp_packet_encode(&b, PT_PING, 0, "p2", NULL, NULL, NULL, 0), 0);
    h_ws_frame(fd, true, 2, true, b.data, b.len);
    tars_buf_free(&b);
    assert_int_equal(h_ws_read_close(fd, 5000), 1002);
    close(fd);

    /* the server is unharmed: a good client still logs in */
    fd = h_ws_open(wsp);
    assert_int_equal(h_ws_login(fd, "alice", "pw-alice", DEVICE_IOS), 0);
    h_ws_frame(fd, true, 8, true, "\x03\xe8", 2); /* close 1000: echoed */
    assert_int_equal(h_ws_read_close(fd, 5000), 1000);
    close(fd);
    h_server_stop_free(s);
}

static void test_http_refusals_and_origins(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start(NULL, &wsp);
    char out[8192], req[1024];

    snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", wsp);
    assert_int_equal(h_ws_http(wsp, req, out, sizeof(out)), 400);
    assert_non_null(strstr(out, "WebSocket"));

    int fd = h_ws_raw(wsp);
    char head[2048];
    assert_int_equal(h_ws_upgrade(fd, wsp, "Sec-WebSocket-Version: 8\r\n", head, sizeof(head)),
                     426);
    assert_non_null(strstr(head, "Sec-WebSocket-Version: 13\r\n"));
    close(fd);

    fd = h_ws_raw(wsp); /* a page of another site */
    assert_int_equal(h_ws_upgrade(fd, wsp, "Origin: http://evil.example\r\n", head, sizeof(head)),
                     403);
    close(fd);

    fd = h_ws_raw(wsp); /* the listener's own origin */
    char own[128];
    snprintf(own, sizeof(own), "Origin: http://127.0.0.1:%d\r\n", wsp);
    assert_int_equal(h_ws_upgrade(fd, wsp, own, head, sizeof(head)), 101);
    close(fd);

    fd = h_ws_raw(wsp); /* the same host on another port is another origin */
    assert_int_equal(h_ws_upgrade(fd, wsp, "Origin: http://127.0.0.1:1\r\n", head, sizeof(head)),
                     403);
    close(fd);

    fd = h_ws_raw(wsp); /* no Origin: not a browser, allowed */
    assert_int_equal(h_ws_upgrade(fd, wsp, NULL, head, sizeof(head)), 101);
    close(fd);

    fd = h_ws_raw(wsp); /* another subprotocol only */
    snprintf(req, sizeof(req),
             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: "
             "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
             "13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
             wsp);
    assert_int_equal(h_ws_http(wsp, req, out, sizeof(out)), 400);
    close(fd);

    assert_int_equal(
        h_ws_http(wsp, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", out, sizeof(out)),
        405);
    assert_int_equal(h_ws_http(wsp, "this is not http\r\n\r\n", out, sizeof(out)), 400);
    h_server_stop_free(s);

    /* ws_allowed_origins lists the app's origins */
    s = h_ws_server_start("ws_allowed_origins = https://chat.example.com, http://localhost:5173\n",
                          &wsp);
    fd = h_ws_raw(wsp);
    assert_int_equal(h_ws_upgrade(fd, wsp, "Origin: http://localhost:5173\r\n", head, sizeof(head)),
                     101);
    close(fd);
    fd = h_ws_raw(wsp);
    snprintf(own, sizeof(own), "Origin: http://127.0.0.1:%d\r\n", wsp);
    assert_int_equal(h_ws_upgrade(fd, wsp, own, head, sizeof(head)), 403);
    close(fd);
    h_server_stop_free(s);
}

static void test_stalled_handshake_closed_at_prelogin_timeout(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start("prelogin_timeout_s = 1\n", &wsp);
    int fd = h_ws_raw(wsp);
    const char *part = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs";
    h_ws_send_all(fd, part, strlen(part));
    int64_t t0 = h_now_ms();
    assert_true(h_ws_closed_within(fd, 10000));
    assert_true(h_now_ms() - t0 >= 500);
    close(fd);
    /* an open WebSocket that never logs in goes the same way */
    fd = h_ws_open(wsp);
    assert_true(h_ws_closed_within(fd, 10000));
    close(fd);
    h_server_stop_free(s);
}

static void test_kickout_across_transports(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start(NULL, &wsp);
    h_user_add(s, "alice", "pw-alice");
    /* TCP first, then the same device type over WebSocket: TCP is kicked */
    omtp_sync *t = h_login(s, "alice", "pw-alice", DEVICE_ANDROID);
    int fd = h_ws_open(wsp);
    assert_int_equal(h_ws_login(fd, "alice", "pw-alice", DEVICE_ANDROID), 0);
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(t, 10000, &p), 0);
    assert_int_equal(p.header.type, PT_KICKOUT);
    omtp_packet_free(&p);
    assert_int_equal(omtp_sync_wait_closed(t, 10000), 0);
    omtp_sync_close(t);
    /* and back: a TCP login kicks the WebSocket (KICKOUT, then close 1000) */
    t = h_login(s, "alice", "pw-alice", DEVICE_ANDROID);
    assert_int_equal(h_ws_read_packet(fd, &p, 10000), 0);
    assert_int_equal(p.header.type, PT_KICKOUT);
    omtp_packet_free(&p);
    assert_int_equal(h_ws_read_close(fd, 10000), 1000);
    close(fd);
    /* a different device type over WebSocket is not kicked */
    omtp_sync *w = ws_login(wsp, "alice", "pw-alice", DEVICE_MACOS);
    assert_int_equal(omtp_sync_ping(w), 0);
    assert_int_equal(omtp_sync_ping(t), 0);
    omtp_sync_close(w);
    omtp_sync_close(t);
    h_server_stop_free(s);
}

static void test_metrics_by_transport(void **st)
{
    (void)st;
    char pf[] = "/tmp/omtp-wshttp-XXXXXX";
    int tfd = mkstemp(pf);
    close(tfd);
    unlink(pf);
    char conf[512];
    snprintf(conf, sizeof(conf), "http_listen = 127.0.0.1:0\nhttp_port_file = %s\n", pf);
    int wsp;
    h_server *s = h_ws_server_start(conf, &wsp);
    int hp = h_http_port(pf);
    unlink(pf);
    h_user_add(s, "alice", "pw-alice");
    assert_true(h_metric(hp, "omtp_conns{transport=\"ws\"}") == 0);
    assert_true(h_metric(hp, "omtp_conns{transport=\"wss\"}") == 0);
    omtp_sync *a = ws_login(wsp, "alice", "pw-alice", DEVICE_IOS);
    assert_true(h_metric(hp, "omtp_conns{transport=\"ws\"}") == 1);
    assert_true(h_metric(hp, "omtp_conns{transport=\"tcp\"}") == 0);
    assert_true(h_metric(hp, "omtp_bytes_in_total{transport=\"ws\"}") > 100);
    assert_true(h_metric(hp, "omtp_bytes_out_total{transport=\"ws\"}") > 100);
    omtp_sync_close(a);
    double v = -1;
    for (int i = 0; i < 100 && v != 0; i++, usleep(100 * 1000))
        v = h_metric(hp, "omtp_conns{transport=\"ws\"}");
    assert_true(v == 0);
    h_server_stop_free(s);
}

/* The request rate limit holds per WebSocket connection as on TCP:
 * req_rate 2, req_burst 6, ten sends in one write -> six acked, four
 * refused SERVER_REFUSED. */
static void test_rate_limit(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start("req_rate = 2\nreq_burst = 6\n", &wsp);
    h_user_add(s, "alice", "pw-alice");
    h_user_add(s, "bob", "pw-bob");
    int fd = h_ws_open(wsp);
    assert_int_equal(h_ws_login(fd, "alice", "pw-alice", DEVICE_IOS), 0);
    /* ten masked binary messages, one MsgReq each, in ONE write */
    tars_buf all;
    tars_buf_init(&all);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "rl%d", i);
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.from, "alice");
        tars_str_set(&m.to, "bob");
        tars_str_set(&m.content, id);
        tars_buf b;
        tars_buf_init(&b);
        assert_int_equal(
            omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, id, &omtp_MsgReq_desc, &m, NULL, 0), 0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        assert_true(b.len < 126);
        uint8_t h[6] = {0x82, (uint8_t)(0x80 | b.len), 9, 8, 7, 6};
        tars_buf_put(&all, h, 6);
        for (size_t k = 0; k < b.len; k++) {
            uint8_t x = b.data[k] ^ h[2 + k % 4];
            tars_buf_put(&all, &x, 1);
        }
        tars_buf_free(&b);
    }
    h_ws_send_all(fd, all.data, all.len);
    tars_buf_free(&all);
    int ok = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        omtp_packet p;
        assert_int_equal(h_ws_read_packet(fd, &p, 10000), 0);
        assert_int_equal(p.header.type, PT_MSG_SINGLE_CHAT);
        int code = ((omtp_MsgAck *)p.body)->code;
        if (code == 0)
            ok++;
        else if (code == OMTP_EC_SERVER_REFUSED)
            refused++;
        omtp_packet_free(&p);
    }
    assert_int_equal(ok, 6);
    assert_int_equal(refused, 4);
    close(fd);
    h_server_stop_free(s);
}

/* out_buf_cap holds per WebSocket connection: a logged-in WebSocket that
 * does not read while messages keep coming is closed ("slow reader"), the
 * sender is not disturbed. */
static void test_slow_reader(void **st)
{
    (void)st;
    int wsp;
    h_server *s = h_ws_server_start("out_buf_cap = 262144\nreq_rate = 0\n", &wsp);
    h_user_add(s, "alice", "pw-alice");
    h_user_add(s, "bob", "pw-bob");
    int fd = h_ws_open(wsp);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(h_ws_login(fd, "bob", "pw-bob", DEVICE_IOS), 0);
    omtp_sync *a = h_login(s, "alice", "pw-alice", DEVICE_IOS);
    static char big[60001];
    memset(big, 'y', sizeof(big) - 1);
    bool closed = false;
    for (int i = 0; i < 400 && !closed; i++) {
        omtp_MsgAck ack;
        assert_int_equal(omtp_sync_chat(a, "bob", big, &ack), 0);
        assert_int_equal(ack.code, 0);
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
        if (i % 20 == 19) {
            char *log = h_server_log(s);
            closed = strstr(log, "slow reader") != NULL;
            free(log);
        }
    }
    assert_true(closed);
    assert_int_equal(omtp_sync_ping(a), 0);
    omtp_sync_close(a);
    close(fd);
    h_server_stop_free(s);
}

/* Reads exactly n bytes from ssl. */
static void ssl_read_n(SSL *ssl, uint8_t *p, size_t n)
{
    while (n) {
        int r = SSL_read(ssl, p, (int)n);
        assert_true(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* wss: the same listener rules over the TLS settings; a login and a
 * static file over TLS. */
static void test_wss(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-wss-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost 2>/dev/null",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "wss_listen = 127.0.0.1:0\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\n"
             "wss_port_file = %s/wss-port\n",
             dir, dir, dir);
    int wsp;
    h_server *s = h_ws_server_start(conf, &wsp);
    h_user_add(s, "alice", "pw-alice");
    char pf[300];
    snprintf(pf, sizeof(pf), "%s/wss-port", dir);
    int port = h_http_port(pf);
    SSL_CTX *ctx;
    int fd;
    SSL *ssl = h_tls_connect(port, &ctx, &fd);
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: omtp\r\n"
                     "Origin: https://127.0.0.1:%d\r\n\r\n",
                     port, port);
    assert_int_equal(SSL_write(ssl, req, n), n);
    char head[1024];
    size_t hl = 0;
    while (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4)) {
        assert_true(hl + 1 < sizeof(head));
        ssl_read_n(ssl, (uint8_t *)head + hl, 1);
        hl++;
    }
    head[hl] = 0;
    assert_non_null(strstr(head, "HTTP/1.1 101 "));
    /* LOGIN as one masked binary message */
    omtp_LoginReq q;
    omtp_msg_init(&omtp_LoginReq_desc, &q);
    tars_str_set(&q.clientId, "alice");
    tars_str_set(&q.userName, "alice");
    tars_str_set(&q.password, "pw-alice");
    q.deviceType = DEVICE_IOS;
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(
        omtp_packet_encode(&b, PT_LOGIN, 0, "wss-login", &omtp_LoginReq_desc, &q, NULL, 0), 0);
    omtp_msg_free(&omtp_LoginReq_desc, &q);
    assert_true(b.len < 126);
    uint8_t fr[200] = {0x82, (uint8_t)(0x80 | b.len), 1, 2, 3, 4};
    for (size_t k = 0; k < b.len; k++)
        fr[6 + k] = b.data[k] ^ fr[2 + k % 4];
    assert_int_equal(SSL_write(ssl, fr, (int)(6 + b.len)), (int)(6 + b.len));
    tars_buf_free(&b);
    uint8_t h2[4];
    ssl_read_n(ssl, h2, 2);
    assert_int_equal(h2[0], 0x82);
    size_t len = h2[1];
    if (len == 126) {
        ssl_read_n(ssl, h2 + 2, 2);
        len = (size_t)h2[2] << 8 | h2[3];
    }
    uint8_t *body = malloc(len);
    ssl_read_n(ssl, body, len);
    omtp_packet p;
    omtp_decode_opts o = {0};
    int stage;
    char why[200];
    assert_int_equal(omtp_packet_decode(body + 4, len - 4, &o, &p, &stage, why, sizeof(why)), 0);
    assert_int_equal(p.header.type, PT_LOGIN);
    assert_int_equal(((omtp_LoginResp *)p.body)->code, 0);
    omtp_packet_free(&p);
    free(body);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    h_server_stop_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_chat_ws_and_tcp_both_ways, h_teardown),
        cmocka_unit_test_teardown(test_fragmented_message, h_teardown),
        cmocka_unit_test_teardown(test_bad_input_close_codes, h_teardown),
        cmocka_unit_test_teardown(test_http_refusals_and_origins, h_teardown),
        cmocka_unit_test_teardown(test_stalled_handshake_closed_at_prelogin_timeout, h_teardown),
        cmocka_unit_test_teardown(test_kickout_across_transports, h_teardown),
        cmocka_unit_test_teardown(test_metrics_by_transport, h_teardown),
        cmocka_unit_test_teardown(test_wss, h_teardown),
        cmocka_unit_test_teardown(test_rate_limit, h_teardown),
        cmocka_unit_test_teardown(test_slow_reader, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
