/*
 * test_webhook_push.c - the offline push webhook against a real omtpd and
 * a real HTTP receiver (tests/support/hook_receiver.c).
 *
 * "No event" is checked with a sentinel: after the message that must not
 * make an event, a message with pushInfo goes to a user who is offline; its
 * event is awaited, and only then the requests are counted. Events leave
 * the server in the order their messages were stored (one store queue, one
 * worker), and each test uses a batch window short next to the waits.
 */
#include "harness.h"
#include "hook_receiver.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "push-secret-0123456789"

static hook_rx *rx;
static h_server *srv;

static void start_all(void)
{
    char conf[1024];
    rx = hook_rx_start(0, NULL);
    assert_non_null(rx);
    snprintf(conf, sizeof conf,
             "login_fail_delay_ms = 0\n"
             "push_webhook_url = %s/push\n"
             "push_webhook_batch_ms = 200\n"
             "sync_level = 1\n"
             "push_webhook_queue_max = 100\n"
             "webhook_secret = " SECRET "\n",
             hook_rx_url(rx));
    srv = h_server_start(conf, NULL);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    h_user_add(srv, "carol", "pw-carol");
}

static int setup(void **st)
{
    (void)st;
    start_all();
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

/* Sends a single chat message with a pushInfo ("" = none); returns its seqId. */
static int64_t send_push(omtp_sync *c, int type, const char *to, const char *content,
                         const char *push_info)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.from, omtp_sync_user(c));
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    tars_str_set(&m.pushInfo, push_info);
    m.contentType = 1;
    omtp_MsgAck ack;
    omtp_msg_init(&omtp_MsgAck_desc, &ack);
    assert_int_equal(omtp_sync_call(c, type, &omtp_MsgReq_desc, &m, &omtp_MsgAck_desc, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return seq;
}

/* Request i as a parsed, signature-checked JSON array (caller decrefs). */
static json_t *event_batch(int i)
{
    hook_rx_req q;
    assert_true(hook_rx_get(rx, i, &q));
    assert_string_equal(q.path, "/push");
    assert_string_equal(q.event, "offline_push");
    assert_true(hook_rx_verify(SECRET, q.signature, q.body, q.len, 300));
    json_error_t err;
    json_t *j = json_loads(q.body, 0, &err);
    free(q.body);
    assert_non_null(j);
    assert_true(json_is_array(j));
    assert_true(json_array_size(j) >= 1);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Sends the sentinel (alice -> carol, offline) and waits until its event is
 * request n-1 ... i.e. the total reaches n. Returns the number of requests
 * before the sentinel's. */
static int sentinel(omtp_sync *alice, int before)
{
    int64_t seq = send_push(alice, PT_MSG_SINGLE_CHAT, "carol", "sentinel", "s");
    assert_true(hook_rx_wait(rx, before + 1, 10000));
    int n = hook_rx_count(rx);
    json_t *j = event_batch(n - 1);
    json_t *e = json_array_get(j, json_array_size(j) - 1);
    assert_string_equal(jstr(e, "recipient"), "carol");
    assert_int_equal(json_integer_value(json_object_get(e, "seqId")), seq);
    json_decref(j);
    return n - 1;
}

static void test_offline_recipient_one_event(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    int64_t seq = send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "hi bob", "{\"title\":\"alice\"}");
    assert_true(hook_rx_wait(rx, 1, 10000));
    json_t *j = event_batch(0);
    assert_int_equal(json_array_size(j), 1);
    json_t *e = json_array_get(j, 0);
    assert_string_equal(jstr(e, "event"), "offline_push");
    assert_string_equal(jstr(e, "recipient"), "bob");
    assert_string_equal(jstr(e, "type"), "single");
    assert_string_equal(jstr(e, "sessionId"), "SC_alice_bob");
    assert_string_equal(jstr(e, "from"), "alice");
    assert_string_equal(jstr(e, "to"), "bob");
    assert_string_equal(jstr(e, "pushInfo"), "{\"title\":\"alice\"}");
    assert_int_equal(json_integer_value(json_object_get(e, "seqId")), seq);
    assert_int_equal(json_integer_value(json_object_get(e, "unread")), 1);
    assert_null(json_object_get(e, "content")); /* the content is not sent */
    json_decref(j);
    /* exactly one: the sentinel's event is the next request */
    assert_int_equal(sentinel(alice, 1), 1);

    /* a second message: the badge counts both */
    send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "again", "p");
    assert_true(hook_rx_wait(rx, 3, 10000));
    j = event_batch(2);
    e = json_array_get(j, 0);
    assert_string_equal(jstr(e, "recipient"), "bob");
    assert_int_equal(json_integer_value(json_object_get(e, "unread")), 2);
    json_decref(j);
    omtp_sync_close(alice);
}

static void test_online_or_no_push_info_no_event(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    omtp_sync *bob = h_login(srv, "bob", "pw-bob", 5);
    /* bob is online and in the foreground */
    send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "you are here", "p");
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(bob, 5000, &p), 0); /* bob got it live */
    omtp_packet_free(&p);
    /* carol is offline but the message has no pushInfo */
    send_push(alice, PT_MSG_SINGLE_CHAT, "carol", "no push wanted", "");
    assert_int_equal(sentinel(alice, 0), 0); /* the sentinel is the first request */
    omtp_sync_close(bob);
    omtp_sync_close(alice);
}

static void test_background_device_counts_offline(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    omtp_sync *bob = h_login(srv, "bob", "pw-bob", 1);
    omtp_UserAttrSetReq a;
    omtp_CommonErrorCode r;
    omtp_msg_init(&omtp_UserAttrSetReq_desc, &a);
    tars_str_set(&a.attribute.attrName, "device.background");
    tars_str_set(&a.attribute.attrValue, "1");
    assert_int_equal(omtp_sync_call(bob, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &a,
                                    &omtp_CommonErrorCode_desc, &r),
                     0);
    assert_int_equal(r.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &r);

    int64_t seq = send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "are you there", "p");
    assert_true(hook_rx_wait(rx, 1, 10000));
    json_t *j = event_batch(0);
    json_t *e = json_array_get(j, 0);
    assert_string_equal(jstr(e, "recipient"), "bob");
    assert_int_equal(json_integer_value(json_object_get(e, "seqId")), seq);
    json_decref(j);

    /* back in the foreground: no event */
    tars_str_set(&a.attribute.attrValue, "0");
    assert_int_equal(omtp_sync_call(bob, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &a,
                                    &omtp_CommonErrorCode_desc, &r),
                     0);
    assert_int_equal(r.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &r);
    send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "now?", "p");
    assert_int_equal(sentinel(alice, 1), 1);

    /* an unknown device attribute is refused */
    tars_str_set(&a.attribute.attrName, "device.color");
    assert_int_equal(omtp_sync_call(bob, PT_USERATTRIBUTE_SET, &omtp_UserAttrSetReq_desc, &a,
                                    &omtp_CommonErrorCode_desc, &r),
                     0);
    assert_int_equal(r.code, OMTP_EC_PARAM);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &r);
    omtp_msg_free(&omtp_UserAttrSetReq_desc, &a);
    omtp_sync_close(bob);
    omtp_sync_close(alice);
}

static void test_receiver_down_then_up(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    hook_rx_stop(rx);
    int64_t seq = send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "while down", "p");
    /* the first attempt fails: the log says so */
    int64_t end = h_now_ms() + 10000;
    char *log = NULL;
    while (h_now_ms() < end) {
        free(log);
        log = h_server_log(srv);
        if (strstr(log, "offline push for bob failed"))
            break;
        omtp_sync_ping(alice);
    }
    assert_non_null(strstr(log, "offline push for bob failed"));
    free(log);
    assert_int_equal(hook_rx_count(rx), 0);
    assert_int_equal(hook_rx_restart(rx), 0);
    assert_true(hook_rx_wait(rx, 1, 15000));
    json_t *j = event_batch(0);
    assert_int_equal(json_array_size(j), 1);
    json_t *e = json_array_get(j, 0);
    assert_string_equal(jstr(e, "recipient"), "bob");
    assert_int_equal(json_integer_value(json_object_get(e, "seqId")), seq);
    json_decref(j);
    /* delivered once: the sentinel comes next */
    assert_int_equal(sentinel(alice, 1), 1);
    omtp_sync_close(alice);
}

static void test_burst_is_batched(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    /* five messages to offline bob, pipelined: acks first, then one POST */
    for (int i = 0; i < 5; i++)
        send_push(alice, PT_MSG_SINGLE_CHAT, "bob", "burst", "p");
    assert_true(hook_rx_wait(rx, 1, 10000));
    int events = 0;
    int64_t last = 0;
    int64_t end = h_now_ms() + 10000;
    for (int i = 0; events < 5 && h_now_ms() < end; i++) {
        assert_true(hook_rx_wait(rx, i + 1, 10000));
        json_t *j = event_batch(i);
        for (size_t k = 0; k < json_array_size(j); k++) {
            json_t *e = json_array_get(j, k);
            int64_t seq = json_integer_value(json_object_get(e, "seqId"));
            assert_true(seq > last); /* in order */
            last = seq;
            events++;
        }
        json_decref(j);
    }
    assert_int_equal(events, 5);
    /* sends take longer than the 200 ms window only on a very slow machine */
    assert_true(hook_rx_count(rx) <= 3);
    omtp_sync_close(alice);
}

/* alice creates group `gid` with bob and carol. */
static void make_group(omtp_sync *alice, const char *gid)
{
    omtp_GroupChatCreateReq q;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &q);
    tars_str_set(&q.groupInfo.groupId, gid);
    tars_str_set(&q.groupInfo.name, "hooks");
    tars_str_set(&q.groupInfo.creatorId, "alice");
    tars_str ids[2] = {{(char *)"bob", 3}, {(char *)"carol", 5}};
    q.memberIds.items = ids;
    q.memberIds.n = 2;
    omtp_GroupChatCreateResp r;
    assert_int_equal(omtp_sync_call(alice, PT_GROUPCHAT_CREATE, &omtp_GroupChatCreateReq_desc, &q,
                                    &omtp_GroupChatCreateResp_desc, &r),
                     0);
    assert_int_equal(r.errorCode.code, 0);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &r);
    q.memberIds.items = NULL; /* borrowed */
    q.memberIds.n = 0;
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &q);
}

static void test_group_offline_members_only(void **st)
{
    (void)st;
    omtp_sync *alice = h_login(srv, "alice", "pw-alice", 5);
    omtp_sync *bob = h_login(srv, "bob", "pw-bob", 5);
    make_group(alice, "GC_hooks");
    /* bob is online, carol is not; alice is the sender */
    int64_t seq = send_push(alice, PT_MSG_GROUP_CHAT, "GC_hooks", "hello group", "g");
    assert_true(hook_rx_wait(rx, 1, 10000));
    json_t *j = event_batch(0);
    assert_int_equal(json_array_size(j), 1);
    json_t *e = json_array_get(j, 0);
    assert_string_equal(jstr(e, "recipient"), "carol");
    assert_string_equal(jstr(e, "type"), "group");
    assert_string_equal(jstr(e, "sessionId"), "GC_hooks");
    assert_string_equal(jstr(e, "to"), "GC_hooks");
    assert_string_equal(jstr(e, "from"), "alice");
    assert_string_equal(jstr(e, "pushInfo"), "g");
    assert_int_equal(json_integer_value(json_object_get(e, "seqId")), seq);
    json_decref(j);
    /* nothing for bob (online) nor alice (sender) */
    assert_int_equal(sentinel(alice, 1), 1);
    omtp_sync_close(bob);
    omtp_sync_close(alice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offline_recipient_one_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_online_or_no_push_info_no_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_device_counts_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receiver_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_is_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_offline_members_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
