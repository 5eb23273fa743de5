/*
 * h_ws.c - raw WebSocket and HTTP helpers for the tests of omtpd's
 * ws_listen (h_ws.h).
 */
#include "h_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "h_http.h"
#include "proto/omtp_frame.h"
#include "proto/omtp_packet.h"

h_server *h_ws_server_start(const char *conf, int *ws_port)
{
    char pf[] = "/tmp/omtp-wsport-XXXXXX";
    int tfd = mkstemp(pf);
    assert_true(tfd >= 0);
    close(tfd);
    unlink(pf);
    size_t cl = (conf ? strlen(conf) : 0) + 1024;
    char *c = malloc(cl);
    snprintf(c, cl, "ws_listen = 127.0.0.1:0\nws_port_file = %s\n%s", pf, conf ? conf : "");
    h_server *s = h_server_start(c, NULL);
    free(c);
    *ws_port = h_http_port(pf);
    unlink(pf);
    return s;
}

int h_ws_raw(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

void h_ws_send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

/* Reads byte by byte until the blank line ending a head. */
static int read_head(int fd, char *head, size_t headlen)
{
    size_t n = 0;
    while (n + 1 < headlen) {
        char ch;
        ssize_t r = recv(fd, &ch, 1, 0);
        if (r <= 0)
            break;
        head[n++] = ch;
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
            break;
    }
    head[n] = 0;
    int status = 0;
    if (sscanf(head, "HTTP/1.1 %d", &status) != 1)
        return -1;
    return status;
}

int h_ws_upgrade(int fd, int port, const char *extra, char *head, size_t headlen)
{
    char req[2048];
    int n = snprintf(
        req, sizeof(req),
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: omtp\r\n%s%s\r\n",
        port,
        extra && strstr(extra, "Sec-WebSocket-Version") ? "" : "Sec-WebSocket-Version: 13\r\n",
        extra ? extra : "");
    h_ws_send_all(fd, req, (size_t)n);
    return read_head(fd, head, headlen);
}

int h_ws_open(int port)
{
    int fd = h_ws_raw(port);
    char head[2048];
    assert_int_equal(h_ws_upgrade(fd, port, NULL, head, sizeof(head)), 101);
    /* RFC 6455's own example key and answer */
    assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(head, "Sec-WebSocket-Protocol: omtp\r\n"));
    return fd;
}

int h_ws_http(int port, const char *req, char *out, size_t outlen)
{
    int fd = h_ws_raw(port);
    h_ws_send_all(fd, req, strlen(req));
    ssize_t n = h_raw_read_until_close(fd, out, outlen - 1, 5000);
    close(fd);
    assert_true(n >= 0);
    out[n] = 0;
    int status = 0;
    if (sscanf(out, "HTTP/1.1 %d", &status) != 1)
        return -1;
    return status;
}

static void put_head(uint8_t *h, size_t *hl, bool fin, int opcode, bool mask, uint64_t n)
{
    h[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        h[1] = (uint8_t)(m | n);
        *hl = 2;
    } else if (n < 65536) {
        h[1] = m | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        *hl = 4;
    } else {
        h[1] = m | 127;
        for (int k = 0; k < 8; k++)
            h[2 + k] = (uint8_t)(n >> (56 - 8 * k));
        *hl = 10;
    }
    if (mask) {
        static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
        memcpy(h + *hl, key, 4);
        *hl += 4;
    }
}

void h_ws_frame(int fd, bool fin, int opcode, bool mask, const void *p, size_t n)
{
    uint8_t *b = malloc(14 + n);
    size_t hl;
    put_head(b, &hl, fin, opcode, mask, n);
    const uint8_t *src = p;
    for (size_t k = 0; k < n; k++)
        b[hl + k] = mask ? (uint8_t)(src[k] ^ b[hl - 4 + (k % 4)]) : src[k];
    h_ws_send_all(fd, b, hl + n);
    free(b);
}

void h_ws_frame_head(int fd, bool fin, int opcode, uint64_t n)
{
    uint8_t h[14];
    size_t hl;
    put_head(h, &hl, fin, opcode, true, n);
    h_ws_send_all(fd, h, hl);
}

static bool read_exact(int fd, void *p, size_t n, int timeout_ms)
{
    uint8_t *b = p;
    int64_t end = h_now_ms() + timeout_ms;
    while (n) {
        int left = (int)(end - h_now_ms());
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, left) <= 0)
            return false;
        ssize_t r = recv(fd, b, n, 0);
        if (r <= 0)
            return false;
        b += r;
        n -= (size_t)r;
    }
    return true;
}

int h_ws_read_frame(int fd, uint8_t *buf, size_t cap, size_t *len, int timeout_ms)
{
    uint8_t h[10];
    if (!read_exact(fd, h, 2, timeout_ms))
        return -1;
    assert_int_equal(h[1] & 0x80, 0); /* the server never masks */
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        if (!read_exact(fd, h + 2, 2, timeout_ms))
            return -1;
        n = (uint64_t)h[2] << 8 | h[3];
    } else if (n == 127) {
        if (!read_exact(fd, h + 2, 8, timeout_ms))
            return -1;
        n = 0;
        for (int k = 0; k < 8; k++)
            n = n << 8 | h[2 + k];
    }
    assert_true(n <= cap);
    if (!read_exact(fd, buf, (size_t)n, timeout_ms))
        return -1;
    *len = (size_t)n;
    return h[0] & 0x0f;
}

int h_ws_read_close(int fd, int timeout_ms)
{
    static uint8_t buf[1 << 20];
    int64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        size_t n;
        int op = h_ws_read_frame(fd, buf, sizeof(buf), &n, (int)(end - h_now_ms()));
        if (op < 0)
            return -1;
        if (op == 8)
            return n >= 2 ? buf[0] << 8 | buf[1] : 1005;
    }
}

bool h_ws_closed_within(int fd, int timeout_ms)
{
    char buf[4096];
    int64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - h_now_ms());
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, left) <= 0)
            return false;
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            return true;
    }
}

void h_ws_send_packet(int fd, int type, const char *packId, const void *desc, const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode(&b, type, 0, packId, desc, body, NULL, 0), 0);
    h_ws_frame(fd, true, 2, true, b.data, b.len);
    tars_buf_free(&b);
}

int h_ws_read_packet(int fd, void *packet, int timeout_ms)
{
    static uint8_t buf[1 << 20];
    int64_t end = h_now_ms() + timeout_ms;
    for (;;) {
        size_t n;
        int op = h_ws_read_frame(fd, buf, sizeof(buf), &n, (int)(end - h_now_ms()));
        if (op < 0 || op == 8)
            return -1;
        if (op != 2)
            continue; /* pong */
        omtp_decode_opts o = {0};
        int stage;
        char why[200];
        /* one binary message = exactly one frame, length field included */
        assert_true(n >= 4);
        assert_int_equal((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | buf[2] << 8 | buf[3], n);
        assert_int_equal(omtp_packet_decode(buf + 4, n - 4, &o, packet, &stage, why, sizeof(why)),
                         0);
        return 0;
    }
}

int h_ws_login(int fd, const char *user, const char *password, int device)
{
    omtp_LoginReq q;
    omtp_msg_init(&omtp_LoginReq_desc, &q);
    tars_str_set(&q.clientId, user);
    tars_str_set(&q.userName, user);
    tars_str_set(&q.password, password);
    tars_str_set(&q.deviceId, "ws-test-device");
    q.deviceType = device;
    h_ws_send_packet(fd, PT_LOGIN, "ws-login", &omtp_LoginReq_desc, &q);
    omtp_msg_free(&omtp_LoginReq_desc, &q);
    omtp_packet p;
    assert_int_equal(h_ws_read_packet(fd, &p, 10000), 0);
    assert_int_equal(p.header.type, PT_LOGIN);
    int code = ((omtp_LoginResp *)p.body)->code;
    omtp_packet_free(&p);
    return code;
}
