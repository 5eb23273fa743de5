/*
 * sq_search.c - full-text search over the FTS5 trigram index (sq_schema.c,
 * migration 6 -> 7; docs/storage.md "Search").
 *
 * The user's query never reaches FTS5 syntax: it is bound as ONE phrase,
 * "..." with every " doubled, so operators (AND OR NOT NEAR, *, ^, -, column
 * filters, parentheses) are plain characters inside it. The trigram
 * tokenizer turns the phrase into its trigrams, and a phrase match means
 * the text contains the query as a substring. The statement walks the index
 * newest first and stops at `count` rows of the user's sessions.
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

int sq_msg_search(omtp_db *db, const char *userId, const char *sessionId, const char *query,
                  int64_t beforeMs, int count, omtp_msg_rec_list *out)
{
    sq_db *d = SQ(db);
    memset(out, 0, sizeof(*out));
    if (count <= 0 || !query || !query[0])
        return 0;
    if (count > SEARCH_MAX)
        count = SEARCH_MAX;
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
