/*
 * domain/msgpath.c - the message log under the send path: appends, acks
 * after the log's sync, the apply behind (batches, the read barrier,
 * retire), start-up replay and /metrics (msgpath.h).
 */
#include "domain/msgpath.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "domain/logrec.h"
#include "domain/sendorder.h"
#include "store/msglog.h"
#include "domain/msglog_metrics.h"

#define APPLIED_KEY "msglog.applied"

/* A failed apply is tried again by itself, the server may be idle: after
 * RETRY_FIRST_MS, doubling up to RETRY_MAX_MS, back to the first after a
 * success (docs/storage.md "Delivery path", disk full). */
#define RETRY_FIRST_MS 100u
#define RETRY_MAX_MS   5000u
/* While the apply fails on a full disk, sends are refused unless the data
 * directory's file system has at least this much room (the store's own
 * sense of full, sq_full.c) */
#define ROOM_MIN_BYTES (256u * 1024u)

typedef struct apply_rec {
    struct apply_rec *next;
    uint64_t from; /* the log from here (or the previous record's end) to lsn_end */
    uint64_t lsn_end;
    uint64_t t_ns; /* appended at (uv_hrtime): the backlog's age */
    size_t n;
    uint8_t type; /* OMTP_LOGREC_* */
    uint8_t p[];
} apply_rec;

typedef struct apply_job {
    msgpath *p;
    struct apply_job *prev, *next; /* in flight, in submission order */
    uint64_t t0_ns;                /* the store thread began it (its cost) */
    apply_rec *head;               /* the batch, in log order */
    size_t count, bytes;
    uint64_t lsn_end; /* of the last record */
    uint64_t applied; /* records that were new in the tables */
    bool behind;      /* refused because an earlier batch failed (OMTP_EBUSY) */
} apply_job;

struct msgpath {
    omtp_server *srv;
    omtp_msglog *log;
    char dir[600];
    seqgen *seq;
    dedupwin *dedup;
    oplocks *locks;   /* control, read, reaction: one at a time per key */
    msgcache *recent; /* recent messages for control's checks */
    /* pending: appended, not yet in an apply item */
    apply_rec *ph, *pt;
    size_t pn, pbytes;
    size_t unapplied_bytes; /* pending + in apply items not yet done */
    size_t unapplied_records;
    unsigned inflight; /* apply items not yet done */
    uv_timer_t timer;
    bool timer_armed, timer_open;
    /* the retry of a failed apply (RETRY_FIRST_MS..RETRY_MAX_MS) */
    uv_timer_t retry;
    bool retry_armed, retry_open;
    uint32_t retry_ms;    /* the next retry's delay; 0 = RETRY_FIRST_MS */
    bool apply_full;      /* the last apply failed on a full disk: sends refused */
    uint64_t fail_log_ms; /* the last apply-failure ERROR line (uv_hrtime ms) */
    bool stopped;
    uint64_t applied_lsn; /* durable in the store */
    uint64_t queued_end;  /* lsn_end of the last record queued for the apply */
    /* acks waiting for the log's sync, in append order */
    msgpath_waiter *wh, *wt;
    /* the apply backlog's bounds (docs/storage.md "Apply backlog") */
    apply_job *jh, *jt;         /* apply items in flight, oldest first */
    _Atomic uint64_t run_t0_ns; /* store thread: the running item began, 0 = none */
    _Atomic uint32_t run_done;  /* records the running item applied so far */
    double ns_per_rec;          /* an apply item's wall time per record (moving average) */
    double ns_per_byte;         /* the same per byte (a burst of large texts is seen early) */
    msgpath_room *rh, *rt;      /* sends waiting for room, in arrival order */
    size_t nwaiting;
    uint64_t refuse_logged_ms;
    uv_timer_t room_timer; /* the first waiter's deadline */
    int open_handles;      /* timers to close before the free */
    sendorder *order;
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

oplocks *omtp_msgpath_locks(msgpath *p)
{
    return p->locks;
}

msgcache *omtp_msgpath_recent(msgpath *p)
{
    return p->recent;
}

sendorder *omtp_msgpath_order(msgpath *p)
{
    return p->order;
}

static void room_release(msgpath *p);

/* --------------------------------------------------------------- apply */

static int apply_records(omtp_db *db, apply_job *j);

/* The store thread: the records, with their progress for the loop's
 * estimate of the time behind (run_t0_ns, run_done). */
static int apply_work(omtp_db *db, void *arg)
{
    apply_job *j = arg;
    msgpath *p = j->p;
    j->t0_ns = uv_hrtime();
    atomic_store(&p->run_done, 0);
    atomic_store(&p->run_t0_ns, j->t0_ns);
    int rc = apply_records(db, j);
    atomic_store(&p->run_t0_ns, 0);
    return rc;
}

static int apply_records(omtp_db *db, apply_job *j)
{
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
    if (at < j->head->from) {
        j->behind = true;
        return OMTP_EBUSY;
    }
    for (apply_rec *r = j->head; r; r = r->next) {
        int rc;
        if (r->type == OMTP_LOGREC_MSG) {
            omtp_msg_rec m;
            rc = omtp_logrec_decode(r->p, r->n, &m, why, sizeof why);
            if (rc == 0 && (rc = omtp_msg_apply_record(db, &m)) == 0)
                j->applied++;
            omtp_msg_rec_free(&m);
        } else {
            omtp_logop o;
            rc = omtp_logop_decode(r->type, r->p, r->n, &o, why, sizeof why);
            if (rc == 0 && (rc = omtp_msg_apply_op(db, r->type, &o)) == 0)
                j->applied++;
            omtp_logop_free(&o);
        }
        atomic_fetch_add(&j->p->run_done, 1);
        if (rc == OMTP_EDECODE) {
            /* we wrote it: only memory trouble can get here */
            LOG_ERROR("message log record at %" PRIu64 " not applied: %s", r->lsn_end, why);
            rc = 0;
        }
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

static void retry_later(msgpath *p);

static void apply_done(void *arg, int status)
{
    apply_job *j = arg;
    msgpath *p = j->p;
    p->inflight--;
    if (j->prev)
        j->prev->next = j->next;
    else
        p->jh = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        p->jt = j->prev;
    if (status == 0 && j->t0_ns && j->count) {
        /* from its start on the store thread to its durable commit */
        double took = (double)(uv_hrtime() - j->t0_ns);
        double per = took / (double)j->count, perb = took / (double)(j->bytes ? j->bytes : 1);
        p->ns_per_rec = p->ns_per_rec > 0 ? 0.7 * p->ns_per_rec + 0.3 * per : per;
        p->ns_per_byte = p->ns_per_byte > 0 ? 0.7 * p->ns_per_byte + 0.3 * perb : perb;
    }
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
        p->retry_ms = 0;
        p->apply_full = false;
    } else {
        /* the records stay in the log; try again with the next batch, in
         * order (they go back in front of the pending ones) */
        p->st.apply_failures++;
        /* disk full: the store logs it (once a minute) and sends are
         * refused until the disk has room (omtp_msgpath_append) */
        /* (a batch refused behind a failed one says nothing new) */
        if (!j->behind)
            p->apply_full = status == OMTP_ENOSPC;
        uint64_t now = uv_hrtime() / 1000000u;
        if (!j->behind && !p->apply_full && (!p->fail_log_ms || now - p->fail_log_ms >= 10000)) {
            p->fail_log_ms = now ? now : 1;
            LOG_ERROR("applying %zu message log records to the store failed (%s); retrying (they "
                      "are safe in the message log)",
                      j->count, omtp_strerror(status));
        }
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
        retry_later(p);
    }
    free(j);
    if (p->rh)
        room_release(p);
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
    /* an item of at most a quarter of apply_lag_max_ms (by the measured
     * cost), so that an expensive backlog is applied, and makes room for
     * waiting sends, a few records at a time */
    double budget = (double)p->srv->cfg->apply_lag_max_ms * 1e6 / 4, est = 0;
    apply_rec *r = p->ph, *last = NULL;
    while (r && j->count < max && (!budget || !j->count || est < budget)) {
        double c = p->ns_per_byte * (double)(r->n + sizeof *r);
        est += c > p->ns_per_rec ? c : p->ns_per_rec;
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
    /* in a transaction of its own: its failure (a full disk) fails no read
     * or other write queued behind it by the barrier */
    int rc = omtp_store_submit_isolated(p->srv->store, apply_work, apply_done, j);
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
    j->prev = p->jt;
    j->next = NULL;
    if (p->jt)
        p->jt->next = j;
    else
        p->jh = j;
    p->jt = j;
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

static void on_retry(uv_timer_t *t)
{
    msgpath *p = t->data;
    p->retry_armed = false;
    if (!p->stopped)
        flush_all(p);
}

/* A failed apply's records went back to pending: try them again later even
 * if nothing else comes (no send arms the apply timer, no read runs the
 * barrier). Not during the start-up replay (it stops at a failure). */
static void retry_later(msgpath *p)
{
    if (p->retry_armed || p->stopped || !p->retry_open || !p->log)
        return;
    uint32_t ms = p->retry_ms ? p->retry_ms : RETRY_FIRST_MS;
    uv_timer_start(&p->retry, on_retry, ms, 0);
    p->retry_armed = true;
    p->retry_ms = ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : ms * 2;
}

/* While the apply fails on a full disk: true once the data directory's
 * file system has room again (then the apply is tried at once). */
static bool room_again(msgpath *p)
{
    struct statvfs v;
    if (statvfs(p->srv->cfg->data_dir, &v) != 0)
        return true; /* cannot tell: let the append and the apply find out */
    uint64_t blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
    if (blocks * (uint64_t)v.f_frsize < ROOM_MIN_BYTES)
        return false;
    p->apply_full = false;
    p->retry_ms = 0;
    if (p->retry_armed) {
        uv_timer_stop(&p->retry);
        p->retry_armed = false;
    }
    flush_all(p);
    return true;
}

/* The log's append hit a full disk (store/msglog.h opts.on_full): the
 * store's disk-full line and counter, shared with its own failures. */
static void on_log_full(void *arg, int err)
{
    msgpath *p = arg;
    char what[700];
    snprintf(what, sizeof what, "a message log append to %s", p->dir);
    omtp_store_note_disk_full(p->srv->store, what, strerror(err));
}

static int pending_add(msgpath *p, uint8_t type, const void *rec, size_t n, uint64_t lsn_end)
{
    apply_rec *r = malloc(sizeof *r + n);
    if (!r)
        return OMTP_ENOMEM;
    r->next = NULL;
    r->from = p->queued_end;
    p->queued_end = lsn_end;
    r->lsn_end = lsn_end;
    r->t_ns = uv_hrtime();
    r->n = n;
    r->type = type;
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

/* ------------------------------------------------ the backlog's bounds */

/* Age of the oldest record not yet applied, in ms (0: none). */
static uint64_t lag_ms(const msgpath *p, uint64_t now_ns)
{
    uint64_t oldest = 0;
    for (const apply_job *j = p->jh; j; j = j->next)
        if (!oldest || j->head->t_ns < oldest)
            oldest = j->head->t_ns;
    if (p->ph && (!oldest || p->ph->t_ns < oldest))
        oldest = p->ph->t_ns;
    return oldest && now_ns > oldest ? (now_ns - oldest) / 1000000 : 0;
}

/* The apply's cost per record: the moving average of finished items, or
 * what the running item shows so far when that is more (a slow record is
 * seen while it runs, not only after). */
static double cost_ns(msgpath *p, uint64_t now_ns)
{
    double c = p->ns_per_rec;
    uint64_t t0 = atomic_load(&p->run_t0_ns);
    if (t0 && now_ns > t0) {
        double live = (double)(now_ns - t0) / (double)(atomic_load(&p->run_done) + 1);
        if (live > c)
            c = live;
    }
    return c;
}

/* Estimated time to apply the whole backlog (what a read behind the
 * barrier would wait), in ms: by records and by bytes, the larger. Before
 * any apply was measured a record is assumed to cost half apply_lag_max_ms
 * (a cold start takes two records until the first apply is measured). */
static uint64_t behind_ms(msgpath *p, uint64_t now_ns)
{
    double c = cost_ns(p, now_ns);
    if (p->ns_per_rec <= 0) {
        double prior = (double)p->srv->cfg->apply_lag_max_ms * 1e6 / 2;
        if (prior > c)
            c = prior;
    }
    double by_rec = (double)p->unapplied_records * c;
    double by_byte = (double)p->unapplied_bytes * p->ns_per_byte;
    return (uint64_t)((by_rec > by_byte ? by_rec : by_byte) / 1e6);
}

/* The setting the backlog is above, or NULL when a send may go on. */
static const char *over_bound(msgpath *p)
{
    const omtp_config *cfg = p->srv->cfg;
    if (!p->unapplied_records)
        return NULL; /* an empty backlog always takes one */
    if (p->apply_full)
        return NULL; /* the apply fails on a full disk: no wait can end that; the append
                        answers DB_ERROR at once, as the store path does ("Disk full") */
    if (cfg->apply_pending_records_max && p->unapplied_records >= cfg->apply_pending_records_max)
        return "apply_pending_records_max";
    if (cfg->apply_pending_max && p->unapplied_bytes >= cfg->apply_pending_max)
        return "apply_pending_max";
    if (cfg->apply_lag_max_ms) {
        uint64_t now = uv_hrtime();
        if (behind_ms(p, now) >= cfg->apply_lag_max_ms)
            return "apply_lag_max_ms";
    }
    return NULL;
}

static void room_timer_cb(uv_timer_t *t);

static void room_arm(msgpath *p)
{
    if (!p->rh) {
        uv_timer_stop(&p->room_timer);
        return;
    }
    uint64_t now = uv_now(p->srv->loop);
    uint64_t due = p->rh->deadline_ms > now ? p->rh->deadline_ms - now : 0;
    uv_timer_start(&p->room_timer, room_timer_cb, due ? due : 1, 0);
}

static msgpath_room *room_pop(msgpath *p)
{
    msgpath_room *r = p->rh;
    p->rh = r->next;
    if (!p->rh)
        p->rt = NULL;
    r->next = NULL;
    p->nwaiting--;
    p->st.send_wait_ms += uv_now(p->srv->loop) - r->since_ms;
    return r;
}

/* Lets the waiting sends go, in order, while the backlog is within its
 * bounds; refuses those whose wait is over. */
static void room_release(msgpath *p)
{
    uint64_t now = uv_now(p->srv->loop);
    while (p->rh) {
        const char *why = over_bound(p);
        if (!why) {
            msgpath_room *r = room_pop(p);
            r->ready(r, 0, NULL); /* usually appends at once: the bound is asked again */
            continue;
        }
        if (p->rh->deadline_ms > now)
            break;
        msgpath_room *r = room_pop(p);
        p->st.refused_busy++;
        if (now - p->refuse_logged_ms >= 10000 || !p->refuse_logged_ms) {
            p->refuse_logged_ms = now;
            uint64_t t = uv_hrtime();
            LOG_WARN("a send waited %u ms for the store to catch up with the message log and is "
                     "refused (SERVICE_UNAVAILABLE; %s: %zu records, %zu bytes unapplied, oldest "
                     "%" PRIu64 " ms, ~%" PRIu64 " ms to apply at %" PRIu64 " us/record; %" PRIu64
                     " refused so far)",
                     p->srv->cfg->apply_wait_ms, why, p->unapplied_records, p->unapplied_bytes,
                     lag_ms(p, t), behind_ms(p, t), (uint64_t)(cost_ns(p, t) / 1000),
                     p->st.refused_busy);
        }
        r->ready(r, OMTP_EBUSY, why);
    }
    room_arm(p);
}

static void room_timer_cb(uv_timer_t *t)
{
    room_release(t->data);
}

int omtp_msgpath_room(msgpath *p, msgpath_room *r, const char **why)
{
    *why = NULL;
    if (!p->rh && !(*why = over_bound(p)))
        return 1;
    if (!*why)
        *why = "apply_lag_max_ms"; /* others wait already: in line behind them */
    flush_all(p);                  /* the backlog goes to the store now, not after apply_delay_ms */
    uint32_t wait = p->srv->cfg->apply_wait_ms;
    if (!wait || p->stopped) {
        p->st.refused_busy++;
        return OMTP_EBUSY;
    }
    uint64_t now = uv_now(p->srv->loop);
    r->next = NULL;
    r->since_ms = now;
    r->deadline_ms = now + wait;
    if (p->rt)
        p->rt->next = r;
    else
        p->rh = r;
    p->rt = r;
    p->nwaiting++;
    p->st.send_waits++;
    if (p->rh == r)
        room_arm(p);
    return 0;
}

/* -------------------------------------------------------------- appends */

static int append_rec(msgpath *p, uint8_t type, const tars_buf *b, const char *what,
                      uint64_t *lsn_end);

int omtp_msgpath_append(msgpath *p, const omtp_msg_rec *m, uint64_t *lsn_end)
{
    tars_buf b;
    tars_buf_init(&b);
    char what[OMTP_SESSION_ID_MAX + 64];
    snprintf(what, sizeof what, "message %s/%lld", m->msg.sessionId.data, (long long)m->msg.seqId);
    int rc = omtp_logrec_encode(m, &b);
    if (rc == 0)
        rc = append_rec(p, OMTP_LOGREC_MSG, &b, what, lsn_end);
    tars_buf_free(&b);
    return rc;
}

int omtp_msgpath_append_op(msgpath *p, uint8_t type, const omtp_logop *o, uint64_t *lsn_end)
{
    tars_buf b;
    tars_buf_init(&b);
    char what[OMTP_SESSION_ID_MAX + 64];
    snprintf(what, sizeof what, "%s record %s/%lld",
             type == OMTP_LOGREC_CTRL   ? "message control"
             : type == OMTP_LOGREC_READ ? "read cursor"
                                        : "reaction",
             o->sessionId.data, (long long)o->seqId);
    int rc = omtp_logop_encode(o, &b);
    if (rc == 0)
        rc = append_rec(p, type, &b, what, lsn_end);
    tars_buf_free(&b);
    return rc;
}

static int append_rec(msgpath *p, uint8_t type, const tars_buf *b, const char *what,
                      uint64_t *lsn_end)
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
    if (p->apply_full && !room_again(p)) {
        /* the store cannot take what the log holds: refuse as the store
         * path does on a full disk, instead of acking messages no read
         * sees until space is freed */
        omtp_store_note_disk_full(p->srv->store,
                                  "a message log record (the store cannot apply the log)",
                                  "less than 256 KiB free in the data directory");
        return OMTP_ENOSPC;
    }
    int rc = omtp_msglog_append(p->log, type, b->data, b->len, lsn_end);
    if (rc == 0 && pending_add(p, type, b->data, b->len, *lsn_end) != 0) {
        /* in the log but not in memory: the next start applies it; this run
         * must not store it twice, so stop taking messages */
        LOG_ERROR("out of memory queueing %s for the store; it is in the message log and will "
                  "be stored at the next start; restart omtpd",
                  what);
        /* a later record's apply would store an applied position past this
         * one (and retire the log under it): nothing may follow it */
        p->lost = true;
    }
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

bool omtp_msgpath_wait(msgpath *p, msgpath_waiter *w)
{
    if (p->sync_status) {
        w->synced(w, p->sync_status);
        return false;
    }
    if (w->lsn <= omtp_msglog_synced(p->log) && !p->wh) {
        w->synced(w, 0);
        return false;
    }
    w->next = NULL;
    if (p->wt)
        p->wt->next = w;
    else
        p->wh = w;
    p->wt = w;
    return true;
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
    char why[192];
    int rc;
    if (type == OMTP_LOGREC_MSG) {
        /* checked now: a record the apply cannot read stops the replay here */
        omtp_msg_rec m;
        rc = omtp_logrec_decode(rec, n, &m, why, sizeof why);
        omtp_msg_rec_free(&m);
    } else if (type == OMTP_LOGREC_CTRL || type == OMTP_LOGREC_READ || type == OMTP_LOGREC_REACT) {
        omtp_logop o;
        rc = omtp_logop_decode(type, rec, n, &o, why, sizeof why);
        omtp_logop_free(&o);
    } else {
        LOG_WARN("message log: record type %u at %" PRIu64 " is unknown; skipped", type, lsn);
        return 0;
    }
    if (rc != 0) {
        LOG_ERROR("message log: record of type %u at %" PRIu64 " is corrupt (%s)", type, lsn, why);
        return rc;
    }
    rc = pending_add(p, type, rec, n, lsn + OMTP_MSGLOG_HDR + n);
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
    p->locks = oplocks_new();
    p->recent = msgcache_new(cfg->msg_cache_max);
    p->order = sendorder_new();
    if (!p->seq || !p->dedup || !p->locks || !p->recent || !p->order ||
        uv_timer_init(s->loop, &p->timer) != 0) {
        seqgen_free(p->seq);
        dedupwin_free(p->dedup);
        oplocks_free(p->locks);
        msgcache_free(p->recent);
        sendorder_free(p->order);
        free(p);
        return OMTP_ENOMEM;
    }
    uv_timer_init(s->loop, &p->room_timer); /* cannot fail once the first did */
    p->timer.data = p;
    p->room_timer.data = p;
    p->timer_open = true;
    uv_timer_init(s->loop, &p->retry); /* cannot fail once the first one did not */
    p->retry.data = p;
    p->retry_open = true;
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
            rc = p->apply_full ? OMTP_ENOSPC : OMTP_EDB;
    }
    if (rc == OMTP_ENOSPC) {
        snprintf(why, whylen,
                 "disk full: cannot replay the message log in %s into the store (the log is kept, "
                 "nothing is lost): free space on the data directory's file system and start "
                 "omtpd again",
                 p->dir);
        return rc;
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
                          .start_lsn = p->applied_lsn,
                          .on_full = on_log_full};
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
    if (p->retry_armed) {
        uv_timer_stop(&p->retry);
        p->retry_armed = false;
    }
    /* sends waiting for room: refused, nothing of them was written */
    while (p->rh) {
        msgpath_room *r = room_pop(p);
        p->st.refused_busy++;
        r->ready(r, OMTP_EBUSY, "shutting down");
    }
    uv_timer_stop(&p->room_timer);
    flush_all(p); /* the store's close runs them */
}

/* p is freed when its timers are closed */
static void timer_closed(uv_handle_t *h)
{
    msgpath *p = h->data;
    if (--p->open_handles == 0)
        free(p);
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
    while (p->rh) { /* not stopped first (a failed start) */
        msgpath_room *r = room_pop(p);
        r->ready(r, OMTP_EBUSY, "shutting down");
    }
    recs_free(p->ph);
    seqgen_free(p->seq);
    dedupwin_free(p->dedup);
    oplocks_free(p->locks);
    msgcache_free(p->recent);
    sendorder_free(p->order);
    if (p->timer_open) {
        /* the three timers were initialised together (start) */
        p->timer.data = p->retry.data = p->room_timer.data = p;
        p->open_handles = 3;
        uv_close((uv_handle_t *)&p->timer, timer_closed);
        uv_close((uv_handle_t *)&p->room_timer, timer_closed);
        uv_close((uv_handle_t *)&p->retry, timer_closed);
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
    out->recent_msgs = msgcache_count(p->recent);
    out->recent_bytes = msgcache_bytes(p->recent);
    out->dedup_early_drops = dedupwin_early_drops(p->dedup);
    uint64_t now = uv_hrtime();
    out->lag_ms = lag_ms(p, now);
    out->behind_ms = behind_ms(p, now);
    out->us_per_record = (uint64_t)(cost_ns(p, now) / 1000);
    out->sends_waiting = p->nwaiting;
    out->order_keys = sendorder_count(p->order);
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
                "omtp_msglog_applied_records_total", "records applied to the store")
                C("omtp_msglog_apply_failures_total", "apply batches that failed") G(
                    "omtp_msglog_applied_lsn",
                    "log position the store holds") G("omtp_seq_counters",
                                                      "session seqId counters in memory")
                    G("omtp_seq_counters_bytes", "memory held by the seqId counters") G(
                        "omtp_dedup_window_entries", "(from, packId) entries in the dedup window")
                        G("omtp_dedup_window_bytes", "memory held by the dedup window") C(
                            "omtp_msglog_refused_busy_total",
                            "sends refused above the backlog's bounds")
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
    size_t used = strlen(out);
    snprintf(
        out + used, 8192 - used,
        G("omtp_msglog_apply_lag_ms", "age of the oldest record not yet applied")
            G("omtp_msglog_apply_behind_ms", "estimated ms to apply the backlog (a read waits)")
                G("omtp_msglog_apply_us_per_record", "apply cost per record (moving average)")
                    G("omtp_msglog_sends_waiting", "sends waiting for the apply backlog to shrink")
                        C("omtp_msglog_send_waits_total", "sends that waited for the apply backlog")
                            C("omtp_msglog_send_wait_ms_total", "ms those sends waited")
                                C("omtp_dedup_window_early_drops_total",
                                  "entries dropped by dedup_window_max early")
                                    G("omtp_send_order_keys",
                                      "(sender, session) pairs with sends in flight"),
        (unsigned long long)st.lag_ms, (unsigned long long)st.behind_ms,
        (unsigned long long)st.us_per_record, (unsigned long long)st.sends_waiting,
        (unsigned long long)st.send_waits, (unsigned long long)st.send_wait_ms,
        (unsigned long long)st.dedup_early_drops, (unsigned long long)st.order_keys);
    used = strlen(out);
    snprintf(out + used, 8192 - used,
             G("omtp_msg_cache_entries", "recent messages kept for message control's and "
                                         "reactions' checks")
                 G("omtp_msg_cache_bytes", "memory held by them"),
             (unsigned long long)st.recent_msgs, (unsigned long long)st.recent_bytes);
    return out;
}
