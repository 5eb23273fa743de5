/*
 * sq_presence.c - the SQLite queries of presence and read receipts
 * (store.h: presence_visible, session_readers).
 *
 * Threading: the store thread (like every op of the backend).
 */
#include <string.h>

#include "sq.h"

int sq_presence_visible(omtp_db *db, const char *userId, const tars_str_list *ids, uint8_t *flags)
{
    sq_db *d = SQ(db);
    for (uint32_t i = 0; i < ids->n; i++) {
        const char *id = ids->items[i].data ? ids->items[i].data : "";
        bool yes = false;
        flags[i] = 0;
        int rc = sq_has_row(d, SQ_FRIEND_IS, userId, id, &yes, "presence_visible");
        if (rc == 0 && !yes)
            rc = sq_has_row(d, SQ_PRES_SHARED, userId, id, &yes, "presence_visible");
        if (rc)
            return rc;
        if (!yes)
            continue;
        flags[i] |= OMTP_PRES_VISIBLE;
        rc = sq_has_row(d, SQ_PRES_HIDDEN, id, NULL, &yes, "presence_visible");
        if (rc)
            return rc;
        if (yes)
            flags[i] |= OMTP_PRES_HIDDEN;
    }
    return 0;
}

int sq_session_readers(omtp_db *db, const char *sessionId, int64_t seqId, const char *exceptId,
                       tars_str_list *read, tars_str_list *unread)
{
    sq_db *d = SQ(db);
    memset(read, 0, sizeof(*read));
    memset(unread, 0, sizeof(*unread));
    sqlite3_stmt *st = sq_stmt(d, SQ_SESSION_CURSORS);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (exceptId && u && !strcmp(u, exceptId))
            continue;
        tars_str_list *l = sqlite3_column_int64(st, 1) >= seqId ? read : unread;
        if ((ret = sq_col_str_append(st, 0, l)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "session_readers");
    sqlite3_reset(st);
    if (ret) {
        omtp_str_list_free(read);
        omtp_str_list_free(unread);
    }
    return ret;
}
