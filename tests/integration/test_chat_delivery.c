/*
 * test_chat_delivery.c - single chat against a real omtpd: offline delivery
 * through hot sessions and history, read cursors across devices, multi-device
 * echo, dedup of resends, authority, size limits, from mismatch, biz over
 * OMTP, and a compressed + encrypted round trip.
 */
#include "chat_common.h"

static chat_srv *S;

static int setup(void **state)
{
    (void)state;
    S = chat_srv_start("max_content = 64", NULL);
    const char *users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        chat_srv_user(S, users[i], 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    chat_srv_stop(S);
    return 0;
}

/* alice -> bob while bob is offline; bob logs in on two devices and finds it
 * in hot sessions and history; reading on one device clears the unread count
 * everywhere and tells the other device. */
static void test_offline_delivery_and_read(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a = chat_login(port, "alice", DEVICE_LINUX);
    int64_t seq = 0;
    assert_int_equal(chat_send(a, "bob", "hello bob", &seq), OMTP_EC_SUCCESS);
    assert_int_equal(seq, 1);

    omtp_sync *b1 = chat_login(port, "bob", DEVICE_LINUX);
    omtp_sync *b2 = chat_login(port, "bob", DEVICE_MACOS);

    omtp_HotSessionResp hot;
    assert_int_equal(omtp_sync_hot_sessions(b1, 0, &hot), 0);
    assert_int_equal(hot.code, 0);
    const omtp_HotSessionItem *it = chat_hot_find(&hot, "SC_alice_bob");
    assert_non_null(it);
    assert_int_equal(it->unreadCount, 1);
    assert_int_equal(it->readSeqId, 0);
    assert_int_equal(it->lastMsgs.n, 1);
    assert_int_equal(it->lastMsgs.items[0].header.type, PT_MSG_SINGLE_CHAT);
    omtp_MsgReq m;
    chat_pack_msg(&it->lastMsgs.items[0], &m);
    assert_string_equal(m.content.data, "hello bob");
    assert_string_equal(m.from.data, "alice");
    assert_int_equal(m.seqId, 1);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    assert_true(hot.timestamp > 0);
    int64_t cursor = hot.timestamp;
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    /* asking again with the returned cursor: caught up */
    assert_int_equal(omtp_sync_hot_sessions(b1, cursor, &hot), 0);
    assert_int_equal(hot.sessions.n, 0);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(b1, "SC_alice_bob", 0, 20, &h), 0);
    assert_string_equal(h.sessionId.data, "SC_alice_bob");
    assert_int_equal(h.msgs.n, 1);
    chat_pack_msg(&h.msgs.items[0], &m);
    assert_string_equal(m.content.data, "hello bob");
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_read(b1, "SC_alice_bob", 1, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);

    omtp_packet p;
    assert_int_equal(chat_next_push(b2, PT_MSG_READ, 3000, &p), 0);
    omtp_MsgReaded *r = p.body;
    assert_non_null(r);
    assert_string_equal(r->sessionId.data, "SC_alice_bob");
    assert_int_equal(r->seqId, 1);
    omtp_packet_free(&p);
    assert_int_equal(chat_count_pushes(b1, PT_MSG_READ), 0); /* not to the reader */

    for (int d = 0; d < 2; d++) {
        assert_int_equal(omtp_sync_hot_sessions(d ? b2 : b1, 0, &hot), 0);
        it = chat_hot_find(&hot, "SC_alice_bob");
        assert_non_null(it);
        assert_int_equal(it->unreadCount, 0);
        assert_int_equal(it->readSeqId, 1);
        omtp_msg_free(&omtp_HotSessionResp_desc, &hot);
    }
    /* the cursor never goes backwards */
    assert_int_equal(omtp_sync_read(b2, "SC_alice_bob", 0, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    assert_int_equal(omtp_sync_hot_sessions(b2, 0, &hot), 0);
    assert_int_equal(chat_hot_find(&hot, "SC_alice_bob")->readSeqId, 1);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    /* the sender's own message is never unread for her */
    assert_int_equal(omtp_sync_hot_sessions(a, 0, &hot), 0);
    it = chat_hot_find(&hot, "SC_alice_bob");
    assert_non_null(it);
    assert_int_equal(it->unreadCount, 0);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    omtp_sync_close(a);
    omtp_sync_close(b1);
    omtp_sync_close(b2);
}

/* A message reaches every device of the recipient and the sender's other
 * devices, never the sending device; the push is the stored message. */
static void test_multi_device_echo(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *c1 = chat_login(port, "carol", DEVICE_LINUX);
    omtp_sync *c2 = chat_login(port, "carol", DEVICE_WINDOWS);
    omtp_sync *d1 = chat_login(port, "dave", DEVICE_IOS);
    omtp_sync *d2 = chat_login(port, "dave", DEVICE_ANDROID);
    int64_t seq = 0;
    assert_int_equal(chat_send(c1, "dave", "ping dave", &seq), 0);
    omtp_sync *rx[] = {c2, d1, d2};
    for (int i = 0; i < 3; i++) {
        omtp_packet p;
        assert_int_equal(chat_next_push(rx[i], PT_MSG_SINGLE_CHAT, 3000, &p), 0);
        omtp_MsgReq *m = p.body;
        assert_non_null(m);
        assert_string_equal(m->sessionId.data, "SC_carol_dave");
        assert_int_equal(m->seqId, seq);
        assert_true(m->timestamp > 0);
        assert_string_equal(m->from.data, "carol");
        assert_string_equal(m->content.data, "ping dave");
        omtp_packet_free(&p);
    }
    assert_int_equal(chat_count_pushes(c1, PT_MSG_SINGLE_CHAT), 0);
    /* and the other way round, with the canonical session id */
    assert_int_equal(chat_send(d2, "carol", "pong", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(chat_count_pushes(c1, PT_MSG_SINGLE_CHAT), 1);
    assert_int_equal(chat_count_pushes(c2, PT_MSG_SINGLE_CHAT), 1);
    assert_int_equal(chat_count_pushes(d1, PT_MSG_SINGLE_CHAT), 1);
    assert_int_equal(chat_count_pushes(d2, PT_MSG_SINGLE_CHAT), 0);
    omtp_sync_close(c1);
    omtp_sync_close(c2);
    omtp_sync_close(d1);
    omtp_sync_close(d2);
}

/* A resend of the same packId (with DUP, or without) gets the original
 * MsgAck and is neither stored nor pushed again. */
static void test_dedup_resend(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *e = chat_login(port, "erin", DEVICE_LINUX);
    omtp_sync *f = chat_login(port, "frank", DEVICE_LINUX);
    const char *pid = "5b7f3a2e-0000-4000-8000-00000000d0d0";
    omtp_MsgAck a1, a2, a3;
    assert_int_equal(omtp_sync_send_msg(e, PT_MSG_SINGLE_CHAT, "frank", "once", pid, 0, &a1), 0);
    assert_int_equal(a1.code, 0);
    assert_int_equal(
        omtp_sync_send_msg(e, PT_MSG_SINGLE_CHAT, "frank", "once", pid, OMTP_F_DUP, &a2), 0);
    assert_int_equal(omtp_sync_send_msg(e, PT_MSG_SINGLE_CHAT, "frank", "once", pid, 0, &a3), 0);
    assert_int_equal(a2.code, 0);
    assert_int_equal(a3.code, 0);
    assert_int_equal(a2.seqId, a1.seqId);
    assert_int_equal(a3.seqId, a1.seqId);
    assert_int_equal(a2.timestamp, a1.timestamp);
    assert_string_equal(a2.sessionId.data, a1.sessionId.data);
    omtp_msg_free(&omtp_MsgAck_desc, &a1);
    omtp_msg_free(&omtp_MsgAck_desc, &a2);
    omtp_msg_free(&omtp_MsgAck_desc, &a3);
    assert_int_equal(chat_count_pushes(f, PT_MSG_SINGLE_CHAT), 1);

    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(f, "SC_erin_frank", 0, 200, &h), 0);
    assert_int_equal(h.msgs.n, 1);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync_close(e);
    omtp_sync_close(f);
}

/* Nobody reads a session they are not part of. */
static void test_stranger_denied(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a = chat_login(port, "alice", DEVICE_WINDOWS);
    omtp_sync *c = chat_login(port, "carol", DEVICE_MACOS);
    assert_int_equal(chat_send(a, "bob", "secret", NULL), 0);
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(c, "SC_alice_bob", 0, 10, &h), OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(h.msgs.n, 0);
    assert_true(h.errorCode.desc.len > 0);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_read(c, "SC_alice_bob", 1, &ce), 0);
    assert_int_equal(ce.code, OMTP_EC_HISTORYMSG_DENY);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    /* nor revoke someone else's message in it */
    assert_int_equal(omtp_sync_ctrl(c, MC_REVOKE, "SC_alice_bob", 1, NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, OMTP_EC_MSG_FORBIDDEN);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    /* a session that does not exist yet but names the user: empty, allowed */
    assert_int_equal(chat_history(c, "SC_carol_frank", 0, 10, &h), 0);
    assert_int_equal(h.msgs.n, 0);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync_close(a);
    omtp_sync_close(c);
}

/* Content limits, a forged from, an unknown recipient, biz over OMTP. */
static void test_refusals(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a = chat_login(port, "alice", DEVICE_IOS);
    assert_int_equal(chat_send(a, "bob", "", NULL), OMTP_EC_MSG_TOO_SHORT);
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(chat_send(a, "bob", big, NULL), OMTP_EC_MSG_TOO_LONG);
    big[64] = 0; /* exactly the limit */
    assert_int_equal(chat_send(a, "bob", big, NULL), 0);
    assert_int_equal(chat_send(a, "nobody-here", "hi", NULL), OMTP_EC_PARAM);

    /* from must be the logged-in user */
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.sessionId, "SC_bob_carol");
    tars_str_set(&m.from, "carol");
    tars_str_set(&m.to, "bob");
    tars_str_set(&m.content, "I am carol");
    omtp_packet r;
    assert_int_equal(omtp_sync_request(a, PT_MSG_SINGLE_CHAT, 0, &omtp_MsgReq_desc, &m, 0, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(((omtp_MsgAck *)r.body)->code, OMTP_EC_MSG_FORBIDDEN);
    omtp_packet_free(&r);

    /* business notices come through the HTTP API, not from users */
    tars_str_set(&m.from, "alice");
    assert_int_equal(omtp_sync_request(a, PT_MSG_BIZ_NOTIFY, 0, &omtp_MsgReq_desc, &m, 0, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(((omtp_MsgAck *)r.body)->code, OMTP_EC_MSG_FORBIDDEN);
    omtp_packet_free(&r);

    /* a client's own spelling of the session id is replaced by the canonical one */
    tars_str_set(&m.sessionId, "whatever");
    assert_int_equal(omtp_sync_request(a, PT_MSG_SINGLE_CHAT, 0, &omtp_MsgReq_desc, &m, 0, &r), 0);
    assert_int_equal(((omtp_MsgAck *)r.body)->code, 0);
    assert_string_equal(((omtp_MsgAck *)r.body)->sessionId.data, "SC_alice_bob");
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_sync_close(a);
}

/* COMPRESS=1 + CRYPTO=1 from the sender; a plain receiver gets it plain. */
static void test_compressed_encrypted(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_crypto_key key;
    chat_srv_aes_key(S, &key);
    omtp_sync *d = chat_login(port, "dave", DEVICE_LINUX);
    omtp_sync *e = chat_login(port, "erin", DEVICE_MACOS);
    omtp_sync_set_transform(d, OMTP_COMPRESS_ZLIB, OMTP_CRYPTO_AES, &key);
    char text[60];
    memset(text, 'z', sizeof text - 1);
    text[sizeof text - 1] = 0;
    int64_t seq = 0;
    assert_int_equal(chat_send(d, "erin", text, &seq), 0);
    assert_true(seq >= 1);
    omtp_packet p;
    assert_int_equal(chat_next_push(e, PT_MSG_SINGLE_CHAT, 3000, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, text);
    assert_int_equal(omtp_flags_crypto(p.header.flags), 0);
    omtp_packet_free(&p);
    /* and the history comes back through the same transforms */
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(d, "SC_dave_erin", seq, 1, &h), 0);
    assert_int_equal(h.msgs.n, 1);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync_close(d);
    omtp_sync_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_delivery_and_read),
        cmocka_unit_test(test_multi_device_echo),
        cmocka_unit_test(test_dedup_resend),
        cmocka_unit_test(test_stranger_denied),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_compressed_encrypted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
