/*
 * pg_msgs.c - PostgreSQL: messages, sessions, read cursors, hot sessions,
 * session attributes and the high-priority queues.
 * Same semantics as the SQLite backend (sqlite/sq_msgs.c).
 *
 * msg_append is the one hot write path. Its seqId comes from the session
 * row's counter, bumped in the same transaction that inserts the message:
 * the row stays locked until commit, so another node appending to the same
 * session waits for it and gets the next number; a rollback un-counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "proto/omtp_proto.h"

/* limits and rules shared with the SQLite backend (docs/storage.md) */
#define STORED_FLAGS (OMTP_F_HIGHPRJ | OMTP_F_REVOKE | OMTP_F_OVERRIDE | OMTP_F_COUNTER)
#define HISTORY_MAX  200
#define HOT_DEFAULT  100
#define HOT_MAX      1000
#define HP_MAX       1000

static int msg_by_pack(pg_db *d, const tars_str *from, const tars_str *packId, omtp_msg_rec *m,
                       bool *found)
{
    pg_args a;
    *found = false;
    pa_init(&a);
    pa_tstr(&a, from);
    pa_tstr(&a, packId);
    PGresult *r = pg_q(d, PG_MSG_BY_PACK, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    if (PQntuples(r) > 0) {
        *found = true;
        rc = pg_row_msg(r, 0, 0, m);
    }
    PQclear(r);
    return rc;
}

/*
 * One round trip in the common case: PG_MSG_APPEND (pg_stmts.h) is the
 * dedup lookup, the session row's NOWAIT lock (a batch's later items, see
 * pg.h), the seqId bump, the message insert and the membership rows as data-
 * modifying CTEs of ONE statement. They all see the statement's snapshot,
 * so each step is gated on what the previous one returned, never on a
 * re-read:
 *
 *  - a duplicate visible to the snapshot: nothing is bumped or locked, the
 *    original comes back in the same result (columns 2..);
 *  - otherwise the bump locks the session row (waiting for another node's
 *    transaction if the item may wait) and the insert takes last_seq; the
 *    membership rows are only written if the insert wrote a row;
 *  - a duplicate committed by another node after our snapshot (we waited
 *    for its lock) makes the insert a zero-row ON CONFLICT DO NOTHING while
 *    the bump already counted: column 0 is NULL and column 1 holds the
 *    number, which we give back (we still hold the row) before answering
 *    with the original, as two more round trips on this rare path.
 */
static int append_raced(pg_db *d, omtp_msg_rec *m, bool *dup, int64_t seq)
{
    pg_args a;
    bool found = false;
    pa_init(&a);
    pa_tstr(&a, &m->msg.sessionId);
    pa_i64(&a, seq);
    int rc = pg_run(d, PG_SESSION_UNBUMP, &a, NULL);
    if (rc)
        return rc;
    omtp_msg_rec orig;
    omtp_msg_rec_init(&orig);
    rc = msg_by_pack(d, &m->msg.from, &m->packId, &orig, &found);
    if (rc == 0 && !found) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "msg_append: duplicate vanished");
        rc = OMTP_EDB;
    }
    if (rc == 0) {
        omtp_msg_rec_free(m);
        *m = orig;
        *dup = true;
    } else {
        omtp_msg_rec_free(&orig);
    }
    return rc;
}

int pg_msg_append(omtp_db *db, omtp_msg_rec *m, bool *dup)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    *dup = false;
    if (!m->msg.sessionId.len || !m->msg.from.len)
        return OMTP_EINVAL;
    if (pg_ready(d))
        return OMTP_EDB;
    /* not the batch's first item: never wait for another node's lock while
     * holding ours (see pg.h) */
    bool nowait = d->in_tx && d->tx_items > 1;
    if (pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t nowUs = pg_now_us(d), nowMs = pg_now_ms();
    /* membership rows: both users of a single chat, the recipient of a
     * business message; group rows come from group membership */
    const tars_str *m1 = NULL, *m2 = NULL;
    if (m->type == PT_MSG_SINGLE_CHAT) {
        m1 = &m->msg.from;
        if (!(m->msg.to.len == m->msg.from.len &&
              memcmp(m->msg.to.data ? m->msg.to.data : "", m->msg.from.data, m->msg.from.len) == 0))
            m2 = &m->msg.to;
    } else if (m->type == PT_MSG_BIZ_NOTIFY) {
        m2 = &m->msg.to;
    }
    pa_init(&a);
    pa_tstr(&a, &m->msg.sessionId);
    pa_i64(&a, m->type);
    pa_i64(&a, m->flags & STORED_FLAGS);
    pa_tstr(&a, &m->packId);
    pa_tstr(&a, &m->msg.from);
    pa_tstr(&a, &m->msg.to);
    pa_tstr(&a, &m->msg.pushInfo);
    pa_i64(&a, m->msg.contentType);
    pa_tstr(&a, &m->msg.content);
    pa_i64(&a, m->msg.status);
    pa_i64(&a, nowMs);
    pa_i64(&a, nowUs);
    if (m1)
        pa_tstr(&a, m1);
    else
        pa_str(&a, NULL);
    if (m2)
        pa_tstr(&a, m2);
    else
        pa_str(&a, NULL);
    pa_i64(&a, nowait ? 1 : 0);
    tars_str pa, pb;
    omtp_msg_parties(m, &pa, &pb);
    pa_tstr(&a, &pa);
    pa_tstr(&a, &pb);
    int rc = 0;
    /* a later item: no wait on any row, also one that does not exist yet
     * (a new session's row another node is inserting; pg.h) */
    static const char *const nowait_on[] = {PG_NOWAIT_ON}, *const nowait_off[] = {PG_NOWAIT_OFF};
    PGresult *r = nowait ? pg_pipeline(d, nowait_on, 1, PG_MSG_APPEND, &a, nowait_off, 1)
                         : pg_q(d, PG_MSG_APPEND, &a);
    if (!r) {
        rc = nowait && strcmp(d->sqlstate, "55P03") == 0 ? OMTP_EAGAIN : OMTP_EDB;
        goto out;
    }
    if (PQntuples(r) != 1 || PQnfields(r) != 16) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "msg_append: unexpected result");
        rc = OMTP_EDB;
    } else if (!PQgetisnull(r, 0, 2 + 3)) {
        /* a duplicate: the original, nothing changed */
        omtp_msg_rec orig;
        omtp_msg_rec_init(&orig);
        rc = pg_row_msg(r, 0, 2, &orig);
        if (rc == 0) {
            omtp_msg_rec_free(m);
            *m = orig;
            *dup = true;
        } else {
            omtp_msg_rec_free(&orig);
        }
    } else if (!PQgetisnull(r, 0, 0)) {
        m->msg.seqId = pg_i64(r, 0, 0);
        m->msg.timestamp = nowMs;
        m->flags &= STORED_FLAGS;
    } else if (!PQgetisnull(r, 0, 1)) {
        rc = append_raced(d, m, dup, pg_i64(r, 0, 1));
    } else {
        /* not a duplicate and not bumped: the session exists and belongs to
         * other parties (the bump's WHERE refused) */
        snprintf(d->base.errmsg, sizeof(d->base.errmsg),
                 "msg_append: session %s belongs to other users than %s and %s",
                 m->msg.sessionId.data, pa.data, pb.data);
        rc = OMTP_EINVAL;
    }
    PQclear(r);
out:
    return pg_op_end(d, own, rc);
}

int pg_msg_get(omtp_db *db, const char *sessionId, int64_t seqId, omtp_msg_rec *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    omtp_msg_rec_init(out);
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    PGresult *r = pg_q(d, PG_MSG_GET, &a);
    if (!r)
        return OMTP_EDB;
    int rc = PQntuples(r) > 0 ? pg_row_msg(r, 0, 0, out) : OMTP_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int rows_msgs(const PGresult *r, omtp_msg_rec_list *out)
{
    for (int i = 0; i < PQntuples(r); i++) {
        omtp_msg_rec *m = pg_list_grow(out, sizeof(*m));
        if (!m)
            return OMTP_ENOMEM;
        omtp_msg_rec_init(m);
        if (pg_row_msg(r, i, 0, m) != 0)
            return OMTP_ENOMEM;
    }
    return 0;
}

int pg_msg_history(omtp_db *db, const char *sessionId, int64_t maxSeq, int count,
                   omtp_msg_rec_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (count <= 0)
        return 0;
    if (count > HISTORY_MAX)
        count = HISTORY_MAX;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, maxSeq <= 0 ? INT64_MAX : maxSeq);
    pa_i64(&a, count);
    PGresult *r = pg_q(d, PG_MSG_HISTORY, &a);
    if (!r)
        return OMTP_EDB;
    int rc = rows_msgs(r, out);
    PQclear(r);
    if (rc)
        omtp_msg_rec_list_free(out);
    return rc;
}

/* '%q%' for ILIKE with q's \\, % and _ escaped (the default escape is \\) */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *p = malloc(2 * n + 3);
    if (!p)
        return NULL;
    size_t k = 0;
    p[k++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '\\' || q[i] == '%' || q[i] == '_')
            p[k++] = '\\';
        p[k++] = q[i];
    }
    p[k++] = '%';
    p[k] = '\0';
    return p;
}

int pg_msg_search(omtp_db *db, const char *userId, const char *sessionId, const char *query,
                  int64_t beforeMs, int count, omtp_msg_rec_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (count <= 0 || !query || !query[0])
        return 0;
    if (count > 100)
        count = 100;
    if (pg_ready(d))
        return OMTP_EDB;
    bool one = sessionId && sessionId[0];
    char *pat = like_pattern(query);
    if (!pat)
        return OMTP_ENOMEM;
    pa_init(&a);
    pa_str(&a, pat);
    pa_str(&a, one ? sessionId : userId);
    pa_i64(&a, beforeMs <= 0 ? INT64_MAX : beforeMs);
    pa_i64(&a, count);
    PGresult *r = pg_q(d, one ? PG_MSG_SEARCH_SESSION : PG_MSG_SEARCH_USER, &a);
    free(pat);
    if (!r)
        return OMTP_EDB;
    int rc = rows_msgs(r, out);
    PQclear(r);
    if (rc)
        omtp_msg_rec_list_free(out);
    return rc;
}

int pg_msg_control(omtp_db *db, const char *sessionId, int64_t seqId, int command,
                   const char *content)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    int id;
    switch (command) {
    case 1:
        id = PG_MSG_REVOKE;
        break;
    case 2:
        id = PG_MSG_DELETE;
        break;
    case 3:
        id = PG_MSG_EDIT;
        break;
    default:
        return OMTP_EINVAL;
    }
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    if (command == 3)
        pa_str(&a, content); /* NULL keeps the content */
    int rows = 0;
    int rc = pg_run(d, id, &a, &rows);
    if (rc == 0 && rows == 0)
        rc = OMTP_ENOTFOUND;
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, sessionId);
        pa_i64(&a, pg_now_us(d));
        rc = pg_run(d, PG_SESSION_TOUCH, &a, NULL);
    }
    return pg_op_end(d, own, rc);
}

int pg_session_last_seq(omtp_db *db, const char *sessionId, int64_t *lastSeq)
{
    pg_db *d = PGD(db);
    pg_args a;
    *lastSeq = 0;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, sessionId);
    return pg_one_i64(d, PG_SESSION_LAST, &a, lastSeq); /* OMTP_ENOTFOUND: unknown session */
}

int pg_session_member(omtp_db *db, const char *userId, const char *sessionId, bool *member)
{
    return pg_has_row(PGD(db), PG_MEMBER_GET, userId, sessionId, member);
}

int pg_read_set(omtp_db *db, const char *userId, const char *sessionId, int64_t seqId, int64_t *now)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    int64_t last = 0, cur = 0;
    *now = 0;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, sessionId);
    int rc = pg_one_i64(d, PG_MEMBER_GET, &a, &cur);
    if (rc)
        goto out;
    pa_init(&a);
    pa_str(&a, sessionId);
    rc = pg_one_i64(d, PG_SESSION_LAST, &a, &last);
    if (rc == OMTP_ENOTFOUND) {
        rc = 0;
        last = 0;
    }
    if (rc)
        goto out;
    if (seqId > last)
        seqId = last;
    if (seqId > cur) {
        pa_init(&a);
        pa_str(&a, userId);
        pa_str(&a, sessionId);
        pa_i64(&a, seqId);
        pa_i64(&a, pg_now_us(d));
        if ((rc = pg_run(d, PG_READ_SET, &a, NULL)) != 0)
            goto out;
        cur = seqId;
    }
    *now = cur;
out:
    return pg_op_end(d, own, rc);
}

/* ------------------------------------------------------- hot sessions */

/* JSON string escaping as SQLite's json_group_object does it. */
static void json_str(tars_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    tars_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            tars_buf_put(b, esc, 2);
        } else if (c < 0x20) {
            const char *sh = c == '\b'   ? "\\b"
                             : c == '\f' ? "\\f"
                             : c == '\n' ? "\\n"
                             : c == '\r' ? "\\r"
                             : c == '\t' ? "\\t"
                                         : NULL;
            if (sh) {
                tars_buf_put(b, sh, 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                tars_buf_put(b, esc, 6);
            }
        } else {
            tars_buf_put(b, &s[i], 1);
        }
    }
    tars_buf_put(b, "\"", 1);
}

static int session_attrs(pg_db *d, const char *userId, const char *sessionId, tars_str *out)
{
    pg_args a;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, sessionId);
    PGresult *r = pg_q(d, PG_SESSION_ATTRS, &a);
    if (!r)
        return OMTP_EDB;
    tars_buf b;
    tars_buf_init(&b);
    tars_buf_put(&b, "{", 1);
    for (int i = 0; i < PQntuples(r); i++) {
        if (i)
            tars_buf_put(&b, ",", 1);
        json_str(&b, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        tars_buf_put(&b, ":", 1);
        json_str(&b, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
    }
    tars_buf_put(&b, "}", 1);
    PQclear(r);
    int rc = tars_buf_ok(&b) && tars_str_setn(out, b.data, b.len) == TARS_OK ? 0 : OMTP_ENOMEM;
    tars_buf_free(&b);
    return rc;
}

/* Fills one hot record from (session_id, read_seq, changed_us) of row i. */
static int hot_fill(pg_db *d, const char *userId, const PGresult *r, int i, omtp_hot_rec *h)
{
    pg_args a;
    const char *sid = PQgetvalue(r, i, 0);
    int64_t unread = 0;
    h->readSeqId = pg_i64(r, i, 1);
    h->changedUs = pg_i64(r, i, 2);
    if (pg_str(r, i, 0, &h->sessionId))
        return OMTP_ENOMEM;
    pa_init(&a);
    pa_str(&a, sid);
    pa_i64(&a, h->readSeqId);
    pa_str(&a, userId);
    int rc = pg_one_i64(d, PG_UNREAD, &a, &unread);
    if (rc)
        return rc;
    h->unreadCount = unread < 0 ? 0 : unread > INT32_MAX ? INT32_MAX : (int32_t)unread;
    pa_init(&a);
    pa_str(&a, sid);
    PGresult *lr = pg_q(d, PG_LAST_VISIBLE, &a);
    if (!lr)
        return OMTP_EDB;
    if (PQntuples(lr) > 0) {
        h->hasLast = true;
        rc = pg_row_msg(lr, 0, 0, &h->last);
    }
    PQclear(lr);
    if (rc)
        return rc;
    return session_attrs(d, userId, sid, &h->attribute);
}

static int hot_rows(pg_db *d, const char *userId, const PGresult *r, omtp_hot_rec_list *out)
{
    for (int i = 0; i < PQntuples(r); i++) {
        omtp_hot_rec *h = pg_list_grow(out, sizeof(*h));
        if (!h)
            return OMTP_ENOMEM;
        tars_str_clear(&h->sessionId);
        tars_str_clear(&h->attribute);
        omtp_msg_rec_init(&h->last);
        int rc = hot_fill(d, userId, r, i, h);
        if (rc)
            return rc;
    }
    return 0;
}

int pg_hot_sessions(omtp_db *db, const char *userId, int64_t sinceUs, int limit,
                    omtp_hot_rec_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (limit <= 0)
        limit = HOT_DEFAULT;
    if (limit > HOT_MAX)
        limit = HOT_MAX;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_i64(&a, sinceUs);
    pa_i64(&a, limit);
    PGresult *r = pg_q(d, PG_HOT_PAGE, &a);
    if (!r)
        return OMTP_EDB;
    int rc = hot_rows(d, userId, r, out);
    PQclear(r);
    if (rc)
        omtp_hot_rec_list_free(out);
    return rc;
}

int pg_hot_session_get(omtp_db *db, const char *userId, const char *sessionId,
                       omtp_hot_rec_list *out)
{
    pg_db *d = PGD(db);
    pg_args a;
    memset(out, 0, sizeof(*out));
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, sessionId);
    PGresult *r = pg_q(d, PG_HOT_ONE, &a);
    if (!r)
        return OMTP_EDB;
    int rc = PQntuples(r) > 0 ? hot_rows(d, userId, r, out) : OMTP_ENOTFOUND;
    PQclear(r);
    if (rc)
        omtp_hot_rec_list_free(out);
    return rc;
}

int pg_unread_total(omtp_db *db, const char *userId, int64_t *total)
{
    pg_db *d = PGD(db);
    pg_args a;
    *total = 0;
    if (pg_ready(d))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    return pg_one_i64(d, PG_UNREAD_TOTAL, &a, total);
}

int pg_session_attr_set(omtp_db *db, const char *userId, const char *sessionId, const char *name,
                        const char *value)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    if (!name || !name[0])
        return OMTP_EINVAL;
    if (pg_ready(d) || pg_op_begin(d, &own))
        return OMTP_EDB;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, sessionId);
    pa_str(&a, name);
    pa_str(&a, value ? value : "");
    int rc = pg_run(d, PG_SESSION_ATTR_SET, &a, NULL);
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, userId);
        pa_str(&a, sessionId);
        pa_i64(&a, pg_now_us(d));
        rc = pg_run(d, PG_MEMBER_TOUCH, &a, NULL);
    }
    return pg_op_end(d, own, rc);
}

/* ------------------------------------------------ high-priority queue */

/* A personal (hp_queue) or group (hp_group) entry under the next value of
 * the shared seq (see sqlite/sq_msgs.c for the model). Not the batch's first
 * item: the head row is tried NOWAIT, so a batch never waits for another
 * node's lock while holding its own (pg.h). */
static int hp_insert(omtp_db *db, int stmt, const char *key, const char *exceptId,
                     const omtp_OTIMPack *pack, int64_t *seq)
{
    pg_db *d = PGD(db);
    pg_args a;
    bool own;
    *seq = 0;
    if (pg_ready(d))
        return OMTP_EDB;
    bool nowait = d->in_tx && d->tx_items > 1;
    if (pg_op_begin(d, &own))
        return OMTP_EDB;
    int64_t s = 0;
    int rc = 0;
    if (nowait) {
        pa_init(&a);
        rc = pg_one_i64(d, PG_HP_HEAD_LOCK_NOWAIT, &a, &s);
        if (rc == OMTP_EDB && strcmp(d->sqlstate, "55P03") == 0)
            rc = OMTP_EAGAIN;
    }
    if (rc == 0) {
        pa_init(&a);
        rc = pg_one_i64(d, PG_HP_HEAD_BUMP, &a, &s);
    }
    if (rc == 0) {
        pa_init(&a);
        pa_str(&a, key);
        pa_i64(&a, s);
        pa_i64(&a, pack->header.type);
        pa_i64(&a, pack->header.flags);
        pa_tstr(&a, &pack->header.packId);
        pa_strn(&a, pack->payload.data ? (const char *)pack->payload.data : "", pack->payload.len);
        pa_i64(&a, pg_now_ms());
        if (stmt == PG_HP_GROUP_INSERT)
            pa_str(&a, exceptId ? exceptId : "");
        rc = pg_run(d, stmt, &a, NULL);
    }
    if (rc == 0)
        *seq = s;
    return pg_op_end(d, own, rc);
}

int pg_hp_append(omtp_db *db, const char *userId, const omtp_OTIMPack *pack, int64_t *seq)
{
    return hp_insert(db, PG_HP_INSERT, userId, NULL, pack, seq);
}

int pg_hp_group_append(omtp_db *db, const char *groupId, const char *exceptId,
                       const omtp_OTIMPack *pack, int64_t *seq)
{
    return hp_insert(db, PG_HP_GROUP_INSERT, groupId, exceptId, pack, seq);
}

int pg_hp_list(omtp_db *db, const char *userId, int64_t afterSeq, int count, omtp_hp_rec_list *out,
               int64_t *lastSeq)
{
    pg_db *d = PGD(db);
    pg_args a;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    *lastSeq = 0;
    if (count > HP_MAX)
        count = HP_MAX;
    if (pg_ready(d))
        return OMTP_EDB;
    if (count > 0) {
        pa_init(&a);
        pa_str(&a, userId);
        pa_i64(&a, afterSeq);
        pa_i64(&a, count);
        PGresult *r = pg_q(d, PG_HP_LIST, &a);
        if (!r)
            return OMTP_EDB;
        for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
            omtp_hp_rec *h = pg_list_grow(out, sizeof(*h));
            if (!h) {
                rc = OMTP_ENOMEM;
                break;
            }
            tars_init(&omtp_OTIMPack_desc, &h->pack);
            h->seq = pg_i64(r, i, 0);
            h->pack.header.type = (int16_t)pg_i64(r, i, 1);
            h->pack.header.version = 1;
            h->pack.header.flags = pg_i64(r, i, 2);
            if (pg_str(r, i, 3, &h->pack.header.packId) ||
                tars_bytes_set(&h->pack.payload, PQgetvalue(r, i, 4),
                               (size_t)PQgetlength(r, i, 4)) != TARS_OK)
                rc = OMTP_ENOMEM;
        }
        PQclear(r);
        if (rc) {
            omtp_hp_rec_list_free(out);
            return rc;
        }
        if (out->n) {
            /* the last entry returned: asking again from it skips nothing */
            *lastSeq = out->items[out->n - 1].seq;
            return 0;
        }
    }
    /* nothing after afterSeq: the shared head, so a client whose cursor is
     * ahead (e.g. a reset server) can start over */
    pa_init(&a);
    rc = pg_one_i64(d, PG_HP_HEAD, &a, lastSeq);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}
