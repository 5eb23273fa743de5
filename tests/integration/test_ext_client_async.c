/*
 * test_ext_client_async.c - libomtp's async client (omtp_client.h) for the
 * extensions against a real omtpd: omtp_client_presence_sub answers the
 * current state and on_presence gets the change when a friend logs in;
 * on_typing gets a friend's typing notice; omtp_client_readers answers;
 * omtp_client_typing reports a refusal.
 * The test thread runs the client's loop itself (run_until).
 */
#include <uv.h>

#include "client/omtp_client.h"
#include "ext_common.h"

typedef struct env {
    uv_loop_t loop;
    uv_timer_t wake;
    omtp_client *c;
    int online, catchups, presence, typing, replies;
    bool friend_online;
    int reply_code;
    char typing_user[64];
    char last_desc[256];
} env;

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    (void)c;
    env *e = ud;
    if (ev->state == OMTP_CLIENT_ONLINE)
        e->online++;
    snprintf(e->last_desc, sizeof(e->last_desc), "%s", ev->desc);
}

static void on_catchup_done(omtp_client *c, int err, void *ud)
{
    (void)c;
    (void)err;
    ((env *)ud)->catchups++;
}

static void on_presence(omtp_client *c, const omtp_PresenceNotice *n, void *ud)
{
    (void)c;
    env *e = ud;
    const omtp_PresenceInfo *p = x_pres_find(&n->users, "y1");
    if (p) {
        e->friend_online = p->online;
        e->presence++;
    }
}

static void on_typing(omtp_client *c, const omtp_TypingNotice *t, void *ud)
{
    (void)c;
    env *e = ud;
    snprintf(e->typing_user, sizeof(e->typing_user), "%s", t->userId.data);
    e->typing++;
}

static void on_reply(omtp_client *c, int status, const omtp_packet *r, void *ud)
{
    (void)c;
    env *e = ud;
    e->reply_code = -1;
    if (status == 0 && r->body) {
        if (r->desc == &omtp_PresenceSubResp_desc)
            e->reply_code = ((omtp_PresenceSubResp *)r->body)->errorCode.code;
        else if (r->desc == &omtp_MsgReadersResp_desc)
            e->reply_code = ((omtp_MsgReadersResp *)r->body)->errorCode.code;
        else if (r->desc == &omtp_CommonErrorCode_desc)
            e->reply_code = ((omtp_CommonErrorCode *)r->body)->code;
    } else if (status == OMTP_ETIMEDOUT) {
        e->reply_code = 0; /* typing: accepted */
    }
    e->replies++;
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

static void run_until(env *e, const int *counter, int want, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    while (*counter < want) {
        if (h_now_ms() > deadline)
            fail_msg("waited %d ms for a counter to reach %d (it is %d); last state: %s", ms, want,
                     *counter, e->last_desc);
        uv_run(&e->loop, UV_RUN_ONCE);
    }
}

static void test_async_client_extensions(void **st)
{
    (void)st;
    h_server *s = g_start(NULL, "y", 3);
    omtp_sync *b = g_login(s, "y1", DEVICE_LINUX);
    x_friend(b, "y1", "y0");
    omtp_sync_close(b);

    env e;
    memset(&e, 0, sizeof(e));
    assert_int_equal(uv_loop_init(&e.loop), 0);
    uv_timer_init(&e.loop, &e.wake);
    uv_timer_start(&e.wake, on_wake, 10, 10);
    omtp_client_config cfg = {.host = "127.0.0.1",
                              .port = s->port,
                              .user = "y0",
                              .password = G_PW,
                              .device_type = DEVICE_LINUX,
                              .connect_timeout_ms = 2000};
    omtp_client_callbacks cb = {.on_state = on_state,
                                .on_catchup_done = on_catchup_done,
                                .on_presence = on_presence,
                                .on_typing = on_typing};
    assert_int_equal(omtp_client_new(&e.loop, &cfg, &cb, &e, &e.c), 0);
    assert_int_equal(omtp_client_start(e.c), 0);
    run_until(&e, &e.catchups, 1, 10000);

    const char *ids[] = {"y1"};
    assert_int_equal(omtp_client_presence_sub(e.c, ids, 1, on_reply, &e), 0);
    run_until(&e, &e.replies, 1, 5000);
    assert_int_equal(e.reply_code, 0);

    b = g_login(s, "y1", DEVICE_LINUX);
    run_until(&e, &e.presence, 1, 5000);
    assert_true(e.friend_online);
    int code;
    assert_int_equal(omtp_sync_typing(b, "SC_y0_y1", 1, 0, &code), 0);
    run_until(&e, &e.typing, 1, 5000);
    assert_string_equal(e.typing_user, "y1");

    assert_int_equal(omtp_client_readers(e.c, "SC_y0_y1", 1, on_reply, &e), 0);
    run_until(&e, &e.replies, 2, 5000);
    assert_int_equal(e.reply_code, OMTP_EC_MSG_FORBIDDEN); /* no message yet: no session */
    assert_int_equal(omtp_client_typing(e.c, "GC_nosuch", 1, on_reply, &e), 0);
    run_until(&e, &e.replies, 3, 5000);
    assert_int_equal(e.reply_code, OMTP_EC_MSG_FORBIDDEN);

    omtp_sync_close(b);
    omtp_client_destroy(e.c);
    uv_close((uv_handle_t *)&e.wake, NULL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e.loop), 0);
    g_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_async_client_extensions, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
