/*
 * sq_ext.c - SQLite: the extensions stored with messages -- replies and
 * mentions (columns of the message row, members.mention_seq) and reactions
 * (their own table, clustered by message). docs/storage.md, "Extensions".
 *
 * Threading: the store thread (like every op of an omtp_db).
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

int sq_msg_refs_set(omtp_db *db, const char *sessionId, int64_t seqId, int64_t replyTo,
                    const tars_str_list *mentions)
{
    sq_db *d = SQ(db);
    tars_str text = {NULL, 0};
    tars_str_clear(&text); /* the shared empty string */
    if (mentions && omtp_mentions_join(mentions, &text) != 0)
        return OMTP_ENOMEM;
    sqlite3_stmt *st = sq_stmt(d, SQ_MSG_REFS_SET);
    int rc = OMTP_EDB;
    if (st) {
        sq_bind_str(st, 1, sessionId);
        sqlite3_bind_int64(st, 2, seqId);
        sqlite3_bind_int64(st, 3, replyTo);
        sq_bind_tstr(st, 4, &text);
        rc = sq_run(d, st, "msg_refs_set");
        if (rc == 0 && sqlite3_changes(d->h) == 0)
            rc = OMTP_ENOTFOUND;
    }
    tars_str_clear(&text);
    return rc;
}

int sq_mention_mark(omtp_db *db, const char *sessionId, int64_t seqId, const tars_str_list *users,
                    const char *exceptId)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st;
    if (!users) {
        if (!(st = sq_stmt(d, SQ_MENTION_ALL)))
            return OMTP_EDB;
        sq_bind_str(st, 1, sessionId);
        sqlite3_bind_int64(st, 2, seqId);
        sq_bind_str(st, 3, exceptId);
        return sq_run(d, st, "mention_mark all");
    }
    for (uint32_t i = 0; i < users->n; i++) {
        if (!(st = sq_stmt(d, SQ_MENTION_ONE)))
            return OMTP_EDB;
        sq_bind_tstr(st, 1, &users->items[i]);
        sq_bind_str(st, 2, sessionId);
        sqlite3_bind_int64(st, 3, seqId);
        int rc = sq_run(d, st, "mention_mark");
        if (rc)
            return rc;
    }
    return 0;
}

int sq_mention_seq(omtp_db *db, const char *userId, const char *sessionId, int64_t *seq)
{
    sq_db *d = SQ(db);
    *seq = 0;
    sqlite3_stmt *st = sq_stmt(d, SQ_MENTION_GET);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, userId);
    sq_bind_str(st, 2, sessionId);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = sq_fail(d, "mention_seq");
    sqlite3_reset(st);
    return ret;
}

int sq_reaction_add(omtp_db *db, const char *sessionId, int64_t seqId, const char *userId,
                    const char *emoji, int maxEmojis)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_REACTION_EMOJIS);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, seqId);
    sq_bind_str(st, 3, emoji);
    int64_t distinct = 0, has = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        distinct = sqlite3_column_int64(st, 0);
        has = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(d, "reaction count");
    if (!has && maxEmojis > 0 && distinct >= maxEmojis)
        return OMTP_ETOOBIG;
    if (!(st = sq_stmt(d, SQ_REACTION_ADD)))
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, seqId);
    sq_bind_str(st, 3, emoji);
    sq_bind_str(st, 4, userId);
    sqlite3_bind_int64(st, 5, sq_now_us(d));
    return sq_run(d, st, "reaction_add"); /* OMTP_EEXIST: added before */
}

int sq_reaction_del(omtp_db *db, const char *sessionId, int64_t seqId, const char *userId,
                    const char *emoji)
{
    sq_db *d = SQ(db);
    sqlite3_stmt *st = sq_stmt(d, SQ_REACTION_DEL);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, seqId);
    sq_bind_str(st, 3, emoji);
    sq_bind_str(st, 4, userId);
    int rc = sq_run(d, st, "reaction_del");
    if (rc == 0 && sqlite3_changes(d->h) == 0)
        rc = OMTP_ENOTFOUND;
    return rc;
}

int sq_reactions_list(omtp_db *db, const char *sessionId, int64_t minSeq, int64_t maxSeq,
                      omtp_reaction_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = sq_stmt(d, SQ_REACTIONS_LIST);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, sessionId);
    sqlite3_bind_int64(st, 2, minSeq);
    sqlite3_bind_int64(st, 3, maxSeq);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        omtp_reaction_rec *r = sq_list_grow(out, sizeof(*r));
        if (!r) {
            ret = OMTP_ENOMEM;
            break;
        }
        r->seq = sqlite3_column_int64(st, 0);
        tars_str_clear(&r->emoji);
        tars_str_clear(&r->userId);
        if (sq_col_str(st, 1, &r->emoji) || sq_col_str(st, 2, &r->userId)) {
            ret = OMTP_ENOMEM;
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sq_fail(d, "reactions_list");
    sqlite3_reset(st);
    if (ret)
        omtp_reaction_rec_list_free(out);
    return ret;
}
