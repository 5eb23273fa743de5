/*
 * monitor.c - session monitoring ("旁听"): PT_SESSION_MONITOR_START / STOP /
 * SYNC and the fan-out of a session's pushes to its monitors.
 *
 * Only connections whose user has the monitor role (c->monitor_role, granted
 * by an administrator) may monitor; anyone else gets CONN_ACCESS_DENIED.
 * Subscriptions are per connection and in memory: a reconnecting monitor
 * starts again (and can catch up with history, which monitoring opens to it).
 *
 * Cluster: the first local subscription of a (session, user) pair and the
 * removal of its last are announced to the other nodes
 * (omtp_cluster_monitor_changed); START answers once they all acked, so
 * pushes sent through any node after the answer reach the monitor. Pushes
 * of sessions that other nodes monitor are forwarded to them
 * (omtp_cluster_monitor_push), and forwarded pushes arrive through
 * omtp_monitor_push_users.
 *
 * Data: a hash table sessionId -> subscriptions (chained, fixed number of
 * buckets) that exists only while at least one subscription does, so the
 * common case -- nobody monitors anything -- costs one NULL check per push.
 * Each connection keeps the list of its session ids for STOP, SYNC and the
 * clean-up at close. A connection may hold at most MON_PER_CONN_MAX
 * subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_hooks.h"
#include "domain/reaction.h"
#include "handlers.h"
#include "monitor.h"
#include "sync.h"

#define MON_BUCKETS      1024
#define MON_PER_CONN_MAX 1000
#define MON_SID_MAX      (2 * OMTP_ID_MAX + 8)

typedef struct mon_sub {
    struct mon_sub *next; /* bucket chain */
    omtp_conn *conn;      /* not referenced: removed at close */
    char sid[];
} mon_sub;

typedef struct mon_table {
    mon_sub *buckets[MON_BUCKETS];
    size_t count;
} mon_table;

typedef struct conn_mon {
    char **sids;
    size_t n, cap;
} conn_mon;

static uint32_t sid_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % MON_BUCKETS;
}

bool omtp_monitor_watching(const omtp_conn *c, const char *sessionId)
{
    const conn_mon *cm = c->monitor_state;
    for (size_t i = 0; cm && i < cm->n; i++)
        if (strcmp(cm->sids[i], sessionId) == 0)
            return true;
    return false;
}

static bool in_recipients(const tars_str_list *r, const char *user)
{
    for (uint32_t i = 0; r && i < r->n; i++)
        if (strcmp(r->items[i].data, user) == 0)
            return true;
    return false;
}

void omtp_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w, const omtp_conn *except,
                       const tars_str_list *recipients)
{
    mon_table *t = s->monitor;
    for (mon_sub *m = t ? t->buckets[sid_hash(sessionId)] : NULL; m; m = m->next)
        if (m->conn != except && strcmp(m->sid, sessionId) == 0 && omtp_conn_is_open(m->conn) &&
            !in_recipients(recipients, m->conn->userId))
            if (omtp_conn_send_wire(m->conn, w) == 0)
                s->metrics.pushes++;
    omtp_server_cluster_monitor_push(s, sessionId, w, recipients);
}

void omtp_monitor_push_users(omtp_server *s, const char *sessionId, omtp_wire *w,
                             const char *const *users, uint32_t nusers)
{
    mon_table *t = s->monitor;
    for (mon_sub *m = t ? t->buckets[sid_hash(sessionId)] : NULL; m; m = m->next) {
        if (strcmp(m->sid, sessionId) != 0 || !omtp_conn_is_open(m->conn))
            continue;
        for (uint32_t i = 0; i < nusers; i++)
            if (strcmp(users[i], m->conn->userId) == 0) {
                if (omtp_conn_send_wire(m->conn, w) == 0)
                    s->metrics.pushes++;
                break;
            }
    }
}

void omtp_monitor_each(omtp_server *s, void (*fn)(void *arg, const char *sid, const char *user),
                       void *arg)
{
    mon_table *t = s->monitor;
    for (uint32_t h = 0; t && h < MON_BUCKETS; h++)
        for (mon_sub *m = t->buckets[h]; m; m = m->next)
            fn(arg, m->sid, m->conn->userId);
}

/* Whether a subscription other than `skip` has sid and user's connection. */
static bool pair_subscribed(const mon_table *t, const char *sid, const char *user,
                            const mon_sub *skip)
{
    for (const mon_sub *m = t ? t->buckets[sid_hash(sid)] : NULL; m; m = m->next)
        if (m != skip && strcmp(m->sid, sid) == 0 && strcmp(m->conn->userId, user) == 0)
            return true;
    return false;
}

static void table_remove(omtp_server *s, omtp_conn *c, const char *sid)
{
    mon_table *t = s->monitor;
    if (!t)
        return;
    for (mon_sub **pp = &t->buckets[sid_hash(sid)]; *pp; pp = &(*pp)->next) {
        mon_sub *m = *pp;
        if (m->conn == c && strcmp(m->sid, sid) == 0) {
            *pp = m->next;
            if (!pair_subscribed(t, sid, c->userId, m))
                omtp_cluster_monitor_changed(s->cluster, sid, c->userId, false, NULL, NULL);
            free(m);
            if (--t->count == 0) {
                free(t);
                s->monitor = NULL;
            }
            return;
        }
    }
}

/* Returns 1 when c is the first connection of its user monitoring sid here
 * (other nodes must learn it), 0 when it is not or already monitored it,
 * or OMTP_ENOMEM, or OMTP_ETOOBIG (too many subscriptions). */
static int monitor_add(omtp_conn *c, const char *sid)
{
    omtp_server *s = c->srv;
    conn_mon *cm = c->monitor_state;
    size_t len = strlen(sid);
    mon_sub *m;

    if (omtp_monitor_watching(c, sid))
        return 0;
    if (!cm) {
        cm = calloc(1, sizeof *cm);
        if (!cm)
            return OMTP_ENOMEM;
        c->monitor_state = cm;
    }
    if (cm->n >= MON_PER_CONN_MAX)
        return OMTP_ETOOBIG;
    if (cm->n == cm->cap) {
        size_t cap = cm->cap ? 2 * cm->cap : 4;
        char **n = realloc(cm->sids, cap * sizeof *n);
        if (!n)
            return OMTP_ENOMEM;
        cm->sids = n;
        cm->cap = cap;
    }
    if (!s->monitor) {
        s->monitor = calloc(1, sizeof(mon_table));
        if (!s->monitor)
            return OMTP_ENOMEM;
    }
    mon_table *t = s->monitor;
    m = malloc(sizeof *m + len + 1);
    char *copy = malloc(len + 1);
    if (!m || !copy) {
        free(m);
        free(copy);
        if (t->count == 0) {
            free(t);
            s->monitor = NULL;
        }
        return OMTP_ENOMEM;
    }
    memcpy(m->sid, sid, len + 1);
    memcpy(copy, sid, len + 1);
    m->conn = c;
    bool first = !pair_subscribed(t, sid, c->userId, NULL);
    uint32_t h = sid_hash(sid);
    m->next = t->buckets[h];
    t->buckets[h] = m;
    t->count++;
    cm->sids[cm->n++] = copy;
    return first ? 1 : 0;
}

static void monitor_remove(omtp_conn *c, const char *sid)
{
    conn_mon *cm = c->monitor_state;
    for (size_t i = 0; cm && i < cm->n; i++) {
        if (strcmp(cm->sids[i], sid) == 0) {
            table_remove(c->srv, c, sid);
            free(cm->sids[i]);
            cm->sids[i] = cm->sids[--cm->n];
            return;
        }
    }
}

/* Close observer (server.h): a closing connection's subscriptions end. */
static void monitor_conn_closed(void *arg, omtp_conn *c)
{
    (void)arg;
    conn_mon *cm = c->monitor_state;
    if (!cm)
        return;
    for (size_t i = 0; i < cm->n; i++) {
        table_remove(c->srv, c, cm->sids[i]);
        free(cm->sids[i]);
    }
    free(cm->sids);
    free(cm);
    c->monitor_state = NULL;
}

int omtp_monitor_init(omtp_server *s)
{
    return omtp_server_on_close(s, monitor_conn_closed, NULL);
}

/* The session id of a START/STOP request, or NULL after replying. */
static const char *monitor_request_sid(omtp_req *req)
{
    const omtp_SessionMonitor *in = req->body;
    if (!req->conn->monitor_role) {
        omtp_reply_code(req, OMTP_EC_CONN_ACCESS_DENIED,
                        "session monitoring needs the monitor role, which user '%s' lacks",
                        req->conn->userId);
        return NULL;
    }
    if (!in || in->sessionId.len == 0 || in->sessionId.len >= MON_SID_MAX) {
        omtp_reply_code(req, OMTP_EC_PARAM, "SessionMonitor.sessionId is empty or too long");
        return NULL;
    }
    return in->sessionId.data;
}

static void start_announced(void *arg)
{
    omtp_reply_code(arg, OMTP_EC_SUCCESS, "%s", "");
}

void handle_monitor_start(omtp_req *req)
{
    const char *sid = monitor_request_sid(req);
    if (!sid)
        return;
    int rc = monitor_add(req->conn, sid);
    if (rc == 1) /* answered once every other node knows (cluster.h) */
        omtp_cluster_monitor_changed(req->conn->srv->cluster, sid, req->conn->userId, true,
                                     start_announced, req);
    else if (rc == OMTP_ETOOBIG)
        omtp_reply_code(req, OMTP_EC_SERVER_REFUSED, "a connection may monitor at most %d sessions",
                        MON_PER_CONN_MAX);
    else if (rc != 0)
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
    else
        omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
}

void handle_monitor_stop(omtp_req *req)
{
    const char *sid = monitor_request_sid(req);
    if (!sid)
        return;
    monitor_remove(req->conn, sid); /* stopping what is not monitored is fine */
    omtp_reply_code(req, OMTP_EC_SUCCESS, "%s", "");
}

/* ------------------------------------------------------------------ sync */

typedef struct mon_sync_job {
    omtp_req *req;
    char user[OMTP_ID_MAX + 1];
    char **sids; /* snapshot of the subscriptions after the cursor, sorted */
    size_t n;
    size_t budget;
    bool paged; /* stopped by the budget */
    omtp_hot_rec_list out;
} mon_sync_job;

static int sid_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mon_sync_job_free(mon_sync_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->sids[i]);
    free(j->sids);
    omtp_hot_rec_list_free(&j->out);
    free(j);
}

/* Frees one record in place (the list's array stays). */
static void hot_rec_clear(omtp_hot_rec *h)
{
    tars_str_clear(&h->sessionId);
    tars_str_clear(&h->attribute);
    omtp_msg_rec_free(&h->last);
}

/* The hot-session view of one monitored session into *dst. */
static int mon_sync_one(omtp_db *db, const char *user, const char *sid, omtp_hot_rec *dst)
{
    omtp_hot_rec_list one = {0};
    int rc = omtp_db_hot_session_get(db, user, sid, &one);
    if (rc != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    if (one.n > 0) {
        *dst = one.items[0]; /* move */
        one.items[0] = one.items[--one.n];
        omtp_hot_rec_list_free(&one);
        return 0;
    }
    omtp_hot_rec_list_free(&one);
    /* the monitor is no member: show the session's state without a cursor */
    rc = omtp_sync_hot_rec_init(dst, sid);
    if (rc != 0) {
        hot_rec_clear(dst);
        return rc;
    }
    omtp_msg_rec_list hist = {0};
    rc = omtp_db_msg_history(db, sid, 0, 1, &hist);
    if (rc != 0 && rc != OMTP_ENOTFOUND) {
        hot_rec_clear(dst);
        return rc;
    }
    if (hist.n > 0) {
        omtp_msg_rec_free(&dst->last);
        dst->last = hist.items[0]; /* move */
        omtp_msg_rec_init(&hist.items[0]);
        dst->hasLast = true;
        dst->readSeqId = dst->last.msg.seqId;
    }
    omtp_msg_rec_list_free(&hist);
    return 0;
}

static int mon_sync_work(omtp_db *db, void *arg)
{
    mon_sync_job *j = arg;
    j->out.items = calloc(j->n ? j->n : 1, sizeof *j->out.items);
    if (!j->out.items)
        return OMTP_ENOMEM;
    size_t used = 0;
    for (size_t i = 0; i < j->n; i++) {
        omtp_hot_rec *dst = &j->out.items[j->out.n];
        int rc = mon_sync_one(db, j->user, j->sids[i], dst);
        if (rc != 0)
            return rc;
        /* extensions: the last message's reactions */
        if (dst->hasLast && (rc = omtp_reactions_attach(db, &dst->last, 1)) != 0) {
            hot_rec_clear(dst);
            return rc;
        }
        if (dst->hasLast)
            omtp_msg_rec_shrink(&dst->last, j->budget);
        size_t b = omtp_hot_rec_bound(dst);
        if (used + b > j->budget && j->out.n > 0) { /* the next page starts here */
            hot_rec_clear(dst);
            j->paged = true;
            break;
        }
        used += b;
        j->out.n++;
    }
    return 0;
}

static void mon_sync_done(void *arg, int status)
{
    mon_sync_job *j = arg;
    if (status != 0) {
        omtp_reply_code(j->req, OMTP_EC_DB_ERROR, "storage failed (%s); try again",
                        omtp_strerror(status));
    } else {
        omtp_HotSessionResp resp;
        omtp_msg_init(&omtp_HotSessionResp_desc, &resp);
        if (j->paged)
            j->req->conn->srv->metrics.replies_paged++;
        if (omtp_sync_hot_resp_build(&j->out, &resp) != 0) {
            omtp_reply_code(j->req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        } else {
            resp.timestamp = omtp_now_us();
            omtp_reply(j->req, &omtp_HotSessionResp_desc, &resp);
        }
        omtp_msg_free(&omtp_HotSessionResp_desc, &resp);
    }
    mon_sync_job_free(j);
}

void handle_monitor_sync(omtp_req *req)
{
    omtp_conn *c = req->conn;
    const conn_mon *cm = c->monitor_state;
    if (!c->monitor_role) {
        omtp_reply_code(req, OMTP_EC_CONN_ACCESS_DENIED,
                        "session monitoring needs the monitor role, which user '%s' lacks",
                        c->userId);
        return;
    }
    /* the cursor: continue after this session id (empty = from the first) */
    const omtp_SessionMonitor *in = req->body;
    const char *after = in && in->sessionId.len ? in->sessionId.data : "";
    mon_sync_job *j = calloc(1, sizeof *j);
    if (!j)
        goto oom;
    j->req = req;
    j->budget = omtp_reply_budget(c->srv->cfg);
    snprintf(j->user, sizeof j->user, "%s", c->userId);
    if (cm && cm->n) {
        j->sids = calloc(cm->n, sizeof *j->sids);
        if (!j->sids)
            goto oom;
        for (size_t i = 0; i < cm->n; i++) {
            if (strcmp(cm->sids[i], after) <= 0)
                continue;
            if (!(j->sids[j->n] = strdup(cm->sids[i])))
                goto oom;
            j->n++;
        }
        if (j->n > 1)
            qsort(j->sids, j->n, sizeof *j->sids, sid_cmp);
    }
    int rc = omtp_store_submit(c->srv->store, mon_sync_work, mon_sync_done, j);
    if (rc != 0) {
        mon_sync_job_free(j);
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
    }
    return;
oom:
    if (j)
        mon_sync_job_free(j);
    omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
}
