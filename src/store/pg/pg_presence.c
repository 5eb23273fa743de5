/*
 * pg_presence.c - the PostgreSQL queries of presence and read receipts
 * (store.h: presence_visible, session_readers), mirroring
 * sqlite/sq_presence.c.
 *
 * Threading: the store thread (like every op of the backend).
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int pg_presence_visible(omtp_db *db, const char *userId, const tars_str_list *ids, uint8_t *flags)
{
    pg_db *d = PGD(db);
    for (uint32_t i = 0; i < ids->n; i++) {
        const char *id = ids->items[i].data ? ids->items[i].data : "";
        bool yes = false;
        flags[i] = 0;
        int rc = pg_has_row(d, PG_FRIEND_IS, userId, id, &yes);
        if (rc == 0 && !yes)
            rc = pg_has_row(d, PG_PRES_SHARED, userId, id, &yes);
        if (rc)
            return rc;
        if (!yes)
            continue;
        flags[i] |= OMTP_PRES_VISIBLE;
        rc = pg_has_row(d, PG_PRES_HIDDEN, id, NULL, &yes);
        if (rc)
            return rc;
        if (yes)
            flags[i] |= OMTP_PRES_HIDDEN;
    }
    return 0;
}

int pg_session_readers(omtp_db *db, const char *sessionId, int64_t seqId, const char *exceptId,
                       tars_str_list *read, tars_str_list *unread)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(read, 0, sizeof(*read));
    memset(unread, 0, sizeof(*unread));
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, sessionId);
    PGresult *r = pg_q(d, PG_SESSION_CURSORS, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        const char *u = PQgetvalue(r, i, 0);
        if (exceptId && !strcmp(u, exceptId))
            continue;
        rc = pg_str_append(r, i, 0, pg_i64(r, i, 1) >= seqId ? read : unread);
    }
    PQclear(r);
    if (rc) {
        omtp_str_list_free(read);
        omtp_str_list_free(unread);
    }
    return rc;
}
