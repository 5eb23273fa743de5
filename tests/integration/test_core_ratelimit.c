/*
 * test_core_ratelimit.c - the per-connection request rate limit (req_rate,
 * req_burst, req_refusals_max), against a real omtpd over TCP.
 *
 * omtpd runs with req_rate = 2, req_burst = 6, req_refusals_max = 20.
 * alice writes bursts of pipelined MsgReqs to bob in ONE write (so the
 * server reads them in one loop turn, at one uv_now: no refill can happen
 * in between) and the test checks, by packId:
 *   - the first 6 are acked (code 0) and pushed to bob; the rest get
 *     SERVER_REFUSED (7) at once, a history pull (desc-bearing reply) too,
 *     with "slow down" in its desc; a PING in the same write is answered;
 *   - bob's history holds exactly the accepted messages (refused ones were
 *     never stored);
 *   - after 1.1 s (>= 2 tokens at 2/s) two sends succeed again;
 *   - a burst of 40 more exceeds 20 refusals within 10 s: the connection is
 *     closed, with a WARN log line naming user, device and address, and
 *     /metrics counts the refusals and the close; bob's own connection was
 *     never limited (the bucket is per connection).
 * A second test runs with the defaults (req_rate 50, req_burst 200: on
 * unless configured) and checks that a burst of 300 pipelined sends gets
 * about 200 through and the rest refused, and a third that `req_rate = 0`
 * (what benchmarks and load tests pass) accepts all 300.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "chat_common.h"
#include "h_http.h"

/* Writes n single-chat messages to `to` with packId = content =
 * "<prefix><i>" in ONE write. */
static void send_burst(omtp_sync *c, const char *to, const char *prefix, int n)
{
    tars_buf b;
    tars_buf_init(&b);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s%d", prefix, i);
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.from, omtp_sync_user(c));
        tars_str_set(&m.to, to);
        tars_str_set(&m.content, id);
        assert_int_equal(
            omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, id, &omtp_MsgReq_desc, &m, NULL, 0), 0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    assert_int_equal(omtp_sync_send_raw(c, b.data, b.len), 0);
    tars_buf_free(&b);
}

/* The MsgAck code of the reply to packId, or -1 if the connection closed
 * without one. */
static int ack_code(omtp_sync *c, const char *packId)
{
    omtp_packet r;
    int rc = omtp_sync_wait_reply(c, packId, 5000, &r);
    if (rc == OMTP_ECLOSED)
        return -1;
    assert_int_equal(rc, 0);
    assert_int_equal(r.header.type, PT_MSG_SINGLE_CHAT);
    assert_non_null(r.body);
    int code = ((omtp_MsgAck *)r.body)->code;
    omtp_packet_free(&r);
    return code;
}

/* Bob's history of SC_alice_bob, oldest first, as one "a,b,c," string. */
static void history_text(omtp_sync *bob, char *out, size_t len, int *count)
{
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(bob, "SC_alice_bob", 0, 200, &h), 0);
    out[0] = 0;
    *count = (int)h.msgs.n;
    for (int i = (int)h.msgs.n - 1; i >= 0; i--) {
        omtp_MsgReq m;
        chat_pack_msg(&h.msgs.items[i], &m);
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s,", m.content.data ? m.content.data : "");
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
}

static void test_limit(void **state)
{
    (void)state;
    char dir[] = "/tmp/omtp-rl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char http_port_path[64];
    snprintf(http_port_path, sizeof(http_port_path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", http_port_path, NULL};
    chat_srv *s = chat_srv_start("req_rate = 2\nreq_burst = 6\nreq_refusals_max = 20\n", args);
    int hport = h_http_port(http_port_path);
    assert_true(hport > 0);
    chat_srv_user(s, "alice", 0);
    chat_srv_user(s, "bob", 0);
    omtp_sync *a = chat_login(chat_srv_port(s), "alice", DEVICE_LINUX);
    omtp_sync *b = chat_login(chat_srv_port(s), "bob", DEVICE_ANDROID);
    char expect[4096] = "", got[4096];
    int n;

    /* 10 sends, a history pull and a PING in one write: 6 tokens */
    send_burst(a, "bob", "m", 10);
    char hist_id[37], ping_id[37];
    omtp_HistoryMsgPullReq hq;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &hq);
    tars_str_set(&hq.sessionId, "SC_alice_bob");
    hq.count = 10;
    assert_int_equal(
        omtp_sync_send(a, PT_HISTORY_MSG_PULL, 0, NULL, &omtp_HistoryMsgPullReq_desc, &hq, hist_id),
        0);
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &hq);
    assert_int_equal(omtp_sync_send(a, PT_PING, 0, NULL, NULL, NULL, ping_id), 0);
    int64_t t_burst = h_now_ms();
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m%d", i);
        assert_int_equal(ack_code(a, id), i < 6 ? OMTP_EC_SUCCESS : OMTP_EC_SERVER_REFUSED);
        if (i < 6) {
            size_t l = strlen(expect);
            snprintf(expect + l, sizeof(expect) - l, "%s,", id);
        }
    }
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(a, hist_id, 5000, &r), 0);
    assert_non_null(r.body);
    const omtp_HistoryMsgPullResp *hr = r.body;
    assert_int_equal(hr->errorCode.code, OMTP_EC_SERVER_REFUSED);
    assert_non_null(strstr(hr->errorCode.desc.data, "slow down"));
    assert_int_equal(hr->msgs.n, 0);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_wait_reply(a, ping_id, 5000, &r), 0); /* PING is exempt */
    assert_int_equal(r.header.type, PT_PING);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_ping(a), 0); /* and keeps being answered */

    /* bob got the 6 accepted ones pushed, and only those were stored */
    assert_int_equal(chat_count_pushes(b, PT_MSG_SINGLE_CHAT), 6);
    history_text(b, got, sizeof(got), &n);
    assert_int_equal(n, 6);
    assert_string_equal(got, expect);

    /* refill: >= 2 tokens after 1 s at 2/s (a time-based rule, so a sleep) */
    int64_t wait = t_burst + 1100 - h_now_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);
    send_burst(a, "bob", "r", 2);
    assert_int_equal(ack_code(a, "r0"), OMTP_EC_SUCCESS);
    assert_int_equal(ack_code(a, "r1"), OMTP_EC_SUCCESS);
    strcat(expect, "r0,r1,");

    /* sustained abuse: 40 more; more than 20 refusals in 10 s close it */
    send_burst(a, "bob", "x", 40);
    int ok = 0, refused = 0, unanswered = 0;
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof(id), "x%d", i);
        int code = ack_code(a, id);
        if (code == OMTP_EC_SUCCESS) {
            ok++;
            size_t l = strlen(expect);
            snprintf(expect + l, sizeof(expect) - l, "%s,", id);
        } else if (code == OMTP_EC_SERVER_REFUSED) {
            refused++;
        } else {
            assert_int_equal(code, -1);
            unanswered++;
        }
    }
    assert_true(ok <= 6);
    assert_true(refused >= 16 && refused <= 21); /* 5 of the window came before */
    assert_true(unanswered > 0);                 /* nothing after the close was read */
    assert_int_equal(omtp_sync_wait_closed(a, 5000), 0);
    char *log = h_server_log(s);
    char *line = strstr(log, "rate limit exceeded persistently");
    assert_non_null(line);
    while (line > log && line[-1] != '\n')
        line--;
    assert_non_null(strstr(line, "WARN"));
    assert_non_null(strstr(line, "127.0.0.1:"));
    assert_non_null(strstr(line, "user=alice"));
    assert_non_null(strstr(line, "dev=linux"));
    free(log);

    /* stored: exactly the accepted ones (bob's connection is not limited) */
    history_text(b, got, sizeof(got), &n);
    assert_int_equal(n, 8 + ok);
    assert_string_equal(got, expect);
    assert_true(h_metric(hport, "omtp_requests_rate_limited_total") == 4 + 1 + refused);
    assert_true(h_metric(hport, "omtp_rate_limit_closes_total") == 1);

    /* a new connection of alice has its own, full bucket */
    omtp_sync *a2 = chat_login(chat_srv_port(s), "alice", DEVICE_LINUX);
    assert_int_equal(chat_send(a2, "bob", "again", NULL), OMTP_EC_SUCCESS);

    omtp_sync_close(a);
    omtp_sync_close(a2);
    omtp_sync_close(b);
    chat_srv_stop(s);
    unlink(http_port_path);
    rmdir(dir);
}

/* The default is on (req_rate 50, req_burst 200): a flood of 300 pipelined
 * sends on one connection gets the bucket's 200 (plus what refills while
 * the server reads) and the rest is refused with SERVER_REFUSED. */
static void test_default_on(void **state)
{
    (void)state;
    chat_srv *s = chat_srv_start(NULL, NULL);
    chat_srv_user(s, "alice", 0);
    chat_srv_user(s, "bob", 0);
    omtp_sync *a = chat_login(chat_srv_port(s), "alice", DEVICE_LINUX);
    send_burst(a, "bob", "d", 300);
    int ok = 0, refused = 0, closed = 0;
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof(id), "d%d", i);
        int code = ack_code(a, id);
        if (code == -1) {
            closed = 1;
            break;
        }
        ok += code == OMTP_EC_SUCCESS;
        refused += code == OMTP_EC_SERVER_REFUSED;
    }
    fprintf(stderr, "default limits: %d of 300 accepted, %d refused\n", ok, refused);
    assert_false(closed);
    assert_true(ok >= 200);
    assert_true(refused >= 1);
    assert_int_equal(ok + refused, 300);
    assert_int_equal(omtp_sync_ping(a), 0);
    omtp_sync_close(a);
    chat_srv_stop(s);
}

/* req_rate 0 turns the limit off: a burst of 300 pipelined sends is all
 * accepted. */
static void test_unlimited(void **state)
{
    (void)state;
    chat_srv *s = chat_srv_start("req_rate = 0\n", NULL);
    chat_srv_user(s, "alice", 0);
    chat_srv_user(s, "bob", 0);
    omtp_sync *a = chat_login(chat_srv_port(s), "alice", DEVICE_LINUX);
    send_burst(a, "bob", "u", 300);
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof(id), "u%d", i);
        assert_int_equal(ack_code(a, id), OMTP_EC_SUCCESS);
    }
    assert_int_equal(omtp_sync_ping(a), 0);
    omtp_sync_close(a);
    chat_srv_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_limit, h_teardown),
        cmocka_unit_test_teardown(test_default_on, h_teardown),
        cmocka_unit_test_teardown(test_unlimited, h_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
