/*
 * store_thread.c - the asynchronous executor: one store thread, group commit.
 *
 * The loop thread submits work items into a mutex-protected FIFO and signals
 * a condition variable. The store thread takes up to max_batch items at a
 * time and runs them inside ONE transaction, each item in its own savepoint:
 *
 *     BEGIN IMMEDIATE
 *       SAVEPOINT; work(item 1); RELEASE      (or ROLLBACK TO on error)
 *       SAVEPOINT; work(item 2); RELEASE
 *       ...
 *     COMMIT                                  (one fsync for the batch)
 *
 * then appends the finished items to a "done" FIFO and wakes the loop with a
 * single uv_async_t; the async callback runs the completions in submission
 * order. An item returning an error rolls back alone; a failed BEGIN or
 * COMMIT fails every item of the batch with OMTP_EDB.
 *
 * OMTP_EAGAIN from an item that is not the batch's first means "I would
 * wait for a lock while this transaction holds others" (PostgreSQL, several
 * nodes writing one session: two batches could deadlock). The batch is cut
 * before that item and committed, and the item and those after it go back to
 * the head of the queue: the next transaction starts with it, holding
 * nothing, so it may wait safely. A first item returning it fails (EDB).
 *
 * Cost: while the thread is committing, new submissions accumulate and go
 * into the next batch, so under load the number of fsyncs per second stays
 * roughly constant while the items per fsync grow. With nothing queued, an
 * item is committed alone (latency = one transaction).
 *
 * The loop never waits on the store thread: submit() and the async callback
 * only hold the mutex to splice list pointers. omtp_store_close() is the one
 * exception: it joins the thread (shutdown drains the queue by design).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

typedef struct store_item {
    struct store_item *next;
    omtp_store_work_fn work;
    omtp_store_done_fn done;
    void *arg;
    int status;
} store_item;

typedef struct item_fifo {
    store_item *head, *tail;
    uint64_t n;
} item_fifo;

struct omtp_store {
    uv_loop_t *loop;
    omtp_db *db;
    unsigned max_batch;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t async;
    /* protected by mu */
    item_fifo pending; /* submitted, not yet taken by the thread */
    item_fifo done;    /* finished, completions not yet run */
    bool stopping;     /* thread: exit once pending is empty */
    omtp_store_stats st;
    /* loop thread only */
    bool closed;          /* omtp_store_close was called: submit refuses */
    uint64_t outstanding; /* submitted, completion not yet run */
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

/* Takes at most max items from the front of src. */
static item_fifo fifo_take(item_fifo *src, unsigned max)
{
    item_fifo out = {0};
    while (src->head && out.n < max) {
        store_item *it = src->head;
        src->head = it->next;
        if (!src->head)
            src->tail = NULL;
        src->n--;
        fifo_push(&out, it);
    }
    return out;
}

static void record_commit(omtp_store_stats *st, uint64_t us, bool ok)
{
    if (!ok) {
        st->commit_fail++;
        return;
    }
    st->commits++;
    st->commit_us_sum += us;
    for (int i = 0; i < 11; i++)
        if (us <= bucket_us[i])
            st->commit_us_bucket[i]++;
    st->commit_us_bucket[11]++;
}

/* Runs one batch on the store thread; fills every item's status. Items cut
 * off by OMTP_EAGAIN are moved to *rest (in order), not run. */
static void run_batch(omtp_store *s, item_fifo *batch, item_fifo *rest, uint64_t *commit_us,
                      bool *ok)
{
    omtp_db *db = s->db;
    *commit_us = 0;
    *ok = false;
    if (omtp_db_begin(db) != 0) {
        for (store_item *it = batch->head; it; it = it->next)
            it->status = OMTP_EDB;
        return;
    }
    store_item *prev = NULL;
    for (store_item *it = batch->head; it; prev = it, it = it->next) {
        if (omtp_db_savepoint(db) != 0) {
            it->status = OMTP_EDB;
            continue;
        }
        int rc = it->work ? it->work(db, it->arg) : 0;
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
        if (rc == 0) {
            if (omtp_db_release(db) != 0) {
                rc = OMTP_EDB;
                omtp_db_rollback_to(db);
            }
        } else {
            omtp_db_rollback_to(db);
        }
        it->status = rc;
    }
    uint64_t t0 = uv_hrtime();
    if (omtp_db_commit(db) != 0) {
        omtp_db_rollback(db);
        for (store_item *it = batch->head; it; it = it->next)
            it->status = OMTP_EDB;
        return;
    }
    *commit_us = (uv_hrtime() - t0) / 1000;
    *ok = true;
}

static void store_thread_main(void *arg)
{
    omtp_store *s = arg;
    uv_mutex_lock(&s->mu);
    for (;;) {
        while (!s->pending.head && !s->stopping)
            uv_cond_wait(&s->cv, &s->mu);
        if (!s->pending.head)
            break; /* stopping and drained */
        item_fifo batch = fifo_take(&s->pending, s->max_batch);
        s->st.queued = s->pending.n;
        uv_mutex_unlock(&s->mu);

        uint64_t us;
        bool ok;
        item_fifo rest = {0};
        run_batch(s, &batch, &rest, &us, &ok);

        uv_mutex_lock(&s->mu);
        if (rest.head) {
            /* deferred items go first in the next batch */
            rest.tail->next = s->pending.head;
            if (!s->pending.head)
                s->pending.tail = rest.tail;
            s->pending.head = rest.head;
            s->pending.n += rest.n;
        }
        s->st.executed += batch.n;
        record_commit(&s->st, us, ok);
        fifo_splice(&s->done, &batch);
        uv_mutex_unlock(&s->mu);
        uv_async_send(&s->async);
        uv_mutex_lock(&s->mu);
    }
    uv_mutex_unlock(&s->mu);
}

static void run_completions(omtp_store *s)
{
    uv_mutex_lock(&s->mu);
    item_fifo done = s->done;
    memset(&s->done, 0, sizeof(s->done));
    uv_mutex_unlock(&s->mu);
    store_item *it = done.head;
    while (it) {
        store_item *next = it->next;
        if (it->done)
            it->done(it->arg, it->status);
        free(it);
        /* the async handle keeps the loop alive only while work is in flight */
        if (--s->outstanding == 0 && !s->closed)
            uv_unref((uv_handle_t *)&s->async);
        it = next;
    }
}

static void on_async(uv_async_t *a)
{
    run_completions(a->data);
}

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

int omtp_store_open(uv_loop_t *loop, const omtp_store_config *cfg, omtp_store **out, char *why,
                    size_t whylen)
{
    *out = NULL;
    omtp_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    s->loop = loop;
    s->max_batch = cfg->max_batch ? cfg->max_batch : 1024;
    int rc = omtp_db_open(cfg, &s->db, why, whylen);
    if (rc != 0)
        goto err_free;
    if (uv_mutex_init(&s->mu) != 0)
        goto err_db;
    if (uv_cond_init(&s->cv) != 0)
        goto err_mu;
    if (uv_async_init(loop, &s->async, on_async) != 0)
        goto err_cv;
    s->async.data = s;
    uv_unref((uv_handle_t *)&s->async);
    if (uv_thread_create(&s->thread, store_thread_main, s) != 0) {
        snprintf(why, whylen, "cannot start the store thread");
        uv_cond_destroy(&s->cv);
        uv_mutex_destroy(&s->mu);
        omtp_db_close(s->db);
        /* the async handle is embedded in s: s is freed when the loop closed it */
        uv_close((uv_handle_t *)&s->async, on_async_closed);
        return OMTP_EIO;
    }
    *out = s;
    return 0;
err_cv:
    uv_cond_destroy(&s->cv);
err_mu:
    uv_mutex_destroy(&s->mu);
err_db:
    snprintf(why, whylen, "cannot initialise the store executor");
    rc = OMTP_EIO;
    omtp_db_close(s->db);
err_free:
    free(s);
    return rc;
}

int omtp_store_submit(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done, void *arg)
{
    if (!s || s->closed)
        return OMTP_ECLOSED;
    store_item *it = malloc(sizeof(*it));
    if (!it)
        return OMTP_ENOMEM;
    it->work = work;
    it->done = done;
    it->arg = arg;
    it->status = 0;
    if (s->outstanding++ == 0)
        uv_ref((uv_handle_t *)&s->async);
    uv_mutex_lock(&s->mu);
    fifo_push(&s->pending, it);
    s->st.queued = s->pending.n;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    return 0;
}

void omtp_store_close(omtp_store *s)
{
    if (!s || s->closed)
        return;
    s->closed = true;
    uv_mutex_lock(&s->mu);
    s->stopping = true;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    uv_thread_join(&s->thread);
    /* everything queued has run and committed: complete it here, in order */
    run_completions(s);
    omtp_db_close(s->db);
    s->db = NULL;
    uv_cond_destroy(&s->cv);
    uv_mutex_destroy(&s->mu);
    /* the embedded async handle frees s once the loop has closed it */
    uv_close((uv_handle_t *)&s->async, on_async_closed);
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
