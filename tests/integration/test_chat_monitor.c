/*
 * test_chat_monitor.c - session monitoring: a user with the monitor role
 * starts monitoring a session and receives its pushes live, may read its
 * history, sees it in MONITOR_SYNC; after STOP nothing more arrives; a
 * monitor that is a member gets each push once; a user without the role
 * gets CONN_ACCESS_DENIED.
 */
#include "chat_common.h"

static chat_srv *S;

static int setup(void **state)
{
    (void)state;
    S = chat_srv_start(NULL, NULL);
    chat_srv_user(S, "alice", 0);
    chat_srv_user(S, "bob", 0);
    chat_srv_user(S, "mona", 1); /* monitor role */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    chat_srv_stop(S);
    return 0;
}

static int monitor(omtp_sync *c, int type, const char *sid)
{
    omtp_SessionMonitor m;
    omtp_msg_init(&omtp_SessionMonitor_desc, &m);
    tars_str_set(&m.sessionId, sid);
    omtp_CommonErrorCode ce;
    assert_int_equal(
        omtp_sync_call(c, type, &omtp_SessionMonitor_desc, &m, &omtp_CommonErrorCode_desc, &ce), 0);
    int code = ce.code;
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    omtp_msg_free(&omtp_SessionMonitor_desc, &m);
    return code;
}

static void test_monitor(void **state)
{
    (void)state;
    int port = chat_srv_port(S);
    omtp_sync *a = chat_login(port, "alice", DEVICE_LINUX);
    omtp_sync *b = chat_login(port, "bob", DEVICE_LINUX);
    omtp_sync *mo = chat_login(port, "mona", DEVICE_LINUX);

    assert_int_equal(chat_send(a, "bob", "before", NULL), 0);
    /* mona may not read it before monitoring */
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(mo, "SC_alice_bob", 0, 10, &h), OMTP_EC_HISTORYMSG_DENY);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_START, "SC_alice_bob"), 0);
    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_START, "SC_alice_bob"), 0); /* idempotent */
    int64_t seq = 0;
    assert_int_equal(chat_send(a, "bob", "during", &seq), 0);
    omtp_packet p;
    assert_int_equal(chat_next_push(mo, PT_MSG_SINGLE_CHAT, 3000, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "during");
    assert_int_equal(((omtp_MsgReq *)p.body)->seqId, seq);
    omtp_packet_free(&p);
    assert_int_equal(chat_count_pushes(mo, PT_MSG_SINGLE_CHAT), 0); /* exactly once */

    /* a monitor that is a member of the session gets each push once (as a
     * member, not again as a monitor) */
    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_START, "SC_alice_mona"), 0);
    assert_int_equal(chat_send(a, "mona", "to mona", NULL), 0);
    assert_int_equal(chat_next_push(mo, PT_MSG_SINGLE_CHAT, 3000, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "to mona");
    omtp_packet_free(&p);
    assert_int_equal(chat_count_pushes(mo, PT_MSG_SINGLE_CHAT), 0);
    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_STOP, "SC_alice_mona"), 0);

    /* control notices reach the monitor too */
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_ctrl(b, MC_DELETE, "SC_alice_bob", seq, NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, OMTP_EC_MSG_FORBIDDEN); /* bob is not the sender */
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    assert_int_equal(omtp_sync_ctrl(a, MC_REVOKE, "SC_alice_bob", seq, NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    assert_int_equal(chat_next_push(mo, PT_MSG_CTRL, 3000, &p), 0);
    omtp_packet_free(&p);

    /* history is open while monitoring */
    assert_int_equal(chat_history(mo, "SC_alice_bob", 0, 10, &h), 0);
    assert_int_equal(h.msgs.n, 2);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    /* MONITOR_SYNC lists the monitored session with its last message */
    omtp_HotSessionResp hot;
    assert_int_equal(
        omtp_sync_call(mo, PT_SESSION_MONITOR_SYNC, NULL, NULL, &omtp_HotSessionResp_desc, &hot),
        0);
    assert_int_equal(hot.code, 0);
    assert_int_equal(hot.sessions.n, 1);
    assert_string_equal(hot.sessions.items[0].sessionId.data, "SC_alice_bob");
    assert_int_equal(hot.sessions.items[0].lastMsgs.n, 1);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_STOP, "SC_alice_bob"), 0);
    assert_int_equal(chat_send(a, "bob", "after", NULL), 0);
    assert_int_equal(chat_count_pushes(b, PT_MSG_SINGLE_CHAT), 3); /* bob got all three */
    assert_int_equal(chat_count_pushes(mo, PT_MSG_SINGLE_CHAT), 0);
    assert_int_equal(
        omtp_sync_call(mo, PT_SESSION_MONITOR_SYNC, NULL, NULL, &omtp_HotSessionResp_desc, &hot),
        0);
    assert_int_equal(hot.sessions.n, 0);
    omtp_msg_free(&omtp_HotSessionResp_desc, &hot);

    /* a monitor that disconnects while monitoring leaves nothing behind */
    assert_int_equal(monitor(mo, PT_SESSION_MONITOR_START, "SC_alice_bob"), 0);
    omtp_sync_close(mo);
    assert_int_equal(chat_send(a, "bob", "nobody listens", NULL), 0);

    /* without the role */
    assert_int_equal(monitor(a, PT_SESSION_MONITOR_START, "SC_alice_bob"),
                     OMTP_EC_CONN_ACCESS_DENIED);
    assert_int_equal(monitor(a, PT_SESSION_MONITOR_STOP, "SC_alice_bob"),
                     OMTP_EC_CONN_ACCESS_DENIED);
    omtp_packet r;
    assert_int_equal(omtp_sync_request(a, PT_SESSION_MONITOR_SYNC, 0, NULL, NULL, 0, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(((omtp_HotSessionResp *)r.body)->code, OMTP_EC_CONN_ACCESS_DENIED);
    omtp_packet_free(&r);
    omtp_sync_close(a);
    omtp_sync_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
