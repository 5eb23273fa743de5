/*
 * sq_search.c - full-text search over the FTS5 trigram index (sq_schema.c,
 * migration 7 -> 8; docs/storage.md "Search index").
 *
 * The user's query never reaches FTS5 syntax: it is bound as ONE phrase,
 * "..." with every " doubled, so operators (AND OR NOT NEAR, *, ^, -, column
 * filters, parentheses) are plain characters inside it. The trigram
 * tokenizer turns the phrase into its trigrams, and a phrase match means
 * the text contains the query as a substring. The statement walks the index
 * newest first and stops at `count` rows of the user's sessions.
 *
 * Writes: the triggers put a new entry into search_pending (a plain table,
 * in the message's transaction), and sq_search_flush moves the entries into
 * search_fts before COMMIT (sq_commit) and before every search, so the
 * index is complete when the transaction is and a search sees every stored
 * message. Entries an admin command wrote outside the executor wait in
 * search_pending (durable) until the next flush. Why not insert into
 * search_fts directly: FTS5 writes its pending terms out as a new segment
 * at every SAVEPOINT, and every work item (and op) runs in one, so a batch
 * of 100 messages made 100 one-message segments plus their merges (it
 * halved append throughput: bench/RESULTS.md, "Search").
 *
 * Threading: the store thread (or an admin command's thread), like every op.
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define SEARCH_MAX 100

/* "q" with every '"' doubled; NULL when out of memory. */
static char *fts_phrase(const char *q)
{
    size_t n = strlen(q), quotes = 0;
    for (size_t i = 0; i < n; i++)
        quotes += q[i] == '"';
    char *p = malloc(n + quotes + 3);
    if (!p)
        return NULL;
    size_t k = 0;
    p[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        p[k++] = q[i];
        if (q[i] == '"')
            p[k++] = '"';
    }
    p[k++] = '"';
    p[k] = '\0';
    return p;
}

int sq_search_flush(sq_db *d)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_SEARCH_FLUSH_MOVE);
    if (!st)
        return OMTP_EDB;
    int rc = sq_run(d, st, "search flush");
    if (rc || sqlite3_changes(d->h) == 0)
        return rc;
    st = sq_stmt(d, SQ_SEARCH_FLUSH_CLEAR);
    return st ? sq_run(d, st, "search flush") : OMTP_EDB;
}

int sq_msg_search(omtp_db *db, const char *userId, const char *sessionId, const char *query,
                  int64_t beforeMs, int count, omtp_msg_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    if (count <= 0 || !query || !query[0])
        return 0;
    if (count > SEARCH_MAX)
        count = SEARCH_MAX;
    int frc = sq_search_flush(d);
    if (frc)
        return frc;
    bool one = sessionId && sessionId[0];
    char *phrase = fts_phrase(query);
    if (!phrase)
        return OMTP_ENOMEM;
    sqlite3_stmt *st = sq_stmt(d, one ? SQ_MSG_SEARCH_SESSION : SQ_MSG_SEARCH_USER);
    if (!st) {
        free(phrase);
        return OMTP_EDB;
    }
    sqlite3_bind_text(st, 1, phrase, -1, SQLITE_TRANSIENT);
    sq_bind_str(st, 2, one ? sessionId : userId);
    sqlite3_bind_int64(st, 3, beforeMs <= 0 ? INT64_MAX : beforeMs);
    sqlite3_bind_int(st, 4, count);
    free(phrase);
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
        ret = sq_fail(d, "msg_search");
    sqlite3_reset(st);
    if (ret)
        omtp_msg_rec_list_free(out);
    return ret;
}
