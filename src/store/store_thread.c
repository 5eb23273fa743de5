/*
 * store_thread.c - the asynchronous executor: one store thread, group commit,
 * and (SQLite, synchronous=FULL) one sync thread.
 *
 * The loop thread submits work items into a mutex-protected FIFO. The store
 * thread takes up to max_batch items at a time and runs them inside ONE
 * transaction, each item in its own savepoint:
 *
 *     BEGIN IMMEDIATE
 *       SAVEPOINT; work(item 1); RELEASE      (or ROLLBACK TO on error)
 *       SAVEPOINT; work(item 2); RELEASE
 *       ...
 *     COMMIT
 *
 * An item returning an error rolls back alone; a failed BEGIN or COMMIT fails
 * every item of the batch with OMTP_EDB -- or OMTP_ENOSPC when the backend
 * says the failure was a full disk (omtp_db_ops.disk_full). Every item of
 * such a batch was rolled back, so each is told it failed (never success for
 * a rolled-back write). Isolated items (omtp_store_submit_isolated: the
 * message log's apply) never share a batch with other items: a batch is
 * either all isolated or has none, cut where the kind changes in the queue
 * (order kept), so an apply that cannot commit on a full disk fails alone
 * and the reads queued behind it run in their own transaction. Disk full is
 * not sticky: the next batch tries again, so writes work again as soon as
 * space is freed, and reads never stop. It is logged at ERROR at most once
 * per DISK_FULL_LOG_MS, with the number of disk-full failures not logged
 * since (the message log's refused appends share the line and its limit:
 * omtp_store_note_disk_full); the first commit after such a line with room
 * on the disk again (omtp_db_ops.disk_full says no more: a read-only commit
 * on a still-full disk does not count) logs (WARN) that writes work again.
 * An item returning OMTP_STORE_MORE (big work in chunks) keeps its changes
 * and, once the batch committed, goes back to the end of the queue, so
 * other work runs between its chunks.
 *
 * Two stages of completion, both run on the loop in submission order:
 *
 *   committed  the batch's COMMIT returned: its changes are visible to every
 *              later item and survive a crash of omtpd. `stored` callbacks
 *              run (pushes to receivers);
 *   durable    the commit is durable at the configured level: `done`
 *              callbacks run (MsgAck to the sender).
 *
 * When the backend commits durably by itself (PostgreSQL, SQLite NORMAL)
 * both stages are reached together. With SQLite FULL the backend defers the
 * fsync (sq_sync.c): COMMIT only writes the WAL and the sync thread makes
 * commits durable with one fdatasync for every batch committed before it
 * started, while the store thread already runs the next batch. So under load
 * fsyncs overlap transactions instead of stalling them, and a receiver's push
 * does not wait for the sender's fsync; the sender's ack still does. If an
 * fsync fails, nothing is reported durable again: every later item fails
 * with OMTP_EDB (as PostgreSQL stops after a failed fsync; restart omtpd).
 *
 * Waking the store thread: submissions made during one turn of the loop are
 * signalled once, when the loop is done with that turn's callbacks (a
 * uv_check after I/O and a uv_prepare before it blocks), so a burst read in
 * one turn becomes one batch instead of one tiny transaction per item.
 *
 * OMTP_EAGAIN from an item that is not the batch's first means "I would
 * wait for a lock while this transaction holds others" (PostgreSQL, several
 * nodes writing one session: two batches could deadlock). The batch is cut
 * before that item and committed, and the item and those after it go back to
 * the head of the queue: the next transaction starts with it, holding
 * nothing, so it may wait safely. A first item returning it fails (EDB).
 *
 * The loop never waits on the other threads: submit() and the async callback
 * only hold the mutex to splice list pointers. omtp_store_close() is the one
 * exception: it joins the threads (shutdown drains the queue by design).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "store.h"
#include "maint.h"
#include "store/loopwake.h"

typedef struct store_item {
    struct store_item *next;
    omtp_store_work_fn work;
    omtp_store_done_fn stored; /* may be NULL */
    omtp_store_done_fn done;
    void *arg;
    omtp_store_append *ap; /* a send the backend may append with its neighbours, or NULL */
    int status;
    bool isolated;  /* omtp_store_submit_isolated: in batches of isolated items only */
    bool again;     /* the work returned OMTP_STORE_MORE: queue it again after the commit */
    uint64_t batch; /* number of the commit that carried it (1, 2, ...) */
} store_item;

typedef struct item_fifo {
    store_item *head, *tail;
    uint64_t n;
} item_fifo;

struct omtp_store {
    omtp_db *db;
    unsigned max_batch;
    bool deferred; /* the backend's commits need db->ops->sync to be durable */
    uv_thread_t thread, sync_thread;
    uv_mutex_t mu;
    uv_cond_t cv;       /* store thread: work submitted, or stopping */
    uv_cond_t sync_cv;  /* sync thread: a batch committed, or stopping */
    omtp_loopwake wake; /* the threads' wake-up of the loop (loopwake.h: not a uv_async) */
    uv_check_t kick_check;
    uv_prepare_t kick_prepare;
    int open_handles; /* handles not yet closed; s is freed at 0 */
    /* protected by mu */
    /* the rate limit of the disk-full log line (the store thread's failures
     * and the message log's refused appends, omtp_store_note_disk_full) */
    uint64_t full_logged_ms;   /* uv_hrtime ms of the last one; 0 = never */
    uint64_t full_suppressed;  /* disk-full failures not logged since */
    bool full_recovery_log;    /* an ERROR was logged: say when writes work again */
    item_fifo pending;         /* submitted, not yet taken by the thread */
    item_fifo committed;       /* committed, completions not yet run */
    uint64_t written;          /* batches committed */
    uint64_t synced;           /* batches durable */
    uint64_t sync_failed_from; /* first batch an fsync failed for; 0 = none */
    bool stopping;             /* store thread: exit once pending is empty */
    bool sync_stopping;        /* sync thread: exit once synced == written */
    bool thread_exited;        /* the store thread returned (exit_cv) */
    uv_cond_t exit_cv;
    uint64_t last_slow_log_ns; /* store thread only: rate limit of the slow-item log */
    omtp_store_stats st;
    /* loop thread only */
    bool closed; /* omtp_store_close was called: submit refuses */
    bool kick;   /* items submitted since the store thread was signalled */
    /* the read barrier (omtp_store_set_barrier): called before queueing any
     * item but the ones submitted while it runs and the unordered ones */
    omtp_store_barrier_fn barrier;
    void *barrier_arg;
    bool in_barrier;
    item_fifo waiting;    /* stored callbacks ran; waiting to be durable */
    uint64_t outstanding; /* submitted, done not yet run */
    /* close's deadline (uv_hrtime ns; 0 = none): set by the loop thread,
     * read by the store thread before each item */
    _Atomic uint64_t deadline_ns;
    /* omtp_store_set_nice: wanted by any thread, applied by each store
     * thread to itself (have_* are the threads' own) */
    _Atomic int want_nice;
    int have_nice, have_sync_nice;
};

static const uint64_t bucket_us[11] = {50,   100,   250,   500,   1000,  2500,
                                       5000, 10000, 25000, 50000, 100000};

static void fifo_push(item_fifo *f, store_item *it)
{
    it->next = NULL;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    f->n++;
}

static store_item *fifo_pop(item_fifo *f)
{
    store_item *it = f->head;
    if (it) {
        f->head = it->next;
        if (!f->head)
            f->tail = NULL;
        f->n--;
    }
    return it;
}

/* Moves all of `src` to the end of `dst`. */
static void fifo_splice(item_fifo *dst, item_fifo *src)
{
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->n += src->n;
    memset(src, 0, sizeof(*src));
}

/* Takes at most max items from the front of src, all isolated or none
 * (omtp_store_submit_isolated): the batch ends where the kind changes. */
static item_fifo fifo_take(item_fifo *src, unsigned max)
{
    item_fifo out = {0};
    while (src->head && out.n < max && (!out.head || src->head->isolated == out.head->isolated))
        fifo_push(&out, fifo_pop(src));
    return out;
}

#define DISK_FULL_LOG_MS 60000u

/* One disk-full failure: logged at ERROR at most once per DISK_FULL_LOG_MS
 * (with the failures not logged since), else counted for the next line.
 * Any thread. */
static void full_log(omtp_store *s, const char *what, const char *detail)
{
    uint64_t now = uv_hrtime() / 1000000u;
    uint64_t suppressed = 0;
    bool log = false;
    uv_mutex_lock(&s->mu);
    if (!s->full_logged_ms || now - s->full_logged_ms >= DISK_FULL_LOG_MS) {
        log = true;
        suppressed = s->full_suppressed;
        s->full_logged_ms = now ? now : 1;
        s->full_suppressed = 0;
        s->full_recovery_log = true;
    } else {
        s->full_suppressed++;
    }
    uv_mutex_unlock(&s->mu);
    if (!log)
        return;
    if (suppressed)
        LOG_ERROR("store: disk full: %s failed (%s); writes (messages too) are refused with "
                  "DB_ERROR (5) until space is freed on the data directory's file system, reads "
                  "keep working (%llu more disk-full failures in the last %u s not logged)",
                  what, detail, (unsigned long long)suppressed, DISK_FULL_LOG_MS / 1000);
    else
        LOG_ERROR("store: disk full: %s failed (%s); writes (messages too) are refused with "
                  "DB_ERROR (5) until space is freed on the data directory's file system, reads "
                  "keep working",
                  what, detail);
}

/* The status of a failed op/BEGIN/COMMIT: OMTP_ENOSPC if the disk is full,
 * else rc. Logs disk full (rate-limited). Store thread. */
static int failure_status(omtp_store *s, int rc)
{
    omtp_db *db = s->db;
    if (!db->ops->disk_full || !db->ops->disk_full(db))
        return rc;
    full_log(s, "a write", db->errmsg);
    return OMTP_ENOSPC;
}

void omtp_store_note_disk_full(omtp_store *s, const char *what, const char *detail)
{
    if (!s)
        return;
    uv_mutex_lock(&s->mu);
    s->st.disk_full++;
    uv_mutex_unlock(&s->mu);
    full_log(s, what, detail);
}

/* After a commit: the recovery line, once per disk-full ERROR line, when
 * the disk has room again (a read-only batch commits on a full disk too).
 * Store thread. */
static void full_recovered(omtp_store *s)
{
    uv_mutex_lock(&s->mu);
    bool pending = s->full_recovery_log;
    uv_mutex_unlock(&s->mu);
    if (!pending || (s->db->ops->disk_full && s->db->ops->disk_full(s->db)))
        return;
    uv_mutex_lock(&s->mu);
    uint64_t suppressed = s->full_suppressed;
    s->full_recovery_log = false;
    s->full_suppressed = 0;
    uv_mutex_unlock(&s->mu);
    LOG_WARN("store: writes work again after the disk was full (%llu disk-full failures since "
             "the last report)",
             (unsigned long long)suppressed);
}

static void record_us(uint64_t *buckets, uint64_t *sum, uint64_t us)
{
    *sum += us;
    for (int i = 0; i < 11; i++)
        if (us <= bucket_us[i])
            buckets[i]++;
    buckets[11]++;
}

static bool past_deadline(omtp_store *s)
{
    uint64_t d = atomic_load(&s->deadline_ns);
    return d && uv_hrtime() >= d;
}

/* Durations of a batch's items, merged into the stats under the mutex once
 * the batch is done (no lock per item). */
typedef struct item_times {
    uint64_t bucket[12], sum, max;
} item_times;

/* Store thread: one work item's duration; a slow one is in the stats at
 * once (visible while its batch still runs) and logged (at most one line
 * every 10 s). */
static void item_timed(omtp_store *s, item_times *t, uint64_t us, unsigned batch_n)
{
    record_us(t->bucket, &t->sum, us);
    if (us > t->max)
        t->max = us;
    if (us <= OMTP_STORE_SLOW_ITEM_US)
        return;
    uv_mutex_lock(&s->mu);
    s->st.items_slow++;
    if (us > s->st.item_us_max)
        s->st.item_us_max = us;
    uv_mutex_unlock(&s->mu);
    uint64_t now = uv_hrtime();
    if (now - s->last_slow_log_ns > 10000000000ull) {
        s->last_slow_log_ns = now;
        LOG_WARN("store: one work item held the store thread for %llu ms (batch of %u); every "
                 "other write and login waited (omtp_store_item_seconds_max)",
                 (unsigned long long)(us / 1000), batch_n);
    }
}

/* Under the mutex. */
static void item_times_merge(omtp_store_stats *st, const item_times *t)
{
    for (int i = 0; i < 12; i++)
        st->item_us_bucket[i] += t->bucket[i];
    st->item_us_sum += t->sum;
    if (t->max > st->item_us_max)
        st->item_us_max = t->max;
}

/* Batched appends (omtp_store_submit_append, backends with
 * ops->msg_append_batch): a run of consecutive send items in a batch, at most
 * APPEND_RUN_MAX, goes to the backend as ONE omtp_db_msg_append_batch call
 * (PostgreSQL: one statement, no savepoint per item), then each item's
 * `after` runs in order. The run keeps its place among the other items, so
 * every item still sees exactly the items before it. Per-row outcomes are in
 * the reqs; a call that fails as a whole fails the run's items with that
 * status and nothing of them was written. OMTP_EAGAIN (the backend would
 * wait for another node's lock while this transaction holds others) cuts the
 * batch before the run, as for a single item. */
#define APPEND_RUN_MAX 256

/* Runs the run of append items starting at `first` (n of them, in order,
 * `n` >= 1). Returns 0, or OMTP_EAGAIN when the run was not started. */
static int run_appends(omtp_store *s, store_item *first, unsigned n, bool may_wait,
                       item_times *times, unsigned batch_n)
{
    omtp_db *db = s->db;
    omtp_append_req *reqs[APPEND_RUN_MAX];
    store_item *it = first;
    for (unsigned i = 0; i < n; i++, it = it->next)
        reqs[i] = &it->ap->req;
    uint64_t t0 = uv_hrtime();
    int rc = omtp_db_msg_append_batch(db, reqs, n);
    if (rc == OMTP_EAGAIN && !may_wait)
        return OMTP_EAGAIN;
    if (rc == OMTP_EAGAIN)
        rc = OMTP_EDB;
    if (rc == OMTP_EDB)
        rc = failure_status(s, rc);
    uint64_t per = (uv_hrtime() - t0) / 1000 / n;
    uv_mutex_lock(&s->mu);
    s->st.append_batches += rc == 0;
    s->st.append_rows += rc == 0 ? n : 0;
    uv_mutex_unlock(&s->mu);
    it = first;
    for (unsigned i = 0; i < n; i++, it = it->next) {
        uint64_t t1 = uv_hrtime();
        int st = rc;
        if (st == 0 && it->ap->after)
            st = it->ap->after(db, it->arg);
        if (st == OMTP_EDB)
            st = failure_status(s, st);
        it->status = st;
        it->again = false;
        item_timed(s, times, per + (uv_hrtime() - t1) / 1000, batch_n);
    }
    return 0;
}

/* Runs one batch on the store thread; fills every item's status. Items cut
 * off by OMTP_EAGAIN are moved to *rest (in order), not run. Past the
 * close's deadline, the items not started yet are not run: status
 * OMTP_ECLOSED (*abandoned counts them). */
static void run_batch(omtp_store *s, item_fifo *batch, item_fifo *rest, uint64_t *commit_us,
                      bool *ok, uint64_t *abandoned, item_times *times)
{
    omtp_db *db = s->db;
    *commit_us = 0;
    *ok = false;
    if (omtp_db_begin(db) != 0) {
        int st = failure_status(s, OMTP_EDB);
        for (store_item *it = batch->head; it; it = it->next)
            it->status = st;
        return;
    }
    store_item *prev = NULL;
    bool late = false;
    for (store_item *it = batch->head; it; prev = it, it = it->next) {
        if (late || past_deadline(s)) {
            late = true;
            it->status = OMTP_ECLOSED;
            (*abandoned)++;
            continue;
        }
        if (it->ap && db->ops->msg_append_batch) {
            /* the run of sends starting here, in one call */
            unsigned n = 1;
            store_item *last = it;
            while (n < APPEND_RUN_MAX && last->next && last->next->ap) {
                last = last->next;
                n++;
            }
            if (run_appends(s, it, n, prev == NULL, times, (unsigned)batch->n) == OMTP_EAGAIN) {
                /* defer the run and the rest to the next transaction */
                rest->head = it;
                rest->tail = batch->tail;
                for (store_item *r = it; r; r = r->next)
                    rest->n++;
                batch->n -= rest->n;
                batch->tail = prev;
                prev->next = NULL;
                break;
            }
            it = last;
            continue; /* prev = it (the run's last) */
        }
        if (omtp_db_savepoint(db) != 0) {
            it->status = OMTP_EDB;
            continue;
        }
        uint64_t t_item = uv_hrtime();
        int rc = it->work ? it->work(db, it->arg) : 0;
        item_timed(s, times, (uv_hrtime() - t_item) / 1000, (unsigned)batch->n);
        if (rc == OMTP_EAGAIN && prev) {
            /* defer it and the rest to the next transaction */
            omtp_db_rollback_to(db);
            rest->head = it;
            rest->tail = batch->tail;
            for (store_item *r = it; r; r = r->next)
                rest->n++;
            batch->n -= rest->n;
            batch->tail = prev;
            prev->next = NULL;
            break;
        }
        if (rc == OMTP_EAGAIN)
            rc = OMTP_EDB;
        it->again = rc == OMTP_STORE_MORE;
        if (it->again)
            rc = 0; /* keep this chunk's changes */
        if (rc == 0) {
            if (omtp_db_release(db) != 0) {
                rc = failure_status(s, OMTP_EDB);
                it->again = false;
                omtp_db_rollback_to(db);
            }
        } else {
            if (rc == OMTP_EDB) /* asked before the rollback resets the error */
                rc = failure_status(s, rc);
            omtp_db_rollback_to(db);
        }
        it->status = rc;
    }
    uint64_t t0 = uv_hrtime();
    if (omtp_db_commit(db) != 0) {
        int st = failure_status(s, OMTP_EDB);
        omtp_db_rollback(db);
        for (store_item *it = batch->head; it; it = it->next) {
            if (it->status == 0 && past_deadline(s))
                (*abandoned)++; /* rolled back by the close's interrupt */
            if (it->status != OMTP_ECLOSED)
                it->status = st;
            it->again = false;
        }
        return;
    }
    *commit_us = (uv_hrtime() - t0) / 1000;
    *ok = true;
    full_recovered(s);
}

/* Applies the wanted nice value to the calling thread (setpriority on a
 * thread id is per thread on Linux). Logs a failure once, goes on. */
static void apply_nice(omtp_store *s, int *have)
{
    int want = atomic_load(&s->want_nice);
    if (want == *have)
        return;
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), want) != 0)
        LOG_WARN("store: cannot set the store thread's nice value to %d: %s (goes on at %d)", want,
                 strerror(errno), *have);
    *have = want;
}

void omtp_store_set_nice(omtp_store *s, int nice)
{
    atomic_store(&s->want_nice, nice < 0 ? 0 : nice > 19 ? 19 : nice);
}

static void store_thread_main(void *arg)
{
    omtp_store *s = arg;
    /* named for top -H, perf and bench/msglog_p99.sh's CPU per thread */
    (void)pthread_setname_np(pthread_self(), "omtpd-store");
    uv_mutex_lock(&s->mu);
    for (;;) {
        while (!s->pending.head && !s->stopping)
            uv_cond_wait(&s->cv, &s->mu);
        if (!s->pending.head)
            break; /* stopping and drained */
        apply_nice(s, &s->have_nice);
        item_fifo batch = fifo_take(&s->pending, s->max_batch);
        s->st.queued = s->pending.n;
        bool failed = s->sync_failed_from != 0;
        uv_mutex_unlock(&s->mu);

        uint64_t us = 0, abandoned = 0;
        item_times times = {{0}, 0, 0};
        bool ok = false;
        item_fifo rest = {0};
        if (past_deadline(s)) {
            /* closing, out of time: complete without running */
            for (store_item *it = batch.head; it; it = it->next)
                it->status = OMTP_ECLOSED;
            abandoned = batch.n;
        } else if (failed) {
            /* an fsync failed: nothing may be reported durable any more */
            for (store_item *it = batch.head; it; it = it->next)
                it->status = OMTP_EDB;
        } else {
            run_batch(s, &batch, &rest, &us, &ok, &abandoned, &times);
        }

        uint64_t trips = s->db->round_trips;
        s->db->round_trips = 0;
        uv_mutex_lock(&s->mu);
        s->st.round_trips += trips;
        s->st.abandoned += abandoned;
        item_times_merge(&s->st, &times);
        if (rest.head) {
            /* deferred items go first in the next batch */
            rest.tail->next = s->pending.head;
            if (!s->pending.head)
                s->pending.tail = rest.tail;
            s->pending.head = rest.head;
            s->pending.n += rest.n;
        }
        /* chunked items (OMTP_STORE_MORE) go back to the end of the queue;
         * their completions wait for their last chunk */
        item_fifo done_items = {0}, more = {0};
        for (store_item *it; (it = fifo_pop(&batch));)
            fifo_push(it->again && it->status == 0 ? &more : &done_items, it);
        batch = done_items;
        fifo_splice(&s->pending, &more);
        s->st.executed += batch.n;
        for (store_item *it = batch.head; it; it = it->next)
            s->st.disk_full += it->status == OMTP_ENOSPC;
        if (ok) {
            s->st.commits++;
            record_us(s->st.commit_us_bucket, &s->st.commit_us_sum, us);
        } else if (!failed && abandoned < batch.n) {
            s->st.commit_fail++;
        }
        uint64_t n = ++s->written;
        for (store_item *it = batch.head; it; it = it->next)
            it->batch = n;
        fifo_splice(&s->committed, &batch);
        if (!s->deferred)
            s->synced = n;
        else
            uv_cond_signal(&s->sync_cv);
        uv_mutex_unlock(&s->mu);
        omtp_loopwake_send(&s->wake);
        uv_mutex_lock(&s->mu);
    }
    s->thread_exited = true;
    uv_cond_signal(&s->exit_cv);
    uv_mutex_unlock(&s->mu);
}

/* Makes commits durable, several at a time: each fdatasync covers every
 * batch committed before it started. */
static void sync_thread_main(void *arg)
{
    omtp_store *s = arg;
    (void)pthread_setname_np(pthread_self(), "omtpd-storesync");
    uv_mutex_lock(&s->mu);
    for (;;) {
        while (s->synced == s->written && !s->sync_stopping)
            uv_cond_wait(&s->sync_cv, &s->mu);
        if (s->synced == s->written)
            break; /* stopping and everything synced */
        apply_nice(s, &s->have_sync_nice);
        uint64_t target = s->written;
        bool failed = s->sync_failed_from != 0;
        uv_mutex_unlock(&s->mu);

        uint64_t t0 = uv_hrtime();
        int rc = failed ? OMTP_EIO : s->db->ops->sync(s->db);
        uint64_t us = (uv_hrtime() - t0) / 1000;

        uv_mutex_lock(&s->mu);
        if (rc != 0 && !s->sync_failed_from) {
            s->sync_failed_from = s->synced + 1;
            LOG_ERROR("store: the fsync of committed writes failed: from now on every write is "
                      "refused (nothing can be acknowledged as durable); restart omtpd after "
                      "checking the disk");
        }
        if (rc == 0) {
            s->st.syncs++;
            record_us(s->st.sync_us_bucket, &s->st.sync_us_sum, us);
        }
        s->synced = target;
        uv_mutex_unlock(&s->mu);
        omtp_loopwake_send(&s->wake);
        uv_mutex_lock(&s->mu);
    }
    uv_mutex_unlock(&s->mu);
}

static void run_completions(omtp_store *s)
{
    uv_mutex_lock(&s->mu);
    item_fifo committed = s->committed;
    memset(&s->committed, 0, sizeof(s->committed));
    uint64_t synced = s->synced, failed_from = s->sync_failed_from;
    uv_mutex_unlock(&s->mu);

    /* stage 1, committed: in commit order */
    store_item *it;
    while ((it = fifo_pop(&committed))) {
        if (it->status == 0 && it->stored && (!failed_from || it->batch < failed_from))
            it->stored(it->arg, 0);
        fifo_push(&s->waiting, it);
    }
    /* stage 2, durable: the same order */
    while (s->waiting.head && s->waiting.head->batch <= synced) {
        it = fifo_pop(&s->waiting);
        if (it->status == 0 && failed_from && it->batch >= failed_from)
            it->status = OMTP_EDB;
        if (it->done)
            it->done(it->arg, it->status);
        free(it);
        /* the wake-up handle keeps the loop alive only while work is in flight */
        if (--s->outstanding == 0 && !s->closed)
            uv_unref(omtp_loopwake_handle(&s->wake));
    }
}

static void on_wake(void *arg)
{
    run_completions(arg);
}

/* Signals the store thread once for everything submitted this loop turn. */
static void kick(omtp_store *s)
{
    if (!s->kick)
        return;
    s->kick = false;
    uv_mutex_lock(&s->mu);
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
}

static void on_kick_check(uv_check_t *h)
{
    kick(h->data);
}

static void on_kick_prepare(uv_prepare_t *h)
{
    kick(h->data);
}

static void on_handle_closed(uv_handle_t *h)
{
    omtp_store *s = h->data;
    if (--s->open_handles == 0)
        free(s);
}

static void close_handles(omtp_store *s)
{
    s->open_handles = 3;
    omtp_loopwake_close(&s->wake, on_handle_closed);
    uv_close((uv_handle_t *)&s->kick_check, on_handle_closed);
    uv_close((uv_handle_t *)&s->kick_prepare, on_handle_closed);
}

int omtp_store_open_db(uv_loop_t *loop, omtp_db *db, unsigned max_batch, omtp_store **out,
                       char *why, size_t whylen)
{
    *out = NULL;
    omtp_store *s = calloc(1, sizeof(*s));
    if (!s) {
        omtp_db_close(db);
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    s->db = db;
    s->max_batch = max_batch ? max_batch : 1024;
    if (db->ops->defer_sync && db->ops->sync)
        s->deferred = db->ops->defer_sync(db) == 1;
    if (uv_mutex_init(&s->mu) != 0)
        goto err_db;
    if (uv_cond_init(&s->cv) != 0)
        goto err_mu;
    if (uv_cond_init(&s->sync_cv) != 0)
        goto err_cv;
    if (uv_cond_init(&s->exit_cv) != 0) {
        uv_cond_destroy(&s->sync_cv);
        goto err_cv;
    }
    if (omtp_loopwake_init(loop, &s->wake, on_wake, s) != 0)
        goto err_sync_cv;
    uv_check_init(loop, &s->kick_check);
    uv_prepare_init(loop, &s->kick_prepare);
    s->wake.poll.data = s->kick_check.data = s->kick_prepare.data = s;
    uv_check_start(&s->kick_check, on_kick_check);
    uv_prepare_start(&s->kick_prepare, on_kick_prepare);
    /* none of them keeps the loop alive on its own (see outstanding) */
    uv_unref(omtp_loopwake_handle(&s->wake));
    uv_unref((uv_handle_t *)&s->kick_check);
    uv_unref((uv_handle_t *)&s->kick_prepare);
    if (uv_thread_create(&s->thread, store_thread_main, s) != 0) {
        snprintf(why, whylen, "cannot start the store thread");
        goto err_handles;
    }
    if (s->deferred && uv_thread_create(&s->sync_thread, sync_thread_main, s) != 0) {
        snprintf(why, whylen, "cannot start the store's sync thread");
        uv_mutex_lock(&s->mu);
        s->stopping = true;
        uv_cond_signal(&s->cv);
        uv_mutex_unlock(&s->mu);
        uv_thread_join(&s->thread);
        goto err_handles;
    }
    *out = s;
    return 0;
err_handles:
    uv_cond_destroy(&s->exit_cv);
    uv_cond_destroy(&s->sync_cv);
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    omtp_db_close(db);
    /* the handles are embedded in s: s is freed when the loop closed them */
    close_handles(s);
    return OMTP_EIO;
err_sync_cv:
    uv_cond_destroy(&s->exit_cv);
    uv_cond_destroy(&s->sync_cv);
err_cv:
    uv_cond_destroy(&s->cv);
err_mu:
    uv_mutex_destroy(&s->mu);
err_db:
    snprintf(why, whylen, "cannot initialise the store executor");
    omtp_db_close(db);
    free(s);
    return OMTP_EIO;
}

/* A server's store: the shared server lock, and no id outside the alphabet
 * (DESIGN "Ids never contain the session separator"). */
static int server_checks(omtp_db *db, char *why, size_t whylen)
{
    int rc = omtp_db_server_lock(db, false);
    if (rc == OMTP_EBUSY) {
        snprintf(why, whylen,
                 "an admin command (omtpd user rename) is changing the store (%s); start omtpd "
                 "when it has finished",
                 db->errmsg);
        return rc;
    }
    if (rc != 0) {
        snprintf(why, whylen, "cannot take the server lock of the store: %s", db->errmsg);
        return rc;
    }
    tars_str_list bad;
    rc = omtp_store_bad_ids(db, &bad, 20);
    if (rc != 0) {
        snprintf(why, whylen, "cannot check the store's ids: %s", db->errmsg);
        return rc;
    }
    if (bad.n == 0)
        return 0;
    /* what to do first: the list may be cut at whylen */
    size_t used = (size_t)snprintf(
        why, whylen,
        "the store holds ids that are not valid ids (%s), so two conversations could share a "
        "session id. Stop every omtpd, rename each with `omtpd user rename OLD NEW` (same "
        "--config/--data-dir/--store), then start again. The ids%s: ",
        OMTP_ID_RULE, bad.n >= 20 ? " (the first 20)" : "");
    for (uint32_t i = 0; i < bad.n && used < whylen; i++) {
        /* as the operator must type it; bytes that are not printable as \xNN */
        used += (size_t)snprintf(why + used, whylen - used, "%s'", i ? ", " : "");
        for (const unsigned char *c = (const unsigned char *)bad.items[i].data; *c && used < whylen;
             c++)
            used += (size_t)snprintf(why + used, whylen - used,
                                     *c >= 0x20 && *c < 0x7f ? "%c" : "\\x%02x", *c);
        if (used < whylen)
            used += (size_t)snprintf(why + used, whylen - used, "'");
    }
    omtp_str_list_free(&bad);
    return OMTP_EINVAL;
}

int omtp_store_open(uv_loop_t *loop, const omtp_store_config *cfg, omtp_store **out, char *why,
                    size_t whylen)
{
    omtp_db *db;
    *out = NULL;
    int rc = omtp_db_open(cfg, &db, why, whylen);
    if (rc != 0)
        return rc;
    if (cfg->server && (rc = server_checks(db, why, whylen)) != 0) {
        omtp_db_close(db);
        return rc;
    }
    return omtp_store_open_db(loop, db, cfg->max_batch, out, why, whylen);
}

void omtp_store_set_barrier(omtp_store *s, omtp_store_barrier_fn fn, void *arg)
{
    s->barrier = fn;
    s->barrier_arg = arg;
}

static int submit_item(omtp_store *s, omtp_store_append *ap, omtp_store_work_fn work,
                       omtp_store_done_fn stored, omtp_store_done_fn done, void *arg,
                       bool isolated);

int omtp_store_submit2(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn stored,
                       omtp_store_done_fn done, void *arg)
{
    return omtp_store_submit_append(s, NULL, work, stored, done, arg);
}

int omtp_store_submit_append(omtp_store *s, omtp_store_append *ap, omtp_store_work_fn work,
                             omtp_store_done_fn stored, omtp_store_done_fn done, void *arg)
{
    if (!s || s->closed)
        return OMTP_ECLOSED;
    if (s->barrier && !s->in_barrier) {
        /* whatever the barrier queues (the pending applies) runs first */
        s->in_barrier = true;
        s->barrier(s->barrier_arg);
        s->in_barrier = false;
    }
    return submit_item(s, ap, work, stored, done, arg, false);
}

int omtp_store_submit_unordered(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done,
                                void *arg)
{
    if (!s || s->closed)
        return OMTP_ECLOSED;
    return submit_item(s, NULL, work, NULL, done, arg, false);
}

int omtp_store_submit_isolated(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done,
                               void *arg)
{
    if (!s || s->closed)
        return OMTP_ECLOSED;
    return submit_item(s, NULL, work, NULL, done, arg, true);
}

static int submit_item(omtp_store *s, omtp_store_append *ap, omtp_store_work_fn work,
                       omtp_store_done_fn stored, omtp_store_done_fn done, void *arg, bool isolated)
{
    store_item *it = malloc(sizeof(*it));
    if (!it)
        return OMTP_ENOMEM;
    it->work = work;
    it->stored = stored;
    it->done = done;
    it->arg = arg;
    it->ap = ap;
    it->status = 0;
    it->isolated = isolated;
    it->again = false;
    it->batch = 0;
    if (s->outstanding++ == 0)
        uv_ref(omtp_loopwake_handle(&s->wake));
    uv_mutex_lock(&s->mu);
    fifo_push(&s->pending, it);
    s->st.queued = s->pending.n;
    uv_mutex_unlock(&s->mu);
    s->kick = true; /* signalled at the end of this loop turn (kick) */
    return 0;
}

int omtp_store_submit(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done, void *arg)
{
    return omtp_store_submit2(s, work, NULL, done, arg);
}

/* Loop thread: waits for the store thread to return, at most until
 * until_ns (0 = for ever). */
static bool wait_exit(omtp_store *s, uint64_t until_ns)
{
    uv_mutex_lock(&s->mu);
    while (!s->thread_exited) {
        if (!until_ns) {
            uv_cond_wait(&s->exit_cv, &s->mu);
            continue;
        }
        uint64_t now = uv_hrtime();
        if (now >= until_ns)
            break;
        uv_cond_timedwait(&s->exit_cv, &s->mu, until_ns - now);
    }
    bool done = s->thread_exited;
    uv_mutex_unlock(&s->mu);
    return done;
}

int omtp_store_close_within(omtp_store *s, uint64_t timeout_ms, uint64_t grace_ms,
                            uint64_t *abandoned)
{
    if (abandoned)
        *abandoned = 0;
    if (!s || s->closed)
        return 0;
    s->closed = true;
    uint64_t t0 = uv_hrtime();
    uint64_t deadline = timeout_ms ? t0 + timeout_ms * 1000000ull : 0;
    atomic_store(&s->deadline_ns, deadline);
    uv_mutex_lock(&s->mu);
    s->stopping = true;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    if (!wait_exit(s, deadline)) {
        /* out of time with an item still running: stop its statement */
        if (s->db->ops->interrupt) {
            LOG_WARN("store: still busy after %llu ms of shutdown: interrupting the running "
                     "statement (its batch rolls back; nothing of it was acknowledged)",
                     (unsigned long long)timeout_ms);
            s->db->ops->interrupt(s->db);
        }
        if (!wait_exit(s, deadline + grace_ms * 1000000ull)) {
            uv_mutex_lock(&s->mu);
            uint64_t left = s->pending.n, ab = s->st.abandoned;
            uv_mutex_unlock(&s->mu);
            LOG_ERROR("store: the store thread did not stop within %llu ms; abandoning it with "
                      "%llu items queued (%llu already abandoned): none of them was acknowledged",
                      (unsigned long long)(timeout_ms + grace_ms), (unsigned long long)left,
                      (unsigned long long)ab);
            if (abandoned)
                *abandoned = left + ab;
            return OMTP_ETIMEDOUT;
        }
    }
    uv_thread_join(&s->thread);
    if (s->deferred) {
        uv_mutex_lock(&s->mu);
        s->sync_stopping = true;
        uv_cond_signal(&s->sync_cv);
        uv_mutex_unlock(&s->mu);
        uv_thread_join(&s->sync_thread);
    }
    /* everything queued has run (or was abandoned), committed and synced:
     * complete it here, in order */
    run_completions(s);
    if (s->st.executed)
        LOG_INFO("store: %llu items in %llu transactions (%.1f per commit), %llu fsyncs",
                 (unsigned long long)s->st.executed, (unsigned long long)s->st.commits,
                 s->st.commits ? (double)s->st.executed / (double)s->st.commits : 0.0,
                 (unsigned long long)(s->deferred ? s->st.syncs : 0));
    if (s->st.abandoned)
        LOG_WARN("store: shutdown deadline (%llu ms) passed: %llu queued items were abandoned "
                 "(answered as failed, never acknowledged; clients send them again)",
                 (unsigned long long)timeout_ms, (unsigned long long)s->st.abandoned);
    if (abandoned)
        *abandoned = s->st.abandoned;
    omtp_db_close(s->db);
    s->db = NULL;
    uv_cond_destroy(&s->exit_cv);
    uv_cond_destroy(&s->sync_cv);
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    /* the embedded handles free s once the loop has closed them */
    close_handles(s);
    return 0;
}

void omtp_store_close(omtp_store *s)
{
    omtp_store_close_within(s, 0, 0, NULL);
}

void omtp_store_get_stats(omtp_store *s, omtp_store_stats *out)
{
    uv_mutex_lock(&s->mu);
    *out = s->st;
    out->queued = s->pending.n;
    uv_mutex_unlock(&s->mu);
}

const char *omtp_store_backend(omtp_store *s)
{
    return s && s->db ? s->db->ops->backend : "none";
}
