/*
 * pg_pipe.c - PostgreSQL: one prepared statement with plain SQL around it,
 * in ONE libpq pipeline (one round trip). Used by the batch append
 * (pg_batch.c) and the single append when it must not wait (pg_msgs.c).
 *
 * The pipeline is
 *
 *     [BEGIN]                  (the transaction's, when this is its first request: pg.h)
 *     [RELEASE SAVEPOINT item] (a previous item's, store_thread.c / pg_db.c)
 *     pre[0] .. pre[npre-1]    (plain SQL without parameters)
 *     the prepared statement   (its result is the answer)
 *     post[0] .. post[npost-1]
 *     Sync
 *
 * PostgreSQL skips everything after a failed query up to the Sync, so
 * `post` runs only when the statement succeeded: the callers put the
 * RELEASE of their savepoint there, and on failure roll back to it
 * themselves.
 *
 * Runs on the thread that owns the pg_db, like everything in this backend.
 */
#include <stdio.h>
#include <string.h>

#include "pg.h"

/* as pg_drop (pg_db.c): the next begin() reconnects */
static void pipe_drop(pg_db *d)
{
    PQfinish(d->conn);
    d->conn = NULL;
    d->in_tx = false;
    d->begin_pending = false;
    d->sp_depth = 0;
    d->release_pending = false;
}

static bool send_sql(PGconn *c, const char *sql)
{
    return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) != 0;
}

static PGresult *pipeline_once(pg_db *d, const char *const *pre, int npre, int id, const pg_args *a,
                               const char *const *post, int npost)
{
    char name[16];
    PGconn *c = d->conn;
    PGresult *out = NULL;
    bool failed = false;
    int sent = 0, at = -1; /* queries sent; index of the statement among them */
    d->sqlstate[0] = 0;
    d->constraint[0] = 0;
    if (!c) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "pipeline: not connected");
        return NULL;
    }
    bool had_begin = d->begin_pending;
    if (!PQenterPipelineMode(c))
        goto conn_err;
    if (had_begin) {
        if (!send_sql(c, "BEGIN"))
            goto conn_err;
        sent++;
        d->begin_pending = false;
    }
    if (d->release_pending) {
        if (!send_sql(c, "RELEASE SAVEPOINT item"))
            goto conn_err;
        sent++;
        d->release_pending = false;
    }
    for (int i = 0; i < npre; i++, sent++)
        if (!send_sql(c, pre[i]))
            goto conn_err;
    snprintf(name, sizeof(name), "s%d", id);
    if (!PQsendQueryPrepared(c, name, a->n, a->v, a->len, a->fmt, 1))
        goto conn_err;
    at = sent++;
    for (int i = 0; i < npost; i++, sent++)
        if (!send_sql(c, post[i]))
            goto conn_err;
    if (!PQpipelineSync(c))
        goto conn_err;
    d->base.round_trips++;
    /* one result (then NULL) per query, then the sync */
    for (int q = 0; q < sent; q++) {
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                if (q == at && !out) {
                    out = r;
                    continue;
                }
            } else if (!failed) {
                failed = true;
                const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
                snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
                snprintf(d->constraint, sizeof(d->constraint), "%s", cons ? cons : "");
                const char *msg =
                    st == PGRES_PIPELINE_ABORTED ? "pipeline aborted" : PQresultErrorMessage(r);
                snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s: %s",
                         q == at ? "statement" : "pipeline",
                         msg && msg[0] ? msg : PQerrorMessage(c));
            }
            PQclear(r);
        }
    }
    PGresult *sync = PQgetResult(c);
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(c))
        goto conn_err;
    if (failed) {
        PQclear(out);
        if (had_begin && PQtransactionStatus(c) == PQTRANS_IDLE)
            pipe_drop(d); /* BEGIN itself failed: nothing may run outside a transaction */
        return NULL;
    }
    return out;
conn_err:
    PQclear(out);
    d->sqlstate[0] = 0;
    snprintf(d->base.errmsg, sizeof(d->base.errmsg), "pipeline: %s", PQerrorMessage(c));
    if (PQstatus(c) != CONNECTION_OK)
        pipe_drop(d);
    else
        PQexitPipelineMode(c);
    return NULL;
}

PGresult *pg_pipeline(pg_db *d, const char *const *pre, int npre, int id, const pg_args *a,
                      const char *const *post, int npost)
{
    bool had_begin = d->begin_pending;
    PGresult *r = pipeline_once(d, pre, npre, id, a, post, npost);
    /* a connection found lost by the transaction's first request: retried
     * once on a new one (the transaction had done nothing yet) */
    if (!r && had_begin && !d->conn && pg_tx_reopen(d) == 0)
        r = pipeline_once(d, pre, npre, id, a, post, npost);
    return r;
}
