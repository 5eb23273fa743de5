/*
 * test_core_life.c - the server's life: idle and pre-login timeouts,
 * SIGTERM with clients connected, restart and kill -9 keep users, config
 * errors, port file and --help.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_idle_timeout(void **st)
{
    (void)st;
    /* keepalive 1 s: silent for 2 s => closed; pinging keeps it open */
    h_server *s = h_server_start("keepalive_s = 1\nprelogin_timeout_s = 30\n", NULL);
    h_user_add(s, "alice", "pw-alice");
    omtp_sync *idle = h_login(s, "alice", "pw-alice", DEVICE_LINUX);
    omtp_sync *busy = h_login(s, "alice", "pw-alice", DEVICE_IOS);
    int64_t t0 = h_now_ms();
    bool closed = false;
    while (h_now_ms() - t0 < 6000) {
        assert_int_equal(omtp_sync_ping(busy), 0);
        if (omtp_sync_wait_closed(idle, 300) == 0) {
            closed = true;
            break;
        }
    }
    int64_t took = h_now_ms() - t0;
    assert_true(closed);
    assert_true(took >= 1500); /* not before 2 x keepalive (minus tick slack) */
    assert_int_equal(omtp_sync_ping(busy), 0);
    omtp_sync_close(idle);
    omtp_sync_close(busy);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "idle timeout"));
    free(log);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

static void test_prelogin_timeout(void **st)
{
    (void)st;
    h_server *s = h_server_start("prelogin_timeout_s = 1\n", NULL);
    omtp_sync *c = h_connect(s);
    int64_t t0 = h_now_ms();
    assert_int_equal(omtp_sync_wait_closed(c, 5000), 0);
    assert_true(h_now_ms() - t0 >= 700);
    omtp_sync_close(c);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

static void test_sigterm_with_clients(void **st)
{
    (void)st;
    h_server *s = h_server_start(NULL, NULL);
    h_user_add(s, "alice", "pw-alice");
    h_user_add(s, "bob", "pw-bob");
    omtp_sync *a = h_login(s, "alice", "pw-alice", DEVICE_LINUX);
    omtp_sync *b = h_login(s, "bob", "pw-bob", DEVICE_LINUX);
    omtp_sync *anon = h_connect(s);
    /* a request in flight when the signal comes is answered */
    char id[40];
    assert_int_equal(omtp_sync_send(a, PT_PING, 0, NULL, NULL, NULL, id), 0);
    assert_int_equal(h_server_stop(s), 0);
    omtp_packet r;
    assert_int_equal(omtp_sync_wait_reply(a, id, 2000, &r), 0);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_wait_closed(a, 2000), 0);
    assert_int_equal(omtp_sync_wait_closed(b, 2000), 0);
    assert_int_equal(omtp_sync_wait_closed(anon, 2000), 0);
    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(anon);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "server shutting down"));
    free(log);
    h_server_free(s);
}

static void test_restart_keeps_users(void **st)
{
    (void)st;
    h_server *s = h_server_start(NULL, NULL);
    h_user_add(s, "alice", "pw-alice");
    char tok[400];
    h_token(s, "alice", 600, tok, sizeof(tok));
    assert_int_equal(h_server_stop(s), 0);
    h_server_restart(s);
    omtp_sync *c = h_login(s, "alice", "pw-alice", DEVICE_LINUX);
    omtp_sync_close(c);
    /* the token secret survived too */
    c = h_login(s, "alice", tok, DEVICE_IOS);
    omtp_sync_close(c);
    /* a user added while the server runs, then kill -9 */
    h_user_add(s, "bob", "pw-bob");
    h_server_kill9(s);
    h_server_restart(s);
    c = h_login(s, "bob", "pw-bob", DEVICE_LINUX);
    omtp_sync_close(c);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
}

static void test_bad_config(void **st)
{
    (void)st;
    h_server *s = h_server_start(NULL, NULL);
    assert_int_equal(h_server_stop(s), 0);
    /* unknown setting: exit 2 with a message naming it */
    FILE *f = fopen(s->conf_path, "a");
    fputs("no_such_setting = 1\n", f);
    fclose(f);
    const char *args[] = {"user", "list", NULL};
    assert_int_equal(h_admin(s, NULL, 0, args), 2);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "no_such_setting"));
    free(log);
    h_server_free(s);
}

static void test_help_lists_options(void **st)
{
    (void)st;
    h_server *s = h_server_start(NULL, NULL);
    char out[16384];
    const char *args[] = {"--help", NULL};
    assert_int_equal(h_admin(s, out, sizeof(out), args), 0);
    const char *must[] = {"--listen",     "--data-dir", "--port-file", "--store",
                          "--log-level",  "--config",   "--max-frame", "--keepalive-s",
                          "--tls-listen", "user add",   "token issue", "--http-listen",
                          "--out-buf-cap"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        if (!strstr(out, must[i]))
            fail_msg("--help does not mention %s", must[i]);
    h_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_idle_timeout, h_teardown),
        cmocka_unit_test_teardown(test_prelogin_timeout, h_teardown),
        cmocka_unit_test_teardown(test_sigterm_with_clients, h_teardown),
        cmocka_unit_test_teardown(test_restart_keeps_users, h_teardown),
        cmocka_unit_test_teardown(test_bad_config, h_teardown),
        cmocka_unit_test_teardown(test_help_lists_options, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
