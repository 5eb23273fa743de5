/*
 * pg_maint.c - the PostgreSQL backend's maintenance ops: ad-hoc SQL for
 * admin commands (store/maint.c) and the server lock.
 *
 * The server lock is a session-level advisory lock on the store's
 * connection: each node holds it shared while its store is open (taken
 * again after a reconnect), an admin command that must not run beside any
 * node (user rename) takes it exclusive. PostgreSQL drops it with the
 * connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* advisory lock key of the server lock: "omtq" */
#define PG_SERVER_LOCK_KEY "1869440113"

int pg_raw_sql(omtp_db *db, const char *sql, int np, const char *const *params, omtp_sql_row_fn row,
               void *ctx, int64_t *changes)
{
    pg_db *d = PGD(db);
    if (changes)
        *changes = 0;
    if (pg_ready(d) || pg_tx_flush(d))
        return OMTP_EDB;
    /* ?N -> $N (the statements are written in SQLite's spelling) */
    size_t n = strlen(sql);
    char *q = malloc(n + 1);
    if (!q)
        return OMTP_ENOMEM;
    for (size_t i = 0; i <= n; i++)
        q[i] = sql[i] == '?' ? '$' : sql[i];
    PGresult *r = PQexecParams(d->conn, q, np, NULL, params, NULL, NULL, 0);
    free(q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "sql: %s", PQerrorMessage(d->conn));
        PQclear(r);
        return state && strcmp(state, "23505") == 0 ? OMTP_EEXIST : OMTP_EDB;
    }
    int rc = 0;
    if (row && st == PGRES_TUPLES_OK) {
        int nc = PQnfields(r) > 16 ? 16 : PQnfields(r);
        for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
            const char *vals[16];
            for (int c = 0; c < nc; c++)
                vals[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
            rc = row(ctx, nc, vals);
        }
    }
    if (changes && st == PGRES_COMMAND_OK)
        *changes = atoll(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int pg_take_server_lock(pg_db *d)
{
    const char *sql = d->lock_mode == 2 ? "SELECT pg_try_advisory_lock(" PG_SERVER_LOCK_KEY ")"
                                        : "SELECT pg_try_advisory_lock_shared(" PG_SERVER_LOCK_KEY
                                          ")";
    PGresult *r = PQexec(d->conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "server lock: %s",
                 PQerrorMessage(d->conn));
        PQclear(r);
        return OMTP_EDB;
    }
    bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!got) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                 d->lock_mode == 2 ? "a running omtpd node uses this PostgreSQL store"
                                   : "an admin command holds this PostgreSQL store");
        return OMTP_EBUSY;
    }
    return 0;
}

int pg_server_lock(omtp_db *db, bool exclusive)
{
    pg_db *d = PGD(db);
    if (pg_ready(d))
        return OMTP_EDB;
    d->lock_mode = exclusive ? 2 : 1;
    int rc = pg_take_server_lock(d);
    if (rc)
        d->lock_mode = 0;
    return rc;
}
