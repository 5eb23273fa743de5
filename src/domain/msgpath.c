/*
 * domain/msgpath.c - the message log under the send path: appends, acks
 * after the log's sync, the apply behind (batches, the read barrier,
 * retire), start-up replay and /metrics (msgpath.h).
 */
#include "domain/msgpath.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/logrec.h"
#include "store/msglog.h"
#include "domain/msglog_metrics.h"

#define APPLIED_KEY "msglog.applied"

typedef struct apply_rec {
    struct apply_rec *next;
    uint64_t from; /* the log from here (or the previous record's end) to lsn_end */
    uint64_t lsn_end;
    size_t n;
    uint8_t p[];
} apply_rec;

typedef struct apply_job {
    msgpath *p;
    apply_rec *head; /* the batch, in log order */
    size_t count, bytes;
    uint64_t lsn_end; /* of the last record */
    uint64_t applied; /* records that were new in the tables */
} apply_job;

struct msgpath {
    omtp_server *srv;
    omtp_msglog *log;
    char dir[600];
    seqgen *seq;
    dedupwin *dedup;
    /* pending: appended, not yet in an apply item */
    apply_rec *ph, *pt;
    size_t pn, pbytes;
    size_t unapplied_bytes; /* pending + in apply items not yet done */
    size_t unapplied_records;
    unsigned inflight; /* apply items not yet done */
    uv_timer_t timer;
    bool timer_armed, timer_open;
    bool stopped;
    uint64_t applied_lsn; /* durable in the store */
    uint64_t queued_end;  /* lsn_end of the last record queued for the apply */
    /* acks waiting for the log's sync, in append order */
    msgpath_waiter *wh, *wt;
    int sync_status; /* the log failed: every later wait fails with it */
    bool lost;       /* a record is in the log but not pending: refuse appends */
    msgpath_stats st;
};

msgpath *omtp_msgpath(omtp_server *s)
{
    return s->msgpath;
}

seqgen *omtp_msgpath_seq(msgpath *p)
{
    return p->seq;
}

dedupwin *omtp_msgpath_dedup(msgpath *p)
{
    return p->dedup;
}

/* --------------------------------------------------------------- apply */

static int apply_work(omtp_db *db, void *arg)
{
    apply_job *j = arg;
    char why[192];
    /* the batch continues the stored position, or an earlier batch failed
     * (its records go back to be applied again): storing this one's end
     * would put the position past them, and a crash would lose them */
    tars_str v = {0};
    int mrc = omtp_db_meta_get(db, APPLIED_KEY, &v);
    uint64_t at = mrc == 0 && v.len ? strtoull(v.data, NULL, 10) : 0;
    tars_str_clear(&v);
    if (mrc != 0 && mrc != OMTP_ENOTFOUND)
        return mrc;
    if (at < j->head->from)
        return OMTP_EBUSY;
    for (apply_rec *r = j->head; r; r = r->next) {
        omtp_msg_rec m;
        int rc = omtp_logrec_decode(r->p, r->n, &m, why, sizeof why);
        if (rc == 0) {
            rc = omtp_msg_apply_record(db, &m);
            if (rc == 0)
                j->applied++;
        } else {
            /* we wrote it: only memory trouble can get here */
            LOG_ERROR("message log record at %" PRIu64 " not applied: %s", r->lsn_end, why);
            rc = rc == OMTP_ENOMEM ? rc : 0;
        }
        omtp_msg_rec_free(&m);
        if (rc != 0)
            return rc;
    }
    if (at >= j->lsn_end)
        return 0;
    char pos[32];
    snprintf(pos, sizeof pos, "%" PRIu64, j->lsn_end);
    return omtp_db_meta_set(db, APPLIED_KEY, pos);
}

static void recs_free(apply_rec *r)
{
    while (r) {
        apply_rec *next = r->next;
        free(r);
        r = next;
    }
}

static void apply_done(void *arg, int status)
{
    apply_job *j = arg;
    msgpath *p = j->p;
    p->inflight--;
    if (status == 0) {
        p->st.applies++;
        p->st.applied_records += j->count;
        p->unapplied_bytes -= j->bytes;
        p->unapplied_records -= j->count;
        if (j->lsn_end > p->applied_lsn)
            p->applied_lsn = j->lsn_end;
        if (p->log)
            omtp_msglog_retire(p->log, p->applied_lsn);
        recs_free(j->head);
        if (p->st.apply_failures)
            seqgen_hold(p->seq, p->inflight > 0 || p->pn > 0);
    } else {
        /* the records stay in the log; try again with the next batch, in
         * order (they go back in front of the pending ones) */
        p->st.apply_failures++;
        LOG_ERROR("applying %zu message log records to the store failed (%s); retrying (they are "
                  "safe in the message log)",
                  j->count, omtp_strerror(status));
        seqgen_hold(p->seq, true);
        apply_rec *last = j->head;
        while (last->next)
            last = last->next;
        /* in log order: another failed batch may have gone back before */
        apply_rec **at = &p->ph;
        while (*at && (*at)->lsn_end < j->head->lsn_end)
            at = &(*at)->next;
        last->next = *at;
        if (!*at)
            p->pt = last;
        *at = j->head;
        p->pn += j->count;
        p->pbytes += j->bytes;
    }
    free(j);
}

/* Queues up to apply_batch pending records as one apply item, skipping the
 * barrier (it is the barrier's own work). */
static int flush_one(msgpath *p)
{
    uint32_t max = p->srv->cfg->apply_batch ? p->srv->cfg->apply_batch : 512;
    apply_job *j = calloc(1, sizeof *j);
    if (!j)
        return OMTP_ENOMEM;
    j->p = p;
    apply_rec *r = p->ph, *last = NULL;
    while (r && j->count < max) {
        j->count++;
        j->bytes += r->n + sizeof *r;
        j->lsn_end = r->lsn_end;
        last = r;
        r = r->next;
    }
    j->head = p->ph;
    last->next = NULL;
    p->ph = r;
    if (!r)
        p->pt = NULL;
    p->pn -= j->count;
    p->pbytes -= j->bytes;
    int rc = omtp_store_submit_unordered(p->srv->store, apply_work, apply_done, j);
    if (rc != 0) {
        /* put them back; the next flush tries again */
        last->next = p->ph;
        p->ph = j->head;
        if (!p->pt)
            p->pt = last;
        p->pn += j->count;
        p->pbytes += j->bytes;
        free(j);
        return rc;
    }
    p->inflight++;
    return 0;
}

static void flush_all(msgpath *p)
{
    while (p->pn > 0)
        if (flush_one(p) != 0)
            break;
}

/* The read barrier (store.h): whatever the store runs next sees every
 * record appended so far. */
static void barrier(void *arg)
{
    flush_all(arg);
}

static void on_timer(uv_timer_t *t)
{
    msgpath *p = t->data;
    p->timer_armed = false;
    flush_all(p);
}

static int pending_add(msgpath *p, const void *rec, size_t n, uint64_t lsn_end)
{
    apply_rec *r = malloc(sizeof *r + n);
    if (!r)
        return OMTP_ENOMEM;
    r->next = NULL;
    r->from = p->queued_end;
    p->queued_end = lsn_end;
    r->lsn_end = lsn_end;
    r->n = n;
    memcpy(r->p, rec, n);
    if (p->pt)
        p->pt->next = r;
    else
        p->ph = r;
    p->pt = r;
    p->pn++;
    p->pbytes += n + sizeof *r;
    p->unapplied_bytes += n + sizeof *r;
    p->unapplied_records++;
    return 0;
}

/* -------------------------------------------------------------- appends */

int omtp_msgpath_append(msgpath *p, const omtp_msg_rec *m, uint64_t *lsn_end)
{
    const omtp_config *cfg = p->srv->cfg;
    if (p->sync_status)
        return p->sync_status;
    if (p->lost)
        return OMTP_EDB;
    if (cfg->apply_pending_max && p->unapplied_bytes >= cfg->apply_pending_max) {
        p->st.refused_busy++;
        return OMTP_EBUSY;
    }
    tars_buf b;
    tars_buf_init(&b);
    int rc = omtp_logrec_encode(m, &b);
    if (rc == 0)
        rc = omtp_msglog_append(p->log, OMTP_LOGREC_MSG, b.data, b.len, lsn_end);
    if (rc == 0 && pending_add(p, b.data, b.len, *lsn_end) != 0) {
        /* in the log but not in memory: the next start applies it; this run
         * must not store it twice, so stop taking messages */
        LOG_ERROR("out of memory queueing message %s/%lld for the store; it is in the message "
                  "log and will be stored at the next start; restart omtpd",
                  m->msg.sessionId.data, (long long)m->msg.seqId);
        /* a later record's apply would store an applied position past this
         * one (and retire the log under it): nothing may follow it */
        p->lost = true;
    }
    tars_buf_free(&b);
    if (rc != 0)
        return rc;
    uint32_t batch = cfg->apply_batch ? cfg->apply_batch : 512;
    if (p->pn >= batch) {
        flush_one(p);
    } else if (!p->timer_armed && !p->stopped) {
        p->timer_armed = true;
        uv_timer_start(&p->timer, on_timer, cfg->apply_delay_ms, 0);
    }
    return 0;
}

void omtp_msgpath_wait(msgpath *p, msgpath_waiter *w)
{
    if (p->sync_status) {
        w->synced(w, p->sync_status);
        return;
    }
    if (w->lsn <= omtp_msglog_synced(p->log) && !p->wh) {
        w->synced(w, 0);
        return;
    }
    w->next = NULL;
    if (p->wt)
        p->wt->next = w;
    else
        p->wh = w;
    p->wt = w;
}

static void on_synced(void *arg, uint64_t lsn, int status)
{
    msgpath *p = arg;
    if (status != 0 && !p->sync_status) {
        p->sync_status = status;
        LOG_ERROR("the message log could not be made durable (%s): messages are refused from now "
                  "on; restart omtpd",
                  omtp_strerror(status));
    }
    while (p->wh && (p->sync_status || p->wh->lsn <= lsn)) {
        msgpath_waiter *w = p->wh;
        p->wh = w->next;
        if (!p->wh)
            p->wt = NULL;
        w->next = NULL;
        w->synced(w, p->sync_status);
    }
}

/* ------------------------------------------------------------- start-up */

typedef struct boot {
    msgpath *p;
    bool done;
    int status;
    tars_str value;
} boot;

static int meta_get_work(omtp_db *db, void *arg)
{
    boot *b = arg;
    int rc = omtp_db_meta_get(db, APPLIED_KEY, &b->value);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static void boot_done(void *arg, int status)
{
    boot *b = arg;
    b->status = status;
    b->done = true;
}

/* Runs the loop until b->done (start-up only, before the listeners). */
static int spin(omtp_server *s, boot *b)
{
    while (!b->done)
        uv_run(s->loop, UV_RUN_ONCE);
    return b->status;
}

static int replay_rec(void *arg, uint64_t lsn, uint8_t type, const uint8_t *rec, size_t n)
{
    msgpath *p = arg;
    omtp_msg_rec m;
    char why[192];
    if (type != OMTP_LOGREC_MSG) {
        LOG_WARN("message log: record type %u at %" PRIu64 " is unknown; skipped", type, lsn);
        return 0;
    }
    /* checked now: a record the apply cannot read stops the replay here */
    int rc = omtp_logrec_decode(rec, n, &m, why, sizeof why);
    omtp_msg_rec_free(&m);
    if (rc != 0) {
        LOG_ERROR("message log: record at %" PRIu64 " is not a message (%s)", lsn, why);
        return rc;
    }
    rc = pending_add(p, rec, n, lsn + OMTP_MSGLOG_HDR + n);
    if (rc == 0 && p->pn >= (p->srv->cfg->apply_batch ? p->srv->cfg->apply_batch : 512))
        rc = flush_one(p);
    /* keep the memory of a long tail bounded: let the store catch up */
    while (rc == 0 && p->inflight > 4)
        uv_run(p->srv->loop, UV_RUN_ONCE);
    return rc;
}

static char *metrics(void *arg);
static char *log_metrics(void *arg);

int omtp_msgpath_start(omtp_server *s, char *why, size_t whylen)
{
    const omtp_config *cfg = s->cfg;
    if (!cfg->message_log || strcmp(omtp_store_backend(s->store), "sqlite") != 0)
        return 0;
    msgpath *p = calloc(1, sizeof *p);
    if (!p)
        return OMTP_ENOMEM;
    p->srv = s;
    snprintf(p->dir, sizeof p->dir, "%s/log", cfg->data_dir);
    p->seq = seqgen_new(s, cfg->seq_cache_max);
    p->dedup = dedupwin_new(cfg->dedup_window_s, cfg->dedup_window_max);
    if (!p->seq || !p->dedup || uv_timer_init(s->loop, &p->timer) != 0) {
        seqgen_free(p->seq);
        dedupwin_free(p->dedup);
        free(p);
        return OMTP_ENOMEM;
    }
    p->timer.data = p;
    p->timer_open = true;
    s->msgpath = p;
    uint64_t t0 = uv_hrtime();

    /* where the store stands */
    boot b = {.p = p};
    tars_str_clear(&b.value);
    int rc = omtp_store_submit(s->store, meta_get_work, boot_done, &b);
    if (rc == 0)
        rc = spin(s, &b);
    uint64_t applied = b.value.len ? strtoull(b.value.data, NULL, 10) : 0;
    tars_str_clear(&b.value);
    if (rc != 0) {
        snprintf(why, whylen, "cannot read the message log's applied position from the store: %s",
                 omtp_strerror(rc));
        return rc;
    }
    p->applied_lsn = p->queued_end = applied;

    /* the tail the store has not applied */
    omtp_msglog_replay_stats rs = {0};
    rc = omtp_msglog_replay(p->dir, applied, true, replay_rec, p, &rs);
    if (rc == 0) {
        flush_all(p);
        while (p->inflight > 0)
            uv_run(s->loop, UV_RUN_ONCE);
        if (p->pn > 0 || p->st.apply_failures)
            rc = OMTP_EDB;
    }
    if (rc != 0) {
        snprintf(why, whylen,
                 "cannot replay the message log in %s into the store: %s (the log is kept; fix "
                 "the cause and start again)",
                 p->dir, omtp_strerror(rc));
        return rc;
    }
    if (applied > rs.end_lsn)
        /* the store is ahead of the log (a power cut lost the log's tail
         * after the store applied it): the log starts afresh there */
        LOG_WARN("message log ends at %" PRIu64 " but the store applied up to %" PRIu64
                 "; the log continues from %" PRIu64,
                 rs.end_lsn, applied, applied);

    omtp_msglog_opts o = {.sync_delay_us = cfg->log_sync_delay_us,
                          .nosync = cfg->sync_level < 2,
                          .start_lsn = p->applied_lsn};
    rc = omtp_msglog_open(s->loop, p->dir, &o, on_synced, p, &p->log);
    if (rc != 0) {
        snprintf(why, whylen, "cannot open the message log in %s: %s", p->dir, omtp_strerror(rc));
        return rc;
    }
    omtp_msglog_retire(p->log, p->applied_lsn);
    omtp_store_set_barrier(s->store, barrier, p);
    omtp_store_set_nice(s->store, (int)cfg->apply_nice);
    omtp_metrics_add_source(s, metrics, s);
    omtp_metrics_add_source(s, log_metrics, p);
    LOG_INFO("replayed %" PRIu64 " records (%" PRIu64 " bytes) from the message log in %" PRIu64
             " ms (%s, applied up to %" PRIu64 "%s)",
             p->st.applied_records, rs.bytes, (uv_hrtime() - t0) / 1000000, p->dir, p->applied_lsn,
             rs.cut_bytes ? ", a torn tail was cut" : "");
    p->st.applies = p->st.applied_records = 0;
    return 0;
}

void omtp_msgpath_stop(omtp_server *s)
{
    msgpath *p = s->msgpath;
    if (!p)
        return;
    p->stopped = true;
    if (p->timer_armed) {
        uv_timer_stop(&p->timer);
        p->timer_armed = false;
    }
    flush_all(p); /* the store's close runs them */
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void omtp_msgpath_close(omtp_server *s)
{
    msgpath *p = s->msgpath;
    if (!p)
        return;
    s->msgpath = NULL;
    if (s->store)
        omtp_store_set_barrier(s->store, NULL, NULL);
    if (p->log) {
        omtp_msglog_close(p->log); /* the last sync: the waiting acks */
        p->log = NULL;
    }
    while (p->wh) /* nothing left to sync them: refuse */
        on_synced(p, 0, OMTP_ECLOSED);
    if (p->pn || p->unapplied_records)
        LOG_INFO("%zu message log records were not applied before the store closed; the next "
                 "start applies them",
                 p->unapplied_records);
    recs_free(p->ph);
    seqgen_free(p->seq);
    dedupwin_free(p->dedup);
    if (p->timer_open) {
        p->timer.data = p;
        uv_close((uv_handle_t *)&p->timer, timer_closed);
    } else {
        free(p);
    }
}

/* -------------------------------------------------------------- metrics */

omtp_msglog *omtp_msgpath_log(msgpath *p)
{
    return p->log;
}

static char *log_metrics(void *arg)
{
    msgpath *p = arg;
    return omtp_msglog_metrics_text(omtp_msgpath_log(p), omtp_msgpath_seq(p));
}

void omtp_msgpath_stats(omtp_server *s, msgpath_stats *out)
{
    msgpath *p = s->msgpath;
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    *out = p->st;
    out->pending_records = p->unapplied_records;
    out->pending_bytes = p->unapplied_bytes;
    out->applied_lsn = p->applied_lsn;
    out->seq_counters = seqgen_count(p->seq);
    out->seq_bytes = seqgen_bytes(p->seq);
    out->dedup_entries = dedupwin_count(p->dedup);
    out->dedup_bytes = dedupwin_bytes(p->dedup);
}

#define G(name, help) "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n"
#define C(name, help) "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n"

static char *metrics(void *arg)
{
    omtp_server *s = arg;
    msgpath_stats st;
    omtp_msgpath_stats(s, &st);
    omtp_msglog_stats ls = {0};
    if (s->msgpath && s->msgpath->log)
        omtp_msglog_get_stats(s->msgpath->log, &ls);
    char *out = malloc(8192);
    if (!out)
        return NULL;
    snprintf(
        out, 8192,
        G("omtp_msglog_unapplied_records", "message log records not yet applied to the store") G(
            "omtp_msglog_unapplied_bytes", "memory held by records not yet applied")
            C("omtp_msglog_applies_total", "apply transactions (batches of records)") C(
                "omtp_msglog_applied_records_total",
                "records applied to the store") C("omtp_msglog_apply_failures_total",
                                                  "apply batches that failed")
                G("omtp_msglog_applied_lsn", "log position the store holds") G(
                    "omtp_seq_counters",
                    "session seqId counters in memory") G("omtp_seq_counters_bytes",
                                                          "memory held by the seqId counters")
                    G("omtp_dedup_window_entries", "(from, packId) entries in the dedup window") G(
                        "omtp_dedup_window_bytes", "memory held by the dedup window")
                        C("omtp_msglog_refused_busy_total", "sends refused above apply_pending_max")
                            C("omtp_msglog_appended_records_total",
                              "records appended to the log") C("omtp_msglog_appended_bytes_total",
                                                               "bytes appended to the log")
                                C("omtp_msglog_fsyncs_total",
                                  "fdatasyncs of the log") C("omtp_msglog_synced_records_total",
                                                             "records made durable by them")
                                    C("omtp_msglog_fsync_us_total", "microseconds spent in them") C(
                                        "omtp_msglog_append_failures_total",
                                        "appends refused (disk full, I/O, failed sync)")
                                        G("omtp_msglog_unsynced_bytes", "appended, not yet durable")
                                            G("omtp_msglog_segments", "segment files on disk")
                                                G("omtp_msglog_disk_bytes",
                                                  "bytes of the segment files")
                                                    G("omtp_msglog_failed",
                                                      "1 once an fdatasync failed (restart omtpd)"),
        (unsigned long long)st.pending_records, (unsigned long long)st.pending_bytes,
        (unsigned long long)st.applies, (unsigned long long)st.applied_records,
        (unsigned long long)st.apply_failures, (unsigned long long)st.applied_lsn,
        (unsigned long long)st.seq_counters, (unsigned long long)st.seq_bytes,
        (unsigned long long)st.dedup_entries, (unsigned long long)st.dedup_bytes,
        (unsigned long long)st.refused_busy, (unsigned long long)ls.appended_records,
        (unsigned long long)ls.appended_bytes, (unsigned long long)ls.fsyncs,
        (unsigned long long)ls.synced_records, (unsigned long long)ls.sync_us_sum,
        (unsigned long long)ls.append_fail, (unsigned long long)ls.unsynced_bytes,
        (unsigned long long)ls.segments, (unsigned long long)ls.disk_bytes,
        (unsigned long long)ls.failed);
    return out;
}
