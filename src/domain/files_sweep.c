/*
 * files_sweep.c - the "files" part: the file store's life and the orphan
 * sweeper (domain/files_sweep.h).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/files_ingest.h"
#include "domain/files_pins.h"
#include "domain/files_sweep.h"
#include "store/filestore.h"

#define FIRST_PASS_MS 30000
#define TMP_MAX_AGE_S 3600 /* temporary objects older than this at start: a crash's */

typedef struct omtp_files_state {
    omtp_server *srv;
    uv_timer_t timer;
    int64_t age_ms;
    bool closing, timer_closed, running;
    int64_t cutoff_ms;
    uint64_t pass_removed;
    /* the chunk in flight (store thread fills, loop reads) */
    omtp_file_rec chunk[OMTP_FILES_SWEEP_CHUNK];
    int n;
    char unused[2 * OMTP_FILES_SWEEP_CHUNK][65];
    int nunused;
} omtp_files_state;

typedef struct bytes_job {
    uv_work_t w;
    omtp_filestore *fs;
    int n;
    char sha[2 * OMTP_FILES_SWEEP_CHUNK][65];
} bytes_job;

static _Atomic uint64_t counters[OMTP_FC_N];

void omtp_files_count(int counter, uint64_t n)
{
    if (counter >= 0 && counter < OMTP_FC_N)
        atomic_fetch_add(&counters[counter], n);
}

static char *files_metrics(void *arg)
{
    (void)arg;
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return NULL;
    fprintf(f,
            "# HELP omtp_files_uploaded_total uploads stored (POST /v1/files)\n"
            "# TYPE omtp_files_uploaded_total counter\n"
            "omtp_files_uploaded_total %llu\n"
            "# HELP omtp_files_uploaded_bytes_total bytes of the uploads stored\n"
            "# TYPE omtp_files_uploaded_bytes_total counter\n"
            "omtp_files_uploaded_bytes_total %llu\n"
            "# HELP omtp_files_refused_total uploads refused or cut, by reason\n"
            "# TYPE omtp_files_refused_total counter\n",
            (unsigned long long)atomic_load(&counters[OMTP_FC_STORED]),
            (unsigned long long)atomic_load(&counters[OMTP_FC_BYTES]));
    static const char *const why[] = {"too_large", "storage_full", "quota_exceeded", "rate_limited",
                                      "aborted"};
    for (int i = 0; i < 5; i++)
        fprintf(f, "omtp_files_refused_total{reason=\"%s\"} %llu\n", why[i],
                (unsigned long long)atomic_load(&counters[OMTP_FC_TOO_LARGE + i]));
    fprintf(f,
            "# HELP omtp_files_orphans_removed_total files no message referenced, removed by "
            "the sweeper (file_orphan_days)\n"
            "# TYPE omtp_files_orphans_removed_total counter\n"
            "omtp_files_orphans_removed_total %llu\n",
            (unsigned long long)atomic_load(&counters[OMTP_FC_ORPHANS]));
    fclose(f);
    return p;
}

static atomic_int works; /* byte deletions queued or running on libuv's pool */

void omtp_files_work_begin(void)
{
    atomic_fetch_add(&works, 1);
}

void omtp_files_work_end(void)
{
    atomic_fetch_sub(&works, 1);
}

static void maybe_free(omtp_files_state *st)
{
    if (st->timer_closed && !st->running)
        free(st);
}

static void bytes_work(uv_work_t *w)
{
    bytes_job *b = w->data;
    for (int i = 0; i < b->n; i++) {
        omtp_fs_delete(b->fs, b->sha[i]);
        omtp_files_delete_release(b->sha[i]); /* uploads of these bytes may go on */
    }
    omtp_files_work_end();
}

static void bytes_after(uv_work_t *w, int status)
{
    (void)status;
    free(w->data);
}

static int unused_add(omtp_db *db, omtp_files_state *st, const char *sha)
{
    if (!sha[0])
        return 0;
    for (int i = 0; i < st->nunused; i++)
        if (strcmp(st->unused[i], sha) == 0)
            return 0;
    /* claimed before the database is asked (files_pins.h): an upload of
     * the same bytes in flight keeps them; one that starts now waits */
    if (!omtp_files_delete_claim(sha, 0))
        return 0;
    bool used = false;
    int rc = omtp_db_file_sha_used(db, sha, &used);
    if (rc == 0 && !used)
        memcpy(st->unused[st->nunused++], sha, 65);
    else
        omtp_files_delete_release(sha);
    return rc;
}

static int chunk_work(omtp_db *db, void *arg)
{
    omtp_files_state *st = arg;
    st->nunused = 0;
    int rc = omtp_db_file_orphans(db, st->cutoff_ms, OMTP_FILES_SWEEP_CHUNK, st->chunk, &st->n);
    for (int i = 0; i < st->n && rc == 0; i++) {
        rc = omtp_db_file_del(db, st->chunk[i].fileId);
        if (rc == OMTP_ENOTFOUND)
            rc = 0;
    }
    for (int i = 0; i < st->n && rc == 0; i++) {
        rc = unused_add(db, st, st->chunk[i].sha256);
        if (rc == 0)
            rc = unused_add(db, st, st->chunk[i].thumb);
    }
    return rc;
}

static void chunk_done(void *arg, int status);

static void chunk_submit(omtp_files_state *st)
{
    int rc = st->srv->store ? omtp_store_submit(st->srv->store, chunk_work, chunk_done, st)
                            : OMTP_ECLOSED;
    if (rc) {
        st->running = false;
        LOG_WARN("files: orphan sweep not run: %s", omtp_strerror(rc));
    }
}

static void release_unused(omtp_files_state *st)
{
    for (int i = 0; i < st->nunused; i++)
        omtp_files_delete_release(st->unused[i]);
    st->nunused = 0;
}

static void chunk_done(void *arg, int status)
{
    omtp_files_state *st = arg;
    if (status == 0 && st->nunused && st->srv->filestore) {
        bytes_job *b = calloc(1, sizeof(*b));
        if (!b)
            release_unused(st);
        if (b) {
            b->w.data = b;
            b->fs = st->srv->filestore;
            b->n = st->nunused;
            memcpy(b->sha, st->unused, sizeof(b->sha[0]) * (size_t)st->nunused);
            omtp_files_work_begin();
            if (uv_queue_work(st->srv->loop, &b->w, bytes_work, bytes_after) != 0) {
                omtp_files_work_end();
                release_unused(st);
                free(b);
            }
            st->nunused = 0;
        }
    } else {
        release_unused(st); /* failed (rolled back) or no store: nothing deleted */
    }
    if (status == 0) {
        st->pass_removed += (uint64_t)st->n;
        omtp_files_count(OMTP_FC_ORPHANS, (uint64_t)st->n);
        for (int i = 0; i < st->n; i++)
            LOG_DEBUG("files: removed orphan %s (%s, %" PRIu64 " bytes)", st->chunk[i].fileId,
                      st->chunk[i].name, st->chunk[i].size);
    }
    if (status == 0 && st->n == OMTP_FILES_SWEEP_CHUNK && !st->closing) {
        chunk_submit(st);
    } else {
        st->running = false;
        if (status != 0)
            LOG_WARN("files: orphan sweep failed (%s) after removing %" PRIu64
                     " files; the next pass retries",
                     omtp_strerror(status), st->pass_removed);
        else if (st->pass_removed)
            LOG_INFO("files: removed %" PRIu64 " file(s) no message references, older than "
                     "%" PRId64 " s (file_orphan_days)",
                     st->pass_removed, st->age_ms / 1000);
    }
    maybe_free(st);
}

static void on_timer(uv_timer_t *t)
{
    omtp_files_state *st = t->data;
    if (st->running || st->closing)
        return;
    st->running = true;
    st->pass_removed = 0;
    st->cutoff_ms = omtp_now_ms() - st->age_ms;
    chunk_submit(st);
}

int omtp_files_start(omtp_server *s, char *why, size_t whylen)
{
    const omtp_config *c = s->cfg;
    omtp_filestore_config fc = {.data_dir = c->data_dir,
                                .s3_endpoint = c->s3_endpoint,
                                .s3_region = c->s3_region,
                                .s3_access_key = c->s3_access_key,
                                .s3_secret_key = c->s3_secret_key,
                                .s3_path_style = omtp_config_s3_path_style(c),
                                .max_file_size = c->max_file_size};
    char reason[512] = "";
    int rc = omtp_filestore_open(c->file_store, &fc, &s->filestore, reason, sizeof(reason));
    if (rc) {
        snprintf(why, whylen, "cannot open the file store: %s", reason);
        return rc;
    }
    omtp_ingest_global_init("omtpd"); /* logs its own failure: files without thumbnails */
    if ((rc = omtp_metrics_add_source(s, files_metrics, s)) != 0) {
        snprintf(why, whylen, "cannot add the files' metrics: %s", omtp_strerror(rc));
        return rc;
    }
    omtp_fs_sweep_tmp(s->filestore, TMP_MAX_AGE_S);
    LOG_INFO("files: store %s%s%s, max_file_size %" PRIu64 " bytes, quota %" PRIu64
             " bytes per user (0 = none), %u uploads per minute per user (0 = unlimited)",
             omtp_filestore_kind(s->filestore), c->file_store[0] ? " " : "", c->file_store,
             c->max_file_size, c->file_quota_bytes, c->file_upload_rate);
    int64_t age = c->file_orphan_s ? (int64_t)c->file_orphan_s * 1000
                                   : (int64_t)c->file_orphan_days * 86400000;
    if (age == 0) {
        LOG_INFO("files: orphan sweeper off (file_orphan_days = 0)");
        return 0;
    }
    omtp_files_state *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    st->srv = s;
    st->age_ms = age;
    uint64_t every = (uint64_t)(c->hp_prune_interval_s ? c->hp_prune_interval_s : 600) * 1000;
    uv_timer_init(s->loop, &st->timer);
    st->timer.data = st;
    uv_timer_start(&st->timer, on_timer, every < FIRST_PASS_MS ? every : FIRST_PASS_MS, every);
    uv_unref((uv_handle_t *)&st->timer);
    s->files = st;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    omtp_files_state *st = h->data;
    st->timer_closed = true;
    maybe_free(st);
}

void omtp_files_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_files_state *st = s->files;
    if (!st)
        return;
    s->files = NULL;
    st->closing = true;
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}

void omtp_files_free(omtp_server *s)
{
    for (int i = 0; i < 500 && atomic_load(&works) > 0; i++)
        uv_sleep(10); /* at most 5 s: deletions are single unlinks */
    omtp_filestore_close(s->filestore);
    s->filestore = NULL;
}
