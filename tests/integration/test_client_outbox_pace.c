/*
 * test_client_outbox_pace.c - the libuv client's outbox against a real
 * omtpd with a small request rate limit (req_rate / req_burst): a queue much
 * longer than the burst -- messages written while offline, or a burst
 * written online -- is delivered completely and in order, none of them
 * acknowledged with SERVER_REFUSED (7) to the application, and the server
 * does not close the connection for ignored refusals (req_refusals_max):
 * before the outbox paced itself, a long queue was sent at once, the
 * server closed the connection, and the client reconnected and flooded
 * again, several times, before its queue was through.
 *
 * The test thread runs the client's loop itself (run_until).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/omtp_client.h"
#include "harness.h"

#define NMSG 150

typedef struct env {
    uv_loop_t loop;
    uv_timer_t wake;
    omtp_client *c;
    int online, waiting;
    int acks, ok, refused, failed, other_code;
    int64_t last_seq;
    bool out_of_order;
    char last_desc[256];
} env;

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    (void)c;
    env *e = ud;
    if (ev->state == OMTP_CLIENT_ONLINE)
        e->online++;
    if (ev->state == OMTP_CLIENT_WAITING)
        e->waiting++;
    snprintf(e->last_desc, sizeof(e->last_desc), "%s", ev->desc ? ev->desc : "");
}

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    (void)c;
    env *e = ud;
    e->acks++;
    if (status) {
        e->failed++;
        return;
    }
    if (ack->code == OMTP_EC_SERVER_REFUSED)
        e->refused++;
    else if (ack->code != 0)
        e->other_code++;
    else {
        e->ok++;
        if (ack->seqId <= e->last_seq)
            e->out_of_order = true;
        e->last_seq = ack->seqId;
    }
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

static void env_init(env *e, h_server *s, const char *user)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->wake);
    uv_timer_start(&e->wake, on_wake, 10, 10);
    omtp_client_config cfg = {.host = "127.0.0.1",
                              .port = s->port,
                              .user = user,
                              .password = user,
                              .device_type = DEVICE_LINUX,
                              .request_timeout_ms = 5000,
                              .connect_timeout_ms = 2000,
                              .give_up_ms = 60000};
    omtp_client_callbacks cb = {.on_state = on_state};
    assert_int_equal(omtp_client_new(&e->loop, &cfg, &cb, e, &e->c), 0);
}

static void env_free(env *e)
{
    if (e->c)
        omtp_client_destroy(e->c);
    uv_close((uv_handle_t *)&e->wake, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void run_until(env *e, const int *counter, int want, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    while (*counter < want) {
        if (h_now_ms() > deadline)
            fail_msg("waited %d ms for a counter to reach %d (it is %d; ok %d, refused %d, "
                     "failed %d); last state: %s",
                     ms, want, *counter, e->ok, e->refused, e->failed, e->last_desc);
        uv_run(&e->loop, UV_RUN_ONCE);
    }
}

/* 50 requests per second after a burst of 40, and a close after 60
 * refusals within 10 s: a client that sends its whole queue at once, or
 * retries refused messages at once, gets refused, then closed. */
static h_server *limited_server(void)
{
    h_server *s = h_server_start("log_level = warn\n"
                                 "req_rate = 50\n"
                                 "req_burst = 40\n"
                                 "req_refusals_max = 60\n",
                                 NULL);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    return s;
}

static void send_n(env *e, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char text[32];
        snprintf(text, sizeof(text), "m%03d", i);
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.to, "bob");
        tars_str_set(&m.content, text);
        m.contentType = 1;
        assert_int_equal(omtp_client_send_msg(e->c, PT_MSG_SINGLE_CHAT, &m, 0, on_ack, e, NULL), 0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
}

/* bob's history holds m000..m(N-1) in order, each once. */
static void check_history(h_server *s, int n)
{
    omtp_sync *b = h_login(s, "bob", "bob", DEVICE_MACOS);
    omtp_HistoryMsgPullResp r;
    assert_int_equal(omtp_sync_history_all(b, "SC_alice_bob", 0, 0, &r), 0);
    assert_int_equal(r.errorCode.code, 0);
    assert_int_equal((int)r.msgs.n, n);
    /* newest first */
    for (uint32_t i = 0; i < r.msgs.n; i++) {
        omtp_MsgReq m;
        assert_int_equal(omtp_inner_msg(&r.msgs.items[i], NULL, &m), 0);
        char want[32];
        snprintf(want, sizeof(want), "m%03d", n - 1 - (int)i);
        assert_string_equal(m.content.data, want);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &r);
    omtp_sync_close(b);
}

/* Written while offline, flushed at login: far more than the burst. */
static void test_offline_queue_longer_than_burst_is_delivered(void **state)
{
    (void)state;
    h_server *s = limited_server();
    env e;
    env_init(&e, s, "alice");
    send_n(&e, 0, NMSG); /* not started: all queued */
    assert_int_equal((int)omtp_client_outbox(e.c), NMSG);
    assert_int_equal(omtp_client_start(e.c), 0);
    run_until(&e, &e.acks, NMSG, 30000);
    assert_int_equal(e.refused, 0);
    assert_int_equal(e.failed, 0);
    assert_int_equal(e.other_code, 0);
    assert_int_equal(e.ok, NMSG);
    assert_false(e.out_of_order);
    assert_int_equal(e.waiting, 0); /* never closed for refusals, no reconnect storm */
    assert_int_equal((int)omtp_client_outbox(e.c), 0);
    check_history(s, NMSG);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* Online, a burst written at once, then more while paced: all delivered in
 * order, and the client is back to unpaced sending afterwards. */
static void test_online_burst_is_paced_in_order(void **state)
{
    (void)state;
    h_server *s = limited_server();
    env e;
    env_init(&e, s, "alice");
    assert_int_equal(omtp_client_start(e.c), 0);
    run_until(&e, &e.online, 1, 10000);
    send_n(&e, 0, NMSG / 2);
    run_until(&e, &e.acks, 10, 10000);
    send_n(&e, NMSG / 2, NMSG / 2); /* behind the waiting ones */
    run_until(&e, &e.acks, NMSG, 30000);
    assert_int_equal(e.refused, 0);
    assert_int_equal(e.failed, 0);
    assert_int_equal(e.ok, NMSG);
    assert_false(e.out_of_order);
    assert_int_equal(e.online, 1); /* never closed for refusals */
    check_history(s, NMSG);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_offline_queue_longer_than_burst_is_delivered, h_teardown),
        cmocka_unit_test_teardown(test_online_burst_is_paced_in_order, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
