/*
 * test_client_sync.c - the blocking client against a scripted fake peer.
 *
 * No omtpd here: the test listens on 127.0.0.1:0, lets the client connect,
 * accepts, and plays the server by hand on the accepted socket (reading the
 * client's frames, writing crafted replies and pushes). This checks reply
 * matching by packId, push queueing, timeouts, close detection, transforms
 * and the helpers' payloads without depending on server behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/omtp_session.h"
#include "client/omtp_sync.h"

typedef struct peer {
    int lfd, sfd;
    int port;
    omtp_sync *c;
    omtp_frame_reader rd;
} peer;

static int setup(void **state)
{
    peer *p = calloc(1, sizeof(*p));
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->lfd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(p->lfd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    assert_int_equal(omtp_sync_connect(&p->c, "127.0.0.1", p->port, 2000), 0);
    p->sfd = accept(p->lfd, NULL, NULL);
    assert_true(p->sfd >= 0);
    omtp_frame_reader_init(&p->rd, 0);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    peer *p = *state;
    omtp_sync_close(p->c);
    if (p->sfd >= 0)
        close(p->sfd);
    close(p->lfd);
    omtp_frame_reader_free(&p->rd);
    free(p);
    return 0;
}

/* The fake server reads one packet the client sent. */
static void peer_read(peer *p, const omtp_crypto_key *key, omtp_packet *out)
{
    for (;;) {
        const uint8_t *f;
        size_t fl;
        int r = omtp_frame_reader_next(&p->rd, &f, &fl);
        assert_true(r >= 0);
        if (r == 1) {
            omtp_decode_opts o = {.key = key};
            int stage;
            char why[200];
            assert_int_equal(omtp_packet_decode(f, fl, &o, out, &stage, why, sizeof(why)), 0);
            return;
        }
        uint8_t buf[4096];
        ssize_t n = read(p->sfd, buf, sizeof(buf));
        assert_true(n > 0);
        omtp_frame_reader_feed(&p->rd, buf, (size_t)n);
    }
}

static void peer_write(peer *p, int type, int64_t flags, const char *id, const tars_struct_desc *d,
                       const void *body)
{
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode(&b, type, flags, id, d, body, NULL, 0), 0);
    assert_int_equal(write(p->sfd, b.data, b.len), (ssize_t)b.len);
    tars_buf_free(&b);
}

static void peer_write_common(peer *p, int type, const char *id, int code, const char *desc)
{
    omtp_CommonErrorCode e;
    omtp_msg_init(&omtp_CommonErrorCode_desc, &e);
    e.code = code;
    tars_str_set(&e.desc, desc);
    peer_write(p, type, OMTP_F_ACK, id, &omtp_CommonErrorCode_desc, &e);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
}

static void peer_write_msg_push(peer *p, const char *content, int64_t seq)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.sessionId, "SC_a_b");
    tars_str_set(&m.from, "b");
    tars_str_set(&m.to, "a");
    tars_str_set(&m.content, content);
    m.seqId = seq;
    char id[37];
    omtp_uuid(id);
    peer_write(p, PT_MSG_SINGLE_CHAT, 0, id, &omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* bind a port, close it, connect: refused */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    omtp_sync *c = (omtp_sync *)1;
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", ntohs(a.sin_port), 1000), OMTP_EIO);
    assert_null(c);
    assert_int_equal(omtp_sync_connect(&c, "no-such-host.invalid", 1, 1000), OMTP_EINVAL);
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", 0, 1000), OMTP_EINVAL);
}

static void test_reply_matching_and_push_queue(void **state)
{
    peer *p = *state;
    char id[37];
    assert_int_equal(omtp_sync_send(p->c, PT_PING, 0, NULL, NULL, NULL, id), 0);
    omtp_packet got;
    peer_read(p, NULL, &got);
    assert_int_equal(got.header.type, PT_PING);
    assert_string_equal(got.header.packId.data, id);
    omtp_packet_free(&got);

    /* before the reply: two pushes and a reply to someone else */
    peer_write_msg_push(p, "first", 1);
    peer_write_common(p, PT_MSG_READ, "other-id", 0, "");
    peer_write_msg_push(p, "second", 2);
    peer_write(p, PT_PING, OMTP_F_ACK, id, NULL, NULL);

    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(p->c, id, 1000, &r), 0);
    assert_int_equal(r.header.type, PT_PING);
    assert_true(r.header.flags & OMTP_F_ACK);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_pending_pushes(p->c), 2);

    /* the other reply is still there */
    assert_int_equal(omtp_sync_wait_reply(p->c, "other-id", 100, &r), 0);
    assert_int_equal(r.header.type, PT_MSG_READ);
    assert_non_null(r.body);
    omtp_packet_free(&r);

    omtp_packet push;
    assert_int_equal(omtp_sync_next_push(p->c, 100, &push), 0);
    assert_int_equal(push.header.type, PT_MSG_SINGLE_CHAT);
    assert_string_equal(((omtp_MsgReq *)push.body)->content.data, "first");
    omtp_packet_free(&push);
    assert_int_equal(omtp_sync_next_push(p->c, 100, &push), 0);
    assert_string_equal(((omtp_MsgReq *)push.body)->content.data, "second");
    omtp_packet_free(&push);
    assert_int_equal(omtp_sync_next_push(p->c, 50, &push), OMTP_ETIMEDOUT);
}

static void test_timeout(void **state)
{
    peer *p = *state;
    int64_t t0 = now_ms();
    omtp_packet r;
    assert_int_equal(omtp_sync_request(p->c, PT_PING, 0, NULL, NULL, 150, &r), OMTP_ETIMEDOUT);
    int64_t el = now_ms() - t0;
    assert_true(el >= 140 && el < 1500);
    assert_false(omtp_sync_closed(p->c));
}

static void test_server_close(void **state)
{
    peer *p = *state;
    peer_write_msg_push(p, "bye", 9);
    close(p->sfd);
    p->sfd = -1;
    omtp_packet r;
    assert_int_equal(omtp_sync_request(p->c, PT_PING, 0, NULL, NULL, 1000, &r), OMTP_ECLOSED);
    assert_true(omtp_sync_closed(p->c));
    /* the push that came before the close is still readable */
    assert_int_equal(omtp_sync_next_push(p->c, 100, &r), 0);
    assert_string_equal(((omtp_MsgReq *)r.body)->content.data, "bye");
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_next_push(p->c, 100, &r), OMTP_ECLOSED);
}

static void test_login_helper(void **state)
{
    peer *p = *state;
    /* queue the reply in advance is impossible (packId unknown): answer
     * from a second step. Send first, read, reply, then wait. */
    omtp_LoginReq *lr;
    omtp_packet got;
    /* the helper blocks; run it after the fake server has answered by
     * splitting send and wait manually the same way it does */
    omtp_LoginReq req;
    omtp_msg_init(&omtp_LoginReq_desc, &req);
    tars_str_set(&req.clientId, "alice");
    tars_str_set(&req.userName, "alice");
    char id[37];
    assert_int_equal(omtp_sync_send(p->c, PT_LOGIN, 0, NULL, &omtp_LoginReq_desc, &req, id), 0);
    omtp_msg_free(&omtp_LoginReq_desc, &req);
    peer_read(p, NULL, &got);
    lr = got.body;
    assert_string_equal(lr->userName.data, "alice");
    omtp_LoginResp resp;
    omtp_msg_init(&omtp_LoginResp_desc, &resp);
    resp.code = OMTP_EC_CONN_USERNAME_OR_PASSWORD;
    peer_write(p, PT_LOGIN, OMTP_F_ACK, got.header.packId.data, &omtp_LoginResp_desc, &resp);
    omtp_packet_free(&got);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(p->c, id, 1000, &r), 0);
    assert_int_equal(((omtp_LoginResp *)r.body)->code, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    omtp_packet_free(&r);
}

static void test_transform_roundtrip(void **state)
{
    peer *p = *state;
    omtp_crypto_key k;
    assert_int_equal(omtp_crypto_key_from_hex(
                         &k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                     0);
    omtp_sync_set_transform(p->c, OMTP_COMPRESS_ZLIB, OMTP_CRYPTO_AES, &k);
    omtp_MsgReaded q;
    omtp_msg_init(&omtp_MsgReaded_desc, &q);
    tars_str_set(&q.sessionId, "SC_a_b");
    q.seqId = 42;
    char id[37];
    assert_int_equal(omtp_sync_send(p->c, PT_MSG_READ, omtp_flags_with(0, 1, 1), NULL,
                                    &omtp_MsgReaded_desc, &q, id),
                     0);
    omtp_msg_free(&omtp_MsgReaded_desc, &q);
    omtp_packet got;
    peer_read(p, &k, &got);
    assert_int_equal(omtp_flags_compress(got.header.flags), 1);
    assert_int_equal(omtp_flags_crypto(got.header.flags), 1);
    assert_int_equal(((omtp_MsgReaded *)got.body)->seqId, 42);
    omtp_packet_free(&got);

    /* an encrypted reply is decrypted by the client */
    tars_buf b;
    tars_buf_init(&b);
    omtp_CommonErrorCode e;
    omtp_msg_init(&omtp_CommonErrorCode_desc, &e);
    e.code = 7;
    tars_str_set(&e.desc, "refused");
    assert_int_equal(omtp_packet_encode(&b, PT_MSG_READ, OMTP_F_ACK | omtp_flags_with(0, 1, 1), id,
                                        &omtp_CommonErrorCode_desc, &e, &k, 0),
                     0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    assert_int_equal(write(p->sfd, b.data, b.len), (ssize_t)b.len);
    tars_buf_free(&b);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(p->c, id, 1000, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(((omtp_CommonErrorCode *)r.body)->code, 7);
    omtp_packet_free(&r);
}

static void test_split_bytes_and_raw(void **state)
{
    peer *p = *state;
    /* raw bytes reach the peer unchanged */
    assert_int_equal(omtp_sync_send_raw(p->c, "\x00\x00\x00\x02", 4), 0);
    uint8_t buf[4];
    assert_int_equal(read(p->sfd, buf, 4), 4);
    assert_memory_equal(buf, "\x00\x00\x00\x02", 4);

    /* a reply written one byte at a time is reassembled */
    tars_buf b;
    tars_buf_init(&b);
    omtp_packet_encode(&b, PT_PING, OMTP_F_ACK, "split", NULL, NULL, NULL, 0);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(write(p->sfd, b.data + i, 1), 1);
    tars_buf_free(&b);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(p->c, "split", 1000, &r), 0);
    omtp_packet_free(&r);
}

static void test_bad_frame_closes(void **state)
{
    peer *p = *state;
    /* a length of 2 is outside 4..max_frame: the stream is unusable */
    assert_int_equal(write(p->sfd, "\x00\x00\x00\x02zz", 6), 6);
    omtp_packet r;
    int rc = omtp_sync_next_push(p->c, 500, &r);
    assert_true(rc == OMTP_EFRAME || rc == OMTP_ECLOSED);
    assert_true(omtp_sync_closed(p->c));
}

static void test_session_ids(void **state)
{
    (void)state;
    char b[64];
    omtp_session_single("bob", "alice", b, sizeof(b));
    assert_string_equal(b, "SC_alice_bob");
    omtp_session_single("alice", "bob", b, sizeof(b));
    assert_string_equal(b, "SC_alice_bob");
    assert_true(omtp_session_peer("SC_alice_bob", "alice", b, sizeof(b)));
    assert_string_equal(b, "bob");
    assert_true(omtp_session_peer("SC_alice_bob", "bob", b, sizeof(b)));
    assert_string_equal(b, "alice");
    assert_false(omtp_session_peer("SC_alice_bob", "carol", b, sizeof(b)));
    assert_false(omtp_session_peer("GC_1", "alice", b, sizeof(b)));
    assert_true(omtp_session_is_group("GC_x"));
    assert_false(omtp_session_is_group("SC_a_b"));
    /* ids with the session separator cannot make a session id */
    assert_int_equal(omtp_session_single("u_1", "u_2", b, sizeof(b)), OMTP_EINVAL);
    assert_string_equal(b, "");
    /* dots and the other allowed characters */
    assert_int_equal(omtp_session_single("u.2", "u-1", b, sizeof(b)), 0);
    assert_string_equal(b, "SC_u-1_u.2");
    char peer_id[64];
    assert_true(omtp_session_peer(b, "u-1", peer_id, sizeof(peer_id)));
    assert_string_equal(peer_id, "u.2");
    assert_true(omtp_session_peer(b, "u.2", peer_id, sizeof(peer_id)));
    assert_string_equal(peer_id, "u-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test_setup_teardown(test_reply_matching_and_push_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transform_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_bytes_and_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frame_closes, setup, teardown),
        cmocka_unit_test(test_session_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
