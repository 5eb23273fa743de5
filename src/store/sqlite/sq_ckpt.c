/*
 * sq_ckpt.c - WAL checkpoints off the commit path.
 *
 * SQLite's automatic checkpoint runs inside COMMIT on the writing connection:
 * every ~1000 pages a commit copies the WAL into the database file and
 * fsyncs it, and every message of that batch waits for it. Instead the
 * writer registers its own WAL hook (which turns the automatic checkpoint
 * off) and a checkpointer thread with its own connection to the same file
 * runs PASSIVE checkpoints: they copy frames into the database while the
 * writer keeps committing (WAL readers and one writer never block each
 * other; a PASSIVE checkpoint never waits for anyone).
 *
 * A PASSIVE checkpoint copies the frames present when it starts; under
 * continuous load the writer has appended more by the time it ends, so the
 * WAL is never entirely checkpointed and SQLite never starts it over from
 * the beginning. The WAL is bounded as follows (pages = WAL frames):
 *
 *   - the checkpointer runs a pass when SQ_CKPT_SOFT pages are not yet
 *     checkpointed, and after a second without commits when anything is left;
 *   - past SQ_CKPT_HARD_* the writer runs the pass itself before its next
 *     transaction (sq_ckpt_before_begin: the batch before has been completed,
 *     no database lock is held), unless the checkpointer is in the middle of
 *     one (then before the one after). That pass copies only
 *     the pages changed since the checkpointer's last pass and leaves the WAL
 *     entirely checkpointed, so the writer's next transaction starts it over
 *     (journal_size_limit trims the file);
 *   - past SQ_CKPT_MAX the writer waits for a running pass and runs its own:
 *     only reached if the checkpointer's passes take very long.
 *
 * Durability is unchanged: the WAL is still fsynced after a COMMIT
 * (synchronous=FULL; sq_sync.c) before the executor reports it; checkpoints only move committed
 * pages into the database file, and the checkpointer's connection uses the same synchronous level
 * (the database file is fsynced before the WAL may be reused).
 */
#include <stdio.h>
#include <stdlib.h>

#include "sq.h"

#ifndef SQ_CKPT_SOFT
#define SQ_CKPT_SOFT 1000 /* unchecked pages that start a pass (~4 MiB) */
#endif
/* WAL pages past which the writer restarts the WAL: FULL ~16 MiB (a WAL that
 * is reused, not grown, keeps each commit's fdatasync free of file-size
 * metadata; the writer's pass costs a db fsync), NORMAL ~64 MiB (the pass also
 * fsyncs the WAL, which NORMAL commits never do: make it rarer) */
#define SQ_CKPT_HARD_FULL   4096
#define SQ_CKPT_HARD_NORMAL 16384
#define SQ_CKPT_MAX         65536 /* WAL pages (~256 MiB) past which the writer waits */
#define SQ_CKPT_IDLE_MS     1000

struct sq_ckpt {
    sqlite3 *h; /* the checkpointer's own connection */
    int hard;   /* SQ_CKPT_HARD_FULL or _NORMAL */
    uv_thread_t thread;
    uv_mutex_t run; /* held while a checkpoint runs (thread or writer) */
    uv_mutex_t mu;
    uv_cond_t cv;
    /* protected by mu */
    bool stop;
    int wal_pages;  /* WAL frames after the writer's last commit */
    int done_pages; /* frames known to be checkpointed */
};

/* Whether the thread should start a pass now (mu held). Past c->hard
 * the writer runs the next pass itself. */
static bool want_pass(const sq_ckpt *c)
{
    return c->wal_pages < c->hard && c->wal_pages - c->done_pages >= SQ_CKPT_SOFT;
}

/* One PASSIVE checkpoint on connection h; `run` must be held. */
static void ckpt_pass(sq_ckpt *c, sqlite3 *h)
{
    int log = -1, done = -1;
    int rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    uv_mutex_lock(&c->mu);
    if (rc == SQLITE_OK && done >= 0) {
        /* the WAL may have been restarted meanwhile (log < wal_pages is fine:
         * the next commit reports the new size) */
        c->done_pages = done;
        if (log >= 0 && log < c->wal_pages)
            c->wal_pages = log;
    }
    uv_mutex_unlock(&c->mu);
}

static void ckpt_main(void *arg)
{
    sq_ckpt *c = arg;
    uv_mutex_lock(&c->mu);
    while (!c->stop) {
        if (!want_pass(c)) {
            int before = c->wal_pages;
            uv_cond_timedwait(&c->cv, &c->mu, (uint64_t)SQ_CKPT_IDLE_MS * 1000000);
            /* idle: checkpoint whatever is left so the next write restarts the WAL */
            bool idle = c->wal_pages == before && c->done_pages < c->wal_pages;
            if (c->stop || (!want_pass(c) && !idle))
                continue;
        }
        uv_mutex_unlock(&c->mu);
        uv_mutex_lock(&c->run);
        ckpt_pass(c, c->h);
        uv_mutex_unlock(&c->run);
        uv_mutex_lock(&c->mu);
    }
    uv_mutex_unlock(&c->mu);
}

/* The writer's WAL hook: runs inside each COMMIT of the writing connection,
 * after the commit is durable. Replaces SQLite's automatic checkpoint. Only
 * bookkeeping here: the writer's own pass waits for sq_ckpt_before_begin, so
 * the batch just committed is completed first. */
static int wal_hook(void *arg, sqlite3 *h, const char *db, int pages)
{
    (void)db;
    (void)h;
    sq_ckpt *c = arg;
    uv_mutex_lock(&c->mu);
    if (pages < c->wal_pages)
        c->done_pages = 0; /* the WAL was started over */
    c->wal_pages = pages;
    bool wake = want_pass(c);
    uv_mutex_unlock(&c->mu);
    if (wake)
        uv_cond_signal(&c->cv);
    return SQLITE_OK;
}

void sq_ckpt_before_begin(sq_db *d)
{
    sq_ckpt *c = d->ckpt;
    if (!c || !sqlite3_get_autocommit(d->h))
        return;
    uv_mutex_lock(&c->mu);
    int pages = c->wal_pages, done = c->done_pages;
    uv_mutex_unlock(&c->mu);
    if (pages < c->hard || done >= pages)
        return;
    if (pages >= SQ_CKPT_MAX) {
        uv_mutex_lock(&c->run); /* back-pressure: wait for a running pass */
        ckpt_pass(c, d->h);
        uv_mutex_unlock(&c->run);
    } else if (uv_mutex_trylock(&c->run) == 0) {
        ckpt_pass(c, d->h);
        uv_mutex_unlock(&c->run);
    }
}

int sq_ckpt_start(sq_db *d, const char *path, int synchronous, char *why, size_t whylen)
{
    sq_ckpt *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    const char *sync = synchronous == 1 ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL";
    c->hard = synchronous == 1 ? SQ_CKPT_HARD_NORMAL : SQ_CKPT_HARD_FULL;
    if (sqlite3_open_v2(path, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->h, sync, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->h, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "cannot open the checkpointer's connection to %s: %s", path,
                 c->h ? sqlite3_errmsg(c->h) : "out of memory");
        goto err_h;
    }
    sqlite3_busy_timeout(c->h, 0); /* PASSIVE never waits anyway */
    if (uv_mutex_init(&c->run) != 0)
        goto err_h;
    if (uv_mutex_init(&c->mu) != 0)
        goto err_run;
    if (uv_cond_init(&c->cv) != 0)
        goto err_mu;
    if (uv_thread_create(&c->thread, ckpt_main, c) != 0)
        goto err_cv;
    d->ckpt = c;
    sqlite3_wal_hook(d->h, wal_hook, c); /* also turns the automatic checkpoint off */
    return 0;
err_cv:
    uv_cond_destroy(&c->cv);
err_mu:
    uv_mutex_destroy(&c->mu);
err_run:
    uv_mutex_destroy(&c->run);
    snprintf(why, whylen, "cannot start the checkpointer");
err_h:
    sqlite3_close_v2(c->h);
    free(c);
    return OMTP_EDB;
}

void sq_ckpt_stop(sq_db *d)
{
    sq_ckpt *c = d->ckpt;
    if (!c)
        return;
    sqlite3_wal_hook(d->h, NULL, NULL);
    uv_mutex_lock(&c->mu);
    c->stop = true;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    /* the writer's connection, closed last, checkpoints the rest and removes the WAL */
    sqlite3_close_v2(c->h);
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    uv_mutex_destroy(&c->run);
    d->ckpt = NULL;
    free(c);
}
