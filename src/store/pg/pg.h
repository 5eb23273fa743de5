/*
 * pg.h - internals of the PostgreSQL backend (not a public header).
 *
 * One pg_db per libpq connection, used by one thread (the store thread in
 * omtpd). Every statement is listed once in pg_stmts.h and prepared on
 * every (re)connection; queries send strings as binary parameters (any
 * bytes, no quoting) and read every result in binary format.
 *
 * Connection loss: every op fails fast with OMTP_EDB while the server is
 * unreachable. begin() (the start of each executor batch) reconnects, at
 * most once per PG_RETRY_MS, bounded by connect_timeout (default 2 s), so a
 * dead database costs a batch at most that long and the loop keeps getting
 * completions with OMTP_EDB (the handlers answer SERVICE_UNAVAILABLE).
 *
 * Errors inside a transaction: PostgreSQL aborts the whole transaction on
 * any failed statement (SQLite does not), so ops never rely on a failing
 * statement: uniqueness is handled with ON CONFLICT and row counts. An
 * unexpected failure returns OMTP_EDB and the executor rolls the item's
 * savepoint back.
 *
 * Concurrency between nodes (READ COMMITTED): a message's seqId comes from
 * `UPDATE sessions SET last_seq = last_seq + 1 ... RETURNING` in the same
 * transaction that inserts the message, so the session row stays locked
 * until commit and seqIds are gap-free and unique across writers.
 *
 * Deadlocks: two nodes' batches each lock several session rows, in their
 * own order. So only the first item of a batch may wait for a session row;
 * a later item tries the lock with NOWAIT and, if another node holds it,
 * returns OMTP_EAGAIN: the executor commits the batch so far and runs the
 * item first in the next transaction (store_thread.c). A run of sends in one
 * statement (pg_batch.c) locks its session rows in session-id order, so two
 * such statements never wait for each other in a cycle; a run that is not
 * the transaction's first work follows the NOWAIT rule above. NOWAIT alone
 * does not cover a row that does not exist yet (a new session's row, its
 * membership rows, a message of the same packId, being inserted by another
 * node's open transaction): the INSERT waits for that transaction. So a
 * later item's append runs with a 1 ms lock_timeout (PG_NOWAIT_ON below):
 * every wait, on any row, fails fast with 55P03 = OMTP_EAGAIN.
 */
#ifndef OMTP_PG_H
#define OMTP_PG_H

#include <libpq-fe.h>

#include "store/store.h"
#include "pg_stmts.h"

#define PG_STMT_ID(id, sql) id,
enum pg_stmt_id { PG_STMTS(PG_STMT_ID) PG_NSTMTS };
#undef PG_STMT_ID

#define PG_RETRY_MS 1000 /* least time between two reconnection attempts */
#define PG_MAXP     24   /* most parameters of one statement */

typedef struct pg_db {
    omtp_db base;
    PGconn *conn;         /* NULL while disconnected */
    char *uri;            /* as configured */
    bool in_tx;           /* inside begin() .. commit()/rollback() */
    bool begin_pending;   /* in_tx, but BEGIN not sent yet: it goes with the first request */
    int sp_depth;         /* open savepoints */
    bool release_pending; /* RELEASE of the last item's savepoint not sent yet */
    int tx_items;         /* item savepoints opened in this transaction */
    char sqlstate[6];     /* of the last failed statement */
    char constraint[64];  /* its constraint, when it violated one (pg_pipeline only) */
    int64_t last_try_ms;  /* last connection attempt */
    int64_t last_us;      /* last change time handed out (strictly increasing) */
    int lock_mode;        /* server lock held: 0 none, 1 shared, 2 exclusive (pg_maint.c) */
} pg_db;

#define PGD(db) ((pg_db *)(db))

extern const omtp_db_ops pg_ops;

/* Connects, creates/migrates the schema, prepares statements. */
int omtp_pg_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen);

/* ---- query helpers (pg_db.c) */

typedef struct pg_args {
    int n;
    const char *v[PG_MAXP];
    int len[PG_MAXP];
    int fmt[PG_MAXP];
    char ib[PG_MAXP][24];
} pg_args;

static inline void pa_init(pg_args *a)
{
    a->n = 0;
}
/* A string parameter (binary format: any bytes). NULL = SQL NULL. */
void pa_strn(pg_args *a, const char *s, size_t len);
void pa_str(pg_args *a, const char *s);
void pa_tstr(pg_args *a, const tars_str *s);
void pa_i64(pg_args *a, int64_t v);

/* Runs prepared statement `id`. Returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK; free with PQclear) or NULL with errmsg set. */
PGresult *pg_q(pg_db *d, int id, const pg_args *a);
/* Same, discarding the result; *rows (may be NULL) = affected/returned rows.
 * Returns 0 or OMTP_EDB. */
int pg_run(pg_db *d, int id, const pg_args *a, int *rows);
/* Runs statement `id` returning at most one bigint: 0 and *v, OMTP_ENOTFOUND
 * if no row, OMTP_EDB. */
int pg_one_i64(pg_db *d, int id, const pg_args *a, int64_t *v);

/* Column readers for binary results. NULL reads as 0 / "". */
int64_t pg_i64(const PGresult *r, int row, int col);
int pg_str(const PGresult *r, int row, int col, tars_str *out); /* 0 or OMTP_ENOMEM */
int pg_str_append(const PGresult *r, int row, int col, tars_str_list *l);
void *pg_list_grow(void *list, size_t es); /* one more zeroed element; NULL on OOM */

/* Multi-statement ops are atomic: inside a batch they run as they are (the
 * executor's savepoint covers them), alone they get their own transaction. */
int pg_op_begin(pg_db *d, bool *own);
int pg_op_end(pg_db *d, bool own, int rc);

/* A change time in microseconds, strictly greater than any handed out before
 * by this connection. */
int64_t pg_now_us(pg_db *d);
int64_t pg_now_ms(void);

/* Columns of a message row, in the order pg_row_msg reads them. */
#define PG_MSG_COLS                                                                                \
    "type, flags, pack_id, session_id, seq, ts_ms, from_id, to_id, push_info, content_type, "      \
    "content, status, reply_to, mentions"
int pg_row_msg(const PGresult *r, int row, int col0, omtp_msg_rec *m);

/* Every op of the table: pg_<op> (transactions in pg_db.c, the rest in
 * pg_users.c, pg_msgs.c, pg_groups.c, pg_retention.c). */
#define PG_OP_DECL(name, params, args) int pg_##name params;
OMTP_DB_OPS(PG_OP_DECL)
#undef PG_OP_DECL
void pg_close(omtp_db *db);
/* (declared here too so this file builds before and after the op joined
 * OMTP_DB_OPS) */
int pg_group_member_count(omtp_db *db, const char *groupId, int *count);
/* omtp_db_ops.msg_append_batch: a run of sends in one statement (pg_batch.c) */
int pg_msg_append_batch(omtp_db *db, omtp_append_req *const *reqs, size_t n);
/* Every op starts with this: outside a transaction (admin commands) it
 * (re)connects; inside one it fails fast if the connection was lost. */
int pg_ready(pg_db *d);

/* Whether statement `id` with the text parameters p1 and p2 (p2 NULL: p1
 * only) returns a row: 0 and *yes, or OMTP_EDB (*yes false). A whole op:
 * calls pg_ready(). */
static inline int pg_has_row(pg_db *d, int id, const char *p1, const char *p2, bool *yes)
{
    pg_args a;
    int64_t v;
    *yes = false;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, p1);
    if (p2)
        pa_str(&a, p2);
    int rc = pg_one_i64(d, id, &a, &v);
    if (rc == 0)
        *yes = true;
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}
/* BEGIN is deferred (pg_begin): it travels with the transaction's first
 * request -- in the same simple query ("BEGIN; SAVEPOINT item") or the same
 * pipeline (pg_batch.c) -- so a batch costs no round trip of its own for it.
 * pg_tx_flush sends it alone, for a request that cannot carry it (a
 * prepared statement); 0 or OMTP_EDB. pg_tx_reopen reconnects for a
 * transaction that has done nothing yet (its BEGIN was pending when the
 * connection turned out to be lost) and marks BEGIN pending again. */
int pg_tx_flush(pg_db *d);
int pg_tx_reopen(pg_db *d);
/* Prepared statement `id` with plain SQL before (pre) and after (post) it,
 * in one libpq pipeline, with the pending BEGIN / item RELEASE in front
 * (pg_pipe.c). `post` runs only if the statement succeeded. Returns the
 * statement's result or NULL with errmsg, sqlstate and constraint set. */
PGresult *pg_pipeline(pg_db *d, const char *const *pre, int npre, int id, const pg_args *a,
                      const char *const *post, int npost);
/* The "may not wait" of pg.h for statements that may insert rows another
 * transaction is inserting too (a session's first message from two nodes):
 * FOR UPDATE NOWAIT only covers rows that exist, an INSERT meeting another
 * transaction's uncommitted row of the same key waits for it, and two
 * transactions doing that to each other deadlock. So the statement runs
 * between these (pg_pipeline's pre and post): any lock wait longer than
 * 1 ms fails with SQLSTATE 55P03 (OMTP_EAGAIN), as NOWAIT does. SET LOCAL
 * inside the caller's savepoint: a rollback to it undoes the setting too. */
#define PG_NOWAIT_ON  "SET LOCAL lock_timeout = '1ms'"
#define PG_NOWAIT_OFF "SET LOCAL lock_timeout TO DEFAULT"
/* Runs one plain SQL string (no parameters). 0 or OMTP_EDB. */
int pg_exec_sql(pg_db *d, const char *sql);

/* (Re)takes the server lock of d->lock_mode on the current connection
 * (pg_maint.c): 0, OMTP_EBUSY or OMTP_EDB. */
int pg_take_server_lock(pg_db *d);

/* ---- schema (pg_schema.c) */
int pg_migrate(pg_db *d, char *why, size_t whylen);

#endif
