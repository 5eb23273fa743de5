/*
 * test_webhook_before_send.c - the before-send (moderation) webhook against
 * a real omtpd and a real HTTP receiver: refusals (code 10 or the hook's
 * code), nothing stored or pushed when refused, the timeout in both fail
 * modes, signatures.
 */
#include "harness.h"
#include "hook_receiver.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "check-secret-42"

static hook_rx *rx;
static h_server *srv;

static void start_all(bool fail_open, int timeout_ms)
{
    char conf[1024];
    rx = hook_rx_start(0, NULL);
    assert_non_null(rx);
    snprintf(conf, sizeof conf,
             "login_fail_delay_ms = 0\n"
             "sync_level = 1\n"
             "before_send_url = %s/check\n"
             "before_send_timeout_ms = %d\n"
             "before_send_fail_open = %s\n"
             "push_webhook_url = %s/push\n"
             "push_webhook_batch_ms = 20\n"
             "webhook_secret = " SECRET "\n",
             hook_rx_url(rx), timeout_ms, fail_open ? "true" : "false", hook_rx_url(rx));
    srv = h_server_start(conf, NULL);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    h_user_add(srv, "carol", "pw-carol");
}

static int setup_open(void **st)
{
    (void)st;
    start_all(true, 300);
    return 0;
}

static int setup_closed(void **st)
{
    (void)st;
    start_all(false, 300);
    return 0;
}

static int teardown(void **st)
{
    h_server_stop_free(srv);
    srv = NULL;
    hook_rx_free(rx);
    rx = NULL;
    return h_teardown(st);
}

/* Sends alice -> to; returns the MsgAck's code, desc of a refusal in desc. */
static int send_msg(omtp_sync *c, const char *to, const char *content, const char *push_info,
                    int64_t *seq)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.from, omtp_sync_user(c));
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    tars_str_set(&m.pushInfo, push_info);
    m.contentType = 1;
    omtp_packet reply;
    assert_int_equal(
        omtp_sync_request(c, PT_MSG_SINGLE_CHAT, 0, &omtp_MsgReq_desc, &m, 10000, &reply), 0);
    int code;
    if (reply.desc == &omtp_MsgAck_desc) {
        const omtp_MsgAck *ack = reply.body;
        code = ack->code;
        if (seq)
            *seq = ack->seqId;
    } else {
        /* a refusal may come as the type's reply struct or CommonErrorCode */
        assert_ptr_equal(reply.desc, &omtp_CommonErrorCode_desc);
        code = ((const omtp_CommonErrorCode *)reply.body)->code;
    }
    omtp_packet_free(&reply);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return code;
}

static uint32_t history_len(omtp_sync *c, const char *sid)
{
    omtp_HistoryMsgPullResp h;
    omtp_msg_init(&omtp_HistoryMsgPullResp_desc, &h);
    assert_int_equal(omtp_sync_history(c, sid, 0, 50, &h), 0);
    uint32_t n = h.msgs.n;
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    return n;
}

/* The number of requests to `path` recorded so far. */
static int count_path(const char *path)
{
    int n = 0;
    for (int i = 0; i < hook_rx_count(rx); i++) {
        hook_rx_req q;
        assert_true(hook_rx_get(rx, i, &q));
        n += strcmp(q.path, path) == 0;
        free(q.body);
    }
    return n;
}

static void test_refused_word(void **st)
{
    (void)st;
    hook_rx_refuse_word(rx, "badword", 200, "{\"allow\":false}");
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    omtp_sync *bob = h_login(srv, "bob", "pw-bob", 5);
    assert_int_equal(send_msg(alice, "bob", "this has a badword in it", "p", NULL),
                     OMTP_EC_SENSI_MATCH);
    /* the hook saw the message, signed */
    assert_int_equal(hook_rx_count(rx), 1);
    hook_rx_req q;
    assert_true(hook_rx_get(rx, 0, &q));
    assert_string_equal(q.path, "/check");
    assert_string_equal(q.event, "before_send");
    assert_true(hook_rx_verify(SECRET, q.signature, q.body, q.len, 300));
    json_error_t err;
    json_t *j = json_loads(q.body, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "content")),
                        "this has a badword in it");
    assert_string_equal(json_string_value(json_object_get(j, "from")), "alice");
    assert_string_equal(json_string_value(json_object_get(j, "to")), "bob");
    assert_string_equal(json_string_value(json_object_get(j, "sessionId")), "SC_alice_bob");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "single");
    json_decref(j);
    free(q.body);
    /* nothing stored, nothing pushed */
    assert_int_equal(history_len(alice, "SC_alice_bob"), 0);
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(bob, 0, &p), OMTP_ETIMEDOUT);

    /* a clean message passes and is stored */
    int64_t seq = 0;
    assert_int_equal(send_msg(alice, "bob", "hello bob", "", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(history_len(alice, "SC_alice_bob"), 1);
    assert_int_equal(omtp_sync_next_push(bob, 5000, &p), 0);
    omtp_packet_free(&p);
    omtp_sync_close(bob);
    omtp_sync_close(alice);
}

static void test_group_refused(void **st)
{
    (void)st;
    hook_rx_refuse_word(rx, "badword", 200, "{\"allow\":false}");
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.groupId, "GC_mod");
    tars_str_set(&q.groupInfo.name, "mod");
    tars_str_set(&q.groupInfo.creatorId, "alice");
    omtp_GroupChatCreateResp r;
    assert_int_equal(omtp_sync_call(alice, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                                    &omtp_GroupChatCreateResp_desc, &r),
                     0);
    assert_int_equal(r.errorCode.code, 0);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_send_msg(alice, PT_MSG_GROUP_CHAT, "GC_mod", "a badword here", NULL, 0, &ack), 0);
    assert_int_equal(ack.code, OMTP_EC_SENSI_MATCH);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(history_len(alice, "GC_mod"), 0);
    assert_int_equal(
        omtp_sync_send_msg(alice, PT_MSG_GROUP_CHAT, "GC_mod", "fine words", NULL, 0, &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    assert_int_equal(history_len(alice, "GC_mod"), 1);
    assert_int_equal(count_path("/check"), 2);
    omtp_sync_close(alice);
}

static void test_hook_code_and_no_push(void **st)
{
    (void)st;
    hook_rx_refuse_word(rx, "http://", 200,
                        "{\"allow\":false,\"code\":43,\"desc\":\"links are not allowed\"}");
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    /* carol is offline and the message has a pushInfo: still no push */
    assert_int_equal(send_msg(alice, "carol", "see http://x.example", "p", NULL),
                     OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(history_len(alice, "SC_alice_carol"), 0);
    /* the next (allowed) message's event is the first push request */
    int64_t seq = 0;
    assert_int_equal(send_msg(alice, "carol", "plain words", "p", &seq), 0);
    assert_int_equal(seq, 1);
    int64_t end = h_now_ms() + 10000;
    while (count_path("/push") < 1 && h_now_ms() < end)
        hook_rx_wait(rx, hook_rx_count(rx) + 1, 200);
    assert_int_equal(count_path("/push"), 1);
    assert_int_equal(count_path("/check"), 2);
    omtp_sync_close(alice);
}

static void test_timeout_fail_open(void **st)
{
    (void)st;
    hook_rx_respond(rx, 200, 1500, "{\"allow\":false}"); /* too late to count */
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    int64_t t0 = h_now_ms();
    assert_int_equal(send_msg(alice, "bob", "slow hook", "", NULL), 0);
    assert_true(h_now_ms() - t0 < 1400); /* answered at the timeout, not the hook */
    assert_int_equal(history_len(alice, "SC_alice_bob"), 1);
    /* an error status fails open too */
    hook_rx_respond(rx, 500, 0, NULL);
    assert_int_equal(send_msg(alice, "bob", "hook broken", "", NULL), 0);
    assert_int_equal(history_len(alice, "SC_alice_bob"), 2);
    omtp_sync_close(alice);
}

static void test_timeout_fail_closed(void **st)
{
    (void)st;
    hook_rx_respond(rx, 200, 1500, "{}");
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    assert_int_equal(send_msg(alice, "bob", "slow hook", "", NULL), OMTP_EC_SERVICE_UNAVAILABLE);
    assert_int_equal(history_len(alice, "SC_alice_bob"), 0);
    /* backend down: refused as well */
    hook_rx_stop(rx);
    assert_int_equal(send_msg(alice, "bob", "hook down", "", NULL), OMTP_EC_SERVICE_UNAVAILABLE);
    assert_int_equal(history_len(alice, "SC_alice_bob"), 0);
    /* back up and answering: stored */
    assert_int_equal(hook_rx_restart(rx), 0);
    hook_rx_respond(rx, 204, 0, NULL);
    assert_int_equal(send_msg(alice, "bob", "hook back", "", NULL), 0);
    assert_int_equal(history_len(alice, "SC_alice_bob"), 1);
    omtp_sync_close(alice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_word, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_hook_code_and_no_push, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_group_refused, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_fail_open, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_fail_closed, setup_closed, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
