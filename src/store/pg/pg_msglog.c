/*
 * pg_msglog.c - PostgreSQL: the message log's ops (store.h: msg_apply,
 * msg_by_pack, session_seq_load). The message log is for SQLite mode
 * (docs/storage.md, "Delivery path"); a cluster keeps the store's own send
 * path, so these only say so.
 */
#include <stdio.h>

#include "pg.h"

static int not_here(omtp_db *db, const char *op)
{
    snprintf(db->errmsg, sizeof(db->errmsg), "%s: the message log is for SQLite mode", op);
    return OMTP_EINVAL;
}

int pg_msg_apply(omtp_db *db, const omtp_msg_rec *m, bool *existed)
{
    (void)m;
    *existed = false;
    return not_here(db, "msg_apply");
}

int pg_msg_by_pack(omtp_db *db, const char *from, const char *packId, omtp_msg_rec *out)
{
    (void)from;
    (void)packId;
    omtp_msg_rec_init(out);
    return not_here(db, "msg_by_pack");
}

int pg_session_seq_load(omtp_db *db, const omtp_msg_rec *m, int64_t *last)
{
    (void)m;
    *last = 0;
    return not_here(db, "session_seq_load");
}
