/*
 * sq_apply.c - SQLite: the message log's side of the messages table
 * (docs/storage.md, "Delivery path"). The loop assigns seqIds and times and
 * appends each message to the log; the store thread applies the records
 * behind with msg_apply, idempotently, so a replay after a crash may repeat
 * any of them. session_seq_load gives the loop a session's counter, and
 * msg_by_pack answers a DUP-flagged resend the in-memory window forgot.
 *
 * Threading: the store thread (or an admin command), like every op.
 */
#include <stdio.h>
#include <string.h>

#include "proto/omtp_proto.h"
#include "sq.h"
#include "util/log.h"

#define STORED_FLAGS (OMTP_F_HIGHPRJ | OMTP_F_REVOKE | OMTP_F_OVERRIDE | OMTP_F_COUNTER)

static int member_row(sq_db *d, const tars_str *user, const tars_str *session, int64_t us,
                      int64_t ms)
{
    if (sq_memo_has(d, user, session))
        return 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_MEMBER_ENSURE);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, user);
    sq_bind_tstr(st, 2, session);
    sqlite3_bind_int64(st, 3, 0);
    sqlite3_bind_int64(st, 4, us);
    sqlite3_bind_int64(st, 5, ms);
    int rc = sq_run(d, st, "member row");
    if (rc == 0)
        sq_memo_add(d, user, session);
    return rc;
}

/* Inserts the row; *changed = it was new. packId NULL = the message's own. */
static int insert_msg(sq_db *d, const omtp_msg_rec *m, const tars_str *packId, bool *changed)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_APPLY_MSG);
    if (!st)
        return OMTP_EDB;
    const omtp_MsgReq *q = &m->msg;
    sq_bind_tstr(st, 1, &q->sessionId);
    sqlite3_bind_int64(st, 2, q->seqId);
    sqlite3_bind_int(st, 3, m->type);
    sqlite3_bind_int64(st, 4, m->flags & STORED_FLAGS);
    sq_bind_tstr(st, 5, packId ? packId : &m->packId);
    sq_bind_tstr(st, 6, &q->from);
    sq_bind_tstr(st, 7, &q->to);
    sq_bind_tstr(st, 8, &q->pushInfo);
    sqlite3_bind_int(st, 9, q->contentType);
    sq_bind_tstr(st, 10, &q->content);
    sqlite3_bind_int(st, 11, q->status);
    sqlite3_bind_int64(st, 12, q->timestamp);
    int rc = sq_run(d, st, "msg apply");
    *changed = rc == 0 && sqlite3_changes(d->h) > 0;
    return rc;
}

static int msg_stored(sq_db *d, const omtp_msg_rec *m, bool *yes)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_APPLY_HAS);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &m->msg.sessionId);
    sqlite3_bind_int64(st, 2, m->msg.seqId);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *yes = true;
    else if (rc == SQLITE_DONE)
        *yes = false;
    else
        ret = sq_fail(d, "msg apply lookup");
    sqlite3_reset(st);
    return ret;
}

static int apply(sq_db *d, const omtp_msg_rec *m, bool *existed)
{
    const omtp_MsgReq *q = &m->msg;
    bool changed = false;
    int rc = insert_msg(d, m, NULL, &changed);
    if (rc != 0)
        return rc;
    if (!changed) {
        rc = msg_stored(d, m, existed);
        if (rc != 0 || *existed)
            return rc; /* a replay: everything below was done with it */
        /* (from, packId) belongs to an older message: a non-DUP reuse the
         * in-memory window no longer knew. The message was pushed and
         * acknowledged; it is kept, without a dedup key. */
        LOG_WARN("apply %s/%lld: packId %s of %s is taken by an older message; stored "
                 "without its packId",
                 q->sessionId.data, (long long)q->seqId, m->packId.data, q->from.data);
        tars_str none = {(char *)"", 0};
        if ((rc = insert_msg(d, m, &none, &changed)) != 0)
            return rc;
    }
    int64_t us = sq_now_us(d), ms = sq_now_ms();
    sqlite3_stmt *st = sq_stmt(d, SQ_APPLY_SESSION);
    if (!st)
        return OMTP_EDB;
    tars_str pa, pb;
    omtp_msg_parties(m, &pa, &pb);
    sq_bind_tstr(st, 1, &q->sessionId);
    sqlite3_bind_int(st, 2, m->type);
    sqlite3_bind_int64(st, 3, q->seqId);
    sqlite3_bind_int64(st, 4, us);
    sq_bind_tstr(st, 5, &pa);
    sq_bind_tstr(st, 6, &pb);
    if ((rc = sq_run(d, st, "session apply")) != 0)
        return rc;
    if (m->type == PT_MSG_SINGLE_CHAT) {
        rc = member_row(d, &q->from, &q->sessionId, us, ms);
        if (rc == 0)
            rc = member_row(d, &q->to, &q->sessionId, us, ms);
    } else if (m->type == PT_MSG_BIZ_NOTIFY) {
        rc = member_row(d, &q->to, &q->sessionId, us, ms);
    }
    return rc;
}

int sq_msg_apply(omtp_db *db, const omtp_msg_rec *m, bool *existed)
{
    sq_db *d = SQ(db);
    *existed = false;
    if (!m->msg.sessionId.len || !m->msg.from.len || m->msg.seqId <= 0)
        return OMTP_EINVAL;
    /* No savepoint of its own: records are applied inside an apply item,
     * whose savepoint (store_thread.c) takes back the whole batch on any
     * failure. One per record cost ~9% of omtpd's CPU at 5,000 msg/s. */
    int rc = apply(d, m, existed);
    if (rc != 0)
        sq_memo_clear(d);
    return rc;
}

int sq_msg_by_pack(omtp_db *db, const char *from, const char *packId, omtp_msg_rec *out)
{
    sq_db *d = SQ(db);
    omtp_msg_rec_init(out);
    sqlite3_stmt *st = sq_stmt(d, SQ_MSG_BY_PACK);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, from);
    sq_bind_str(st, 2, packId);
    int rc = sqlite3_step(st);
    int ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = sq_row_msg(st, 0, out);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "msg by packId");
    sqlite3_reset(st);
    return ret;
}

int sq_session_seq_load(omtp_db *db, const omtp_msg_rec *m, int64_t *last)
{
    sq_db *d = SQ(db);
    *last = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_SESSION_PARTIES);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &m->msg.sessionId);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        tars_str pa, pb;
        omtp_msg_parties(m, &pa, &pb);
        const char *a = (const char *)sqlite3_column_text(st, 1);
        const char *b = (const char *)sqlite3_column_text(st, 2);
        bool unset = (!a || !*a) && (!b || !*b);
        if (!unset && !(a && b && strcmp(a, pa.data) == 0 && strcmp(b, pb.data) == 0)) {
            snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                     "session %s belongs to other users than %s and %s", m->msg.sessionId.data,
                     pa.data, pb.data);
            ret = OMTP_EINVAL;
        } else {
            *last = sqlite3_column_int64(st, 0);
        }
    } else if (rc != SQLITE_DONE) {
        ret = sq_fail(d, "session seqId load");
    }
    sqlite3_reset(st);
    return ret;
}
