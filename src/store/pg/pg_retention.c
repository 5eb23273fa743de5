/*
 * pg_retention.c - PostgreSQL: the high-priority queue's retention prune.
 *
 * One DELETE of at most `limit` rows, the oldest first, found through the
 * hp_queue_created index (schema 2), so a call costs what it deletes. Every
 * node of a cluster runs the prune: the rows are picked FOR UPDATE SKIP
 * LOCKED, so two nodes pruning at once split the work instead of waiting on
 * each other's row locks (or deadlocking). hp_heads, the per-user seq
 * allocator, is never touched.
 */
#include "pg.h"

#define PRUNE_MAX 10000

int pg_hp_prune(omtp_db *db, int64_t beforeMs, int limit, int *deleted)
{
    pg_db *d = PGD(db);
    pg_args a;
    *deleted = 0;
    if (limit <= 0 || limit > PRUNE_MAX)
        return OMTP_EINVAL;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_i64(&a, beforeMs);
    pa_i64(&a, limit);
    int rows = 0;
    int rc = pg_run(d, PG_HP_PRUNE, &a, &rows);
    if (rc == 0)
        *deleted = rows;
    return rc;
}
