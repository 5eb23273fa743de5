/*
 * sq_msgs.c - SQLite: messages, sessions, membership rows, read cursors, hot
 * sessions and the per-user high-priority queue.
 *
 * Cost model (why a 10,000-member group stays cheap): appending a message
 * writes exactly two rows whatever the session -- the sessions row (seqId
 * allocator + change time) and the message -- plus, for a single chat or a
 * business message, an INSERT-OR-IGNORE of the membership rows the first
 * time a pair is seen (sq_memo.c remembers the pairs known to exist). Group members' rows are never
 * touched per message: the hot-session query takes max(member change, session change), so every
 * member sees the session move without a write fan-out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_proto.h"
#include "sq.h"

#define STORED_FLAGS (OMTP_F_HIGHPRJ | OMTP_F_REVOKE | OMTP_F_OVERRIDE | OMTP_F_COUNTER)
#define HISTORY_MAX  200
#define HOT_DEFAULT  100
#define HOT_MAX      1000
#define HP_MAX       1000

/* ------------------------------------------------------------ messages */

/* Runs a SELECT of SQ_MSG_COLS expected to return at most one row. */
static int one_msg(sq_db *d, sqlite3_stmt *st, omtp_msg_rec *out, const char *what)
{
    int rc = sqlite3_step(st);
    int ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = sq_row_msg(st, 0, out);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, what);
    sqlite3_reset(st);
    return ret;
}

static int ensure_member(sq_db *d, const tars_str *user, const tars_str *session, int64_t readSeq,
                         int64_t us, int64_t ms)
{
    if (sq_memo_has(d, user, session))
        return 0; /* the row exists: the upsert would be a no-op */
    sqlite3_stmt *st = sq_stmt(d, SQ_MEMBER_ENSURE);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, user);
    sq_bind_tstr(st, 2, session);
    sqlite3_bind_int64(st, 3, readSeq);
    sqlite3_bind_int64(st, 4, us);
    sqlite3_bind_int64(st, 5, ms);
    int rc = sq_run(d, st, "member row");
    if (rc == 0)
        sq_memo_add(d, user, session);
    return rc;
}

/* The stored original of (from, packId), after the insert hit the unique
 * dedup index: 0 (m replaced, *dup set), or an error. */
static int msg_dup(sq_db *d, omtp_msg_rec *m, bool *dup)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_MSG_BY_PACK);
    if (!st)
        return OMTP_EDB;
    sq_bind_tstr(st, 1, &m->msg.from);
    sq_bind_tstr(st, 2, &m->packId);
    omtp_msg_rec orig;
    int rc = one_msg(d, st, &orig, "msg dedup");
    if (rc == OMTP_ENOTFOUND) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "msg insert: conflict without a dup");
        return OMTP_EDB;
    }
    if (rc)
        return rc;
    omtp_msg_rec_free(m);
    *m = orig;
    *dup = true;
    return 0;
}

/* Statements per new message: SAVEPOINT, the seqId bump, a point read of
 * the bumped seqId (cheaper than UPSERT ... RETURNING, for which SQLite
 * collects the rows in an ephemeral table on every execution), the insert,
 * the membership upserts only for pairs not known to exist, RELEASE.
 * No dedup lookup first: the unique index (from_id, pack_id) refuses a
 * duplicate, the savepoint gives the seqId back and the original is read
 * then (duplicates are rare: a client resending after a lost ack). */
int sq_msg_append(omtp_db *db, omtp_msg_rec *m, bool *dup)
{
    sq_db *d = SQ(db);
    *dup = false;
    if (!m->msg.sessionId.len || !m->msg.from.len)
        return OMTP_EINVAL;
    sqlite3_stmt *st;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t us = sq_now_us(d), ms = sq_now_ms(), seq = 0;
    if (!(st = sq_stmt(d, SQ_SESSION_BUMP))) {
        rc = OMTP_EDB;
        goto out;
    }
    tars_str pa, pb;
    omtp_msg_parties(m, &pa, &pb);
    sq_bind_tstr(st, 1, &m->msg.sessionId);
    sqlite3_bind_int(st, 2, m->type);
    sqlite3_bind_int64(st, 3, us);
    sq_bind_tstr(st, 4, &pa);
    sq_bind_tstr(st, 5, &pb);
    if ((rc = sq_run(d, st, "session seqId")) != 0)
        goto out;
    if (sqlite3_changes(d->h) == 0) {
        /* the session exists and belongs to other parties */
        snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                 "msg_append: session %s belongs to other users than %s and %s",
                 m->msg.sessionId.data, pa.data, pb.data);
        rc = OMTP_EINVAL;
        goto out;
    }
    if (!(st = sq_stmt(d, SQ_SESSION_LAST))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_tstr(st, 1, &m->msg.sessionId);
    if (sqlite3_step(st) == SQLITE_ROW)
        seq = sqlite3_column_int64(st, 0);
    else
        rc = sq_fail(d, "session seqId");
    sqlite3_reset(st);
    if (rc)
        goto out;

    if (!(st = sq_stmt(d, SQ_MSG_INSERT))) {
        rc = OMTP_EDB;
        goto out;
    }
    const omtp_MsgReq *q = &m->msg;
    sq_bind_tstr(st, 1, &q->sessionId);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int(st, 3, m->type);
    sqlite3_bind_int64(st, 4, m->flags & STORED_FLAGS);
    sq_bind_tstr(st, 5, &m->packId);
    sq_bind_tstr(st, 6, &q->from);
    sq_bind_tstr(st, 7, &q->to);
    sq_bind_tstr(st, 8, &q->pushInfo);
    sqlite3_bind_int(st, 9, q->contentType);
    sq_bind_tstr(st, 10, &q->content);
    sqlite3_bind_int(st, 11, q->status);
    sqlite3_bind_int64(st, 12, ms);
    if ((rc = sq_run(d, st, "msg insert")) != 0)
        goto out;

    if (m->type == PT_MSG_SINGLE_CHAT) {
        rc = ensure_member(d, &q->from, &q->sessionId, 0, us, ms);
        if (rc == 0)
            rc = ensure_member(d, &q->to, &q->sessionId, 0, us, ms);
    } else if (m->type == PT_MSG_BIZ_NOTIFY) {
        rc = ensure_member(d, &q->to, &q->sessionId, 0, us, ms);
    }
out:
    rc = sq_op_end(d, rc);
    if (rc == OMTP_EEXIST && m->packId.len)
        return msg_dup(d, m, dup); /* (from, packId) is taken; nothing was written */
    if (rc == 0) {
        m->msg.seqId = seq;
        m->msg.timestamp = ms;
        m->flags &= STORED_FLAGS;
    }
    return rc;
}

int sq_msg_get(omtp_db *db, const char *sessionId, int64_t seqId, omtp_msg_rec *out)
{
    sq_db *d = SQ(db);
    omtp_msg_rec_init(out);
    sqlite3_stmt *st = sq_stmt(d, SQ_MSG_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, seqId);
    return one_msg(d, st, out, "msg_get");
}

int sq_msg_history(omtp_db *db, const char *sessionId, int64_t maxSeq, int count,
                   omtp_msg_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    if (count <= 0)
        return 0;
    if (count > HISTORY_MAX)
        count = HISTORY_MAX;
    sqlite3_stmt *st = sq_stmt(d, SQ_MSG_HISTORY);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, maxSeq <= 0 ? INT64_MAX : maxSeq);
    sqlite3_bind_int(st, 3, count);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_msg_rec *m = sq_list_grow(out, sizeof(*m));
        if (!m || sq_row_msg(st, 0, m) != 0) {
            if (m)
                out->n--;
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "msg_history");
    sqlite3_reset(st);
    if (ret)
        omtp_msg_rec_list_free(out);
    return ret;
}

static int touch_session(sq_db *d, const char *sessionId)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_SESSION_TOUCH);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, sq_now_us(d));
    return sq_run(d, st, "session touch");
}

int sq_msg_control(omtp_db *db, const char *sessionId, int64_t seqId, int command,
                   const char *content)
{
    sq_db *d = SQ(db);
    int id = command == 1 ? SQ_MSG_REVOKE : command == 2 ? SQ_MSG_DELETE : SQ_MSG_EDIT;
    if (command < 1 || command > 3)
        return OMTP_EINVAL;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(d, id);
    if (!st) {
        rc = OMTP_EDB;
    } else {
        sq_bind_str(st, 1, sessionId);
        sqlite3_bind_int64(st, 2, seqId);
        if (command == 3 && content)
            sq_bind_str(st, 3, content);
        else if (command == 3)
            sqlite3_bind_null(st, 3);
        rc = sq_run(d, st, "msg_control");
        if (rc == 0 && sqlite3_changes(d->h) == 0)
            rc = OMTP_ENOTFOUND;
    }
    if (rc == 0)
        rc = touch_session(d, sessionId);
    return sq_op_end(d, rc);
}

int sq_session_last_seq(omtp_db *db, const char *sessionId, int64_t *lastSeq)
{
    sq_db *d = SQ(db);
    *lastSeq = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_SESSION_LAST);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    int rc = sqlite3_step(st), ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        *lastSeq = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        ret = sq_fail(d, "session_last_seq");
    }
    sqlite3_reset(st);
    return ret;
}

/* ---------------------------------------------- membership, read cursors */

/* The user's read cursor in a session: 0, OMTP_ENOTFOUND (no row) or error. */
static int member_cursor(sq_db *d, const char *userId, const char *sessionId, int64_t *cur)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_MEMBER_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, sessionId);
    int rc = sqlite3_step(st), ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        *cur = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        ret = sq_fail(d, "member");
    }
    sqlite3_reset(st);
    return ret;
}

int sq_session_member(omtp_db *db, const char *userId, const char *sessionId, bool *member)
{
    int64_t cur;
    int rc = member_cursor(SQ(db), userId, sessionId, &cur);
    *member = rc == 0;
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

int sq_read_get(omtp_db *db, const char *userId, const char *sessionId, int64_t *cursor)
{
    *cursor = 0;
    return member_cursor(SQ(db), userId, sessionId, cursor);
}

int sq_read_set(omtp_db *db, const char *userId, const char *sessionId, int64_t seqId, int64_t *now)
{
    sq_db *d = SQ(db);
    int64_t last = 0, cur = 0;
    *now = 0;
    int rc = member_cursor(d, userId, sessionId, &cur);
    if (rc)
        return rc;
    if ((rc = sq_session_last_seq(db, sessionId, &last)) != 0 && rc != OMTP_ENOTFOUND)
        return rc;
    int64_t want = seqId < last ? seqId : last;
    if (want > cur) {
        sqlite3_stmt *st = sq_stmt(d, SQ_READ_SET);
        if (!st)
            return OMTP_EDB;
        sq_bind_str(st, 1, userId);
        sq_bind_str(st, 2, sessionId);
        sqlite3_bind_int64(st, 3, want);
        sqlite3_bind_int64(st, 4, sq_now_us(d));
        if ((rc = sq_run(d, st, "read_set")) != 0)
            return rc;
        cur = want;
    }
    *now = cur;
    return 0;
}

/* ---------------------------------------------------------- hot sessions */

/* Fills unread, last visible message and attributes of a hot record whose
 * sessionId, readSeqId and changedUs are set. */
static int hot_fill(sq_db *d, const char *userId, omtp_hot_rec *h)
{
    const char *sid = h->sessionId.data;
    sqlite3_stmt *st = sq_stmt(d, SQ_UNREAD);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sid);
    sqlite3_bind_int64(st, 2, h->readSeqId);
    sq_bind_str(st, 3, userId);
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(d, "unread");
    h->unreadCount = n > INT32_MAX ? INT32_MAX : (int32_t)n;

    if (!(st = sq_stmt(d, SQ_LAST_VISIBLE)))
        return OMTP_EDB;
    sq_bind_str(st, 1, sid);
    rc = one_msg(d, st, &h->last, "last message");
    if (rc == 0)
        h->hasLast = true;
    else if (rc == OMTP_ENOTFOUND)
        omtp_msg_rec_init(&h->last);
    else
        return rc;

    if (!(st = sq_stmt(d, SQ_SESSION_ATTRS)))
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, sid);
    rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? sq_col_str(st, 0, &h->attribute) : sq_fail(d, "attributes");
    sqlite3_reset(st);
    if (ret == 0 && h->attribute.len == 0)
        ret = tars_str_set(&h->attribute, "{}") == TARS_OK ? 0 : OMTP_ENOMEM;
    return ret;
}

static omtp_hot_rec *hot_add(omtp_hot_rec_list *out, sqlite3_stmt *st)
{
    omtp_hot_rec *h = sq_list_grow(out, sizeof(*h));
    if (!h)
        return NULL;
    tars_str_clear(&h->sessionId);
    tars_str_clear(&h->attribute);
    omtp_msg_rec_init(&h->last);
    h->readSeqId = sqlite3_column_int64(st, 1);
    h->changedUs = sqlite3_column_int64(st, 2);
    if (sq_col_str(st, 0, &h->sessionId) != 0) {
        out->n--;
        return NULL;
    }
    return h;
}

int sq_hot_sessions(omtp_db *db, const char *userId, int64_t sinceUs, int limit,
                    omtp_hot_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    if (limit <= 0)
        limit = HOT_DEFAULT;
    if (limit > HOT_MAX)
        limit = HOT_MAX;
    sqlite3_stmt *st = sq_stmt(d, SQ_HOT_PAGE);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sqlite3_bind_int64(st, 2, sinceUs);
    sqlite3_bind_int(st, 3, limit);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!hot_add(out, st)) {
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "hot_sessions");
    sqlite3_reset(st);
    for (uint32_t i = 0; ret == 0 && i < out->n; i++)
        ret = hot_fill(d, userId, &out->items[i]);
    if (ret)
        omtp_hot_rec_list_free(out);
    return ret;
}

int sq_hot_session_get(omtp_db *db, const char *userId, const char *sessionId,
                       omtp_hot_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = sq_stmt(d, SQ_HOT_ONE);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, sessionId);
    int rc = sqlite3_step(st), ret = OMTP_ENOTFOUND;
    if (rc == SQLITE_ROW)
        ret = hot_add(out, st) ? 0 : OMTP_ENOMEM;
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "hot_session_get");
    sqlite3_reset(st);
    if (ret == 0)
        ret = hot_fill(d, userId, &out->items[0]);
    if (ret)
        omtp_hot_rec_list_free(out);
    return ret;
}

int sq_unread_total(omtp_db *db, const char *userId, int64_t *total)
{
    sq_db *d = SQ(db);
    *total = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_UNREAD_TOTAL);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : sq_fail(d, "unread_total");
}

int sq_session_attr_set(omtp_db *db, const char *userId, const char *sessionId, const char *name,
                        const char *value)
{
    sq_db *d = SQ(db);
    if (!name || !name[0])
        return OMTP_EINVAL;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(d, SQ_SESSION_ATTR_SET);
    if (!st) {
        rc = OMTP_EDB;
    } else {
        sq_bind_str(st, 1, userId);
        sq_bind_str(st, 2, sessionId);
        sq_bind_str(st, 3, name);
        sq_bind_str(st, 4, value);
        rc = sq_run(d, st, "session_attr_set");
    }
    /* the user's other devices see the change through hot sessions */
    if (rc == 0 && (st = sq_stmt(d, SQ_MEMBER_TOUCH)) != NULL) {
        sq_bind_str(st, 1, userId);
        sq_bind_str(st, 2, sessionId);
        sqlite3_bind_int64(st, 3, sq_now_us(d));
        rc = sq_run(d, st, "session_attr_set touch");
    } else if (rc == 0) {
        rc = OMTP_EDB;
    }
    return sq_op_end(d, rc);
}

/* ------------------------------------------------- high-priority queue */

/*
 * One seq for every queue (the hp_heads row of user id ''): a personal entry
 * (hp_queue) and a group entry (hp_group, ONE row for all the group's
 * members) take the next value, so a user's view, both merged, is in one
 * increasing order and its cursor keeps working. A group entry is part of a
 * member's view if it was written while the user was a member: after
 * members.hp_from (the head when it joined), or inside the span of its last
 * stay (group_left.hp_from .. hp_to); except_id (the sender of a HIGHPRJ
 * message) does not see it.
 */
static int hp_next(sq_db *d, int64_t *seq)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_HP_HEAD_BUMP);
    if (!st)
        return OMTP_EDB;
    int rc = sq_run(d, st, "hp seq");
    if (rc)
        return rc;
    if (!(st = sq_stmt(d, SQ_HP_HEAD)))
        return OMTP_EDB;
    if (sqlite3_step(st) == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    else
        rc = sq_fail(d, "hp seq");
    sqlite3_reset(st);
    return rc;
}

static void hp_bind_pack(sqlite3_stmt *st, const omtp_OTIMPack *pack)
{
    sqlite3_bind_int(st, 3, pack->header.type);
    sqlite3_bind_int64(st, 4, pack->header.flags);
    sq_bind_tstr(st, 5, &pack->header.packId);
    sqlite3_bind_blob(st, 6, pack->payload.data ? (const void *)pack->payload.data : "",
                      (int)pack->payload.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, sq_now_ms());
}

static int hp_insert(omtp_db *db, int stmt, const char *key, const char *exceptId,
                     const omtp_OTIMPack *pack, int64_t *seq)
{
    sq_db *d = SQ(db);
    *seq = 0;
    int rc = sq_op_begin(d);
    if (rc)
        return rc;
    int64_t s = 0;
    sqlite3_stmt *st;
    if ((rc = hp_next(d, &s)) != 0)
        goto out;
    if (!(st = sq_stmt(d, stmt))) {
        rc = OMTP_EDB;
        goto out;
    }
    sq_bind_str(st, 1, key);
    sqlite3_bind_int64(st, 2, s);
    hp_bind_pack(st, pack);
    if (stmt == SQ_HP_GROUP_INSERT)
        sq_bind_str(st, 8, exceptId ? exceptId : "");
    rc = sq_run(d, st, "hp insert");
out:
    rc = sq_op_end(d, rc);
    if (rc == 0)
        *seq = s;
    return rc;
}

int sq_hp_append(omtp_db *db, const char *userId, const omtp_OTIMPack *pack, int64_t *seq)
{
    return hp_insert(db, SQ_HP_INSERT, userId, NULL, pack, seq);
}

int sq_hp_group_append(omtp_db *db, const char *groupId, const char *exceptId,
                       const omtp_OTIMPack *pack, int64_t *seq)
{
    return hp_insert(db, SQ_HP_GROUP_INSERT, groupId, exceptId, pack, seq);
}

int sq_hp_list(omtp_db *db, const char *userId, int64_t afterSeq, int count, omtp_hp_rec_list *out,
               int64_t *lastSeq)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    *lastSeq = 0;
    if (count > HP_MAX)
        count = HP_MAX;
    int rc, ret = 0;
    sqlite3_stmt *st;
    if (count > 0) {
        if (!(st = sq_stmt(d, SQ_HP_LIST)))
            return OMTP_EDB;
        sq_bind_str(st, 1, userId);
        sqlite3_bind_int64(st, 2, afterSeq);
        sqlite3_bind_int(st, 3, count);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            omtp_hp_rec *h = sq_list_grow(out, sizeof(*h));
            if (!h) {
                ret = OMTP_ENOMEM;
                break;
            }
            tars_init(&omtp_OTIMPack_desc, &h->pack);
            h->seq = sqlite3_column_int64(st, 0);
            h->pack.header.type = (int16_t)sqlite3_column_int(st, 1);
            h->pack.header.version = 1;
            h->pack.header.flags = sqlite3_column_int64(st, 2);
            const void *p = sqlite3_column_blob(st, 4);
            int n = sqlite3_column_bytes(st, 4);
            if (sq_col_str(st, 3, &h->pack.header.packId) != 0 ||
                tars_bytes_set(&h->pack.payload, p ? p : "", p ? (size_t)n : 0) != TARS_OK) {
                ret = OMTP_ENOMEM;
                break;
            }
        }
        if (ret == 0 && rc != SQLITE_DONE)
            ret = sq_fail(d, "hp_list");
        sqlite3_reset(st);
        if (ret) {
            omtp_hp_rec_list_free(out);
            return ret;
        }
        if (out->n) {
            *lastSeq = out->items[out->n - 1].seq;
            return 0;
        }
    }
    /* nothing after afterSeq: report the shared head so a client whose
     * cursor is ahead (e.g. a reset server) can start over */
    if (!(st = sq_stmt(d, SQ_HP_HEAD)))
        return OMTP_EDB;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *lastSeq = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "hp head");
    sqlite3_reset(st);
    return ret;
}
