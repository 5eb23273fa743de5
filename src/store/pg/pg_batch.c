/*
 * pg_batch.c - PostgreSQL: the sends of a batch in one statement
 * (omtp_db_ops.msg_append_batch; store.h omtp_db_msg_append_batch).
 *
 * The executor hands a run of sends of its group-commit batch here
 * (store_thread.c, "Batched appends"). They go to the server as ONE libpq
 * pipeline (pg_pipe.c), so one round trip:
 *
 *     [BEGIN]                    (the batch's, when the run is its first work: pg.h)
 *     [RELEASE SAVEPOINT item]   (a previous item's, store_thread.c)
 *     SAVEPOINT batch
 *     [PG_NOWAIT_ON]             (not the transaction's first work: pg.h)
 *     PG_MSG_APPEND_BATCH        (pg_stmts.h)
 *     [PG_NOWAIT_OFF]
 *     RELEASE SAVEPOINT batch    (skipped by the server if the statement failed)
 *
 * On failure the savepoint is rolled back to and released (one more
 * request); no run leaves a savepoint behind, so a later failure can never
 * roll back to an earlier run's (whose sends were already answered).
 *
 * PG_MSG_APPEND_BATCH takes the rows as arrays (one array per column, sent
 * in binary: any bytes, no quoting) and does in data-modifying CTEs what
 * msg_append and the send checks do per message: the checks (sender,
 * recipient, friendship, group and membership), the dedup lookup, one bump
 * per session of the session row by the number of its new rows, the message
 * rows numbered last_seq - n + 1 .. last_seq in row order, the membership
 * rows, replyTo and mentions with the row and the mentioned members'
 * cursors. It answers one row per send: refused (which check), the original
 * of a duplicate, the seqId given, or why not. No savepoint per send: a refused
 * row is simply not written, and nothing else is undone.
 *
 * Deadlocks: the bump locks the session rows in session-id order (byte
 * order), whatever the order of the sends, and so does every other node's
 * statement: two nodes appending to the same sessions never wait for each
 * other in a cycle inside their statements. Across statements the rule of
 * pg.h holds: only the first work of a transaction may wait; a run that is
 * not (d->tx_items > 0) locks with NOWAIT and a 1 ms lock_timeout (a new
 * session's row another node is inserting cannot be locked NOWAIT) and, if
 * another node holds a row, is rolled back to its savepoint and answered
 * OMTP_EAGAIN, and the executor runs it first in the next transaction.
 *
 * Rare rows the statement leaves to the single path (pg_msg_append, after
 * the statement, in the same transaction): a send repeating the (from,
 * packId) of an earlier send of the same run that was not stored, and a send
 * to a session the run already names with other parties (ids from before the
 * id rules), each in a savepoint of its own. A duplicate committed by
 * another node after the statement's snapshot fails the message insert on
 * messages_dedup (no ON CONFLICT there: the bump counted the row, a silent
 * skip would leave a hole in the seqIds), so the statement is rolled back to
 * its savepoint and run again (its new snapshot sees the original).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "proto/omtp_proto.h"

#define STORED_FLAGS (OMTP_F_HIGHPRJ | OMTP_F_REVOKE | OMTP_F_OVERRIDE | OMTP_F_COUNTER)
#define RACE_RETRIES 3
#define NCOLS        19

/* PostgreSQL type oids of the array elements */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_INT4  23
#define OID_TEXT  25

/* A one-dimensional array in PostgreSQL's binary format, built element by
 * element: header (ndim, has_null, element oid, length, lower bound), then
 * each element as a 4-byte length (-1 = NULL) and its bytes. */
typedef struct pg_arr {
    char *b;
    size_t len, cap;
    uint32_t oid;
    int32_t n;
    bool has_null;
    bool oom;
} pg_arr;

static void arr_put(pg_arr *a, const void *p, size_t n)
{
    if (a->oom)
        return;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        while (cap < a->len + n)
            cap *= 2;
        char *nb = realloc(a->b, cap);
        if (!nb) {
            a->oom = true;
            return;
        }
        a->b = nb;
        a->cap = cap;
    }
    memcpy(a->b + a->len, p, n);
    a->len += n;
}

static void arr_u32(pg_arr *a, uint32_t v)
{
    uint32_t be = htonl(v);
    arr_put(a, &be, 4);
}

static void arr_init(pg_arr *a, uint32_t oid)
{
    memset(a, 0, sizeof(*a));
    a->oid = oid;
    char hdr[20] = {0};
    arr_put(a, hdr, sizeof(hdr)); /* filled by arr_finish */
}

static void arr_bytes(pg_arr *a, const char *p, size_t n)
{
    a->n++;
    if (!p) {
        a->has_null = true;
        arr_u32(a, UINT32_MAX); /* -1 */
        return;
    }
    arr_u32(a, (uint32_t)n);
    arr_put(a, p, n);
}

static void arr_tstr(pg_arr *a, const tars_str *s)
{
    arr_bytes(a, s->data ? s->data : "", s->data ? s->len : 0);
}

static void arr_i32(pg_arr *a, int32_t v)
{
    a->n++;
    arr_u32(a, 4);
    arr_u32(a, (uint32_t)v);
}

static void arr_i64(pg_arr *a, int64_t v)
{
    a->n++;
    arr_u32(a, 8);
    arr_u32(a, (uint32_t)((uint64_t)v >> 32));
    arr_u32(a, (uint32_t)v);
}

static void arr_finish(pg_arr *a)
{
    if (a->oom)
        return;
    uint32_t h[5] = {htonl(1), htonl(a->has_null ? 1 : 0), htonl(a->oid), htonl((uint32_t)a->n),
                     htonl(1)};
    memcpy(a->b, h, sizeof(h));
}

/* The statement's parameters for reqs (arrays in arrs, freed by the caller). */
static int build_args(pg_db *d, omtp_append_req *const *reqs, size_t n, bool nowait, int64_t ts,
                      pg_arr arrs[NCOLS], pg_args *a)
{
    static const uint32_t oids[NCOLS] = {OID_INT4, OID_TEXT, OID_INT4,  OID_INT8, OID_TEXT,
                                         OID_TEXT, OID_TEXT, OID_BYTEA, OID_INT4, OID_BYTEA,
                                         OID_INT4, OID_INT8, OID_TEXT,  OID_TEXT, OID_TEXT,
                                         OID_TEXT, OID_INT4, OID_INT8,  OID_TEXT};
    for (int k = 0; k < NCOLS; k++)
        arr_init(&arrs[k], oids[k]);
    for (size_t i = 0; i < n; i++) {
        omtp_msg_rec *m = reqs[i]->m;
        const tars_str *m1 = NULL, *m2 = NULL;
        if (m->type == PT_MSG_SINGLE_CHAT) {
            m1 = &m->msg.from;
            if (!tars_str_eq(&m->msg.to, m->msg.from.data ? m->msg.from.data : ""))
                m2 = &m->msg.to;
        } else if (m->type == PT_MSG_BIZ_NOTIFY) {
            m2 = &m->msg.to;
        }
        tars_str pa, pb;
        omtp_msg_parties(m, &pa, &pb);
        arr_i32(&arrs[0], (int32_t)i);
        arr_tstr(&arrs[1], &m->msg.sessionId);
        arr_i32(&arrs[2], m->type);
        arr_i64(&arrs[3], m->flags & STORED_FLAGS);
        arr_tstr(&arrs[4], &m->packId);
        arr_tstr(&arrs[5], &m->msg.from);
        arr_tstr(&arrs[6], &m->msg.to);
        arr_tstr(&arrs[7], &m->msg.pushInfo);
        arr_i32(&arrs[8], m->msg.contentType);
        arr_tstr(&arrs[9], &m->msg.content);
        arr_i32(&arrs[10], m->msg.status);
        arr_i64(&arrs[11], pg_now_us(d));
        if (m1)
            arr_tstr(&arrs[12], m1);
        else
            arr_bytes(&arrs[12], NULL, 0);
        if (m2)
            arr_tstr(&arrs[13], m2);
        else
            arr_bytes(&arrs[13], NULL, 0);
        arr_tstr(&arrs[14], &pa);
        arr_tstr(&arrs[15], &pb);
        arr_i32(&arrs[16], (int32_t)reqs[i]->checks);
        /* replies and mentions (docs/protocol.md, Extensions): columns of the row; the
         * mentioned members' cursors move in the statement too */
        tars_str mentions = {NULL, 0};
        tars_str_clear(&mentions);
        if (omtp_mentions_join(&m->msg.mentions, &mentions) != 0)
            return OMTP_ENOMEM;
        arr_i64(&arrs[17], m->msg.replyTo);
        arr_tstr(&arrs[18], &mentions);
        tars_str_clear(&mentions);
    }
    pa_init(a);
    for (int k = 0; k < NCOLS; k++) {
        arr_finish(&arrs[k]);
        if (arrs[k].oom)
            return OMTP_ENOMEM;
        pa_strn(a, arrs[k].b, arrs[k].len);
    }
    pa_i64(a, ts);
    pa_i64(a, nowait ? 1 : 0); /* boolean in text format: "1" */
    return 0;
}

/* A row's "same message as an earlier row" key. */
static bool same_pack(const omtp_msg_rec *a, const omtp_msg_rec *b)
{
    return a->packId.len && tars_str_eq(&a->packId, b->packId.data) &&
           tars_str_eq(&a->msg.from, b->msg.from.data);
}

/* Reads the statement's answer into the reqs. alone[i] = row i is left to
 * the single path. */
static int read_rows(pg_db *d, const PGresult *r, omtp_append_req *const *reqs, size_t n,
                     int64_t ts, bool *alone)
{
    if ((size_t)PQntuples(r) != n || PQnfields(r) != 21) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "append batch: unexpected result");
        return OMTP_EDB;
    }
    for (int row = 0; row < (int)n; row++) {
        size_t i = (size_t)pg_i64(r, row, 0);
        if (i >= n) {
            snprintf(d->base.errmsg, sizeof(d->base.errmsg), "append batch: bad row index");
            return OMTP_EDB;
        }
        omtp_append_req *q = reqs[i];
        q->refused = (int)pg_i64(r, row, 1);
        q->status = 0;
        q->dup = false;
        q->refs_stored = false;
        alone[i] = false;
        if (q->refused == 7) { /* no session id or no sender: as msg_append */
            q->refused = 0;
            q->status = OMTP_EINVAL;
        }
        if (q->refused || q->status)
            continue;
        if (!PQgetisnull(r, row, 7)) {
            /* a duplicate of a stored message: the original */
            omtp_msg_rec orig;
            omtp_msg_rec_init(&orig);
            if (pg_row_msg(r, row, 7, &orig) != 0) {
                omtp_msg_rec_free(&orig);
                return OMTP_ENOMEM;
            }
            omtp_msg_rec_free(q->m);
            *q->m = orig;
            q->dup = true;
        } else if (pg_i64(r, row, 2) > 1) {
            alone[i] = true; /* the same (from, packId) as an earlier row: resolve() */
        } else if (!pg_i64(r, row, 3)) {
            alone[i] = true; /* its session is named by an earlier row with other parties */
        } else if (!pg_i64(r, row, 4)) {
            snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                     "msg_append: session %s belongs to other users", q->m->msg.sessionId.data);
            q->status = OMTP_EINVAL;
        } else if (!pg_i64(r, row, 6)) {
            /* every numbered row is inserted or the statement fails */
            snprintf(d->base.errmsg, sizeof(d->base.errmsg), "append batch: row %zu not stored", i);
            return OMTP_EDB;
        } else {
            q->m->msg.seqId = pg_i64(r, row, 5);
            q->m->msg.timestamp = ts;
            q->m->flags &= STORED_FLAGS;
            q->refs_stored = true;
        }
    }
    return 0;
}

/* One row through pg_msg_append, in a savepoint of its own: a failure
 * (also OMTP_EAGAIN: it may not wait; the row is answered OMTP_EDB, the
 * client sends it again) leaves the transaction usable. */
static int alone_append(pg_db *d, omtp_msg_rec *m, bool *dup)
{
    if (pg_exec_sql(d, "SAVEPOINT batch") != 0)
        return OMTP_EDB;
    /* the run holds its session rows: this row may not wait for another
     * node's (pg_msg_append waits only as the transaction's first item) */
    d->tx_items++;
    int rc = pg_msg_append(&d->base, m, dup);
    d->tx_items--;
    if (rc == 0)
        return pg_exec_sql(d, "RELEASE SAVEPOINT batch");
    if (pg_exec_sql(d, "ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch") != 0)
        return OMTP_EDB;
    return rc;
}

/* The rows left to the single path, in order: a repeat of an earlier row's
 * stored message is its dup; the rest go through pg_msg_append. */
static int resolve(pg_db *d, omtp_append_req *const *reqs, size_t n, const bool *alone)
{
    for (size_t i = 0; i < n; i++) {
        if (!alone[i])
            continue;
        omtp_append_req *q = reqs[i];
        size_t j = i;
        while (j-- > 0)
            if (same_pack(reqs[j]->m, q->m))
                break;
        if (j < i && !reqs[j]->refused && reqs[j]->status == 0) {
            omtp_msg_rec copy;
            omtp_msg_rec_init(&copy);
            if (omtp_msg_rec_copy(&copy, reqs[j]->m) != 0)
                return OMTP_ENOMEM;
            omtp_msg_rec_free(q->m);
            *q->m = copy;
            q->dup = true;
            continue;
        }
        int rc = alone_append(d, q->m, &q->dup);
        if (rc == OMTP_EDB && (!d->conn || PQtransactionStatus(d->conn) != PQTRANS_INTRANS))
            return rc;
        q->status = rc == OMTP_EAGAIN ? OMTP_EDB : rc;
    }
    return 0;
}

int pg_msg_append_batch(omtp_db *db, omtp_append_req *const *reqs, size_t n)
{
    pg_db *d = PGD(db);
    if (n == 0)
        return 0;
    if (pg_ready(d))
        return OMTP_EDB;
    bool own;
    if (pg_op_begin(d, &own))
        return OMTP_EDB;
    /* not the transaction's first work: never wait for another node's lock
     * while holding ours (pg.h) */
    bool nowait = d->tx_items > 0;
    static const char *const pre_wait[] = {"SAVEPOINT batch"};
    static const char *const pre_nowait[] = {"SAVEPOINT batch", PG_NOWAIT_ON};
    static const char *const post_wait[] = {"RELEASE SAVEPOINT batch"};
    static const char *const post_nowait[] = {PG_NOWAIT_OFF, "RELEASE SAVEPOINT batch"};
    int64_t ts = pg_now_ms();
    pg_arr arrs[NCOLS];
    pg_args a;
    bool *alone = calloc(n, sizeof(*alone));
    int rc = alone ? build_args(d, reqs, n, nowait, ts, arrs, &a) : OMTP_ENOMEM;
    for (int attempt = 0; rc == 0; attempt++) {
        PGresult *r =
            pg_pipeline(d, nowait ? pre_nowait : pre_wait, nowait ? 2 : 1, PG_MSG_APPEND_BATCH, &a,
                        nowait ? post_nowait : post_wait, nowait ? 2 : 1);
        if (r) {
            /* the rows are in and the savepoint released */
            rc = read_rows(d, r, reqs, n, ts, alone);
            PQclear(r);
            if (rc != 0) {
                /* stored, but the answer cannot be given: nothing of the
                 * transaction may stay (the executor's COMMIT then fails and
                 * every item of the batch is answered with the error) */
                pg_rollback(&d->base);
            }
            break;
        }
        /* a duplicate (from, packId) committed by another node after this
         * statement's snapshot: its message insert fails on messages_dedup
         * (no ON CONFLICT there: the bump had counted the row). Run it again:
         * the new snapshot sees the original. */
        bool raced = strcmp(d->sqlstate, "23505") == 0 &&
                     strcmp(d->constraint, "messages_dedup") == 0 && attempt + 1 < RACE_RETRIES;
        if (nowait && strcmp(d->sqlstate, "55P03") == 0)
            rc = OMTP_EAGAIN;
        else if (!raced)
            rc = OMTP_EDB;
        /* nothing of the statement stays, the transaction goes on; if the
         * pipeline failed before its SAVEPOINT, there is no savepoint batch
         * (every earlier one was released): this fails and so does the
         * transaction, never rolling back an earlier run */
        if (d->conn && d->in_tx &&
            pg_exec_sql(d, "ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch") != 0) {
            rc = OMTP_EDB;
            break;
        }
        if (!d->conn || !d->in_tx) {
            rc = OMTP_EDB;
            break;
        }
    }
    if (alone) {
        for (int k = 0; k < NCOLS; k++)
            free(arrs[k].b);
    }
    if (rc == 0) {
        d->tx_items++; /* later work of this transaction must not wait (pg.h) */
        rc = resolve(d, reqs, n, alone);
    }
    free(alone);
    return pg_op_end(d, own, rc);
}
