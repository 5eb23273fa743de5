/*
 * test_msglog_path.c - the send path on the message log, against a real
 * omtpd over TCP (docs/storage.md "Delivery path"):
 *  - pushes do not wait for the fsync: with log_sync_delay_us at its
 *    largest (0.1 s), the recipient's push comes well before the sender's
 *    ack;
 *  - acked messages survive a kill -9 while the tables are a minute behind
 *    (apply_delay_ms = 60000): after the restart they are in history, once,
 *    gap-free, and the next message continues the seqIds;
 *  - message_log = false keeps the store transaction per message (no log
 *    directory; send, ack, history as before).
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "h_http.h"
#include "harness.h"

static omtp_sync *login(h_server *s, const char *user)
{
    return h_login(s, user, user, 1);
}

/* the history of sid, oldest first: seqIds into seqs; returns how many */
static int history_seqs(omtp_sync *c, const char *sid, int64_t *seqs, int max)
{
    omtp_HistoryMsgPullResp r;
    assert_int_equal(omtp_sync_history_all(c, sid, 0, 0, &r), 0);
    assert_int_equal(r.errorCode.code, 0);
    int n = (int)r.msgs.n;
    assert_true(n <= max);
    for (int i = 0; i < n; i++) {
        omtp_MsgReq m;
        const omtp_OTIMPack *p = &r.msgs.items[n - 1 - i];
        assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, p->payload.data, p->payload.len, NULL),
                         0);
        seqs[i] = m.seqId;
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &r);
    return n;
}

static void test_push_before_ack(void **st)
{
    (void)st;
    h_server *s = h_server_start("message_log = true\nlog_sync_delay_us = 100000\n", NULL);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    omtp_sync *a = login(s, "alice");
    omtp_sync *b = login(s, "bob");
    int early = 0;
    for (int i = 0; i < 5; i++) {
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.to, "bob");
        tars_str_set(&m.from, "alice");
        tars_str_set(&m.sessionId, "");
        tars_str_set(&m.content, "fast");
        char pk[37];
        int64_t t0 = h_now_ms();
        assert_int_equal(omtp_sync_send(a, PT_MSG_SINGLE_CHAT, 0, NULL, &omtp_MsgReq_desc, &m, pk),
                         0);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        omtp_packet p;
        assert_int_equal(omtp_sync_next_push(b, 5000, &p), 0);
        int64_t t_push = h_now_ms();
        assert_int_equal(p.header.type, PT_MSG_SINGLE_CHAT);
        omtp_packet_free(&p);
        /* is the ack there already? */
        struct pollfd pfd = {.fd = omtp_sync_fd(a), .events = POLLIN};
        bool ack_waiting = poll(&pfd, 1, 0) > 0;
        omtp_packet r;
        assert_int_equal(omtp_sync_wait_reply(a, pk, 5000, &r), 0);
        int64_t t_ack = h_now_ms();
        assert_int_equal(((omtp_MsgAck *)r.body)->code, 0);
        assert_int_equal(((omtp_MsgAck *)r.body)->seqId, i + 1);
        omtp_packet_free(&r);
        print_message("push after %lld ms, ack after %lld ms%s\n", (long long)(t_push - t0),
                      (long long)(t_ack - t0), ack_waiting ? " (ack already waiting)" : "");
        if (!ack_waiting && t_ack - t_push >= 40)
            early++;
    }
    /* a loaded box may delay a read now and then; most pushes must lead */
    assert_true(early >= 3);
    omtp_sync_close(a);
    omtp_sync_close(b);
    h_server_stop_free(s);
}

static void test_acked_survive_kill9(void **st)
{
    (void)st;
    h_server *s =
        h_server_start("message_log = true\napply_delay_ms = 60000\napply_batch = 100000\n", NULL);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    omtp_sync *a = login(s, "alice");
    for (int i = 1; i <= 40; i++) {
        omtp_MsgAck ack;
        assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "bob", "durable", NULL, 0, &ack),
                         0);
        assert_int_equal(ack.code, 0);
        assert_int_equal(ack.seqId, i);
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
    }
    omtp_sync_close(a);
    h_server_kill9(s);
    h_server_restart(s);
    char *log = h_server_log(s);
    /* how many were still unapplied depends on what else went through
     * the store (every other store read applies the pending records
     * first); the start-up says it replayed */
    assert_non_null(strstr(log, "from the message log"));
    free(log);
    a = login(s, "alice");
    int64_t seqs[64];
    assert_int_equal(history_seqs(a, "SC_alice_bob", seqs, 64), 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(seqs[i], i + 1);
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "bob", "next", NULL, 0, &ack), 0);
    assert_int_equal(ack.code, 0);
    assert_int_equal(ack.seqId, 41);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_sync_close(a);
    h_server_stop_free(s);
}

static void test_message_log_off(void **st)
{
    (void)st;
    h_server *s = h_server_start("message_log = false\n", NULL);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    omtp_sync *a = login(s, "alice");
    for (int i = 1; i <= 3; i++) {
        omtp_MsgAck ack;
        assert_int_equal(
            omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "bob", "old path", "pk-off", 0, &ack), 0);
        assert_int_equal(ack.code, 0);
        assert_int_equal(ack.seqId, 1); /* the same packId: the original's ack */
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
    }
    int64_t seqs[8];
    assert_int_equal(history_seqs(a, "SC_alice_bob", seqs, 8), 1);
    char logdir[400];
    struct stat sb;
    snprintf(logdir, sizeof logdir, "%s/log", s->data_dir);
    assert_int_not_equal(stat(logdir, &sb), 0);
    omtp_sync_close(a);
    h_server_stop_free(s);
}

/* The send path's memory and the log's work are in /metrics. */
static void test_metrics(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-mlm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char port_path[64];
    snprintf(port_path, sizeof(port_path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", port_path, NULL};
    h_server *s = h_server_start("message_log = true\n", args);
    int hport = h_http_port(port_path);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    omtp_sync *a = login(s, "alice");
    for (int i = 1; i <= 5; i++) {
        omtp_MsgAck ack;
        assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "bob", "m", NULL, 0, &ack), 0);
        assert_int_equal(ack.code, 0);
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
    }
    assert_true(h_metric(hport, "omtp_msglog_appended_records_total") >= 5);
    assert_true(h_metric(hport, "omtp_msglog_fsyncs_total") >= 1);
    assert_true(h_metric(hport, "omtp_dedup_window_entries") == 5);
    assert_true(h_metric(hport, "omtp_dedup_window_bytes") > 0);
    assert_true(h_metric(hport, "omtp_seq_counters") == 1);
    assert_true(h_metric(hport, "omtp_msglog_unapplied_bytes") >= 0);
    /* where the send path's time goes: every append's pwritev, every
     * fdatasync and the loop's turns are in histograms, with their maxima */
    assert_true(h_metric(hport, "omtp_msglog_append_seconds_count") >= 5);
    assert_true(h_metric(hport, "omtp_msglog_append_seconds_bucket{le=\"+Inf\"}") >= 5);
    assert_true(h_metric(hport, "omtp_msglog_append_seconds_max") >= 0);
    assert_true(h_metric(hport, "omtp_msglog_fsync_seconds_count") >= 1);
    assert_true(h_metric(hport, "omtp_msglog_fsync_seconds_max") >= 0);
    assert_true(h_metric(hport, "omtp_loop_busy_seconds_count") >= 5);
    assert_true(h_metric(hport, "omtp_loop_busy_seconds_sum") > 0);
    /* one session: its counter was loaded once, its first message waited */
    assert_true(h_metric(hport, "omtp_seq_loads_total") == 1);
    assert_true(h_metric(hport, "omtp_seq_load_waiters_total") >= 1);
    assert_true(h_metric(hport, "omtp_seq_load_seconds_count") == 1);
    omtp_sync_close(a);
    h_server_stop_free(s);
    snprintf(port_path, sizeof(port_path), "rm -rf '%s'", dir);
    assert_int_equal(system(port_path), 0);
}

/* nice values of the server's threads: counts[n] = threads at nice n
 * (0..19); returns the main thread's (the loop's) */
static int thread_nices(pid_t pid, int counts[20])
{
    memset(counts, 0, 20 * sizeof(int));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/stat", (int)pid);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[1024];
    int main_nice = -1;
    while (fgets(line, sizeof line, f)) {
        /* field 19 is nice; count from after the ')' closing the name */
        char *p = strrchr(line, ')');
        assert_non_null(p);
        int field = 2, nice = -100, tid = atoi(line);
        for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " "))
            if (++field == 19)
                nice = atoi(t);
        if (nice >= 0 && nice < 20)
            counts[nice]++;
        if (tid == (int)pid)
            main_nice = nice;
    }
    pclose(f);
    return main_nice;
}

/* With the message log on, the store's threads run at apply_nice so the
 * loop, which sends the pushes, wins the CPU over the applies. */
static void test_apply_nice(void **st)
{
    (void)st;
    h_server *s = h_server_start("message_log = true\napply_nice = 7\n", NULL);
    h_user_add(s, "alice", "alice");
    h_user_add(s, "bob", "bob");
    omtp_sync *a = login(s, "alice");
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(a, PT_MSG_SINGLE_CHAT, "bob", "m", NULL, 0, &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    int counts[20];
    assert_int_equal(thread_nices(s->pid, counts), 0); /* the loop */
    assert_true(counts[7] >= 1);                       /* the store thread (and its sync) */
    omtp_sync_close(a);
    h_server_stop_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_push_before_ack, h_teardown),
        cmocka_unit_test_teardown(test_acked_survive_kill9, h_teardown),
        cmocka_unit_test_teardown(test_message_log_off, h_teardown),
        cmocka_unit_test_teardown(test_metrics, h_teardown),
        cmocka_unit_test_teardown(test_apply_nice, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
