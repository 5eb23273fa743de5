/*
 * sq_retention.c - SQLite: the high-priority queue's retention prune.
 *
 * One DELETE of at most `limit` rows, the oldest first, found through the
 * hp_queue_by_time index (schema 4): a call costs what it deletes, never a
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
    sqlite3_stmt *st = sq_stmt(d, SQ_HP_PRUNE);
    if (!st)
        return OMTP_EDB;
    sqlite3_bind_int64(st, 1, beforeMs);
    sqlite3_bind_int(st, 2, limit);
    int rc = sq_run(d, st, "hp_prune");
    if (rc == 0)
        *deleted = sqlite3_changes(d->h);
    return rc;
}
