/*
 * test_chat_ctrl.c - revoke, edit and delete against a real omtpd: who may,
 * what the other devices see live, what history shows afterwards, what an
 * offline member finds in its high-priority queue after reconnecting, the
 * time limit, HIGHPRJ messages, and the errors.
 */
#include <time.h>

#include "chat_common.h"

static chat_srv *S;

static int setup(void **state)
{
    (void)state;
    S = chat_srv_start("revoke_limit_s = 0", NULL);
    const char *users[] = {"alice", "bob", "carol"};
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

static int ctrl(omtp_sync *c, int cmd, const char *sid, int64_t seq, const char *content)
{
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_ctrl(c, cmd, sid, seq, NULL, content, &ce), 0);
    int code = ce.code;
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    return code;
}

/* the MsgControl of the next PT_MSG_CTRL push */
static void expect_ctrl_push(omtp_sync *c, int cmd, int64_t seq, const char *content)
{
    omtp_packet p;
    assert_int_equal(chat_next_push(c, PT_MSG_CTRL, 3000, &p), 0);
    omtp_MsgControl *mc = p.body;
    assert_non_null(mc);
    assert_int_equal(mc->command, cmd);
    assert_int_equal(mc->seqId, seq);
    assert_string_equal(mc->sessionId.data, "SC_alice_bob");
    assert_true(mc->packId.len > 0); /* the target's packId */
    if (content)
        assert_string_equal(mc->content.data, content);
    omtp_packet_free(&p);
}

static void test_revoke_edit_delete_live(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a1 = chat_login(port, "alice", DEVICE_LINUX);
    omtp_sync *a2 = chat_login(port, "alice", DEVICE_MACOS);
    omtp_sync *b = chat_login(port, "bob", DEVICE_LINUX);
    int64_t s1, s2, s3;
    assert_int_equal(chat_send(a1, "bob", "one", &s1), 0);
    assert_int_equal(chat_send(a1, "bob", "two", &s2), 0);
    assert_int_equal(chat_send(a1, "bob", "three", &s3), 0);

    /* only the sender may */
    assert_int_equal(ctrl(b, MC_REVOKE, "SC_alice_bob", s1, NULL), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(ctrl(a1, 9, "SC_alice_bob", s1, NULL), OMTP_EC_MSG_OP_CMD);
    assert_int_equal(ctrl(a1, MC_REVOKE, "SC_alice_bob", 999, NULL), OMTP_EC_MSG_NOT_EXIST);
    assert_int_equal(ctrl(a1, MC_OVERRIDE, "SC_alice_bob", s2, ""), OMTP_EC_MSG_TOO_SHORT);

    assert_int_equal(ctrl(a1, MC_REVOKE, "SC_alice_bob", s1, NULL), 0);
    expect_ctrl_push(b, MC_REVOKE, s1, NULL);
    expect_ctrl_push(a2, MC_REVOKE, s1, NULL);
    assert_int_equal(chat_count_pushes(a1, PT_MSG_CTRL), 0);

    assert_int_equal(ctrl(a2, MC_OVERRIDE, "SC_alice_bob", s2, "two, edited"), 0);
    expect_ctrl_push(b, MC_OVERRIDE, s2, "two, edited");
    expect_ctrl_push(a1, MC_OVERRIDE, s2, "two, edited");

    assert_int_equal(ctrl(a1, MC_DELETE, "SC_alice_bob", s3, NULL), 0);
    expect_ctrl_push(b, MC_DELETE, s3, NULL);
    /* a deleted message is gone for good */
    assert_int_equal(ctrl(a1, MC_REVOKE, "SC_alice_bob", s3, NULL), OMTP_EC_MSG_NOT_EXIST);
    /* a revoked one cannot be edited */
    assert_int_equal(ctrl(a1, MC_OVERRIDE, "SC_alice_bob", s1, "x"), OMTP_EC_MSG_OP_CMD);

    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(b, "SC_alice_bob", 0, 10, &h), 0);
    assert_int_equal(h.msgs.n, 2); /* s3 deleted */
    omtp_MsgReq m;
    /* newest first: s2 (edited), then s1 (revoked) */
    assert_true(h.msgs.items[0].header.flags & OMTP_F_OVERRIDE);
    chat_pack_msg(&h.msgs.items[0], &m);
    assert_int_equal(m.seqId, s2);
    assert_string_equal(m.content.data, "two, edited");
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    assert_true(h.msgs.items[1].header.flags & OMTP_F_REVOKE);
    chat_pack_msg(&h.msgs.items[1], &m);
    assert_int_equal(m.seqId, s1);
    assert_int_equal(m.status, MC_REVOKE);
    assert_int_equal(m.content.len, 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    /* hot sessions show the last visible message (s2) and no unread for s3 */
    omtp_HotSessionResp hot;
    assert_int_equal(omtp_sync_hot_sessions(b, 0, &hot), 0);
    const omtp_HotSessionItem *it = chat_hot_find(&hot, "SC_alice_bob");
    assert_non_null(it);
    assert_int_equal(it->unreadCount, 2);
    assert_int_equal(it->lastMsgs.n, 1);
    chat_pack_msg(&it->lastMsgs.items[0], &m);
    assert_int_equal(m.seqId, s2);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    omtp_sync_close(a1);
    omtp_sync_close(a2);
    omtp_sync_close(b);
}

/* carol is offline while alice revokes; after logging in she finds the
 * notice (and the HIGHPRJ message) in her high-priority queue. */
static void test_offline_hp_queue(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a = chat_login(port, "alice", DEVICE_WINDOWS);
    int64_t s1;
    assert_int_equal(chat_send(a, "carol", "oops", &s1), 0);
    assert_int_equal(ctrl(a, MC_REVOKE, "SC_alice_carol", s1, NULL), 0);
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "carol", "urgent", NULL, OMTP_F_HIGHPRJ, &ack),
        0);
    assert_int_equal(ack.code, 0);
    int64_t s2 = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);

    omtp_sync *c = chat_login(port, "carol", DEVICE_LINUX);
    omtp_MsgHighPrioritySyncResp hp;
    assert_int_equal(omtp_sync_high_prior(c, 0, 100, &hp), 0);
    assert_int_equal(hp.code, 0);
    assert_int_equal(hp.msgs.n, 2);
    /* 1: the revoke notice */
    assert_int_equal(hp.msgs.items[0].header.type, PT_MSG_CTRL);
    omtp_MsgControl mc;
    assert_int_equal(tars_decode(&omtp_MsgControl_desc, &mc, hp.msgs.items[0].payload.data,
                                 hp.msgs.items[0].payload.len, NULL),
                     0);
    assert_int_equal(mc.command, MC_REVOKE);
    assert_int_equal(mc.seqId, s1);
    assert_string_equal(mc.sessionId.data, "SC_alice_carol");
    omtp_msg_free(&omtp_MsgControl_desc, &mc);
    /* 2: the HIGHPRJ message */
    assert_int_equal(hp.msgs.items[1].header.type, PT_MSG_SINGLE_CHAT);
    assert_true(hp.msgs.items[1].header.flags & OMTP_F_HIGHPRJ);
    omtp_MsgReq m;
    chat_pack_msg(&hp.msgs.items[1], &m);
    assert_int_equal(m.seqId, s2);
    assert_string_equal(m.content.data, "urgent");
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    int64_t last = hp.lastSeqId;
    assert_true(last > 0);
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);

    /* paging: one at a time, then caught up */
    assert_int_equal(omtp_sync_high_prior(c, 0, 1, &hp), 0);
    assert_int_equal(hp.msgs.n, 1);
    int64_t first = hp.lastSeqId;
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);
    assert_int_equal(omtp_sync_high_prior(c, first, 1, &hp), 0);
    assert_int_equal(hp.msgs.n, 1);
    assert_int_equal(hp.lastSeqId, last);
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);
    assert_int_equal(omtp_sync_high_prior(c, last, 10, &hp), 0);
    assert_int_equal(hp.msgs.n, 0);
    assert_int_equal(hp.lastSeqId, last);
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);

    /* the revoked message is still in history, flagged */
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(c, "SC_alice_carol", s1, 1, &h), 0);
    assert_int_equal(h.msgs.n, 1);
    assert_true(h.msgs.items[0].header.flags & OMTP_F_REVOKE);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync_close(a);
    omtp_sync_close(c);
}

/* with a 1 s limit, revoke and edit expire; delete does not */
static void test_time_limit(void **state)
{
    (void)state;
    chat_srv *t = chat_srv_start("revoke_limit_s = 1", NULL);
    chat_srv_user(t, "alice", 0);
    chat_srv_user(t, "bob", 0);
    omtp_sync *a = chat_login(chat_srv_port(t), "alice", DEVICE_LINUX);
    int64_t s1, s2;
    assert_int_equal(chat_send(a, "bob", "quick", &s1), 0);
    assert_int_equal(chat_send(a, "bob", "slow", &s2), 0);
    assert_int_equal(ctrl(a, MC_REVOKE, "SC_alice_bob", s1, NULL), 0);
    struct timespec ts = {1, 300 * 1000 * 1000}; /* let the limit pass */
    nanosleep(&ts, NULL);
    assert_int_equal(ctrl(a, MC_REVOKE, "SC_alice_bob", s2, NULL), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(ctrl(a, MC_OVERRIDE, "SC_alice_bob", s2, "late"), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(ctrl(a, MC_DELETE, "SC_alice_bob", s2, NULL), 0);
    omtp_sync_close(a);
    chat_srv_stop(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoke_edit_delete_live),
        cmocka_unit_test(test_offline_hp_queue),
        cmocka_unit_test(test_time_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
