/*
 * sq_retention.c - SQLite: the high-priority queue's retention prune.
 *
 * At most `limit` rows, the oldest first: personal entries through the
 * hp_queue_by_time index (schema 4), then group entries (one row per group
 * message, schema 5) through hp_group_by_time: a call costs what it deletes, never a
 * scan of the queue, so the server can run it in small chunks between
 * message appends (server/hp_retention.c). hp_heads (the per-user seq
 * allocator) is never touched: a user whose queue was emptied still gets
 * head + 1 next.
 */
#include "sq.h"

#define PRUNE_MAX 10000

int sq_hp_prune(omtp_db *db, int64_t beforeMs, int limit, int *deleted)
{
    sq_db *d = SQ(db);
    *deleted = 0;
    if (limit <= 0 || limit > PRUNE_MAX)
        return OMTP_EINVAL;
    /* personal entries first, then group entries with what is left of limit */
    static const int stmts[] = {SQ_HP_PRUNE, SQ_HP_GROUP_PRUNE};
    for (int i = 0; i < 2 && *deleted < limit; i++) {
        sqlite3_stmt *st = sq_stmt(d, stmts[i]);
        if (!st)
            return OMTP_EDB;
        sqlite3_bind_int64(st, 1, beforeMs);
        sqlite3_bind_int(st, 2, limit - *deleted);
        int rc = sq_run(d, st, "hp_prune");
        if (rc)
            return rc;
        *deleted += sqlite3_changes(d->h);
    }
    return 0;
}
