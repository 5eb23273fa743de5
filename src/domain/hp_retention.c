/*
 * hp_retention.c - deletes high-priority queue entries past their retention
 * (see hp_retention.h).
 *
 * A pass fixes its cutoff (wall clock now - retention) when it starts, so it
 * ends: every chunk deletes up to OMTP_HP_PRUNE_CHUNK rows older than that
 * cutoff, and a chunk that deletes fewer means nothing older is left. A
 * timer tick that finds a pass still running does nothing.
 */
#include "hp_retention.h"

#include <stdlib.h>

#define FIRST_PASS_MS 30000 /* the first pass, after start-up settled */

typedef struct hp_retention {
    omtp_server *srv;
    uv_timer_t timer;
    int64_t retention_ms;
    bool closing;      /* stop was called: submit nothing more */
    bool timer_closed; /* the timer's close callback ran */
    bool running;      /* a pass is in progress: a chunk is in flight */
    /* the pass in progress */
    int64_t cutoff_ms;
    uint64_t pass_deleted;
    uint64_t pass_start_ns;
    unsigned pass_chunks;
    int chunk_deleted; /* written by the store thread, read in the completion */
} hp_retention;

static void maybe_free(hp_retention *r)
{
    if (r->timer_closed && !r->running)
        free(r);
}

static void describe(const hp_retention *r, char *out, size_t len)
{
    if (r->retention_ms % 86400000 == 0)
        snprintf(out, len, "%lld days", (long long)(r->retention_ms / 86400000));
    else
        snprintf(out, len, "%lld s", (long long)(r->retention_ms / 1000));
}

static void pass_end(hp_retention *r, int status)
{
    double ms = (double)(uv_hrtime() - r->pass_start_ns) / 1e6;
    char age[32];
    describe(r, age, sizeof(age));
    r->running = false;
    if (status != 0)
        LOG_WARN("hp retention: prune failed (%s) after removing %llu entries older than %s; "
                 "the next run retries",
                 omtp_strerror(status), (unsigned long long)r->pass_deleted, age);
    else if (r->pass_deleted)
        LOG_INFO("hp retention: removed %llu high-priority entries older than %s in %.1f ms "
                 "(%u chunk%s)",
                 (unsigned long long)r->pass_deleted, age, ms, r->pass_chunks,
                 r->pass_chunks == 1 ? "" : "s");
    else
        LOG_DEBUG("hp retention: no high-priority entry older than %s (%.1f ms)", age, ms);
}

static int chunk_work(omtp_db *db, void *arg)
{
    hp_retention *r = arg;
    return omtp_db_hp_prune(db, r->cutoff_ms, OMTP_HP_PRUNE_CHUNK, &r->chunk_deleted);
}

static void chunk_done(void *arg, int status);

/* Submits the next chunk of the pass; ends the pass if that fails. */
static void chunk_submit(hp_retention *r)
{
    r->chunk_deleted = 0;
    r->pass_chunks++;
    int rc =
        r->srv->store ? omtp_store_submit(r->srv->store, chunk_work, chunk_done, r) : OMTP_ECLOSED;
    if (rc)
        pass_end(r, rc);
}

static void chunk_done(void *arg, int status)
{
    hp_retention *r = arg;
    if (status == 0) {
        r->pass_deleted += (uint64_t)r->chunk_deleted;
        r->srv->metrics.hp_pruned += (uint64_t)r->chunk_deleted;
    }
    if (status == 0 && r->chunk_deleted == OMTP_HP_PRUNE_CHUNK && !r->closing)
        chunk_submit(r); /* there may be more */
    else
        pass_end(r, status);
    maybe_free(r);
}

static void on_timer(uv_timer_t *t)
{
    hp_retention *r = t->data;
    if (r->running || r->closing)
        return;
    r->running = true;
    r->cutoff_ms = omtp_now_ms() - r->retention_ms;
    r->pass_deleted = 0;
    r->pass_chunks = 0;
    r->pass_start_ns = uv_hrtime();
    chunk_submit(r);
}

int omtp_hp_retention_start(omtp_server *s)
{
    const omtp_config *c = s->cfg;
    int64_t ms = c->hp_retention_s ? (int64_t)c->hp_retention_s * 1000
                                   : (int64_t)c->hp_retention_days * 86400000;
    if (ms == 0) {
        LOG_INFO("hp retention: off (hp_retention_days = 0): high-priority queues are kept "
                 "forever");
        return 0;
    }
    hp_retention *r = calloc(1, sizeof(*r));
    if (!r)
        return OMTP_ENOMEM;
    r->srv = s;
    r->retention_ms = ms;
    uint64_t every = (uint64_t)(c->hp_prune_interval_s ? c->hp_prune_interval_s : 600) * 1000;
    uv_timer_init(s->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timer, every < FIRST_PASS_MS ? every : FIRST_PASS_MS, every);
    uv_unref((uv_handle_t *)&r->timer);
    s->hp_retention = r;
    char age[32];
    describe(r, age, sizeof(age));
    LOG_INFO("hp retention: high-priority entries are kept %s (pruned every %llu s)", age,
             (unsigned long long)(every / 1000));
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    hp_retention *r = h->data;
    r->timer_closed = true;
    maybe_free(r);
}

void omtp_hp_retention_stop(omtp_server *s)
{
    hp_retention *r = s->hp_retention;
    if (!r)
        return;
    s->hp_retention = NULL;
    r->closing = true;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
