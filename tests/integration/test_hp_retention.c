/*
 * test_hp_retention.c - the high-priority queue's retention job, against a
 * real omtpd over TCP.
 *
 * omtpd runs with the testing knob hp_retention_s = 3 (retention in seconds
 * instead of days) and a pass every second. HIGHPRJ messages to carol fill
 * her queue; the test waits (polling /metrics, deadline 30 s) until
 * omtp_hp_pruned_total shows they were removed, then checks over OMTP that a
 * sync from before the prune returns nothing old, that the queue's head
 * (lastSeqId) is still the newest seq, and that a new entry is returned with
 * the next seq.
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

/* alice sends a HIGHPRJ single-chat message to carol; returns the ack's seqId. */
static int64_t send_hp(omtp_sync *a, const char *content)
{
    omtp_MsgAck ack;
    assert_int_equal(
        omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "carol", content, NULL, OMTP_F_HIGHPRJ, &ack), 0);
    assert_int_equal(ack.code, 0);
    int64_t seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return seq;
}

/* The contents of carol's high-priority entries after `after`; *last = lastSeqId. */
static int hp_sync(omtp_sync *c, int64_t after, char contents[][16], int max, int64_t *last)
{
    omtp_MsgHighPrioritySyncResp hp;
    assert_int_equal(omtp_sync_high_prior(c, after, 100, &hp), 0);
    assert_int_equal(hp.code, 0);
    int n = (int)hp.msgs.n;
    assert_true(n <= max);
    for (int i = 0; i < n; i++) {
        omtp_MsgReq m;
        assert_true(hp.msgs.items[i].header.flags & OMTP_F_HIGHPRJ);
        chat_pack_msg(&hp.msgs.items[i], &m);
        snprintf(contents[i], 16, "%s", m.content.data ? m.content.data : "");
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    *last = hp.lastSeqId;
    omtp_msg_free(&omtp_MsgHighPrioritySyncResp_desc, &hp);
    return n;
}

static void test_prune_then_sync(void **state)
{
    (void)state;
    char dir[] = "/tmp/omtp-hpret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char http_port_path[64];
    snprintf(http_port_path, sizeof(http_port_path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", http_port_path, NULL};
    chat_srv *s = chat_srv_start("log_level = info\n"
                                 "hp_retention_s = 3\n"
                                 "hp_prune_interval_s = 1\n",
                                 args);
    int hport = h_http_port(http_port_path);
    assert_true(hport > 0);
    chat_srv_user(s, "alice", 0);
    chat_srv_user(s, "carol", 0);
    omtp_sync *a = chat_login(chat_srv_port(s), "alice", DEVICE_LINUX);
    omtp_sync *c = chat_login(chat_srv_port(s), "carol", DEVICE_ANDROID);

    /* three entries, all still there (younger than 3 s) */
    send_hp(a, "old-1");
    send_hp(a, "old-2");
    send_hp(a, "old-3");
    char got[8][16];
    int64_t last = 0;
    assert_int_equal(hp_sync(c, 0, got, 8, &last), 3);
    assert_string_equal(got[0], "old-1");
    assert_string_equal(got[2], "old-3");
    assert_int_equal(last, 3);
    assert_true(h_metric(hport, "omtp_hp_pruned_total") == 0);

    /* the job removes them once they are older than the retention */
    int64_t deadline = h_now_ms() + 30000;
    double pruned = 0;
    while ((pruned = h_metric(hport, "omtp_hp_pruned_total")) < 3 && h_now_ms() < deadline)
        usleep(100000);
    assert_true(pruned >= 3);

    /* a sync from before the prune returns what is left: nothing; the head
     * (lastSeqId) is still the newest seq */
    assert_int_equal(hp_sync(c, 0, got, 8, &last), 0);
    assert_int_equal(last, 3);
    assert_int_equal(hp_sync(c, 1, got, 8, &last), 0);
    assert_int_equal(last, 3);

    /* a new entry comes back, with the next seq (never a reused one) */
    send_hp(a, "new-4");
    assert_int_equal(hp_sync(c, 0, got, 8, &last), 1);
    assert_string_equal(got[0], "new-4");
    assert_int_equal(last, 4);
    assert_int_equal(hp_sync(c, 1, got, 8, &last), 1); /* an old cursor gets it too */
    assert_string_equal(got[0], "new-4");
    assert_int_equal(last, 4);
    assert_int_equal(hp_sync(c, 4, got, 8, &last), 0);
    assert_int_equal(last, 4);

    /* the pass said what it did (one pass, or two if the sends straddled a tick) */
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "hp retention: high-priority entries are kept 3 s"));
    char *line = strstr(log, "hp retention: removed ");
    assert_non_null(line);
    assert_non_null(strstr(line, " high-priority entries older than 3 s in "));
    free(log);

    omtp_sync_close(a);
    omtp_sync_close(c);
    chat_srv_stop(s); /* exit 0: the timer does not hold the loop, nothing leaks */
    unlink(http_port_path);
    rmdir(dir);
}

/* Retention off (hp_retention_days = 0): omtpd says so and starts no job. */
static void test_retention_off(void **state)
{
    (void)state;
    chat_srv *s = chat_srv_start("log_level = info\nhp_retention_days = 0\n", NULL);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "hp retention: off"));
    assert_null(strstr(log, "hp retention: high-priority entries are kept"));
    free(log);
    chat_srv_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_prune_then_sync, h_teardown),
        cmocka_unit_test_teardown(test_retention_off, h_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
