/*
 * pg_ext.c - PostgreSQL: the extensions stored with messages -- replies and
 * mentions (columns of the message row, members.mention_seq) and reactions
 * (their own table, keyed by message). The same contract as sq_ext.c
 * (store.h; docs/storage.md, "Extensions").
 *
 * Threading: the store thread (like every op of an omtp_db).
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

int pg_msg_refs_set(omtp_db *db, const char *sessionId, int64_t seqId, int64_t replyTo,
                    const tars_str_list *mentions)
{
    pg_db *d = PGD(db);
    tars_str text = {NULL, 0};
    tars_str_clear(&text); /* the shared empty string */
    if (mentions && omtp_mentions_join(mentions, &text) != 0)
        return OMTP_ENOMEM;
    pg_args a;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    pa_i64(&a, replyTo);
    pa_tstr(&a, &text);
    int rows = 0;
    int rc = pg_run(d, PG_MSG_REFS_SET, &a, &rows);
    tars_str_clear(&text);
    if (rc == 0 && rows == 0)
        rc = OMTP_ENOTFOUND;
    return rc;
}

int pg_mention_mark(omtp_db *db, const char *sessionId, int64_t seqId, const tars_str_list *users,
                    const char *exceptId)
{
    pg_db *d = PGD(db);
    pg_args a;
    if (!users) {
        pa_init(&a);
        pa_str(&a, sessionId);
        pa_i64(&a, seqId);
        pa_str(&a, exceptId ? exceptId : "");
        return pg_run(d, PG_MENTION_ALL, &a, NULL);
    }
    for (uint32_t i = 0; i < users->n; i++) {
        pa_init(&a);
        pa_tstr(&a, &users->items[i]);
        pa_str(&a, sessionId);
        pa_i64(&a, seqId);
        int rc = pg_run(d, PG_MENTION_ONE, &a, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

int pg_mention_seq(omtp_db *db, const char *userId, const char *sessionId, int64_t *seq)
{
    pg_db *d = PGD(db);
    pg_args a;
    pa_init(&a);
    pa_str(&a, userId);
    pa_str(&a, sessionId);
    *seq = 0;
    int rc = pg_one_i64(d, PG_MENTION_GET, &a, seq);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

int pg_reaction_add(omtp_db *db, const char *sessionId, int64_t seqId, const char *userId,
                    const char *emoji, int maxEmojis)
{
    pg_db *d = PGD(db);
    pg_args a;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    pa_str(&a, emoji);
    PGresult *r = pg_q(d, PG_REACTION_EMOJIS, &a);
    if (!r)
        return OMTP_EDB;
    int64_t distinct = PQntuples(r) ? pg_i64(r, 0, 0) : 0;
    int64_t has = PQntuples(r) ? pg_i64(r, 0, 1) : 0;
    PQclear(r);
    if (!has && maxEmojis > 0 && distinct >= maxEmojis)
        return OMTP_ETOOBIG;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    pa_str(&a, emoji);
    pa_str(&a, userId);
    pa_i64(&a, pg_now_us(d));
    int rows = 0;
    int rc = pg_run(d, PG_REACTION_ADD, &a, &rows);
    if (rc == 0 && rows == 0)
        rc = OMTP_EEXIST;
    return rc;
}

int pg_reaction_del(omtp_db *db, const char *sessionId, int64_t seqId, const char *userId,
                    const char *emoji)
{
    pg_db *d = PGD(db);
    pg_args a;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, seqId);
    pa_str(&a, emoji);
    pa_str(&a, userId);
    int rows = 0;
    int rc = pg_run(d, PG_REACTION_DEL, &a, &rows);
    if (rc == 0 && rows == 0)
        rc = OMTP_ENOTFOUND;
    return rc;
}

int pg_reactions_list(omtp_db *db, const char *sessionId, int64_t minSeq, int64_t maxSeq,
                      omtp_reaction_rec_list *out)
{
    pg_db *d = PGD(db);
    memset(out, 0, sizeof(*out));
    pg_args a;
    pa_init(&a);
    pa_str(&a, sessionId);
    pa_i64(&a, minSeq);
    pa_i64(&a, maxSeq);
    PGresult *r = pg_q(d, PG_REACTIONS_LIST, &a);
    if (!r)
        return OMTP_EDB;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        omtp_reaction_rec *e = pg_list_grow(out, sizeof(*e));
        if (!e) {
            rc = OMTP_ENOMEM;
            break;
        }
        e->seq = pg_i64(r, i, 0);
        tars_str_clear(&e->emoji);
        tars_str_clear(&e->userId);
        if (pg_str(r, i, 1, &e->emoji) || pg_str(r, i, 2, &e->userId))
            rc = OMTP_ENOMEM;
    }
    PQclear(r);
    if (rc)
        omtp_reaction_rec_list_free(out);
    return rc;
}
