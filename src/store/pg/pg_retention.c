/*
 * pg_retention.c - PostgreSQL: the high-priority queue's retention prune.
 *
 * At most `limit` rows, the oldest first: personal entries through the
 * hp_queue_created index (schema 2), then group entries (one row per group
 * message, schema 3) through hp_group_created, so a call costs what it deletes. Every
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
    /* personal entries first, then group entries with what is left of limit */
    static const int stmts[] = {PG_HP_PRUNE, PG_HP_GROUP_PRUNE};
    for (int i = 0; i < 2 && *deleted < limit; i++) {
        pa_init(&a);
        pa_i64(&a, beforeMs);
        pa_i64(&a, limit - *deleted);
        int rows = 0;
        int rc = pg_run(d, stmts[i], &a, &rows);
        if (rc)
            return rc;
        *deleted += rows;
    }
    return 0;
}
