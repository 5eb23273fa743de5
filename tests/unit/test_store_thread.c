/*
 * test_store_thread.c - the group-commit executor (store_thread.c) on SQLite.
 *
 * Batching is made deterministic with a "gate" item: its work blocks the
 * store thread until the test has queued everything else, so the rest must
 * arrive as one batch (or as max_batch-sized batches).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/omtp_proto.h"
#include "store/store.h"
#include "store/sqlite/sq.h"

typedef struct fixture {
    char dir[64];
    uv_loop_t loop;
    omtp_store *store;
    omtp_store_config cfg;
} fixture;

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void fx_open(fixture *f, unsigned max_batch)
{
    char why[256];
    memset(&f->cfg, 0, sizeof(f->cfg));
    f->cfg.data_dir = f->dir;
    f->cfg.max_batch = max_batch;
    assert_int_equal(omtp_store_open(&f->loop, &f->cfg, &f->store, why, sizeof(why)), 0);
    assert_string_equal(omtp_store_backend(f->store), "sqlite");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/omtp-st-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    uv_loop_init(&f->loop);
    fx_open(f, 0);
    *state = f;
    return 0;
}

static void fx_close(fixture *f)
{
    if (f->store) {
        omtp_store_close(f->store);
        f->store = NULL;
        uv_run(&f->loop, UV_RUN_DEFAULT); /* lets the async handle close */
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    fx_close(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* ------------------------------------------------------------- items */

typedef struct item {
    int idx;
    int fail;       /* work returns this after writing */
    uv_sem_t *gate; /* work waits on it first (the gate item) */
    int *order;     /* completions append idx here */
    int *norder;
    int status;
    bool done;
    bool rollback_txn; /* work breaks the batch transaction */
    omtp_store *resubmit;
} item;

static uv_sem_t g_started; /* posted by a gate item once it runs */

static int work_meta(omtp_db *db, void *arg)
{
    item *it = arg;
    if (it->gate) {
        uv_sem_post(&g_started);
        uv_sem_wait(it->gate);
    }
    char key[32], val[32];
    snprintf(key, sizeof(key), "k%d", it->idx);
    snprintf(val, sizeof(val), "v%d", it->idx);
    int rc = omtp_db_meta_set(db, key, val);
    if (rc)
        return rc;
    if (it->rollback_txn)
        omtp_db_rollback(db);
    return it->fail;
}

static void done_meta(void *arg, int status)
{
    item *it = arg;
    assert_false(it->done);
    it->done = true;
    it->status = status;
    if (it->order)
        it->order[(*it->norder)++] = it->idx;
}

static void done_meta(void *arg, int status);

/* Submits items[0..n); when items[0] is a gate, waits until the store thread
 * runs it, so the others are all queued behind it. */
static void submit_all(fixture *f, item *items, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(omtp_store_submit(f->store, work_meta, done_meta, &items[i]), 0);
        if (i == 0 && items[0].gate) {
            uv_run(&f->loop, UV_RUN_NOWAIT); /* the end of a loop turn wakes the thread */
            uv_sem_wait(&g_started);
        }
    }
}

static bool meta_has(fixture *f, int idx)
{
    omtp_db *db;
    char why[256], key[32];
    assert_int_equal(omtp_db_open(&f->cfg, &db, why, sizeof(why)), 0);
    snprintf(key, sizeof(key), "k%d", idx);
    tars_str v;
    int rc = omtp_db_meta_get(db, key, &v);
    tars_str_clear(&v);
    omtp_db_close(db);
    assert_true(rc == 0 || rc == OMTP_ENOTFOUND);
    return rc == 0;
}

static void run_until_done(fixture *f, item *items, int n)
{
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && items[i].done;
        if (all)
            return;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

/* ------------------------------------------------------------- tests */

static void test_group_commit_batches(void **state)
{
    fixture *f = *state;
    enum { N = 300 };
    item *items = calloc(N, sizeof(item));
    int order[N], norder = 0;
    uv_sem_t gate;
    uv_sem_init(&gate, 0);
    for (int i = 0; i < N; i++) {
        items[i].idx = i;
        items[i].order = order;
        items[i].norder = &norder;
        items[i].gate = i == 0 ? &gate : NULL;
    }
    submit_all(f, items, N);
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    uv_sem_post(&gate);
    assert_int_equal(st.queued, N - 1); /* all waiting behind the gate */
    run_until_done(f, items, N);
    omtp_store_get_stats(f->store, &st);
    assert_int_equal(st.executed, N);
    assert_int_equal(st.queued, 0);
    /* the gate's batch, then everything else in one */
    assert_int_equal(st.commits, 2);
    assert_int_equal(st.commit_fail, 0);
    assert_int_equal(st.commit_us_bucket[11], st.commits);
    for (int b = 1; b < 12; b++)
        assert_true(st.commit_us_bucket[b] >= st.commit_us_bucket[b - 1]);
    assert_int_equal(norder, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(items[i].status, 0);
    }
    assert_true(meta_has(f, 0));
    assert_true(meta_has(f, N - 1));
    uv_sem_destroy(&gate);
    free(items);
}

static void test_max_batch(void **state)
{
    fixture *f = *state;
    fx_close(f);
    fx_open(f, 4);
    enum { N = 41 };
    item items[N];
    memset(items, 0, sizeof(items));
    uv_sem_t gate;
    uv_sem_init(&gate, 0);
    for (int i = 0; i < N; i++) {
        items[i].idx = i;
        items[i].gate = i == 0 ? &gate : NULL;
    }
    submit_all(f, items, N);
    uv_sem_post(&gate);
    run_until_done(f, items, N);
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    assert_int_equal(st.executed, N);
    assert_int_equal(st.commits, 1 + (N - 1 + 3) / 4); /* the gate, then batches of 4 */
    uv_sem_destroy(&gate);
}

static void test_failing_item_rolls_back_alone(void **state)
{
    fixture *f = *state;
    enum { N = 5 };
    item items[N];
    memset(items, 0, sizeof(items));
    uv_sem_t gate;
    uv_sem_init(&gate, 0);
    for (int i = 0; i < N; i++) {
        items[i].idx = 100 + i;
        items[i].gate = i == 0 ? &gate : NULL;
        items[i].fail = (i == 2 || i == 4) ? OMTP_EINVAL : 0;
    }
    submit_all(f, items, N);
    uv_sem_post(&gate);
    run_until_done(f, items, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].status, items[i].fail);
        assert_int_equal(meta_has(f, 100 + i), items[i].fail == 0);
    }
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    assert_int_equal(st.commits, 2);
    uv_sem_destroy(&gate);
}

static void test_failed_commit_fails_batch(void **state)
{
    fixture *f = *state;
    enum { N = 4 };
    item items[N];
    memset(items, 0, sizeof(items));
    uv_sem_t gate;
    uv_sem_init(&gate, 0);
    /* the gate is alone in its batch; items 1..3 share the next one, whose
     * item 2 rolls back the whole transaction, so COMMIT fails */
    items[0].idx = 200;
    items[0].gate = &gate;
    for (int i = 1; i < N; i++) {
        items[i].idx = 200 + i;
        items[i].rollback_txn = i == 2;
    }
    submit_all(f, items, N);
    uv_sem_post(&gate);
    run_until_done(f, items, N);
    assert_int_equal(items[0].status, 0);
    assert_true(meta_has(f, 200));
    for (int i = 1; i < N; i++) {
        assert_int_equal(items[i].status, OMTP_EDB);
        assert_false(meta_has(f, 200 + i));
    }
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    assert_int_equal(st.commit_fail, 1);
    /* the executor recovers: the next item commits */
    item after = {.idx = 210};
    assert_int_equal(omtp_store_submit(f->store, work_meta, done_meta, &after), 0);
    run_until_done(f, &after, 1);
    assert_int_equal(after.status, 0);
    assert_true(meta_has(f, 210));
    uv_sem_destroy(&gate);
}

static void test_close_drains(void **state)
{
    fixture *f = *state;
    enum { N = 500 };
    item *items = calloc(N, sizeof(item));
    int order[N], norder = 0;
    for (int i = 0; i < N; i++) {
        items[i].idx = 1000 + i;
        items[i].order = order;
        items[i].norder = &norder;
        assert_int_equal(omtp_store_submit(f->store, work_meta, done_meta, &items[i]), 0);
    }
    /* no loop iteration: close must run, commit and complete everything */
    omtp_store *s = f->store;
    omtp_store_close(s);
    f->store = NULL;
    assert_int_equal(norder, N);
    for (int i = 0; i < N; i++) {
        assert_true(items[i].done);
        assert_int_equal(items[i].status, 0);
        assert_int_equal(order[i], 1000 + i);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(meta_has(f, 1000));
    assert_true(meta_has(f, 1000 + N - 1));
    free(items);
}

static int work_slow(omtp_db *db, void *arg)
{
    usleep(20 * 1000);
    return work_meta(db, arg);
}

/* close_within: a queue that would take ~4 s to drain is cut at the
 * deadline; what ran is committed (status 0, in the database), the rest is
 * completed with OMTP_ECLOSED without running, in order; the items'
 * durations are in the stats. */
static void test_close_within_deadline(void **state)
{
    fixture *f = *state;
    enum { N = 200 };
    /* first, two slow items alone: their durations are in the stats */
    item warm[2] = {{.idx = 2998}, {.idx = 2999}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(omtp_store_submit(f->store, work_slow, done_meta, &warm[i]), 0);
    run_until_done(f, warm, 2);
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    assert_true(st.item_us_max >= 20000);
    assert_true(st.item_us_bucket[11] >= 2);
    assert_true(st.item_us_sum >= 40000);
    item *items = calloc(N, sizeof(item));
    int order[N], norder = 0;
    for (int i = 0; i < N; i++) {
        items[i].idx = 3000 + i;
        items[i].order = order;
        items[i].norder = &norder;
        assert_int_equal(omtp_store_submit(f->store, work_slow, done_meta, &items[i]), 0);
    }
    uv_run(&f->loop, UV_RUN_NOWAIT); /* wakes the store thread */
    usleep(100 * 1000);
    uint64_t t0 = uv_hrtime(), abandoned = 0;
    omtp_store *s = f->store;
    assert_int_equal(omtp_store_close_within(s, 300, 1000, &abandoned), 0);
    f->store = NULL;
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    print_message("close_within(300 ms): %llu ms, %llu of %d abandoned\n", (unsigned long long)ms,
                  (unsigned long long)abandoned, N);
    assert_true(ms < 3000); /* generous: draining would take ~4 s */
    assert_true(abandoned > 0 && abandoned < N);
    assert_int_equal(norder, N);
    int ran = 0;
    for (int i = 0; i < N; i++) {
        assert_true(items[i].done);
        assert_int_equal(order[i], 3000 + i);
        assert_true(items[i].status == 0 || items[i].status == OMTP_ECLOSED);
        if (items[i].status == 0)
            assert_int_equal(ran++, i); /* a prefix ran */
    }
    assert_int_equal((uint64_t)(N - ran), abandoned);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(meta_has(f, 3000));
    assert_true(meta_has(f, 3000 + ran - 1));
    assert_false(meta_has(f, 3000 + ran));
    free(items);
}

static uv_sem_t g_endless_started;

static int work_endless(omtp_db *db, void *arg)
{
    (void)arg;
    assert_int_equal(omtp_db_meta_set(db, "endless", "x"), 0);
    uv_sem_post(&g_endless_started);
    /* a statement that never ends on its own: only an interrupt stops it */
    return sq_exec(SQ(db), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                           "SELECT count(*) FROM c")
               ? OMTP_EDB
               : 0;
}

/* A single item running past the deadline is interrupted: its work is
 * rolled back (never acknowledged), the store closes within the bound. */
static void test_close_interrupts_running_item(void **state)
{
    fixture *f = *state;
    item it = {.idx = 1};
    uv_sem_init(&g_endless_started, 0);
    assert_int_equal(omtp_store_submit(f->store, work_endless, done_meta, &it), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_sem_wait(&g_endless_started);
    uint64_t t0 = uv_hrtime(), abandoned = 0;
    assert_int_equal(omtp_store_close_within(f->store, 200, 2000, &abandoned), 0);
    f->store = NULL;
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    print_message("interrupted after %llu ms\n", (unsigned long long)ms);
    assert_true(ms < 2200);
    assert_true(it.done);
    assert_int_not_equal(it.status, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    omtp_db *db;
    char why[256];
    tars_str v;
    assert_int_equal(omtp_db_open(&f->cfg, &db, why, sizeof(why)), 0);
    assert_int_equal(omtp_db_meta_get(db, "endless", &v), OMTP_ENOTFOUND);
    tars_str_clear(&v);
    omtp_db_close(db);
    uv_sem_destroy(&g_endless_started);
}

typedef struct chunked {
    int chunks, ran;
    int status;
    int done_calls;
    int *order, *norder;
} chunked;

static int work_chunked(omtp_db *db, void *arg)
{
    chunked *c = arg;
    char key[32];
    snprintf(key, sizeof(key), "chunk%d", c->ran);
    if (omtp_db_meta_set(db, key, "x"))
        return OMTP_EDB;
    return ++c->ran < c->chunks ? OMTP_STORE_MORE : 0;
}

static void done_chunked(void *arg, int status)
{
    chunked *c = arg;
    c->status = status;
    c->done_calls++;
    c->order[(*c->norder)++] = -1;
}

/* A chunked item (OMTP_STORE_MORE) runs again after the items queued
 * behind it, keeps every chunk's changes, and completes once, last. */
static void test_chunked_item(void **state)
{
    fixture *f = *state;
    int order[8], norder = 0;
    chunked c = {.chunks = 3, .order = order, .norder = &norder};
    item items[3] = {{0}};
    assert_int_equal(omtp_store_submit(f->store, work_chunked, done_chunked, &c), 0);
    for (int i = 0; i < 3; i++) {
        items[i].idx = 4000 + i;
        items[i].order = order;
        items[i].norder = &norder;
        assert_int_equal(omtp_store_submit(f->store, work_meta, done_meta, &items[i]), 0);
    }
    while (c.done_calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    run_until_done(f, items, 3);
    assert_int_equal(c.ran, 3);
    assert_int_equal(c.done_calls, 1);
    assert_int_equal(c.status, 0);
    assert_int_equal(norder, 4);
    assert_int_equal(order[3], -1); /* the items behind it completed first */
    fx_close(f);
    omtp_db *db;
    char why[256];
    assert_int_equal(omtp_db_open(&f->cfg, &db, why, sizeof(why)), 0);
    for (int i = 0; i < 3; i++) {
        char key[32];
        tars_str v;
        snprintf(key, sizeof(key), "chunk%d", i);
        assert_int_equal(omtp_db_meta_get(db, key, &v), 0);
        tars_str_clear(&v);
    }
    omtp_db_close(db);
}

static int nop_work(omtp_db *db, void *arg)
{
    (void)db;
    (void)arg;
    return 0;
}

typedef struct resub {
    omtp_store *s;
    int rc;
    bool called;
} resub;

static void resub_done(void *arg, int status)
{
    resub *r = arg;
    assert_int_equal(status, 0);
    r->called = true;
    r->rc = omtp_store_submit(r->s, nop_work, NULL, NULL);
}

static void test_submit_after_close_refused(void **state)
{
    fixture *f = *state;
    omtp_store *s = f->store;
    resub r = {.s = s, .rc = 1};
    assert_int_equal(omtp_store_submit(s, nop_work, resub_done, &r), 0);
    /* the completion runs inside close, where submitting is refused */
    omtp_store_close(s);
    f->store = NULL;
    assert_true(r.called);
    assert_int_equal(r.rc, OMTP_ECLOSED);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* ---- concurrency: a loop keeps submitting while the thread is busy ---- */

typedef struct conc {
    fixture *f;
    int submitted, completed, total;
    int next_expected;
    bool out_of_order;
    uv_timer_t timer;
    uv_idle_t idle;
} conc;

typedef struct citem {
    conc *c;
    int idx;
} citem;

static int conc_work(omtp_db *db, void *arg)
{
    citem *ci = arg;
    /* a read-modify-write counter: the executor runs items one at a time */
    tars_str v;
    int rc = omtp_db_meta_get(db, "counter", &v);
    long n = rc == 0 ? atol(v.data) : 0;
    tars_str_clear(&v);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", n + 1);
    if (ci->idx % 97 == 0)
        uv_sleep(2); /* keep the thread busy now and then */
    return omtp_db_meta_set(db, "counter", buf);
}

static void conc_submit(conc *c, int k);

static void conc_done(void *arg, int status)
{
    citem *ci = arg;
    conc *c = ci->c;
    assert_int_equal(status, 0);
    if (ci->idx != c->next_expected)
        c->out_of_order = true;
    c->next_expected++;
    c->completed++;
    free(ci);
    /* completions submit more work too */
    if (c->submitted < c->total && c->completed % 3 == 0)
        conc_submit(c, 2);
}

static void conc_submit(conc *c, int k)
{
    for (int i = 0; i < k && c->submitted < c->total; i++) {
        citem *ci = malloc(sizeof(*ci));
        ci->c = c;
        ci->idx = c->submitted++;
        assert_int_equal(omtp_store_submit(c->f->store, conc_work, conc_done, ci), 0);
    }
}

static void conc_tick(uv_timer_t *t)
{
    conc *c = t->data;
    conc_submit(c, 7);
    if (c->submitted >= c->total)
        uv_timer_stop(t);
}

static void conc_idle(uv_idle_t *h)
{
    conc *c = h->data;
    if (c->completed == c->total) {
        uv_idle_stop(h);
        uv_close((uv_handle_t *)&c->timer, NULL);
        uv_close((uv_handle_t *)&c->idle, NULL);
    }
}

static void test_concurrent_submit(void **state)
{
    fixture *f = *state;
    conc c = {.f = f, .total = 3000};
    uv_timer_init(&f->loop, &c.timer);
    uv_idle_init(&f->loop, &c.idle);
    c.timer.data = &c;
    c.idle.data = &c;
    uv_timer_start(&c.timer, conc_tick, 0, 1);
    uv_idle_start(&c.idle, conc_idle);
    conc_submit(&c, 50);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(c.completed, c.total);
    assert_false(c.out_of_order);
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    assert_int_equal(st.executed, c.total);
    assert_true(st.commits < (uint64_t)c.total); /* some batching happened */
    print_message("concurrent: %d items in %llu commits, mean commit %llu us\n", c.total,
                  (unsigned long long)st.commits,
                  (unsigned long long)(st.commits ? st.commit_us_sum / st.commits : 0));
    omtp_db *db;
    char why[256];
    fx_close(f);
    assert_int_equal(omtp_db_open(&f->cfg, &db, why, sizeof(why)), 0);
    tars_str v;
    assert_int_equal(omtp_db_meta_get(db, "counter", &v), 0);
    assert_int_equal(atol(v.data), c.total);
    tars_str_clear(&v);
    omtp_db_close(db);
}

/* ---- throughput: message appends with and without group commit ---- */

typedef struct tp_item {
    int idx;
    int *left;
    int status;
} tp_item;

static int tp_work(omtp_db *db, void *arg)
{
    tp_item *t = arg;
    char pk[32], to[16];
    snprintf(pk, sizeof(pk), "pk%d", t->idx);
    snprintf(to, sizeof(to), "u%d", t->idx % 50);
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, pk);
    tars_str_set(&m.msg.from, "sender");
    tars_str_set(&m.msg.to, to);
    char sid[40];
    snprintf(sid, sizeof(sid), "SC_sender_%s", to);
    tars_str_set(&m.msg.sessionId, sid);
    tars_str_set(&m.msg.content, "a 64-byte message body, roughly what a chat line would carry..");
    bool dup;
    int rc = omtp_db_msg_append(db, &m, &dup);
    omtp_msg_rec_free(&m);
    return rc;
}

static void tp_done(void *arg, int status)
{
    tp_item *t = arg;
    t->status = status;
    (*t->left)--;
}

static double tp_run(fixture *f, int n, uint64_t *commits)
{
    tp_item *items = calloc((size_t)n, sizeof(*items));
    int left = n;
    omtp_store_stats st0, st1;
    omtp_store_get_stats(f->store, &st0);
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < n; i++) {
        items[i].idx = i;
        items[i].left = &left;
        assert_int_equal(omtp_store_submit(f->store, tp_work, tp_done, &items[i]), 0);
    }
    while (left > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    omtp_store_get_stats(f->store, &st1);
    for (int i = 0; i < n; i++)
        assert_int_equal(items[i].status, 0);
    free(items);
    *commits = st1.commits - st0.commits;
    return n / secs;
}

static void test_throughput(void **state)
{
    fixture *f = *state;
    uint64_t c1, cn;
    fx_close(f);
    fx_open(f, 1); /* a transaction (and fsync) per message */
    double one = tp_run(f, 300, &c1);
    fx_close(f);
    rm_rf(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    fx_open(f, 0);
    double grouped = tp_run(f, 5000, &cn);
    print_message("synchronous=FULL: 1 item/txn %.0f appends/s (%llu commits); "
                  "group commit %.0f appends/s (%llu commits for 5000)\n",
                  one, (unsigned long long)c1, grouped, (unsigned long long)cn);
    assert_int_equal(c1, 300);
    assert_true(cn < 5000);
}

/* ---- two stages: committed (stored) before durable (done) ---- */

typedef struct stage_log {
    int ev[256]; /* +idx = stored, -(idx+1) = done */
    int n;
} stage_log;

typedef struct sitem {
    stage_log *log;
    int idx;
    int fail;
    int status;
    bool stored, done;
} sitem;

static int stage_work(omtp_db *db, void *arg)
{
    (void)db;
    return ((sitem *)arg)->fail;
}

static void stage_stored(void *arg, int status)
{
    sitem *it = arg;
    assert_int_equal(status, 0);
    assert_false(it->stored);
    assert_false(it->done);
    it->stored = true;
    it->log->ev[it->log->n++] = it->idx;
}

static void stage_done(void *arg, int status)
{
    sitem *it = arg;
    assert_false(it->done);
    it->done = true;
    it->status = status;
    it->log->ev[it->log->n++] = -(it->idx + 1);
}

static void run_until_sdone(uv_loop_t *loop, sitem *items, int n)
{
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && items[i].done;
        if (all)
            return;
        uv_run(loop, UV_RUN_ONCE);
    }
}

/* Items complete in two ordered stages on the real SQLite store, FULL
 * (fsync deferred to the sync thread) and NORMAL (one stage at commit). */
static void check_stages(fixture *f, bool deferred)
{
    enum { N = 40 };
    stage_log log = {.n = 0};
    sitem items[N];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++) {
        items[i] = (sitem){.log = &log, .idx = i, .fail = i % 7 == 3 ? OMTP_EINVAL : 0};
        assert_int_equal(
            omtp_store_submit2(f->store, stage_work, stage_stored, stage_done, &items[i]), 0);
        if (i % 10 == 9)
            uv_run(&f->loop, UV_RUN_NOWAIT); /* several batches */
    }
    run_until_sdone(&f->loop, items, N);
    int last_stored = -1, last_done = -1;
    for (int e = 0; e < log.n; e++) {
        if (log.ev[e] >= 0) {
            assert_true(log.ev[e] > last_stored);
            last_stored = log.ev[e];
        } else {
            int idx = -log.ev[e] - 1;
            assert_true(idx > last_done);
            last_done = idx;
            /* a successful item was pushed (stored) before it was acked (done) */
            assert_int_equal(items[idx].stored, items[idx].fail == 0);
        }
    }
    for (int i = 0; i < N; i++) {
        assert_true(items[i].done);
        assert_int_equal(items[i].status, items[i].fail);
        assert_int_equal(items[i].stored, items[i].fail == 0);
    }
    omtp_store_stats st;
    omtp_store_get_stats(f->store, &st);
    if (deferred) {
        assert_true(st.syncs >= 1);
        assert_int_equal(st.sync_us_bucket[11], st.syncs);
    } else {
        assert_int_equal(st.syncs, 0);
    }
}

static void test_stages_full(void **state)
{
    check_stages(*state, true); /* the fixture's store is FULL (the default) */
}

static void test_stages_normal(void **state)
{
    fixture *f = *state;
    fx_close(f);
    char why[256];
    f->cfg.synchronous = 1;
    assert_int_equal(omtp_store_open(&f->loop, &f->cfg, &f->store, why, sizeof(why)), 0);
    check_stages(f, false);
}

/* ---- the sync stage with a fake backend (store.h: defer_sync/sync) ---- */

typedef struct fake_db {
    omtp_db base;
    uv_sem_t sync_gate; /* sync waits on it when `gated` */
    bool gated;
    int sync_rc;
    int syncs;
    _Atomic bool full; /* the disk is full: commit fails, disk_full says so */
} fake_db;

static int f_ok(omtp_db *db)
{
    (void)db;
    return 0;
}

static int f_defer(omtp_db *db)
{
    (void)db;
    return 1;
}

static int f_sync(omtp_db *db)
{
    fake_db *d = (fake_db *)db;
    if (d->gated)
        uv_sem_wait(&d->sync_gate);
    d->syncs++;
    return d->sync_rc;
}

static int f_commit(omtp_db *db)
{
    return ((fake_db *)db)->full ? OMTP_EDB : 0;
}

static bool f_disk_full(omtp_db *db)
{
    return ((fake_db *)db)->full;
}

static void f_close(omtp_db *db)
{
    (void)db; /* owned by the test */
}

static const omtp_db_ops fake_ops = {.backend = "fake",
                                     .close = f_close,
                                     .defer_sync = f_defer,
                                     .sync = f_sync,
                                     .disk_full = f_disk_full,
                                     .begin = f_ok,
                                     .commit = f_commit,
                                     .rollback = f_ok,
                                     .savepoint = f_ok,
                                     .release = f_ok,
                                     .rollback_to = f_ok};

static omtp_store *fake_open(uv_loop_t *loop, fake_db *d)
{
    memset(d, 0, sizeof(*d));
    d->base.ops = &fake_ops;
    uv_sem_init(&d->sync_gate, 0);
    omtp_store *s;
    char why[128];
    assert_int_equal(omtp_store_open_db(loop, &d->base, 0, &s, why, sizeof(why)), 0);
    return s;
}

static void fake_close(uv_loop_t *loop, omtp_store *s, fake_db *d)
{
    omtp_store_close(s);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_sem_destroy(&d->sync_gate);
}

static void test_done_waits_for_sync(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_db d;
    omtp_store *s = fake_open(&loop, &d);
    d.gated = true;
    stage_log log = {.n = 0};
    sitem it = {.log = &log, .idx = 0};
    assert_int_equal(omtp_store_submit2(s, stage_work, stage_stored, stage_done, &it), 0);
    while (!it.stored)
        uv_run(&loop, UV_RUN_ONCE);
    /* committed and pushed, but the fsync has not returned: no ack yet */
    for (int i = 0; i < 20; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_sleep(1);
    }
    assert_false(it.done);
    uv_sem_post(&d.sync_gate);
    run_until_sdone(&loop, &it, 1);
    assert_int_equal(it.status, 0);
    assert_true(d.syncs >= 1);
    d.gated = false;
    fake_close(&loop, s, &d);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sync_failure_is_sticky(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_db d;
    omtp_store *s = fake_open(&loop, &d);
    d.sync_rc = OMTP_EIO;
    d.gated = true;
    stage_log log = {.n = 0};
    sitem a = {.log = &log, .idx = 0};
    assert_int_equal(omtp_store_submit2(s, stage_work, stage_stored, stage_done, &a), 0);
    while (!a.stored)
        uv_run(&loop, UV_RUN_ONCE);
    d.gated = false;
    uv_sem_post(&d.sync_gate); /* now the fsync fails */
    run_until_sdone(&loop, &a, 1);
    /* committed (so pushed), never durable: the sender is told to send again */
    assert_true(a.stored);
    assert_int_equal(a.status, OMTP_EDB);
    /* from now on nothing runs: nothing could be acknowledged as durable */
    d.sync_rc = 0;
    sitem b = {.log = &log, .idx = 1};
    assert_int_equal(omtp_store_submit2(s, stage_work, stage_stored, stage_done, &b), 0);
    run_until_sdone(&loop, &b, 1);
    assert_false(b.stored);
    assert_int_equal(b.status, OMTP_EDB);
    fake_close(&loop, s, &d);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Disk full is reported as OMTP_ENOSPC (DB_ERROR for the client, not
 * SERVICE_UNAVAILABLE), counted, and not sticky: once space is freed the
 * next batch commits (unlike a failed fsync). */
static void test_disk_full_not_sticky(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_db d;
    omtp_store *s = fake_open(&loop, &d);
    d.full = true;
    stage_log log = {.n = 0};
    sitem a[3] = {{.log = &log, .idx = 0}, {.log = &log, .idx = 1}, {.log = &log, .idx = 2}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(omtp_store_submit2(s, stage_work, stage_stored, stage_done, &a[i]), 0);
    run_until_sdone(&loop, a, 2);
    for (int i = 0; i < 2; i++) {
        assert_false(a[i].stored); /* never pushed */
        assert_int_equal(a[i].status, OMTP_ENOSPC);
    }
    omtp_store_stats st;
    omtp_store_get_stats(s, &st);
    assert_int_equal(st.disk_full, 2);
    d.full = false; /* space freed */
    assert_int_equal(omtp_store_submit2(s, stage_work, stage_stored, stage_done, &a[2]), 0);
    run_until_sdone(&loop, &a[2], 1);
    assert_true(a[2].stored);
    assert_int_equal(a[2].status, 0);
    fake_close(&loop, s, &d);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_open_bad_uri(void **state)
{
    (void)state;
    omtp_store_config cfg = {.uri = "mysql://nope"};
    omtp_db *db = NULL;
    char why[256] = "";
    assert_int_equal(omtp_db_open(&cfg, &db, why, sizeof(why)), OMTP_EINVAL);
    assert_null(db);
    assert_non_null(strstr(why, "mysql://nope"));
}

/* ---- batched appends (store.h omtp_store_submit_append) with a fake
 * backend that has msg_append_batch: runs of consecutive sends go to it in
 * one call, in their place among the other items; a failing call fails its
 * run only; OMTP_EAGAIN from a run that is not first defers it (and what
 * follows) to the next transaction, where it runs first. */

typedef struct ba_db {
    omtp_db base;
    char log[256]; /* what ran, in order: "[0 1]" a batch call, "a0" an after, "w2" a work */
    int calls;
    int fail_call;   /* 1-based call number that fails with OMTP_EDB (0 = none) */
    int eagain_call; /* 1-based call number that answers OMTP_EAGAIN (0 = none) */
    int commits;
} ba_db;

typedef struct ba_item {
    omtp_store_append ap;
    omtp_msg_rec m;
    ba_db *db;
    int idx, status;
    bool done;
} ba_item;

static void ba_log(ba_db *d, const char *fmt, int v)
{
    size_t n = strlen(d->log);
    snprintf(d->log + n, sizeof(d->log) - n, fmt, v);
}

static int ba_batch(omtp_db *db, omtp_append_req *const *reqs, size_t n)
{
    ba_db *d = (ba_db *)db;
    d->calls++;
    if (d->calls == d->eagain_call)
        return OMTP_EAGAIN;
    if (d->calls == d->fail_call)
        return OMTP_EDB;
    for (size_t i = 0; i < n; i++) {
        ba_item *it = (ba_item *)((char *)reqs[i] - offsetof(ba_item, ap.req));
        ba_log(d, i ? " %d" : "[%d", it->idx);
        reqs[i]->m->msg.seqId = it->idx + 100;
    }
    ba_log(d, "]", 0);
    return 0;
}

static int ba_after(omtp_db *db, void *arg)
{
    ba_item *it = arg;
    ba_log((ba_db *)db, " a%d", it->idx);
    return it->m.msg.seqId == it->idx + 100 ? 0 : OMTP_EINVAL;
}

static int ba_work(omtp_db *db, void *arg)
{
    ba_item *it = arg;
    ba_log((ba_db *)db, " w%d", it->idx);
    return 0;
}

static void ba_done(void *arg, int status)
{
    ba_item *it = arg;
    it->status = status;
    it->done = true;
}

static int ba_commit(omtp_db *db)
{
    ((ba_db *)db)->commits++;
    return 0;
}

static const omtp_db_ops ba_ops = {.backend = "fake-batch",
                                   .close = f_close,
                                   .msg_append_batch = ba_batch,
                                   .begin = f_ok,
                                   .commit = ba_commit,
                                   .rollback = f_ok,
                                   .savepoint = f_ok,
                                   .release = f_ok,
                                   .rollback_to = f_ok};

/* Submits items (kinds: 'a' a send, 'w' plain work) in one loop turn, so
 * they form one batch, and runs them. */
static void ba_run(ba_db *d, const char *kinds, ba_item *items)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    d->base.ops = &ba_ops;
    omtp_store *s;
    char why[128];
    assert_int_equal(omtp_store_open_db(&loop, &d->base, 0, &s, why, sizeof(why)), 0);
    int n = (int)strlen(kinds);
    for (int i = 0; i < n; i++) {
        ba_item *it = &items[i];
        it->db = d;
        it->idx = i;
        omtp_msg_rec_init(&it->m);
        it->ap.req.m = &it->m;
        it->ap.after = ba_after;
        assert_int_equal(kinds[i] == 'a'
                             ? omtp_store_submit_append(s, &it->ap, ba_work, NULL, ba_done, it)
                             : omtp_store_submit(s, ba_work, ba_done, it),
                         0);
    }
    for (int i = 0; i < n; i++)
        while (!items[i].done)
            uv_run(&loop, UV_RUN_ONCE);
    omtp_store_stats st;
    omtp_store_get_stats(s, &st);
    assert_int_equal(st.append_batches,
                     (uint64_t)d->calls - (d->fail_call ? 1 : 0) - (d->eagain_call ? 1 : 0));
    omtp_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    for (int i = 0; i < n; i++)
        omtp_msg_rec_free(&items[i].m);
}

static void test_batch_appends_runs(void **state)
{
    (void)state;
    ba_db d;
    ba_item items[6];
    memset(&d, 0, sizeof d);
    memset(items, 0, sizeof items);
    ba_run(&d, "aawaaa", items);
    /* two runs, each in one call, the plain item between them in its place */
    assert_string_equal(d.log, "[0 1] a0 a1 w2[3 4 5] a3 a4 a5");
    assert_int_equal(d.commits, 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(items[i].status, 0);
}

static void test_batch_appends_failure(void **state)
{
    (void)state;
    ba_db d;
    ba_item items[5];
    memset(&d, 0, sizeof d);
    memset(items, 0, sizeof items);
    d.fail_call = 1;
    ba_run(&d, "aawaa", items);
    /* the failing call fails its run only; no after for it */
    assert_string_equal(d.log, " w2[3 4] a3 a4");
    assert_int_equal(items[0].status, OMTP_EDB);
    assert_int_equal(items[1].status, OMTP_EDB);
    for (int i = 2; i < 5; i++)
        assert_int_equal(items[i].status, 0);
}

static void test_batch_appends_eagain(void **state)
{
    (void)state;
    ba_db d;
    ba_item items[4];
    memset(&d, 0, sizeof d);
    memset(items, 0, sizeof items);
    d.eagain_call = 1; /* the run after w0 would wait: next transaction, first */
    ba_run(&d, "waaw", items);
    assert_string_equal(d.log, " w0[1 2] a1 a2 w3");
    assert_int_equal(d.commits, 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(items[i].status, 0);
}

/* ---- isolated items (omtp_store_submit_isolated: the message log's apply) ---- */

/* A backend like SQLite on a full disk: a transaction that wrote cannot
 * commit, a read-only one can. */
typedef struct iso_db {
    omtp_db base;
    _Atomic bool full;
    bool wrote; /* store thread: the open transaction wrote */
    char log[256];
    int commits, commit_fail;
} iso_db;

static int iso_begin(omtp_db *db)
{
    iso_db *d = (iso_db *)db;
    d->wrote = false;
    strcat(d->log, "[");
    return 0;
}

static int iso_commit(omtp_db *db)
{
    iso_db *d = (iso_db *)db;
    if (d->full && d->wrote) {
        strcat(d->log, "!]");
        d->commit_fail++;
        return OMTP_EDB;
    }
    strcat(d->log, "]");
    d->commits++;
    return 0;
}

static bool iso_disk_full(omtp_db *db)
{
    return ((iso_db *)db)->full;
}

static const omtp_db_ops iso_ops = {.backend = "fake",
                                    .close = f_close,
                                    .disk_full = iso_disk_full,
                                    .begin = iso_begin,
                                    .commit = iso_commit,
                                    .rollback = f_ok,
                                    .savepoint = f_ok,
                                    .release = f_ok,
                                    .rollback_to = f_ok};

typedef struct iso_item {
    iso_db *d;
    char name; /* 'A' apply (isolated, writes; queued by the barrier), 'I' the
                * same submitted directly, 'r' read, 'w' other write */
    int status;
    bool done;
    int *order;
    int *norder;
    int idx;
} iso_item;

static int iso_work(omtp_db *db, void *arg)
{
    iso_item *it = arg;
    iso_db *d = (iso_db *)db;
    char c[2] = {it->name, 0};
    strcat(d->log, c);
    if (it->name != 'r')
        d->wrote = true;
    return 0;
}

static void iso_done(void *arg, int status)
{
    iso_item *it = arg;
    assert_false(it->done);
    it->done = true;
    it->status = status;
    it->order[(*it->norder)++] = it->idx;
}

/* The barrier of the send path: queues the pending apply (isolated) ahead
 * of the item being submitted. */
typedef struct iso_barrier {
    omtp_store *s;
    iso_item *pending; /* the next apply to queue, or NULL */
} iso_barrier;

static void iso_barrier_fn(void *arg)
{
    iso_barrier *b = arg;
    if (!b->pending)
        return;
    assert_int_equal(omtp_store_submit_isolated(b->s, iso_work, iso_done, b->pending), 0);
    b->pending = NULL;
}

/* items: a string of 'A' (queued by the barrier ahead of the next
 * submission), 'I' (omtp_store_submit_isolated now), 'r', 'w'; all
 * submitted in one loop turn, so without isolation the store thread would
 * take them as one batch. */
static void iso_run(iso_db *d, const char *kinds, iso_item *items, int *order)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    d->base.ops = &iso_ops;
    omtp_store *s;
    char why[128];
    assert_int_equal(omtp_store_open_db(&loop, &d->base, 0, &s, why, sizeof(why)), 0);
    iso_barrier b = {.s = s};
    omtp_store_set_barrier(s, iso_barrier_fn, &b);
    int n = (int)strlen(kinds), norder = 0;
    for (int i = 0; i < n; i++) {
        items[i] =
            (iso_item){.d = d, .name = kinds[i], .order = order, .norder = &norder, .idx = i};
        if (kinds[i] == 'A')
            b.pending = &items[i];
        else if (kinds[i] == 'I')
            assert_int_equal(omtp_store_submit_isolated(s, iso_work, iso_done, &items[i]), 0);
        else
            assert_int_equal(omtp_store_submit(s, iso_work, iso_done, &items[i]), 0);
    }
    for (int i = 0; i < n; i++)
        while (!items[i].done)
            uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(norder, n);
    omtp_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* On a full disk the apply's COMMIT fails: the apply alone fails (with
 * OMTP_ENOSPC); the reads the barrier queued behind it run in their own
 * transaction and succeed; a write that cannot commit either reports its
 * own failure, never success. Order is kept. */
static void test_isolated_failure_spares_reads(void **state)
{
    (void)state;
    iso_db d;
    memset(&d, 0, sizeof d);
    d.full = true;
    iso_item items[6];
    int order[6];
    iso_run(&d, "ArrAwr", items, order);
    /* A r r | A w r: the applies alone, the rest together */
    assert_string_equal(d.log, "[A!][rr][A!][wr!]");
    assert_int_equal(items[0].status, OMTP_ENOSPC);
    assert_int_equal(items[1].status, 0);
    assert_int_equal(items[2].status, 0);
    assert_int_equal(items[3].status, OMTP_ENOSPC);
    /* the write and the read shared a transaction that could not commit:
     * both were rolled back and both are told so */
    assert_int_equal(items[4].status, OMTP_ENOSPC);
    assert_int_equal(items[5].status, OMTP_ENOSPC);
    for (int i = 0; i < 6; i++)
        assert_int_equal(order[i], i);
}

/* With room on the disk everything commits; consecutive isolated items
 * share one transaction, and the other items keep theirs in queue order. */
static void test_isolated_batches(void **state)
{
    (void)state;
    iso_db d;
    memset(&d, 0, sizeof d);
    iso_item items[7];
    int order[7];
    iso_run(&d, "IIrrIAw", items, order);
    assert_string_equal(d.log, "[II][rr][IA][w]");
    for (int i = 0; i < 7; i++) {
        assert_int_equal(items[i].status, 0);
        assert_int_equal(order[i], i);
    }
}

int main(void)
{
    uv_sem_init(&g_started, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_item_rolls_back_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_drains, setup, teardown),
        cmocka_unit_test(test_disk_full_not_sticky),
        cmocka_unit_test_setup_teardown(test_close_within_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_interrupts_running_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_after_close_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stages_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stages_normal, setup, teardown),
        cmocka_unit_test(test_done_waits_for_sync),
        cmocka_unit_test(test_batch_appends_runs),
        cmocka_unit_test(test_batch_appends_failure),
        cmocka_unit_test(test_batch_appends_eagain),
        cmocka_unit_test(test_isolated_failure_spares_reads),
        cmocka_unit_test(test_isolated_batches),
        cmocka_unit_test(test_sync_failure_is_sticky),
        cmocka_unit_test(test_open_bad_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
