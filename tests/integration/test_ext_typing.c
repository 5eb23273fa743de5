/*
 * test_ext_typing.c - typing notices (PT_TYPING 102, spec/omtp-ext.tars)
 * against a real omtpd over TCP: relayed to the other user of a single chat
 * and to a group's online members, nothing answered on success, never
 * stored, at most one relay per (user, session) per second (a flood gives
 * one), refused for sessions the user is not in (MSG_FORBIDDEN) and for bad
 * state values or session kinds (PARAM).
 */
#include <unistd.h>

#include "ext_common.h"

static void expect_typing(omtp_sync *c, const char *session, const char *user, int state)
{
    omtp_packet p;
    assert_int_equal(x_next(c, PT_TYPING, 3000, &p), 0);
    const omtp_TypingNotice *n = p.body;
    assert_non_null(n);
    assert_string_equal(n->sessionId.data, session);
    assert_string_equal(n->userId.data, user);
    assert_int_equal(n->state, state);
    omtp_packet_free(&p);
}

static void expect_none_at(omtp_sync *c, int ms, int line)
{
    omtp_packet p;
    if (x_next(c, PT_TYPING, ms, &p) != OMTP_ETIMEDOUT)
        fail_msg("line %d: an unexpected typing notice", line);
}
#define expect_none(c, ms) expect_none_at(c, ms, __LINE__)

static int typing(omtp_sync *c, const char *session, int state)
{
    int code = -1;
    assert_int_equal(omtp_sync_typing(c, session, state, 500, &code), 0);
    return code;
}

static void test_typing_single_chat(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "t", 3);
    omtp_sync *a = g_login(s, "t0", DEVICE_LINUX);
    omtp_sync *b = g_login(s, "t1", DEVICE_LINUX);
    omtp_sync *c = g_login(s, "t2", DEVICE_LINUX);
    const char *sid = "SC_t0_t1";

    int code = -1;
    assert_int_equal(omtp_sync_typing(a, sid, 1, 0, &code), 0);
    expect_typing(b, sid, "t0", 1);
    /* at once again, within the second: dropped silently (no relay, no
     * answer) */
    assert_int_equal(omtp_sync_typing(a, sid, 0, 0, &code), 0);
    expect_none(b, 300);
    /* a flood: nothing more within the second, the connection stays */
    for (int i = 0; i < 100; i++) {
        omtp_TypingReq q = {.sessionId = {.data = (char *)sid, .len = 8}, .state = 1};
        assert_int_equal(omtp_sync_send(a, PT_TYPING, 0, NULL, &omtp_TypingReq_desc, &q, NULL), 0);
    }
    assert_int_equal(omtp_sync_ping(a), 0);
    /* a second later: relayed again (b answers too) */
    usleep(1100 * 1000);
    assert_int_equal(typing(b, sid, 1), 0);
    expect_typing(a, sid, "t1", 1);
    /* at most one of the flood went through (the second window) */
    omtp_packet p;
    int n = 0;
    while (x_next(b, PT_TYPING, 300, &p) == 0) {
        n++;
        omtp_packet_free(&p);
    }
    assert_true(n <= 1);
    usleep(1100 * 1000);
    assert_int_equal(typing(a, sid, 0), 0); /* a new second: "stopped" relayed */
    expect_typing(b, sid, "t0", 0);
    /* nobody else hears it */
    expect_none(c, 300);
    /* never stored */
    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(b, sid, 0, 50, &h), 0);
    assert_int_equal(h.msgs.n, 0);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    /* not your session: refused */
    assert_int_equal(typing(c, sid, 1), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(typing(c, "SC_t0_t0x", 1), OMTP_EC_MSG_FORBIDDEN);
    /* bad values */
    assert_int_equal(typing(a, "SC_t0_t2", 7), OMTP_EC_PARAM);
    assert_int_equal(typing(a, "BM_app_t0", 1), OMTP_EC_PARAM);
    assert_int_equal(typing(a, "", 1), OMTP_EC_PARAM);
    expect_none(b, 200);

    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(c);
    g_stop(s);
}

static void test_typing_group(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "g", 4);
    omtp_sync *a = g_login(s, "g0", DEVICE_LINUX);
    omtp_sync *b = g_login(s, "g1", DEVICE_LINUX);
    omtp_sync *c = g_login(s, "g2", DEVICE_LINUX);
    omtp_sync *d = g_login(s, "g3", DEVICE_LINUX);
    tars_str_list m = g_ids("g1", "g2", NULL);
    char gid[160];
    assert_int_equal(g_create(a, "team", NULL, 0, &m, gid), 0);
    g_ids_free(&m);

    assert_int_equal(typing(b, gid, 1), 0);
    expect_typing(a, gid, "g1", 1);
    expect_typing(c, gid, "g1", 1);
    expect_none(d, 300); /* not a member */
    /* a non-member may not type there; an unknown group likewise */
    assert_int_equal(typing(d, gid, 1), OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(typing(d, "GC_nosuchgroup", 1), OMTP_EC_MSG_FORBIDDEN);
    expect_none(a, 200);
    /* a flood from one member: one relay per second */
    int code;
    for (int i = 0; i < 100; i++)
        assert_int_equal(omtp_sync_typing(c, gid, i & 1, 0, &code), 0);
    assert_int_equal(omtp_sync_ping(c), 0); /* still connected */
    omtp_packet p;
    int n = 0;
    while (x_next(a, PT_TYPING, 400, &p) == 0) {
        n++;
        omtp_packet_free(&p);
    }
    assert_true(n >= 1 && n <= 2); /* the flood may straddle one second boundary */

    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(c);
    omtp_sync_close(d);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_typing_single_chat, h_teardown),
        cmocka_unit_test_teardown(test_typing_group, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
