/*
 * test_client_reconnect.c - the libuv client (omtp_client.h) against a real
 * omtpd over TCP: reconnect and catch-up after the server restarts, resend
 * with DUP after a dropped connection, request timeouts against a stopped
 * (SIGSTOP) server, a catch-up whose history takes several reply pages.
 *
 * The test thread runs the client's loop itself (run_until), so nothing
 * happens on the client between two run_until calls: a test can stop and
 * restart the server, or send from another user, at a precise point of the
 * client's life without sleeping.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/omtp_client.h"
#include "harness.h"

#define MAXGOT 64

typedef struct env {
    uv_loop_t loop;
    uv_timer_t wake;
    omtp_client *c;
    int online, waiting, stopped, catchups, catchup_err;
    int acks, ack_status, ack_code;
    int64_t ack_seq;
    char ack_session[128];
    int replies, reply_status;
    int ngot;
    char got[MAXGOT][64];
    int64_t got_seq[MAXGOT];
    bool got_catchup[MAXGOT];
    char last_desc[256];
    char wait_desc[256]; /* reason given with the last WAITING */
} env;

static void on_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    (void)c;
    env *e = ud;
    if (ev->state == OMTP_CLIENT_ONLINE)
        e->online++;
    if (ev->state == OMTP_CLIENT_WAITING) {
        e->waiting++;
        snprintf(e->wait_desc, sizeof(e->wait_desc), "%s", ev->desc);
    }
    if (ev->state == OMTP_CLIENT_STOPPED)
        e->stopped++;
    snprintf(e->last_desc, sizeof(e->last_desc), "%s", ev->desc);
}

static void on_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                       void *ud)
{
    (void)c;
    (void)h;
    env *e = ud;
    assert_true(e->ngot < MAXGOT);
    snprintf(e->got[e->ngot], sizeof(e->got[0]), "%s", m->content.data ? m->content.data : "");
    e->got_seq[e->ngot] = m->seqId;
    e->got_catchup[e->ngot] = catchup;
    e->ngot++;
}

static void on_catchup_done(omtp_client *c, int err, void *ud)
{
    (void)c;
    env *e = ud;
    e->catchups++;
    e->catchup_err = err;
}

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    (void)c;
    env *e = ud;
    e->acks++;
    e->ack_status = status;
    e->ack_code = ack ? ack->code : -1;
    e->ack_seq = ack ? ack->seqId : -1;
    snprintf(e->ack_session, sizeof(e->ack_session), "%s",
             ack && ack->sessionId.data ? ack->sessionId.data : "");
}

static void on_reply(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    (void)c;
    (void)p;
    env *e = ud;
    e->replies++;
    e->reply_status = status;
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

static void env_init(env *e, h_server *s, const char *user, int req_timeout_ms, int give_up_ms)
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
                              .request_timeout_ms = req_timeout_ms,
                              .connect_timeout_ms = 2000,
                              .give_up_ms = give_up_ms};
    omtp_client_callbacks cb = {
        .on_state = on_state, .on_message = on_message, .on_catchup_done = on_catchup_done};
    assert_int_equal(omtp_client_new(&e->loop, &cfg, &cb, e, &e->c), 0);
    assert_int_equal(omtp_client_start(e->c), 0);
}

static void env_free(env *e)
{
    if (e->c)
        omtp_client_destroy(e->c);
    uv_close((uv_handle_t *)&e->wake, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

/* Runs the loop until *counter >= want (or fails the test after ms). */
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

/* Runs the loop for about ms (to see that nothing more arrives). */
static void run_for(env *e, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    while (h_now_ms() < deadline)
        uv_run(&e->loop, UV_RUN_ONCE);
}

static int count_got(const env *e, const char *text)
{
    int n = 0;
    for (int i = 0; i < e->ngot; i++)
        if (strcmp(e->got[i], text) == 0)
            n++;
    return n;
}

static h_server *server_with(const char *const *users)
{
    h_server *s = h_server_start("log_level = warn\n", NULL);
    for (int i = 0; users[i]; i++)
        h_user_add(s, users[i], users[i]);
    return s;
}

static int64_t sync_send(omtp_sync *c, const char *to, const char *text)
{
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(c, to, text, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return seq;
}

/* bob's async client is online; the server stops; alice sends three
 * messages to the restarted server (same port, same data) while bob is
 * disconnected; bob reconnects by himself, catches up those three in order
 * (flagged catchup), then gets a live one; nothing arrives twice. */
static void test_reconnect_after_restart_catches_up(void **state)
{
    (void)state;
    const char *users[] = {"alice", "bob", NULL};
    h_server *s = server_with(users);
    env e;
    env_init(&e, s, "bob", 2000, 0);
    run_until(&e, &e.catchups, 1, 10000);
    assert_int_equal(e.catchup_err, 0);

    omtp_sync *a = h_login(s, "alice", "alice", DEVICE_LINUX);
    assert_int_equal(sync_send(a, "bob", "m1"), 1);
    run_until(&e, &e.ngot, 1, 5000);
    assert_string_equal(e.got[0], "m1");
    assert_false(e.got_catchup[0]);
    omtp_sync_close(a);

    assert_int_equal(h_server_stop(s), 0);
    run_until(&e, &e.waiting, 1, 5000); /* bob noticed the drop */
    h_server_restart_same_port(s);

    a = h_login(s, "alice", "alice", DEVICE_LINUX);
    assert_int_equal(sync_send(a, "bob", "m2"), 2);
    assert_int_equal(sync_send(a, "bob", "m3"), 3);
    assert_int_equal(sync_send(a, "bob", "m4"), 4);

    run_until(&e, &e.catchups, 2, 15000); /* reconnect (backoff <= 1.25 s) + catch-up */
    assert_int_equal(e.catchup_err, 0);
    assert_int_equal(e.online, 2);
    assert_int_equal(e.ngot, 4);
    for (int i = 1; i < 4; i++) {
        char want[8];
        snprintf(want, sizeof(want), "m%d", i + 1);
        assert_string_equal(e.got[i], want);
        assert_int_equal(e.got_seq[i], i + 1);
        assert_true(e.got_catchup[i]);
    }
    assert_int_equal(omtp_client_session_seq(e.c, "SC_alice_bob"), 4);

    /* live again: the next message is a push, delivered once */
    assert_int_equal(sync_send(a, "bob", "m5"), 5);
    run_until(&e, &e.ngot, 5, 5000);
    assert_string_equal(e.got[4], "m5");
    assert_false(e.got_catchup[4]);
    run_for(&e, 200);
    assert_int_equal(e.ngot, 5);
    for (int i = 1; i <= 5; i++) {
        char want[8];
        snprintf(want, sizeof(want), "m%d", i);
        assert_int_equal(count_got(&e, want), 1);
    }
    omtp_sync_close(a);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* A second restart while the client has a partial history: only the new
 * messages are replayed (the cursors survive reconnects), and a kill -9 of
 * the server is survived the same way as a clean stop. */
static void test_reconnect_after_kill9(void **state)
{
    (void)state;
    const char *users[] = {"alice", "bob", NULL};
    h_server *s = server_with(users);
    omtp_sync *a = h_login(s, "alice", "alice", DEVICE_LINUX);
    assert_int_equal(sync_send(a, "bob", "old"), 1); /* before bob's first login */
    env e;
    env_init(&e, s, "bob", 2000, 0);
    run_until(&e, &e.catchups, 1, 10000);
    assert_int_equal(e.ngot, 0); /* the first sync does not replay old history */
    assert_int_equal(omtp_client_session_seq(e.c, "SC_alice_bob"), 1);
    omtp_sync_close(a);

    h_server_kill9(s);
    run_until(&e, &e.waiting, 1, 5000);
    h_server_restart_same_port(s);
    a = h_login(s, "alice", "alice", DEVICE_LINUX);
    assert_int_equal(sync_send(a, "bob", "new"), 2);
    run_until(&e, &e.catchups, 2, 15000);
    assert_int_equal(e.ngot, 1);
    assert_string_equal(e.got[0], "new");
    assert_true(e.got_catchup[0]);
    omtp_sync_close(a);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* alice's async client sends; the connection drops before the MsgAck is
 * read; the client reconnects and resends with DUP and the same packId; the
 * server answers with the ORIGINAL ack (same seqId) and stores/pushes no
 * second copy. */
static void test_resend_dup_after_drop_is_deduplicated(void **state)
{
    (void)state;
    const char *users[] = {"alice", "bob", NULL};
    h_server *s = server_with(users);
    omtp_sync *b = h_login(s, "bob", "bob", DEVICE_LINUX);
    env e;
    env_init(&e, s, "alice", 2000, 0);
    run_until(&e, &e.catchups, 1, 10000);

    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, "bob");
    tars_str_set(&m.content, "once");
    m.contentType = 1;
    char pack_id[37];
    assert_int_equal(omtp_client_send_msg(e.c, PT_MSG_SINGLE_CHAT, &m, 0, on_ack, &e, pack_id), 0);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    /* the frame is written; the connection breaks before the ack is read */
    omtp_client_drop(e.c);
    assert_int_equal(e.acks, 0);
    assert_int_equal(omtp_client_outbox(e.c), 1);

    /* the first copy reached the server: bob has it */
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(b, 5000, &p), 0);
    assert_int_equal(p.header.type, PT_MSG_SINGLE_CHAT);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "once");
    assert_int_equal(((omtp_MsgReq *)p.body)->seqId, 1);
    assert_string_equal(p.header.packId.data, pack_id);
    omtp_packet_free(&p);

    /* reconnect, resend with DUP: the original ack comes back */
    run_until(&e, &e.acks, 1, 10000);
    assert_int_equal(e.online, 2);
    assert_int_equal(e.ack_status, 0);
    assert_int_equal(e.ack_code, 0);
    assert_int_equal(e.ack_seq, 1);
    assert_string_equal(e.ack_session, "SC_alice_bob");
    assert_int_equal(omtp_client_outbox(e.c), 0);

    /* the next message gets seqId 2: no second copy was stored */
    assert_int_equal(omtp_client_send_text(e.c, "bob", "twice?", on_ack, &e), 0);
    run_until(&e, &e.acks, 2, 5000);
    assert_int_equal(e.ack_seq, 2);
    assert_int_equal(omtp_sync_next_push(b, 5000, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "twice?");
    omtp_packet_free(&p);
    assert_int_equal(omtp_sync_pending_pushes(b), 0);

    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(b, "SC_alice_bob", 0, 50, &h), 0);
    assert_int_equal(h.errorCode.code, 0);
    assert_int_equal(h.msgs.n, 2);
    int once = 0;
    for (uint32_t i = 0; i < h.msgs.n; i++) {
        const tars_struct_desc *d;
        void *body;
        assert_int_equal(omtp_inner_decode(&h.msgs.items[i], NULL, &d, &body), 0);
        assert_ptr_equal(d, &omtp_MsgReq_desc);
        if (strcmp(((omtp_MsgReq *)body)->content.data, "once") == 0) {
            once++;
            assert_int_equal(((omtp_MsgReq *)body)->seqId, 1);
        }
        omtp_msg_free(d, body);
        free(body);
    }
    assert_int_equal(once, 1);
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);

    omtp_sync_close(b);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* The server is frozen (SIGSTOP): a request times out after its own
 * timeout, a message send is resent with DUP and then given up with
 * OMTP_ETIMEDOUT; the blocking client times out too. After SIGCONT the
 * same async client works again. */
static void test_request_timeout_stopped_server(void **state)
{
    (void)state;
    const char *users[] = {"alice", "bob", NULL};
    h_server *s = server_with(users);
    env e;
    env_init(&e, s, "alice", 300, 1200);
    run_until(&e, &e.catchups, 1, 10000);
    omtp_sync *sc = h_login(s, "bob", "bob", DEVICE_LINUX);

    assert_int_equal(kill(s->pid, SIGSTOP), 0);

    /* the loop's clock stood still while the test thread blocked */
    uv_update_time(&e.loop);
    int64_t t0 = h_now_ms();
    assert_int_equal(omtp_client_request(e.c, PT_PING, 0, NULL, NULL, 400, on_reply, &e, NULL), 0);
    run_until(&e, &e.replies, 1, 5000);
    int64_t took = h_now_ms() - t0;
    assert_int_equal(e.reply_status, OMTP_ETIMEDOUT);
    assert_true(took >= 350 && took < 3000);

    uv_update_time(&e.loop);
    t0 = h_now_ms();
    assert_int_equal(omtp_client_send_text(e.c, "bob", "into the void", on_ack, &e), 0);
    run_until(&e, &e.acks, 1, 5000);
    took = h_now_ms() - t0;
    assert_int_equal(e.ack_status, OMTP_ETIMEDOUT);
    assert_true(took >= 1100 && took < 4000);
    assert_int_equal(omtp_client_outbox(e.c), 0);

    t0 = h_now_ms();
    omtp_packet r;
    assert_int_equal(omtp_sync_request(sc, PT_PING, 0, NULL, NULL, 300, &r), OMTP_ETIMEDOUT);
    took = h_now_ms() - t0;
    assert_true(took >= 250 && took < 3000);

    assert_int_equal(kill(s->pid, SIGCONT), 0);
    int before = e.replies;
    assert_int_equal(omtp_client_request(e.c, PT_PING, 0, NULL, NULL, 5000, on_reply, &e, NULL), 0);
    run_until(&e, &e.replies, before + 1, 6000);
    assert_int_equal(e.reply_status, 0);
    assert_int_equal(omtp_client_state(e.c), OMTP_CLIENT_ONLINE);

    omtp_sync_close(sc);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* Connecting to a frozen server: TCP connects (the kernel accepts), LOGIN
 * gets no answer, the connect timeout fires and the client waits to retry;
 * once the server runs again the client logs in by itself. */
static void test_login_timeout_then_recovers(void **state)
{
    (void)state;
    const char *users[] = {"alice", NULL};
    h_server *s = server_with(users);
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    env e;
    env_init(&e, s, "alice", 300, 0);
    run_until(&e, &e.waiting, 1, 5000);
    assert_int_equal(e.online, 0);
    assert_non_null(strstr(e.wait_desc, "timed out"));
    assert_int_equal(kill(s->pid, SIGCONT), 0);
    run_until(&e, &e.online, 1, 10000);
    run_until(&e, &e.catchups, 1, 5000);
    assert_int_equal(e.catchup_err, 0);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

/* A missed history larger than a frame (50 x 64 KiB = 3.2 MB, a 1 MiB
 * max_frame): the server pages its history replies, and the catch-up keeps
 * pulling below the oldest message of each short page until the gap is
 * covered. All 50 arrive, in order, once, flagged catchup. */
static void test_catchup_follows_history_pages(void **state)
{
    (void)state;
    const char *users[] = {"alice", "bob", NULL};
    h_server *s = server_with(users);
    env e;
    env_init(&e, s, "bob", 5000, 0);
    run_until(&e, &e.catchups, 1, 10000);
    omtp_sync *a = h_login(s, "alice", "alice", DEVICE_LINUX);
    assert_int_equal(sync_send(a, "bob", "first"), 1);
    run_until(&e, &e.ngot, 1, 5000);
    omtp_sync_close(a);

    assert_int_equal(h_server_stop(s), 0);
    run_until(&e, &e.waiting, 1, 5000);
    h_server_restart_same_port(s);
    a = h_login(s, "alice", "alice", DEVICE_LINUX);
    char *big = malloc(65537);
    assert_non_null(big);
    for (int i = 0; i < 65536; i++)
        big[i] = (char)('a' + (i * 7 + i / 26) % 26);
    big[65536] = 0;
    for (int i = 0; i < 50; i++) {
        char head[16];
        int n = snprintf(head, sizeof(head), "big-%02d-", i);
        memcpy(big, head, (size_t)n);
        assert_int_equal(sync_send(a, "bob", big), i + 2);
    }
    free(big);
    omtp_sync_close(a);

    run_until(&e, &e.catchups, 2, 20000);
    assert_int_equal(e.catchup_err, 0);
    assert_int_equal(e.ngot, 51);
    for (int i = 0; i < 50; i++) {
        char head[16];
        snprintf(head, sizeof(head), "big-%02d-", i);
        assert_int_equal(strncmp(e.got[i + 1], head, strlen(head)), 0);
        assert_int_equal(e.got_seq[i + 1], i + 2);
        assert_true(e.got_catchup[i + 1]);
    }
    assert_int_equal(omtp_client_session_seq(e.c, "SC_alice_bob"), 51);
    env_free(&e);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reconnect_after_restart_catches_up, h_teardown),
        cmocka_unit_test_teardown(test_reconnect_after_kill9, h_teardown),
        cmocka_unit_test_teardown(test_resend_dup_after_drop_is_deduplicated, h_teardown),
        cmocka_unit_test_teardown(test_request_timeout_stopped_server, h_teardown),
        cmocka_unit_test_teardown(test_login_timeout_then_recovers, h_teardown),
        cmocka_unit_test_teardown(test_catchup_follows_history_pages, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
