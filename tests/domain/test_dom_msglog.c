/*
 * test_dom_msglog.c - the send path on the message log (domain/msgpath.h,
 * docs/storage.md "Delivery path") against a real SQLite store on a real
 * loop: applying a record twice stores it once, a log tail the store never
 * applied is in history after a start (with its seqIds, once, also when
 * replayed again), a read submitted right after a send sees it (the read
 * barrier, with the apply timer far away), a session's counter continues
 * from the stored seqIds and refuses a session of other parties, the dedup
 * window answers a reuse and a DUP-flagged resend after a restart is found
 * in the store, and evicted counters reload right. The apply backlog's
 * bounds: above apply_pending_records_max a send waits for the apply and
 * goes on; a backlog that cannot shrink refuses it after apply_wait_ms; a
 * slow apply (apply_lag_max_ms x the measured cost) makes sends wait one
 * record at a time. One sender's sends to a session keep their order when
 * the first waits for a store read; a full dedup window still answers a
 * DUP-flagged resend with the original's seqId.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/check_cache.h"
#include "domain/group_state.h"
#include "domain/logrec.h"
#include "domain/msg.h"
#include "domain/msgpath.h"
#include "store/msglog.h"

typedef struct fx {
    char dir[64];
    char cmd[128];
    omtp_config cfg;
    omtp_server s;
} fx;

typedef struct answer {
    bool called;
    int code;
    char desc[256];
    bool stored, dup;
    int64_t seq;
} answer;

static void on_result(void *arg, const omtp_dom_result *res)
{
    answer *a = arg;
    assert_false(a->called);
    a->called = true;
    a->code = res->code;
    snprintf(a->desc, sizeof a->desc, "%s", res->desc ? res->desc : "");
    a->dup = res->dup;
    if (res->stored) {
        a->stored = true;
        a->seq = res->stored->msg.seqId;
    }
}

static void run_until(fx *f, const bool *flag)
{
    for (int i = 0; !*flag && i < 100000; i++)
        uv_run(f->s.loop, UV_RUN_ONCE);
    assert_true(*flag);
}

typedef struct db_job {
    int (*fn)(omtp_db *db, void *arg);
    void *arg;
    bool done;
    int status;
} db_job;

static int db_job_work(omtp_db *db, void *arg)
{
    db_job *j = arg;
    return j->fn(db, j->arg);
}

static void db_job_done(void *arg, int status)
{
    db_job *j = arg;
    j->status = status;
    j->done = true;
}

/* submitted like any read: behind the barrier */
static int on_db(fx *f, int (*fn)(omtp_db *, void *), void *arg)
{
    db_job j = {.fn = fn, .arg = arg};
    assert_int_equal(omtp_store_submit(f->s.store, db_job_work, db_job_done, &j), 0);
    run_until(f, &j.done);
    return j.status;
}

static int add_users_work(omtp_db *db, void *arg)
{
    (void)arg;
    const char *ids[] = {"alice", "bob", "carol", "dave", "erin"};
    for (int i = 0; i < 5; i++) {
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        tars_str_set(&u.userId, ids[i]);
        int rc = omtp_db_user_create(db, &u);
        omtp_user_rec_free(&u);
        if (rc)
            return rc;
    }
    return 0;
}

static void groups_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_groups_close(s);
}

static void cc_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_cc_close(s); /* the check caches the sends used */
}

static int mp_start(omtp_server *s, char *why, size_t whylen)
{
    return omtp_msgpath_start(s, why, whylen);
}

static void mp_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_stop(s);
}

static void mp_close(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_close(s);
}

/* omtpd's wiring (src/omtpd/wiring.c) of what the send path needs */
static const omtp_server_part parts[] = {
    {.name = "message log",
     .start_at = OMTP_START_STORE,
     .start = mp_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = mp_stop,
     .free = omtp_msgpath_close},
    {.name = "message log close", .stop_at = OMTP_STOP_AFTER_STORE, .stop = mp_close},
    {.name = "group state",
     .start_at = OMTP_START_LAST,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = groups_stop},
    {.name = "check caches", .stop_at = OMTP_STOP_AFTER_STORE, .stop = cc_stop},
};

static void fx_init_cfg(fx *f, unsigned apply_delay_ms, unsigned seq_max);

static void fx_init(fx *f, unsigned apply_delay_ms, unsigned seq_max)
{
    omtp_config_defaults(&f->cfg);
    fx_init_cfg(f, apply_delay_ms, seq_max);
}

/* fx_init with the settings already in f->cfg */
static void fx_init_cfg(fx *f, unsigned apply_delay_ms, unsigned seq_max)
{
    snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s", f->dir);
    snprintf(f->cfg.listen, sizeof f->cfg.listen, "127.0.0.1:0");
    f->cfg.log_level = omtp_config_parse_level("warn");
    f->cfg.message_log = true; /* opt-in (docs/storage.md, "Delivery path") */
    f->cfg.apply_delay_ms = apply_delay_ms;
    f->cfg.seq_cache_max = seq_max;
    char why[512] = "";
    int rc = omtp_server_init(&f->s, uv_default_loop(), &f->cfg, parts,
                              sizeof(parts) / sizeof(parts[0]), why, sizeof why);
    if (rc)
        fail_msg("omtp_server_init: %s", why);
    assert_non_null(omtp_msgpath(&f->s));
}

static fx *fx_new(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/omtp-mlog-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    return f;
}

static void fx_down(fx *f)
{
    omtp_server_stop(&f->s);
    omtp_server_run(&f->s);
    omtp_server_free(&f->s);
    uv_run(uv_default_loop(), UV_RUN_NOWAIT);
}

static fx *fx_start(unsigned apply_delay_ms, unsigned seq_max)
{
    fx *f = fx_new();
    fx_init(f, apply_delay_ms, seq_max);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    return f;
}

/* A clean stop and a start on the same data. */
static void fx_restart(fx *f, unsigned apply_delay_ms, unsigned seq_max)
{
    fx_down(f);
    memset(&f->s, 0, sizeof f->s);
    fx_init(f, apply_delay_ms, seq_max);
}

static void fx_stop(fx *f)
{
    fx_down(f);
    snprintf(f->cmd, sizeof f->cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(f->cmd), 0);
    free(f);
}

static const omtp_dom_caller API = {.role = OMTP_DOM_API};

static omtp_msg_rec msg(const char *from, const char *to, const char *content, const char *packId)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.packId = (tars_str){(char *)packId, (uint32_t)strlen(packId)};
    m.msg.from = (tars_str){(char *)from, (uint32_t)strlen(from)};
    m.msg.to = (tars_str){(char *)to, (uint32_t)strlen(to)};
    m.msg.content = (tars_str){(char *)content, (uint32_t)strlen(content)};
    return m;
}

static answer send_flags(fx *f, omtp_dom_caller who, const char *from, const char *to,
                         const char *content, const char *packId, int64_t flags)
{
    answer a = {0};
    omtp_msg_rec m = msg(from, to, content, packId);
    m.flags = flags;
    assert_int_equal(omtp_dom_send_single(&f->s, &who, &m, on_result, &a), 0);
    run_until(f, &a.called);
    return a;
}

static answer send1(fx *f, const char *from, const char *to, const char *content,
                    const char *packId)
{
    return send_flags(f, API, from, to, content, packId, 0);
}

/* ------------------------------------------------------------ inspection */

typedef struct hist {
    const char *sid;
    omtp_msg_rec_list l;
} hist;

static int hist_work(omtp_db *db, void *arg)
{
    hist *h = arg;
    return omtp_db_msg_history(db, h->sid, 0, 200, &h->l);
}

/* the stored seqIds of sid, oldest first, into seqs; returns how many */
static int stored_seqs(fx *f, const char *sid, int64_t *seqs, int max, char contents[][32])
{
    hist h = {.sid = sid};
    assert_int_equal(on_db(f, hist_work, &h), 0);
    int n = (int)h.l.n;
    assert_true(n <= max);
    for (int i = 0; i < n; i++) {
        const omtp_msg_rec *m = &h.l.items[n - 1 - i]; /* history is newest first */
        seqs[i] = m->msg.seqId;
        if (contents)
            snprintf(contents[i], 32, "%s", m->msg.content.data);
    }
    omtp_msg_rec_list_free(&h.l);
    return n;
}

typedef struct hp_count {
    const char *user;
    int n;
} hp_count;

static int hp_work(omtp_db *db, void *arg)
{
    hp_count *c = arg;
    omtp_hp_rec_list l;
    int64_t last = 0;
    int rc = omtp_db_hp_list(db, c->user, 0, 1000, &l, &last);
    if (rc == 0) {
        c->n = (int)l.n;
        omtp_hp_rec_list_free(&l);
    }
    return rc;
}

/* ----------------------------------------------------------------- tests */

/* The same record applied twice (a replay repeating what a batch stored
 * before the crash) is one message, one high-priority row. */
typedef struct twice {
    omtp_msg_rec m;
} twice;

static int apply_twice_work(omtp_db *db, void *arg)
{
    twice *t = arg;
    int rc = omtp_msg_apply_record(db, &t->m);
    return rc ? rc : omtp_msg_apply_record(db, &t->m);
}

static void test_apply_idempotent(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    twice t;
    t.m = msg("alice", "bob", "once", "pk-once");
    t.m.type = PT_MSG_SINGLE_CHAT;
    t.m.flags = OMTP_F_HIGHPRJ;
    t.m.msg.sessionId = (tars_str){(char *)"SC_alice_bob", 12};
    t.m.msg.seqId = 1;
    t.m.msg.timestamp = omtp_now_ms();
    assert_int_equal(on_db(f, apply_twice_work, &t), 0);
    assert_int_equal(on_db(f, apply_twice_work, &t), 0);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1);
    assert_int_equal(seqs[0], 1);
    hp_count c = {.user = "bob"};
    assert_int_equal(on_db(f, hp_work, &c), 0);
    assert_int_equal(c.n, 1);
    /* the counter continues after the applied message */
    answer a = send1(f, "alice", "bob", "next", "pk-next");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 2);
    fx_stop(f);
}

/* Records in the log that the store never applied (a crash before the
 * apply) are in history after the next start, with their seqIds, once --
 * also when the applied position is lost and they are replayed again. */
typedef struct synced_flag {
    bool done;
} synced_flag;

static void on_log_synced(void *arg, uint64_t lsn, int status)
{
    (void)lsn;
    (void)status;
    ((synced_flag *)arg)->done = true;
}

static void log_append_msgs(const char *dir, int from_seq, int n)
{
    char logdir[128];
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    omtp_msglog *log = NULL;
    omtp_msglog_opts o = {0};
    synced_flag sf = {0};
    assert_int_equal(omtp_msglog_open(&loop, logdir, &o, on_log_synced, &sf, &log), 0);
    for (int i = 0; i < n; i++) {
        char content[32], pk[32];
        snprintf(content, sizeof content, "tail %d", from_seq + i);
        snprintf(pk, sizeof pk, "pk-tail-%d", from_seq + i);
        omtp_msg_rec m = msg("carol", "dave", content, pk);
        m.type = PT_MSG_SINGLE_CHAT;
        m.msg.sessionId = (tars_str){(char *)"SC_carol_dave", 13};
        m.msg.seqId = from_seq + i;
        m.msg.timestamp = omtp_now_ms();
        tars_buf b;
        tars_buf_init(&b);
        assert_int_equal(omtp_logrec_encode(&m, &b), 0);
        uint64_t end = 0;
        assert_int_equal(omtp_msglog_append(log, OMTP_LOGREC_MSG, b.data, b.len, &end), 0);
        tars_buf_free(&b);
    }
    omtp_msglog_close(log);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int forget_applied_work(omtp_db *db, void *arg)
{
    (void)arg;
    return omtp_db_meta_set(db, "msglog.applied", "0");
}

static void test_replay_after_crash(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    fx_down(f);
    /* what a crash leaves: three records the store never saw */
    log_append_msgs(f->dir, 1, 3);
    memset(&f->s, 0, sizeof f->s);
    fx_init(f, 5, 1000);
    int64_t seqs[8];
    char contents[8][32];
    assert_int_equal(stored_seqs(f, "SC_carol_dave", seqs, 8, contents), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(seqs[i], i + 1);
        char want[32];
        snprintf(want, sizeof want, "tail %d", i + 1);
        assert_string_equal(contents[i], want);
    }
    /* the counter continues after the replayed tail */
    answer a = send1(f, "carol", "dave", "after", "pk-after");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 4);
    /* the applied position lost: everything is replayed, stored once */
    assert_int_equal(on_db(f, forget_applied_work, NULL), 0);
    fx_restart(f, 5, 1000);
    assert_int_equal(stored_seqs(f, "SC_carol_dave", seqs, 8, NULL), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seqs[i], i + 1);
    fx_stop(f);
}

/* A read submitted right after a send's ack sees the message although the
 * apply timer is a minute away: the barrier queues the pending records
 * ahead of the read. */
static void test_read_barrier(void **st)
{
    (void)st;
    fx *f = fx_start(60000, 1000);
    for (int i = 1; i <= 3; i++) {
        char pk[16];
        snprintf(pk, sizeof pk, "rb-%d", i);
        answer a = send1(f, "alice", "erin", "seen?", pk);
        assert_int_equal(a.code, OMTP_EC_SUCCESS);
        assert_int_equal(a.seq, i);
        msgpath_stats ms;
        omtp_msgpath_stats(&f->s, &ms);
        assert_int_equal(ms.pending_records, 1); /* not applied before the read */
        int64_t seqs[8];
        assert_int_equal(stored_seqs(f, "SC_alice_erin", seqs, 8, NULL), i);
        assert_int_equal(seqs[i - 1], i);
    }
    fx_stop(f);
}

/* A session with stored messages: the counter loads the stored last seqId;
 * a session id stored with other parties is refused (MSG_FORBIDDEN). */
static int seed_work(omtp_db *db, void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        char pk[16];
        snprintf(pk, sizeof pk, "seed-%d", i);
        omtp_msg_rec m = msg("bob", "carol", "seed", pk);
        omtp_msg_rec c;
        omtp_msg_rec_init(&c);
        m.type = PT_MSG_SINGLE_CHAT;
        assert_int_equal(omtp_msg_rec_copy(&c, &m), 0);
        tars_str_set(&c.msg.sessionId, "SC_bob_carol");
        bool dup = false;
        int rc = omtp_db_msg_append(db, &c, &dup);
        omtp_msg_rec_free(&c);
        if (rc)
            return rc;
    }
    const char *sql = "INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, "
                      "party_b) VALUES ('SC_alice_dave', 16, 7, 1, 'x', 'y')";
    return omtp_db_raw_sql(db, sql, 0, NULL, NULL, NULL, NULL);
}

static void test_counter_loads_stored_session(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    assert_int_equal(on_db(f, seed_work, NULL), 0);
    answer a = send1(f, "bob", "carol", "fourth", "c4");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 4);
    a = send1(f, "carol", "bob", "fifth", "c5");
    assert_int_equal(a.seq, 5);
    a = send1(f, "alice", "dave", "mixed", "c6");
    assert_int_equal(a.code, OMTP_EC_MSG_FORBIDDEN);
    assert_non_null(strstr(a.desc, "belongs to other users"));
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_bob_carol", seqs, 8, NULL), 5);
    fx_stop(f);
}

/* Reuse within the window: the original's ack, or MSG_REPEATED for another
 * message. After a restart the window is empty: a DUP-flagged resend is
 * found in the store; a different message under the same packId is
 * MSG_REPEATED; nothing is stored twice. */
static void test_dedup_window_and_store(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    answer a = send1(f, "alice", "bob", "hello", "p1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 1);
    answer b = send1(f, "alice", "bob", "hello", "p1");
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    assert_true(b.dup);
    assert_int_equal(b.seq, 1);
    answer c = send1(f, "alice", "bob", "other", "p1");
    assert_int_equal(c.code, OMTP_EC_MSG_REPEATED);
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.dedup_entries, 1);
    assert_true(ms.dedup_bytes > 0);

    fx_restart(f, 5, 1000);
    answer d = send_flags(f, API, "alice", "bob", "hello", "p1", OMTP_F_DUP);
    assert_int_equal(d.code, OMTP_EC_SUCCESS);
    assert_true(d.dup);
    assert_int_equal(d.seq, 1);
    answer e = send_flags(f, API, "alice", "bob", "other", "p1", OMTP_F_DUP);
    assert_int_equal(e.code, OMTP_EC_MSG_REPEATED);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1);
    fx_stop(f);
}

/* Two sends of one (from, packId) in flight together (the second taken
 * while the session's counter loads): the window is asked again at the
 * append, so the second is the first's ack and nothing is stored twice. */
static void test_dedup_concurrent_same_pack(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    answer a = {0}, b = {0};
    omtp_msg_rec m1 = msg("alice", "bob", "hello", "cc1");
    omtp_msg_rec m2 = msg("alice", "bob", "hello", "cc1");
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m1, on_result, &a), 0);
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m2, on_result, &b), 0);
    run_until(f, &a.called);
    run_until(f, &b.called);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 1);
    assert_int_equal(b.seq, 1);
    assert_true(a.dup != b.dup);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1);
    fx_stop(f);
}

static void raw_sql(fx *f, const char *sql)
{
    char path[128];
    snprintf(path, sizeof path, "%s/omtp.db", f->dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

static int read_work(omtp_db *db, void *arg)
{
    (void)db;
    (void)arg;
    return 0;
}

/* One apply batch fails, the next would succeed: the applied position must
 * not pass the failed records (a crash would then lose them from the
 * replay, and the log under them is retired); once the cause is gone, both
 * are stored in order and the position moves past them. */
static void test_apply_failure_keeps_position(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.apply_batch = 1; /* one record per apply item */
    fx_init_cfg(f, 60000, 1000);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    raw_sql(f, "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN CAST(NEW.content AS TEXT) = "
               "'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    answer a = send1(f, "alice", "bob", "boom", "af1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    answer b = send1(f, "alice", "bob", "fine", "af2");
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    on_db(f, read_work, NULL); /* the barrier queues whatever is pending */
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_true(ms.apply_failures > 0);
    assert_int_equal(ms.applied_lsn, 0);
    raw_sql(f, "DROP TRIGGER boom");
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 2);
    omtp_msgpath_stats(&f->s, &ms);
    assert_true(ms.applied_lsn > 0);
    assert_int_equal(ms.pending_records, 0);
    fx_stop(f);
}

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop (no submission of its own) until the send path's stats
 * satisfy cond, at most ms milliseconds; returns whether they did. */
static bool wait_stats(fx *f, bool (*cond)(const msgpath_stats *), uint64_t ms)
{
    bool late = false;
    uv_timer_t t;
    uv_timer_init(f->s.loop, &t);
    t.data = &late;
    uv_timer_start(&t, on_guard, ms, 0);
    msgpath_stats st;
    for (;;) {
        omtp_msgpath_stats(&f->s, &st);
        if (cond(&st) || late)
            break;
        uv_run(f->s.loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(f->s.loop, UV_RUN_NOWAIT);
    return cond(&st);
}

static bool apply_failed(const msgpath_stats *st)
{
    return st->apply_failures > 0;
}

static bool all_applied(const msgpath_stats *st)
{
    return st->pending_records == 0 && st->applied_lsn > 0;
}

/* A failed apply on an IDLE server is tried again by itself: no send arms
 * the apply timer and no read runs the barrier, the retry timer (100 ms
 * after the failure, doubling) stores the record once the cause is gone. */
static void test_apply_retried_when_idle(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    raw_sql(f, "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN CAST(NEW.content AS TEXT) = "
               "'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    answer a = send1(f, "alice", "bob", "boom", "idle1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS); /* acked from the log */
    assert_true(wait_stats(f, apply_failed, 5000));
    raw_sql(f, "DROP TRIGGER boom"); /* another connection: nothing goes through the store */
    /* retries at ~100, 200, 400 ms ... after the failure; 5 s is plenty */
    assert_true(wait_stats(f, all_applied, 5000));
    int64_t seqs[4];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 4, NULL), 1);
    assert_int_equal(seqs[0], 1);
    fx_stop(f);
}

/* More sessions than counters: evicted counters reload from the store
 * (behind the barrier) and keep the seqIds gap-free. */
static void test_counter_eviction(void **st)
{
    (void)st;
    fx *f = fx_start(60000, 2);
    const char *to[] = {"bob", "carol", "dave", "erin"};
    for (int round = 1; round <= 3; round++)
        for (int k = 0; k < 4; k++) {
            char pk[32];
            snprintf(pk, sizeof pk, "ev-%d-%d", round, k);
            answer a = send1(f, "alice", to[k], "x", pk);
            assert_int_equal(a.code, OMTP_EC_SUCCESS);
            assert_int_equal(a.seq, round);
        }
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_true(ms.seq_counters <= 3);
    fx_stop(f);
}

/* Unapplied bytes are bounded: above apply_pending_max a send is refused
 * with SERVICE_UNAVAILABLE (nothing written); once a read applied the
 * backlog, sends are taken again. */
static void test_pending_bound(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.apply_pending_max = 1; /* one record is over it */
    f->cfg.apply_wait_ms = 0;     /* refused at once, not after a wait */
    fx_init_cfg(f, 60000, 1000);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    answer a = send1(f, "alice", "bob", "first", "b1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    answer b = send1(f, "alice", "bob", "second", "b2");
    assert_int_equal(b.code, OMTP_EC_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(b.desc, "apply_pending_max"));
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.refused_busy, 1);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1); /* applies "first" */
    answer c = send1(f, "alice", "bob", "second", "b2");
    assert_int_equal(c.code, OMTP_EC_SUCCESS);
    assert_int_equal(c.seq, 2); /* the refused one took no seqId */
    fx_stop(f);
}

/* An id with a NUL byte inside is refused before anything is written (the
 * log's records hold ids as C strings, and the replay refuses such a
 * record). */
static void test_nul_in_group_id_refused(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    answer a = {0};
    omtp_msg_rec m = msg("alice", "x", "hi", "nul-1");
    m.msg.to = (tars_str){(char *)"GC_t\0zz", 7};
    assert_int_equal(omtp_dom_send_group(&f->s, &API, &m, on_result, &a), 0);
    run_until(f, &a.called);
    assert_int_equal(a.code, OMTP_EC_PARAM);
    assert_non_null(strstr(a.desc, "NUL"));
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.pending_records, 0);
    fx_restart(f, 5, 1000); /* the log replays cleanly */
    fx_stop(f);
}

/* ------------------------------------------- the apply backlog's bounds */

/* Above apply_pending_records_max a send waits (the loop does not) for the
 * apply to catch up, then goes on with the next seqId: nothing refused. */
static void test_records_bound_waits(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.apply_pending_records_max = 1;
    f->cfg.apply_wait_ms = 10000;
    fx_init_cfg(f, 60000, 1000); /* the apply timer is a minute away */
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    answer a = send1(f, "alice", "bob", "first", "rw1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    answer b = send1(f, "alice", "bob", "second", "rw2"); /* waits for "first" to apply */
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    assert_int_equal(b.seq, 2);
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.send_waits, 1);
    assert_int_equal(ms.refused_busy, 0);
    assert_int_equal(ms.sends_waiting, 0);
    assert_true(ms.applied_records >= 1);
    fx_stop(f);
}

/* An apply that cannot catch up (it fails): the waiting send is refused
 * after apply_wait_ms with SERVICE_UNAVAILABLE naming the bound, nothing of
 * it written; once the apply works again, it is taken. */
static void test_wait_over_refuses(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.apply_pending_records_max = 1;
    f->cfg.apply_wait_ms = 200;
    fx_init_cfg(f, 60000, 1000);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    raw_sql(f, "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN CAST(NEW.content AS TEXT) = "
               "'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    answer a = send1(f, "alice", "bob", "boom", "wo1");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    answer b = send1(f, "alice", "bob", "later", "wo2");
    assert_int_equal(b.code, OMTP_EC_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(b.desc, "apply_pending_records_max"));
    assert_non_null(strstr(b.desc, "send it again"));
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.refused_busy, 1);
    assert_int_equal(ms.pending_records, 1);
    raw_sql(f, "DROP TRIGGER boom");
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1);
    answer c = send1(f, "alice", "bob", "later", "wo2");
    assert_int_equal(c.code, OMTP_EC_SUCCESS);
    assert_int_equal(c.seq, 2); /* the refused one took no seqId */
    fx_stop(f);
}

/* An apply that costs more per record than apply_lag_max_ms allows for the
 * backlog: sends wait for it instead of piling up behind it, so a read
 * waits for a short backlog only; every send is taken, in order. */
static void test_lag_bound_slow_apply(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.apply_lag_max_ms = 20;
    f->cfg.apply_wait_ms = 20000;
    fx_init_cfg(f, 5, 1000);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    /* every message costs the apply ~0.1-0.5 s (like indexing a large
     * high-entropy text) */
    raw_sql(f, "CREATE TABLE burn(x INTEGER); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
               "SELECT x + 1 FROM c WHERE x < 2000) INSERT INTO burn SELECT x FROM c; CREATE "
               "TABLE burnout(n INTEGER); CREATE TRIGGER slow AFTER INSERT ON messages BEGIN "
               "INSERT INTO burnout SELECT count(*) FROM burn a, burn b; END");
    answer a = send1(f, "alice", "bob", "warm", "lg0");
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 1); /* cost measured */
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_true(ms.us_per_record >= 20000);
    enum { N = 4 };
    answer r[N];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        char pk[16];
        snprintf(pk, sizeof pk, "lg%d", i + 1);
        omtp_msg_rec m = msg("alice", "bob", "x", pk);
        assert_int_equal(omtp_dom_send_single(&f->s, &API, &m, on_result, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        run_until(f, &r[i].called);
        assert_int_equal(r[i].code, OMTP_EC_SUCCESS);
        assert_int_equal(r[i].seq, i + 2);
    }
    omtp_msgpath_stats(&f->s, &ms);
    assert_true(ms.send_waits >= N - 1); /* one record behind at a time */
    assert_int_equal(ms.refused_busy, 0);
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), N + 1);
    fx_stop(f);
}

/* ------------------------------------------------ one sender's order */

/* A sender's first message waits (its quote is a store read; a DUP-flagged
 * resend the window does not know is a store lookup), the next does not:
 * the next must not take the lower seqId -- seqIds follow the order the
 * sender sent them, as on the store path. */
static void test_order_of_one_sender(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    answer base = send1(f, "alice", "bob", "quote me", "or0");
    assert_int_equal(base.seq, 1);
    answer a = {0}, b = {0}, c = {0}, d = {0};
    omtp_msg_rec m1 = msg("alice", "bob", "a reply", "or1");
    m1.msg.replyTo = 1;
    omtp_msg_rec m2 = msg("alice", "bob", "plain", "or2");
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m1, on_result, &a), 0);
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m2, on_result, &b), 0);
    omtp_msg_rec m3 = msg("alice", "bob", "resent", "or3");
    m3.flags = OMTP_F_DUP; /* not known: looked up in the store, then new */
    omtp_msg_rec m4 = msg("alice", "bob", "plain again", "or4");
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m3, on_result, &c), 0);
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m4, on_result, &d), 0);
    run_until(f, &a.called);
    run_until(f, &b.called);
    run_until(f, &c.called);
    run_until(f, &d.called);
    assert_int_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    assert_int_equal(c.code, OMTP_EC_SUCCESS);
    assert_int_equal(d.code, OMTP_EC_SUCCESS);
    assert_int_equal(a.seq, 2);
    assert_int_equal(b.seq, 3);
    assert_int_equal(c.seq, 4);
    assert_int_equal(d.seq, 5);
    char contents[8][32];
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, contents), 5);
    assert_string_equal(contents[1], "a reply");
    assert_string_equal(contents[2], "plain");
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.order_keys, 0); /* nothing left behind */
    fx_stop(f);
}

/* A refused first message (unknown quote) lets the next one go. */
static void test_order_after_refusal(void **st)
{
    (void)st;
    fx *f = fx_start(5, 1000);
    answer a = {0}, b = {0};
    omtp_msg_rec m1 = msg("alice", "bob", "a reply", "oq1");
    m1.msg.replyTo = 99; /* no such message */
    omtp_msg_rec m2 = msg("alice", "bob", "plain", "oq2");
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m1, on_result, &a), 0);
    assert_int_equal(omtp_dom_send_single(&f->s, &API, &m2, on_result, &b), 0);
    run_until(f, &a.called);
    run_until(f, &b.called);
    assert_int_not_equal(a.code, OMTP_EC_SUCCESS);
    assert_int_equal(b.code, OMTP_EC_SUCCESS);
    assert_int_equal(b.seq, 1);
    fx_stop(f);
}

/* The window full (dedup_window_max) drops entries before dedup_window_s:
 * a DUP-flagged resend of a dropped one is still the original's ack, found
 * in the store, and the early drop is counted. */
static void test_dedup_window_full_dup_resend(void **st)
{
    (void)st;
    fx *f = fx_new();
    omtp_config_defaults(&f->cfg);
    f->cfg.dedup_window_max = 2;
    fx_init_cfg(f, 5, 1000);
    assert_int_equal(on_db(f, add_users_work, NULL), 0);
    assert_int_equal(send1(f, "alice", "bob", "one", "wf1").seq, 1);
    assert_int_equal(send1(f, "alice", "bob", "two", "wf2").seq, 2);
    assert_int_equal(send1(f, "alice", "bob", "three", "wf3").seq, 3);
    msgpath_stats ms;
    omtp_msgpath_stats(&f->s, &ms);
    assert_int_equal(ms.dedup_entries, 2);
    assert_int_equal(ms.dedup_early_drops, 1);
    answer d = send_flags(f, API, "alice", "bob", "one", "wf1", OMTP_F_DUP);
    assert_int_equal(d.code, OMTP_EC_SUCCESS);
    assert_true(d.dup);
    assert_int_equal(d.seq, 1);
    answer e = send_flags(f, API, "alice", "bob", "three", "wf3", OMTP_F_DUP); /* in the window */
    assert_true(e.dup);
    assert_int_equal(e.seq, 3);
    int64_t seqs[8];
    assert_int_equal(stored_seqs(f, "SC_alice_bob", seqs, 8, NULL), 3);
    fx_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_idempotent),
        cmocka_unit_test(test_replay_after_crash),
        cmocka_unit_test(test_read_barrier),
        cmocka_unit_test(test_counter_loads_stored_session),
        cmocka_unit_test(test_dedup_window_and_store),
        cmocka_unit_test(test_dedup_concurrent_same_pack),
        cmocka_unit_test(test_counter_eviction),
        cmocka_unit_test(test_nul_in_group_id_refused),
        cmocka_unit_test(test_pending_bound),
        cmocka_unit_test(test_apply_failure_keeps_position),
        cmocka_unit_test(test_apply_retried_when_idle),
        cmocka_unit_test(test_records_bound_waits),
        cmocka_unit_test(test_wait_over_refuses),
        cmocka_unit_test(test_lag_bound_slow_apply),
        cmocka_unit_test(test_order_of_one_sender),
        cmocka_unit_test(test_order_after_refusal),
        cmocka_unit_test(test_dedup_window_full_dup_resend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
