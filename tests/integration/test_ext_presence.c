/*
 * test_ext_presence.c - live presence (PT_PRESENCE_SUB 100 / PT_PRESENCE
 * 101, spec/omtp-ext.tars) against a real omtpd over TCP: only friends and
 * members of a shared session are answered and notified (strangers silently
 * left out), online = a device online in the foreground ("device.background"
 * = away), devices counted, lastSeen after leaving and hidden by the
 * attribute "presence.lastSeen" = "hidden", notices coalesced (at most one
 * per 250 ms), the subscription replaced / emptied, and the bad input:
 * 100,000 ids, more than presence_max_subs, invalid ids.
 */
#include "ext_common.h"

static void sub(omtp_sync *c, const char *const *ids, size_t n, omtp_PresenceSubResp *r)
{
    assert_int_equal(omtp_sync_presence_sub(c, ids, n, r), 0);
}

static void test_presence_visibility_and_states(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "p", 5);
    omtp_sync *a = g_login(s, "p0", DEVICE_LINUX);
    x_friend(a, "p0", "p1");
    tars_str_list m = g_ids("p2", NULL);
    char gid[160];
    assert_int_equal(g_create(a, "pals", NULL, 0, &m, gid), 0); /* p2 shares a group */
    g_ids_free(&m);
    omtp_sync *b0 = g_login(s, "p2", DEVICE_LINUX); /* p2 online before the subscription */

    const char *ids[] = {"p1", "p2", "p3", "ghost"};
    omtp_PresenceSubResp r;
    sub(a, ids, 4, &r);
    assert_int_equal(r.errorCode.code, 0);
    assert_int_equal(r.users.n, 2); /* p3 (stranger), ghost (no user) left out */
    const omtp_PresenceInfo *e1 = x_pres_find(&r.users, "p1");
    const omtp_PresenceInfo *e2 = x_pres_find(&r.users, "p2");
    assert_non_null(e1);
    assert_non_null(e2);
    assert_false(e1->online);
    assert_int_equal(e1->devices, 0);
    assert_int_equal(e1->lastSeen, 0); /* never seen */
    assert_true(e2->online);
    assert_int_equal(e2->devices, 1);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);

    /* a stranger's login is never told */
    omtp_sync *c = g_login(s, "p3", DEVICE_LINUX);
    /* p1 comes online: told */
    omtp_sync *b = g_login(s, "p1", DEVICE_LINUX);
    omtp_PresenceInfo pi;
    x_expect_presence(a, "p1", 3000, &pi);
    assert_true(pi.online);
    assert_int_equal(pi.devices, 1);
    assert_true(pi.lastSeen > 0);
    /* a second device: 2 devices */
    omtp_sync *b2 = g_login(s, "p1", DEVICE_IOS);
    x_expect_presence(a, "p1", 3000, &pi);
    assert_true(pi.online);
    assert_int_equal(pi.devices, 2);
    /* both in the background: away, still 2 devices; lastSeen = now */
    int64_t before = omtp_now_ms(); /* wall clock, like lastSeen */
    assert_int_equal(x_attr(b2, "", "device.background", "1"), 0);
    assert_int_equal(x_attr(b, "", "device.background", "1"), 0);
    for (;;) {
        x_expect_presence(a, "p1", 3000, &pi);
        if (!pi.online)
            break;
    }
    assert_int_equal(pi.devices, 2);
    assert_true(pi.lastSeen >= before - 1000 && pi.lastSeen <= omtp_now_ms() + 1000);
    /* gone: offline, lastSeen kept (the last time it was in the foreground) */
    int64_t seen = pi.lastSeen;
    omtp_sync_close(b);
    omtp_sync_close(b2);
    for (;;) {
        x_expect_presence(a, "p1", 3000, &pi);
        if (pi.devices == 0)
            break;
    }
    assert_false(pi.online);
    assert_int_equal(pi.lastSeen, seen);

    /* nothing about the stranger ever came */
    omtp_packet p;
    while (x_next(a, PT_PRESENCE, 400, &p) == 0) {
        assert_null(x_pres_find(&((omtp_PresenceNotice *)p.body)->users, "p3"));
        omtp_packet_free(&p);
    }

    /* replaced by an empty list: no more notices */
    sub(a, NULL, 0, &r);
    assert_int_equal(r.errorCode.code, 0);
    assert_int_equal(r.users.n, 0);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    omtp_sync_close(b0); /* p2 leaves */
    assert_int_equal(x_next(a, PT_PRESENCE, 700, &p), OMTP_ETIMEDOUT);

    omtp_sync_close(c);
    omtp_sync_close(a);
    g_stop(s);
}

static void test_presence_coalesced(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "q", 2);
    omtp_sync *a = g_login(s, "q0", DEVICE_LINUX);
    x_friend(a, "q0", "q1");
    omtp_sync *b = g_login(s, "q1", DEVICE_LINUX);
    const char *ids[] = {"q1"};
    omtp_PresenceSubResp r;
    sub(a, ids, 1, &r);
    assert_int_equal(r.users.n, 1);
    assert_true(r.users.items[0].online);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);

    /* 40 changes as fast as the requests go */
    int64_t t0 = h_now_ms();
    for (int i = 0; i < 40; i++)
        assert_int_equal(x_attr(b, "", "device.background", i % 2 ? "0" : "1"), 0);
    /* the last change (foreground) arrives; count what came on the way */
    int notices = 0;
    omtp_packet p;
    int64_t last = t0;
    bool final_online = false;
    while (x_next(a, PT_PRESENCE, 800, &p) == 0) {
        const omtp_PresenceNotice *n = p.body;
        assert_non_null(n);
        assert_int_equal(n->users.n, 1); /* q1 once per notice */
        final_online = n->users.items[0].online;
        last = h_now_ms();
        notices++;
        omtp_packet_free(&p);
    }
    assert_true(final_online); /* the state after the last change */
    assert_true(notices >= 1);
    assert_true(notices < 40);
    /* sent at least 250 ms apart, all after t0 and before the last arrival:
     * delays on a loaded box only widen the window */
    assert_true(notices <= (last - t0) / 250 + 1);

    omtp_sync_close(b);
    omtp_sync_close(a);
    g_stop(s);
}

static void test_presence_hidden_last_seen(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "h", 2);
    omtp_sync *a = g_login(s, "h0", DEVICE_LINUX);
    x_friend(a, "h0", "h1");
    const char *ids[] = {"h1"};
    omtp_PresenceSubResp r;
    sub(a, ids, 1, &r);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);

    omtp_sync *b = g_login(s, "h1", DEVICE_LINUX);
    omtp_PresenceInfo pi;
    x_expect_presence(a, "h1", 3000, &pi);
    assert_true(pi.online);
    assert_true(pi.lastSeen > 0);
    /* h1 hides its last-seen: watchers are told lastSeen 0 */
    assert_int_equal(x_attr(b, "h1", "presence.lastSeen", "hidden"), 0);
    x_expect_presence(a, "h1", 3000, &pi);
    assert_true(pi.online);
    assert_int_equal(pi.lastSeen, 0);
    omtp_sync_close(b);
    for (;;) {
        x_expect_presence(a, "h1", 3000, &pi);
        if (!pi.online)
            break;
    }
    assert_int_equal(pi.lastSeen, 0);
    /* a new subscription reads the attribute from the store */
    omtp_sync *a2 = g_login(s, "h0", DEVICE_IOS);
    sub(a2, ids, 1, &r);
    assert_int_equal(r.users.n, 1);
    assert_false(r.users.items[0].online);
    assert_int_equal(r.users.items[0].lastSeen, 0);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    /* shown again */
    b = g_login(s, "h1", DEVICE_LINUX);
    assert_int_equal(x_attr(b, "h1", "presence.lastSeen", "shown"), 0);
    omtp_sync_close(b);
    for (;;) {
        x_expect_presence(a, "h1", 3000, &pi);
        if (!pi.online && pi.lastSeen > 0)
            break;
    }

    omtp_sync_close(a2);
    omtp_sync_close(a);
    g_stop(s);
}

static void test_presence_bad_input(void **st)
{
    (void)st;
    h_server *s = g_start("presence_max_subs = 5", "b", 8);
    omtp_sync *a = g_login(s, "b0", DEVICE_LINUX);
    x_friend(a, "b0", "b1");
    const char *ok[] = {"b1"};
    omtp_PresenceSubResp r;
    sub(a, ok, 1, &r);
    assert_int_equal(r.errorCode.code, 0);
    assert_int_equal(r.users.n, 1);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);

    /* more than presence_max_subs: PARAM, the old subscription kept */
    const char *six[] = {"b1", "b2", "b3", "b4", "b5", "b6"};
    sub(a, six, 6, &r);
    assert_int_equal(r.errorCode.code, OMTP_EC_PARAM);
    assert_non_null(strstr(r.errorCode.desc.data, "presence_max_subs"));
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    /* 100,000 ids */
    enum { BIG = 100000 };
    char(*buf)[16] = malloc(BIG * sizeof(*buf));
    const char **big = malloc(BIG * sizeof(*big));
    for (int i = 0; i < BIG; i++) {
        snprintf(buf[i], sizeof buf[i], "u%d", i);
        big[i] = buf[i];
    }
    sub(a, big, BIG, &r);
    assert_int_equal(r.errorCode.code, OMTP_EC_PARAM);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    free(big);
    free(buf);
    /* an invalid id */
    const char *bad[] = {"b1", "x_y"};
    sub(a, bad, 2, &r);
    assert_int_equal(r.errorCode.code, OMTP_EC_PARAM);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);
    /* duplicates count once */
    const char *dup[] = {"b1", "b1", "b1", "b1", "b1"};
    sub(a, dup, 5, &r);
    assert_int_equal(r.errorCode.code, 0);
    assert_int_equal(r.users.n, 1);
    omtp_msg_free(&omtp_PresenceSubResp_desc, &r);

    /* the old subscription still works */
    omtp_sync *b = g_login(s, "b1", DEVICE_LINUX);
    omtp_PresenceInfo pi;
    x_expect_presence(a, "b1", 3000, &pi);
    assert_true(pi.online);
    /* a watcher that closes takes its subscription with it; the server
     * goes on */
    omtp_sync_close(a);
    omtp_sync_close(b);
    a = g_login(s, "b0", DEVICE_LINUX);
    assert_int_equal(omtp_sync_ping(a), 0);
    omtp_sync_close(a);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_presence_visibility_and_states, h_teardown),
        cmocka_unit_test_teardown(test_presence_coalesced, h_teardown),
        cmocka_unit_test_teardown(test_presence_hidden_last_seen, h_teardown),
        cmocka_unit_test_teardown(test_presence_bad_input, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
