/*
 * test_chat_dedup.c - (from, packId) identifies a message. A resend of the
 * same message (with or without DUP) gets the original ack and is stored
 * once; a packId reused for a DIFFERENT message is refused with
 * MSG_REPEATED (46) instead of being silently swallowed by the dedup --
 * single and group chat alike.
 */
#include "group_common.h"

static void expect_history_len(omtp_sync *c, const char *sid, uint32_t n)
{
    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(c, sid, 0, 50, &h), 0);
    assert_int_equal(h.errorCode.code, 0);
    assert_int_equal(h.msgs.n, n);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
}

static void test_reused_packid(void **state)
{
    (void)state;
    h_server *s = g_start(NULL, "u", 3);
    omtp_sync *a = g_login(s, "u0", DEVICE_LINUX);
    omtp_MsgAck ack;

    /* single chat: original, resend (DUP), resend without DUP */
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "u1", "hello", "pk-1", 0, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(
        omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "u1", "hello", "pk-1", OMTP_F_DUP, &ack), 0);
    assert_int_equal(ack.code, 0);
    assert_int_equal(ack.seqId, seq);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "u1", "hello", "pk-1", 0, &ack), 0);
    assert_int_equal(ack.seqId, seq);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);

    /* the same packId for other content, or another recipient: refused */
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "u1", "other", "pk-1", 0, &ack), 0);
    assert_int_equal(ack.code, OMTP_EC_MSG_REPEATED);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "u2", "hello", "pk-1", 0, &ack), 0);
    assert_int_equal(ack.code, OMTP_EC_MSG_REPEATED);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    expect_history_len(a, "SC_u0_u1", 1);
    expect_history_len(a, "SC_u0_u2", 0);

    /* group chat: same rules */
    tars_str_list ids = g_ids("u1", NULL);
    char gid[160];
    assert_int_equal(g_create(a, "dedup", NULL, 0, &ids, gid), 0);
    g_ids_free(&ids);
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "hi all", "pk-g", 0, &ack), 0);
    assert_int_equal(ack.code, 0);
    seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(
        omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "hi all", "pk-g", OMTP_F_DUP, &ack), 0);
    assert_int_equal(ack.code, 0);
    assert_int_equal(ack.seqId, seq);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_GROUP_CHAT, gid, "changed", "pk-g", 0, &ack), 0);
    assert_int_equal(ack.code, OMTP_EC_MSG_REPEATED);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    expect_history_len(a, gid, 1);

    omtp_sync_close(a);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reused_packid, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
