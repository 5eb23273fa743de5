/*
 * test_flood_default.c - attack replay: one connection floods sends at a
 * server started with the defaults (no req_rate in its config).
 *
 * Before the fix the request rate limit was off unless configured: one pair
 * pushed 31,529 msg/s and everyone else's latency rose 6x. Now it is on by
 * default (50 requests/s, bursts of 200, the connection closed after 100
 * refusals within 10 s): mallory writes 1,000 sends in one go; the first
 * ~200 are stored, the next are refused with SERVER_REFUSED (7) and never
 * stored, and then the connection is closed (acks of stored messages that
 * were still committing when it closed never reach mallory: a resend with
 * the same packId is answered from dedup). Meanwhile bob's messages to
 * carol are all acknowledged and all reach her history, and every message
 * mallory got acknowledged is in the victim's history.
 */
#include "../integration/chat_common.h"

#include <unistd.h>

#define FLOOD 1000

static void flood(omtp_sync *c, const char *to)
{
    tars_buf b;
    tars_buf_init(&b);
    for (int i = 0; i < FLOOD; i++) {
        char id[32];
        snprintf(id, sizeof(id), "f%d", i);
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.from, omtp_sync_user(c));
        tars_str_set(&m.to, to);
        tars_str_set(&m.content, id);
        assert_int_equal(
            omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, id, &omtp_MsgReq_desc, &m, NULL, 0), 0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    /* the server may close the connection before it read everything */
    (void)omtp_sync_send_raw(c, b.data, b.len);
    tars_buf_free(&b);
}

static void test_flood_with_defaults(void **st)
{
    (void)st;
    chat_srv *s = chat_srv_start(NULL, NULL); /* the defaults: no req_rate set */
    chat_srv_user(s, "mallory", 0);
    chat_srv_user(s, "victim", 0);
    chat_srv_user(s, "bob", 0);
    chat_srv_user(s, "carol", 0);
    omtp_sync *m = chat_login(chat_srv_port(s), "mallory", DEVICE_LINUX);
    omtp_sync *b = chat_login(chat_srv_port(s), "bob", DEVICE_LINUX);
    omtp_sync *c = chat_login(chat_srv_port(s), "carol", DEVICE_LINUX);

    flood(m, "victim");
    /* bystanders keep working while the flood is read */
    for (int i = 0; i < 20; i++) {
        char text[32];
        snprintf(text, sizeof(text), "bob-%d", i);
        assert_int_equal(chat_send(b, "carol", text, NULL), OMTP_EC_SUCCESS);
    }

    /* every reply that came (queued ones stay readable after the close) */
    int ok = 0, refused = 0, unanswered = 0;
    bool closed = false;
    for (int i = 0; i < FLOOD; i++) {
        char id[32];
        snprintf(id, sizeof(id), "f%d", i);
        omtp_packet r;
        int rc = omtp_sync_wait_reply(m, id, closed ? 0 : 10000, &r);
        if (rc == OMTP_ECLOSED || (closed && rc == OMTP_ETIMEDOUT)) {
            closed = true;
            unanswered++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_non_null(r.body);
        int code = ((omtp_MsgAck *)r.body)->code;
        ok += code == OMTP_EC_SUCCESS;
        refused += code == OMTP_EC_SERVER_REFUSED;
        omtp_packet_free(&r);
    }
    fprintf(stderr, "flood of %d sends: %d acked, %d refused, %d unanswered, connection %s\n",
            FLOOD, ok, refused, unanswered, closed ? "closed" : "open");
    assert_true(refused >= 100); /* "slow down" ... */
    assert_true(closed);         /* ... and the flooder is cut off */

    /* carol has every one of bob's messages; the victim only the stored ones */
    omtp_HistoryMsgPullResp h;
    assert_int_equal(chat_history(c, "SC_bob_carol", 0, 200, &h), 0);
    assert_int_equal((int)h.msgs.n, 20);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync *v = chat_login(chat_srv_port(s), "victim", DEVICE_LINUX);
    int total = 0;
    int64_t seq = 0;
    for (;;) { /* newest first, 200 a page */
        assert_int_equal(chat_history(v, "SC_mallory_victim", seq, 200, &h), 0);
        int n = (int)h.msgs.n;
        int64_t last = 0;
        if (n > 0) {
            omtp_MsgReq mm;
            chat_pack_msg(&h.msgs.items[n - 1], &mm);
            last = mm.seqId;
            omtp_msg_free(&omtp_MsgReq_desc, &mm);
        }
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
        total += n;
        if (n < 200 || last <= 1)
            break;
        seq = last - 1;
    }
    fprintf(stderr, "stored for the victim: %d\n", total);
    assert_true(total >= 200); /* the burst is served */
    assert_true(total <= 400); /* main: all 1,000 (200 + 50/s of refill at most here) */
    assert_true(ok <= total);  /* nothing acknowledged is lost */

    omtp_sync_close(v);
    omtp_sync_close(m);
    omtp_sync_close(b);
    omtp_sync_close(c);
    chat_srv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_flood_with_defaults, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
