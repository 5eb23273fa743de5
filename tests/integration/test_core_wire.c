/*
 * test_core_wire.c - framing and hostile input against a real omtpd: split
 * frames, batched frames, oversized frames, garbage, undecodable payloads,
 * unknown types, transforms (zlib, AES), a reader that never reads.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define AES_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static h_server *srv;

static int setup(void **st)
{
    (void)st;
    srv = h_server_start("aes_key_hex = " AES_HEX "\n"
                         "max_frame = 65536\n"
                         "out_buf_cap = 262144\n"
                         "login_fail_delay_ms = 0\n",
                         NULL);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    return 0;
}

static int teardown(void **st)
{
    if (srv) {
        assert_true(h_server_alive(srv));
        assert_int_equal(h_server_stop(srv), 0);
        h_server_free(srv);
    }
    srv = NULL;
    return h_teardown(st);
}

static void encode(tars_buf *b, int type, int64_t flags, const char *packId,
                   const tars_struct_desc *d, const void *body)
{
    omtp_crypto_key k;
    omtp_crypto_key_from_hex(&k, AES_HEX);
    assert_int_equal(omtp_packet_encode(b, type, flags, packId, d, body, &k, 0), 0);
}

static void encode_login(tars_buf *b, const char *user, const char *pw, const char *packId,
                         int64_t flags)
{
    omtp_LoginReq r;
    omtp_msg_init(&omtp_LoginReq_desc, &r);
    tars_str_set(&r.clientId, user);
    tars_str_set(&r.userName, user);
    tars_str_set(&r.password, pw);
    tars_str_set(&r.deviceId, packId);
    r.deviceType = DEVICE_LINUX;
    encode(b, PT_LOGIN, flags, packId, &omtp_LoginReq_desc, &r);
    omtp_msg_free(&omtp_LoginReq_desc, &r);
}

static void test_split_byte_by_byte(void **st)
{
    (void)st;
    omtp_sync *c = h_connect(srv);
    tars_buf b;
    tars_buf_init(&b);
    encode_login(&b, "alice", "pw-alice", "login-1", 0);
    encode(&b, PT_PING, 0, "ping-1", NULL, NULL);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(omtp_sync_send_raw(c, b.data + i, 1), 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(c, "login-1", 5000, &r), 0);
    assert_int_equal(((omtp_LoginResp *)r.body)->code, 0);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_wait_reply(c, "ping-1", 5000, &r), 0);
    assert_int_equal(r.header.type, PT_PING);
    omtp_packet_free(&r);
    tars_buf_free(&b);
    omtp_sync_close(c);
}

static void test_many_frames_one_write(void **st)
{
    (void)st;
    omtp_sync *c = h_login(srv, "bob", "pw-bob", DEVICE_LINUX);
    tars_buf b;
    tars_buf_init(&b);
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        encode(&b, PT_PING, 0, id, NULL, NULL);
    }
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        omtp_packet r;
        assert_int_equal(omtp_sync_wait_reply(c, id, 5000, &r), 0);
        assert_int_equal(r.header.type, PT_PING);
        omtp_packet_free(&r);
    }
    tars_buf_free(&b);
    omtp_sync_close(c);
}

static void test_oversized_frame(void **st)
{
    (void)st;
    omtp_sync *c = h_connect(srv);
    uint8_t hdr[4] = {0x00, 0x10, 0x00, 0x00}; /* 1 MiB > max_frame 64 KiB */
    assert_int_equal(omtp_sync_send_raw(c, hdr, 4), 0);
    /* an error frame (type 0, ACK, CommonErrorCode PROTOCOL), then close */
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(c, "", 100, &r), 0);
    assert_int_equal(r.header.type, 0);
    omtp_packet_free(&r);
    omtp_sync_close(c);
    /* a length below 4 */
    int fd = h_raw_connect(srv);
    uint8_t tiny[4] = {0, 0, 0, 2};
    assert_int_equal(write(fd, tiny, 4), 4);
    char buf[512];
    assert_true(h_raw_read_until_close(fd, buf, sizeof(buf), 3000) >= 0);
    close(fd);
}

static void test_garbage(void **st)
{
    (void)st;
    /* a plausible length followed by bytes that are no OTIMPack */
    int fd = h_raw_connect(srv);
    uint8_t g[64];
    g[0] = 0;
    g[1] = 0;
    g[2] = 0;
    g[3] = sizeof(g);
    for (size_t i = 4; i < sizeof(g); i++)
        g[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(write(fd, g, sizeof(g)), (ssize_t)sizeof(g));
    char buf[512];
    assert_true(h_raw_read_until_close(fd, buf, sizeof(buf), 3000) >= 0);
    close(fd);
    /* HTTP at the OMTP port */
    fd = h_raw_connect(srv);
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, http, strlen(http)), (ssize_t)strlen(http));
    assert_true(h_raw_read_until_close(fd, buf, sizeof(buf), 3000) >= 0);
    close(fd);
    /* the server is fine */
    omtp_sync *c = h_login(srv, "alice", "pw-alice", DEVICE_IOS);
    assert_int_equal(omtp_sync_ping(c), 0);
    omtp_sync_close(c);
}

static void test_bad_payload_and_unknown_type(void **st)
{
    (void)st;
    omtp_sync *c = h_login(srv, "alice", "pw-alice", DEVICE_ANDROID);
    /* a KickOutReq payload that is not Tars: reply with PROTOCOL, stays open */
    const uint8_t junk[] = {0xff, 0xfe, 0x01};
    tars_buf b;
    tars_buf_init(&b);
    omtp_packet_encode_raw(&b, PT_FRIEND_SYNC, 0, "bad-1", junk, sizeof(junk), NULL, 0);
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(c, "bad-1", 3000, &r), 0);
    assert_int_equal(r.header.type, PT_FRIEND_SYNC);
    omtp_FriendSyncResp *fr = r.body;
    assert_non_null(fr);
    assert_int_equal(fr->errorCode.code, OMTP_EC_PROTOCOL);
    assert_true(fr->errorCode.desc.len > 0);
    omtp_packet_free(&r);
    /* unknown type 99 */
    tars_buf_reset(&b);
    omtp_packet_encode_raw(&b, 99, 0, "unk-1", NULL, 0, NULL, 0);
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    assert_int_equal(omtp_sync_wait_reply(c, "unk-1", 3000, &r), 0);
    assert_int_equal(r.header.type, 99);
    assert_true(r.header.flags & OMTP_F_ACK);
    assert_true(r.payload_len > 0); /* a CommonErrorCode the table cannot name */
    omtp_packet_free(&r);
    /* a bad compression value (3) */
    tars_buf_reset(&b);
    h_raw_frame(&b, PT_PING, omtp_flags_with(0, 3, 0), "cmp-1", (const uint8_t *)"", 0);
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    assert_int_equal(omtp_sync_wait_reply(c, "cmp-1", 3000, &r), 0);
    assert_null(r.body);            /* PING has no reply struct */
    assert_true(r.payload_len > 0); /* ... but carries the error */
    omtp_packet_free(&r);
    /* CRYPTO=1 with a wrong tag, on a request that has a reply struct */
    tars_buf_reset(&b);
    uint8_t fake[40] = {0};
    h_raw_frame(&b, PT_FRIEND_SYNC, omtp_flags_with(0, 0, 1), "aes-1", fake, sizeof(fake));
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    assert_int_equal(omtp_sync_wait_reply(c, "aes-1", 3000, &r), 0);
    assert_int_equal(omtp_flags_crypto(r.header.flags), 0); /* answered in the clear */
    assert_non_null(r.body);
    assert_int_equal(((omtp_FriendSyncResp *)r.body)->errorCode.code, OMTP_EC_PROTOCOL);
    omtp_packet_free(&r);
    tars_buf_free(&b);
    /* still open and working */
    assert_int_equal(omtp_sync_ping(c), 0);
    omtp_sync_close(c);
}

static void transform_round_trip(int compress, int crypto)
{
    omtp_crypto_key k;
    omtp_crypto_key_from_hex(&k, AES_HEX);
    omtp_sync *c = h_connect(srv);
    omtp_sync_set_transform(c, compress, crypto, &k);
    int code = -1;
    assert_int_equal(omtp_sync_login(c, "bob", "pw-bob", DEVICE_MACOS, NULL, &code), 0);
    assert_int_equal(code, 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_request(c, PT_PING, 0, NULL, NULL, 0, &r), 0);
    assert_int_equal(omtp_flags_compress(r.header.flags), compress);
    assert_int_equal(omtp_flags_crypto(r.header.flags), crypto);
    omtp_packet_free(&r);
    /* the login reply mirrored the transform too */
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, "bob");
    tars_str_set(&lr.password, "pw-bob");
    lr.deviceType = DEVICE_MACOS;
    assert_int_equal(omtp_sync_request(c, PT_LOGIN, 0, &omtp_LoginReq_desc, &lr, 0, &r), 0);
    assert_int_equal(omtp_flags_compress(r.header.flags), compress);
    assert_int_equal(omtp_flags_crypto(r.header.flags), crypto);
    assert_non_null(r.body); /* decoded after unwrap: "already logged in" */
    assert_int_equal(((omtp_LoginResp *)r.body)->code, OMTP_EC_CONN_ACCESS_DENIED);
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    omtp_sync_close(c);
}

static void test_compressed(void **st)
{
    (void)st;
    transform_round_trip(1, 0);
}

static void test_encrypted(void **st)
{
    (void)st;
    transform_round_trip(0, 1);
}

static void test_compressed_encrypted(void **st)
{
    (void)st;
    transform_round_trip(1, 1);
}

static void test_slow_reader(void **st)
{
    (void)st;
    /* a client that sends a flood of PINGs and never reads: its replies pile
     * up beyond out_buf_cap (256 KiB) and the server closes it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)); /* before connect */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    tars_buf b;
    tars_buf_init(&b);
    encode_login(&b, "alice", "pw-alice", "slow-login", 0);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    tars_buf_reset(&b);
    char id[100];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = 0;
    for (int i = 0; i < 200; i++)
        encode(&b, PT_PING, 0, id, NULL, NULL);
    /* the connection may be reset under us: that is the expected outcome */
    bool closed = false;
    int64_t deadline = h_now_ms() + 20000;
    while (!closed && h_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 200) > 0) {
            if (p.revents & (POLLERR | POLLHUP)) {
                closed = true;
                break;
            }
            if (send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
                closed = true;
        }
        char *log = h_server_log(srv);
        if (strstr(log, "slow reader"))
            closed = true;
        free(log);
    }
    tars_buf_free(&b);
    close(fd);
    assert_true(closed);
    char *log = h_server_log(srv);
    assert_non_null(strstr(log, "slow reader"));
    free(log);
    /* others are served */
    omtp_sync *c = h_login(srv, "bob", "pw-bob", DEVICE_IOS);
    assert_int_equal(omtp_sync_ping(c), 0);
    omtp_sync_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_byte_by_byte),
        cmocka_unit_test(test_many_frames_one_write),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_bad_payload_and_unknown_type),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_compressed_encrypted),
        cmocka_unit_test(test_slow_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
