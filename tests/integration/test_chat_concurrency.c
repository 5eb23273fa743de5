/*
 * test_chat_concurrency.c - several clients (processes, each with its own
 * connection) hammer one single-chat session at once; the session's seqIds
 * must come out gap-free 1..N with every acked message exactly once in
 * history, and every receiving device must see the pushes in seqId order.
 * Then the server restarts and nothing acked is lost.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat_common.h"

#define SENDERS    4
#define PER_SENDER 150

static chat_srv *S;

typedef struct sender {
    int port;
    const char *user, *to;
    int dev;
    int64_t seqs[PER_SENDER];
    int ok;
} sender;

/* Runs in a child process (fork): results go to shared memory. Processes
 * rather than threads: every sender is its own client, as in production. */
static void send_loop(sender *s)
{
    omtp_sync *c = NULL;
    int code = -1;
    if (omtp_sync_connect(&c, "127.0.0.1", s->port, 5000) != 0)
        return;
    if (omtp_sync_login(c, s->user, s->user, s->dev, NULL, &code) != 0 || code != 0)
        goto out;
    for (int i = 0; i < PER_SENDER; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s/%d #%d", s->user, s->dev, i);
        omtp_MsgAck ack;
        if (omtp_sync_send_msg(c, PT_MSG_SINGLE_CHAT, s->to, text, NULL, 0, &ack) != 0)
            break;
        if (ack.code == 0)
            s->seqs[s->ok++] = ack.seqId;
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
    }
out:
    omtp_sync_close(c);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void check_history(omtp_sync *c, int total)
{
    /* page backwards from the newest, 200 at a time */
    int64_t expect = total, next = 0;
    for (;;) {
        omtp_HistoryMsgPullResp h;
        assert_int_equal(chat_history(c, "SC_alice_bob", next, 200, &h), 0);
        if (h.msgs.n == 0) {
            omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
            break;
        }
        for (uint32_t i = 0; i < h.msgs.n; i++) {
            omtp_MsgReq m;
            chat_pack_msg(&h.msgs.items[i], &m);
            assert_int_equal(m.seqId, expect); /* newest first, no gap, no dup */
            expect--;
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        next = expect;
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
        if (next <= 0)
            break;
    }
    assert_int_equal(expect, 0);
}

static void test_hammer_one_session(void **state)
{
    (void)state;
    S = chat_srv_start(NULL, NULL);
    chat_srv_user(S, "alice", 0);
    chat_srv_user(S, "bob", 0);
    int port = chat_srv_port(S);
    /* a watcher device of bob that receives every push */
    omtp_sync *w = chat_login(port, "bob", DEVICE_IOS);

    const sender init[SENDERS] = {
        {port, "alice", "bob", DEVICE_LINUX, {0}, 0},
        {port, "alice", "bob", DEVICE_MACOS, {0}, 0},
        {port, "bob", "alice", DEVICE_LINUX, {0}, 0},
        {port, "bob", "alice", DEVICE_WINDOWS, {0}, 0},
    };
    sender *snd =
        mmap(NULL, sizeof init, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(snd != MAP_FAILED);
    memcpy(snd, init, sizeof init);
    pid_t pids[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            send_loop(&snd[i]);
            exit(0);
        }
    }
    for (int i = 0; i < SENDERS; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }

    int total = 0;
    int64_t all[SENDERS * PER_SENDER];
    for (int i = 0; i < SENDERS; i++) {
        assert_int_equal(snd[i].ok, PER_SENDER);
        for (int k = 0; k < snd[i].ok; k++)
            all[total++] = snd[i].seqs[k];
    }
    qsort(all, (size_t)total, sizeof *all, cmp64);
    for (int i = 0; i < total; i++)
        assert_int_equal(all[i], i + 1); /* acked seqIds: exactly 1..N */

    /* the watcher saw every push once, in seqId order (pushes of the watcher's
     * own user's other devices included) */
    int64_t prev = 0;
    int seen = 0;
    assert_int_equal(omtp_sync_ping(w), 0);
    for (;;) {
        omtp_packet p;
        if (omtp_sync_next_push(w, 0, &p) != 0)
            break;
        if (p.header.type == PT_MSG_SINGLE_CHAT) {
            int64_t s = ((omtp_MsgReq *)p.body)->seqId;
            assert_true(s > prev);
            prev = s;
            seen++;
        }
        omtp_packet_free(&p);
    }
    assert_int_equal(seen, total);

    check_history(w, total);
    omtp_sync_close(w);
    munmap(snd, sizeof init);

    /* a restart loses nothing that was acked */
    chat_srv_restart(S);
    w = chat_login(chat_srv_port(S), "bob", DEVICE_IOS);
    check_history(w, total);
    int64_t seq = 0;
    assert_int_equal(chat_send(w, "alice", "after restart", &seq), 0);
    assert_int_equal(seq, total + 1);
    omtp_sync_close(w);
    chat_srv_stop(S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hammer_one_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
