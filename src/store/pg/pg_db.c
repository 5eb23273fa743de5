/*
 * pg_db.c - the PostgreSQL connection: connect/reconnect, prepared
 * statements, transactions, query and column helpers.
 *
 * Everything here runs on the thread that owns the omtp_db (the store
 * thread in omtpd): libpq calls block, the event loop never makes them.
 * See pg.h for the failure model (fast OMTP_EDB, reconnect per batch).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"
#include "util/log.h"

static const char *const pg_sql[PG_NSTMTS] = {
#define PG_STMT_SQL(id, sql) sql,
    PG_STMTS(PG_STMT_SQL)
#undef PG_STMT_SQL
};

int64_t pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pg_now_us(pg_db *d)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (us <= d->last_us)
        us = d->last_us + 1;
    d->last_us = us;
    return us;
}

static void pg_seterr(pg_db *d, const char *what, const char *msg)
{
    size_t n;
    snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s: %s", what, msg ? msg : "?");
    n = strlen(d->base.errmsg);
    while (n > 0 && (d->base.errmsg[n - 1] == '\n' || d->base.errmsg[n - 1] == ' '))
        d->base.errmsg[--n] = 0;
}

static void pg_drop(pg_db *d)
{
    if (d->conn)
        PQfinish(d->conn);
    d->conn = NULL;
    d->in_tx = false;
    d->begin_pending = false;
    d->sp_depth = 0;
    d->release_pending = false;
}

/* Quiet libpq's NOTICE chatter (e.g. "relation already exists, skipping"). */
static void pg_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* One connection attempt, bounded by connect_timeout. Defaults come first so
 * the URI's own settings override them. */
static int pg_connect(pg_db *d)
{
    static const char *const keys[] = {"connect_timeout",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "application_name",
                                       "dbname",
                                       NULL};
    const char *vals[] = {"2", "5", "2", "3", "10000", "omtpd", d->uri, NULL};
    pg_drop(d);
    d->last_try_ms = pg_now_ms();
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        pg_seterr(d, "connect", "out of memory");
        return OMTP_EDB;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        pg_seterr(d, "connect", PQerrorMessage(c));
        PQfinish(c);
        return OMTP_EDB;
    }
    PQsetNoticeProcessor(c, pg_notice, NULL);
    d->conn = c;
    return 0;
}

static int pg_exec_one(pg_db *d, const char *sql)
{
    if (!d->conn) {
        d->sqlstate[0] = 0;
        pg_seterr(d, sql, "not connected");
        return OMTP_EDB;
    }
    d->base.round_trips++;
    PGresult *r = PQexec(d->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
        pg_seterr(d, sql, PQerrorMessage(d->conn));
        PQclear(r);
        if (PQstatus(d->conn) != CONNECTION_OK)
            pg_drop(d);
        return OMTP_EDB;
    }
    PQclear(r);
    return 0;
}

static int pg_ensure(pg_db *d);

int pg_tx_reopen(pg_db *d)
{
    d->last_try_ms = 0; /* one fresh attempt now */
    if (pg_ensure(d) != 0)
        return OMTP_EDB;
    d->in_tx = true;
    d->begin_pending = true;
    d->sp_depth = 0;
    d->tx_items = 0;
    d->release_pending = false;
    return 0;
}

/* sql, with the pending BEGIN in front of it (one simple query). A lost
 * connection found by it is retried once on a new one: the transaction had
 * done nothing yet. */
static int pg_exec_simple(pg_db *d, const char *sql)
{
    if (!d->begin_pending)
        return pg_exec_one(d, sql);
    d->begin_pending = false;
    size_t n = strlen(sql);
    char *both = malloc(n + 8);
    if (!both) {
        pg_seterr(d, sql, "out of memory");
        return OMTP_EDB;
    }
    memcpy(both, "BEGIN; ", 7);
    memcpy(both + 7, sql, n + 1);
    int rc = pg_exec_one(d, both);
    if (rc != 0 && !d->conn && pg_tx_reopen(d) == 0) {
        d->begin_pending = false;
        rc = pg_exec_one(d, both);
    }
    free(both);
    if (rc != 0 && d->conn && PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
        /* BEGIN itself failed: never run the transaction's work outside one */
        pg_drop(d);
    }
    return rc;
}

int pg_tx_flush(pg_db *d)
{
    if (!d->begin_pending)
        return 0;
    return pg_exec_simple(d, "SELECT 1"); /* "BEGIN; SELECT 1" */
}

static int pg_prepare_all(pg_db *d)
{
    char name[16];
    for (int i = 0; i < PG_NSTMTS; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        PGresult *r = PQprepare(d->conn, name, pg_sql[i], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char what[32];
            snprintf(what, sizeof(what), "prepare s%d", i);
            pg_seterr(d, what, PQerrorMessage(d->conn));
            PQclear(r);
            pg_drop(d);
            return OMTP_EDB;
        }
        PQclear(r);
    }
    return 0;
}

/* Makes sure there is a usable connection, reconnecting at most once per
 * PG_RETRY_MS. Only called between transactions. */
static int pg_ensure(pg_db *d)
{
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    if (d->conn == NULL && pg_now_ms() - d->last_try_ms < PG_RETRY_MS)
        return OMTP_EDB; /* errmsg still says why the last attempt failed */
    if (pg_connect(d) != 0)
        return OMTP_EDB;
    int rc = pg_prepare_all(d);
    /* a session-level lock went with the old connection */
    if (rc == 0 && d->lock_mode && pg_take_server_lock(d) != 0)
        LOG_WARN("store: could not take the server lock again after reconnecting: %s",
                 d->base.errmsg);
    return rc;
}

/* ------------------------------------------------------------ params */

void pa_strn(pg_args *a, const char *s, size_t len)
{
    int i = a->n++;
    a->v[i] = s;
    a->len[i] = s ? (int)len : 0;
    a->fmt[i] = 1;
}

void pa_str(pg_args *a, const char *s)
{
    pa_strn(a, s, s ? strlen(s) : 0);
}

void pa_tstr(pg_args *a, const tars_str *s)
{
    pa_strn(a, s->data ? s->data : "", s->data ? s->len : 0);
}

void pa_i64(pg_args *a, int64_t v)
{
    int i = a->n++;
    snprintf(a->ib[i], sizeof(a->ib[i]), "%lld", (long long)v);
    a->v[i] = a->ib[i];
    a->len[i] = 0;
    a->fmt[i] = 0;
}

/* ------------------------------------------------------------ queries */

PGresult *pg_q(pg_db *d, int id, const pg_args *a)
{
    char name[16];
    if (!d->conn) {
        d->sqlstate[0] = 0;
        pg_seterr(d, "query", "not connected to PostgreSQL");
        return NULL;
    }
    if (d->begin_pending && pg_tx_flush(d) != 0)
        return NULL;
    if (!d->conn) {
        d->sqlstate[0] = 0;
        pg_seterr(d, "query", "not connected to PostgreSQL");
        return NULL;
    }
    snprintf(name, sizeof(name), "s%d", id);
    d->base.round_trips++;
    PGresult *r = PQexecPrepared(d->conn, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                                 a ? a->fmt : NULL, 1);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
    pg_seterr(d, pg_sql[id], PQerrorMessage(d->conn));
    PQclear(r);
    if (PQstatus(d->conn) != CONNECTION_OK)
        pg_drop(d);
    return NULL;
}

int pg_run(pg_db *d, int id, const pg_args *a, int *rows)
{
    PGresult *r = pg_q(d, id, a);
    if (!r)
        return OMTP_EDB;
    if (rows) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            *rows = PQntuples(r);
        else
            *rows = atoi(PQcmdTuples(r));
    }
    PQclear(r);
    return 0;
}

int pg_one_i64(pg_db *d, int id, const pg_args *a, int64_t *v)
{
    PGresult *r = pg_q(d, id, a);
    if (!r)
        return OMTP_EDB;
    int rc = OMTP_ENOTFOUND;
    if (PQntuples(r) > 0) {
        *v = pg_i64(r, 0, 0);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    int n = PQgetlength(r, row, col);
    uint64_t v = 0;
    switch (n) {
    case 1: /* bool */
        return p[0];
    case 2:
        return (int16_t)(uint16_t)((p[0] << 8) | p[1]);
    case 4:
        return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                         (uint32_t)p[3]);
    case 8:
        for (int i = 0; i < 8; i++)
            v = (v << 8) | p[i];
        return (int64_t)v;
    default:
        return 0;
    }
}

int pg_str(const PGresult *r, int row, int col, tars_str *out)
{
    if (PQgetisnull(r, row, col))
        return tars_str_set(out, "") == TARS_OK ? 0 : OMTP_ENOMEM;
    return tars_str_setn(out, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col)) == TARS_OK
               ? 0
               : OMTP_ENOMEM;
}

void *pg_list_grow(void *list, size_t es)
{
    tars_list *l = list;
    if (l->n == UINT32_MAX)
        return NULL;
    /* grow by doubling (as sq_list_grow): capacity is the next power of two
     * >= n+1, so a 100,000-member list is not copied 100,000 times */
    uint32_t n = l->n;
    if (n == 0 || (n & (n - 1)) == 0) {
        size_t cap = n ? (size_t)n * 2 : 4;
        void *p = realloc(l->items, cap * es);
        if (!p)
            return NULL;
        l->items = p;
    }
    void *e = (char *)l->items + (size_t)l->n * es;
    memset(e, 0, es);
    l->n++;
    return e;
}

int pg_str_append(const PGresult *r, int row, int col, tars_str_list *l)
{
    tars_str *s = pg_list_grow(l, sizeof(tars_str));
    if (!s)
        return OMTP_ENOMEM;
    tars_str_clear(s);
    return pg_str(r, row, col, s);
}

int pg_row_msg(const PGresult *r, int row, int c, omtp_msg_rec *m)
{
    omtp_msg_rec_free(m);
    m->type = (int32_t)pg_i64(r, row, c + 0);
    m->flags = pg_i64(r, row, c + 1);
    m->msg.seqId = pg_i64(r, row, c + 4);
    m->msg.timestamp = pg_i64(r, row, c + 5);
    m->msg.contentType = (int32_t)pg_i64(r, row, c + 9);
    m->msg.status = (int32_t)pg_i64(r, row, c + 11);
    m->msg.replyTo = pg_i64(r, row, c + 12);
    if (pg_str(r, row, c + 2, &m->packId) || pg_str(r, row, c + 3, &m->msg.sessionId) ||
        pg_str(r, row, c + 6, &m->msg.from) || pg_str(r, row, c + 7, &m->msg.to) ||
        pg_str(r, row, c + 8, &m->msg.pushInfo) || pg_str(r, row, c + 10, &m->msg.content) ||
        omtp_mentions_split(PQgetvalue(r, row, c + 13), (size_t)PQgetlength(r, row, c + 13),
                            &m->msg.mentions))
        return OMTP_ENOMEM;
    return 0;
}

/* ------------------------------------------------------- transactions */

int pg_begin(omtp_db *db)
{
    pg_db *d = PGD(db);
    if (d->in_tx) {
        pg_seterr(d, "BEGIN", "already in a transaction");
        return OMTP_EDB;
    }
    if (pg_ensure(d) != 0)
        return OMTP_EDB;
    /* BEGIN goes with the first request (pg_exec_simple, pg_q, the append
     * pipeline); a server gone away since the last batch is found there
     * and retried once on a new connection */
    d->in_tx = true;
    d->begin_pending = true;
    d->sp_depth = 0;
    d->tx_items = 0;
    d->release_pending = false;
    return 0;
}

int pg_commit(omtp_db *db)
{
    pg_db *d = PGD(db);
    if (!d->in_tx || !d->conn) {
        pg_seterr(d, "COMMIT", "no transaction (connection lost?)");
        d->in_tx = false;
        return OMTP_EDB;
    }
    d->in_tx = false;
    d->sp_depth = 0;
    d->release_pending = false; /* COMMIT releases every savepoint */
    if (d->begin_pending) {
        d->begin_pending = false; /* nothing was sent: nothing to commit */
        return 0;
    }
    d->base.round_trips++;
    PGresult *r = PQexec(d->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_seterr(d, "COMMIT", PQerrorMessage(d->conn));
        rc = OMTP_EDB;
    } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* COMMIT of an aborted transaction answers ROLLBACK, not an error */
        pg_seterr(d, "COMMIT", "transaction was aborted and rolled back");
        rc = OMTP_EDB;
    }
    PQclear(r);
    if (rc != 0 && PQstatus(d->conn) != CONNECTION_OK)
        pg_drop(d);
    return rc;
}

int pg_rollback(omtp_db *db)
{
    pg_db *d = PGD(db);
    bool was = d->in_tx;
    d->in_tx = false;
    d->sp_depth = 0;
    d->release_pending = false;
    if (was && d->begin_pending) {
        d->begin_pending = false; /* nothing was sent */
        return 0;
    }
    if (!d->conn)
        return was ? 0 : OMTP_EDB; /* nothing survives a lost connection */
    return pg_exec_simple(d, "ROLLBACK");
}

/* The executor releases every item's savepoint and opens the next item's
 * right after (store_thread.c run_batch): the RELEASE is only noted here and
 * sent with whatever comes next on this transaction -- the next SAVEPOINT or
 * ROLLBACK TO, in the same round trip -- or dropped by COMMIT / ROLLBACK,
 * which end every savepoint anyway. A RELEASE only fails on a lost
 * connection or an aborted transaction, which the statement it travels with
 * (or COMMIT) reports all the same, so nothing committed is reported lost
 * and nothing lost is reported committed. */
int pg_savepoint(omtp_db *db)
{
    pg_db *d = PGD(db);
    int rc = pg_exec_simple(d, d->release_pending ? "RELEASE SAVEPOINT item; SAVEPOINT item"
                                                  : "SAVEPOINT item");
    d->release_pending = false;
    if (rc == 0) {
        d->sp_depth++;
        d->tx_items++;
    }
    return rc;
}

int pg_release(omtp_db *db)
{
    pg_db *d = PGD(db);
    if (!d->in_tx || !d->conn || d->sp_depth <= 0) {
        pg_seterr(d, "RELEASE SAVEPOINT", "no savepoint (connection lost?)");
        return OMTP_EDB;
    }
    d->release_pending = true;
    d->sp_depth--;
    return 0;
}

int pg_rollback_to(omtp_db *db)
{
    pg_db *d = PGD(db);
    /* ROLLBACK TO keeps the savepoint: release it too, as SQLite's executor
     * use expects the item's savepoint to be gone afterwards */
    int rc = pg_exec_simple(d, d->release_pending ? "RELEASE SAVEPOINT item; "
                                                    "ROLLBACK TO SAVEPOINT item; "
                                                    "RELEASE SAVEPOINT item"
                                                  : "ROLLBACK TO SAVEPOINT item; "
                                                    "RELEASE SAVEPOINT item");
    d->release_pending = false;
    if (rc == 0 && d->sp_depth > 0)
        d->sp_depth--;
    return rc;
}

int pg_op_begin(pg_db *d, bool *own)
{
    *own = false;
    if (d->in_tx)
        return 0;
    if (pg_begin(&d->base) != 0)
        return OMTP_EDB;
    *own = true;
    return 0;
}

int pg_op_end(pg_db *d, bool own, int rc)
{
    if (!own)
        return rc;
    if (rc == 0)
        return pg_commit(&d->base);
    pg_rollback(&d->base);
    return rc;
}

/* Ops called outside a transaction (admin commands) need a connection too. */
int pg_ready(pg_db *d)
{
    if (d->in_tx)
        return d->conn ? 0 : OMTP_EDB;
    return pg_ensure(d);
}

/* ------------------------------------------------------------ open */

void pg_close(omtp_db *db)
{
    pg_db *d = PGD(db);
    if (!d)
        return;
    pg_drop(d);
    free(d->uri);
    free(d);
}

int omtp_pg_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen)
{
    *out = NULL;
    pg_db *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    d->base.ops = &pg_ops;
    d->uri = strdup(cfg->uri);
    if (!d->uri) {
        snprintf(why, whylen, "out of memory");
        goto err;
    }
    if (pg_connect(d) != 0) {
        snprintf(why, whylen,
                 "cannot connect to PostgreSQL (%s); check the store URI, that the server runs "
                 "and accepts this user",
                 d->base.errmsg);
        goto err;
    }
    if (pg_migrate(d, why, whylen) != 0)
        goto err;
    if (pg_prepare_all(d) != 0) {
        snprintf(why, whylen, "PostgreSQL: %s", d->base.errmsg);
        goto err;
    }
    *out = &d->base;
    return 0;
err:
    pg_close(&d->base);
    return OMTP_EDB;
}

int pg_exec_sql(pg_db *d, const char *sql)
{
    return pg_exec_simple(d, sql);
}

/* omtp_db_ops.disk_full: the failed statement's SQLSTATE is 53100
 * (disk_full) or 53000 (insufficient_resources, e.g. a tablespace quota). */
static bool pg_disk_full(omtp_db *db)
{
    const pg_db *d = (const pg_db *)db;
    return strcmp(d->sqlstate, "53100") == 0 || strcmp(d->sqlstate, "53000") == 0;
}

#define PG_OP_PTR(name, params, args) .name = pg_##name,
const omtp_db_ops pg_ops = {.backend = "postgresql",
                            .close = pg_close,
                            .disk_full = pg_disk_full,
                            .msg_append_batch = pg_msg_append_batch,
                            OMTP_DB_OPS(PG_OP_PTR)};
#undef PG_OP_PTR
