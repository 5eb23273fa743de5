/*
 * sq_search.c - full-text search over the FTS5 trigram index (sq_schema.c,
 * migration 7 -> 8; docs/storage.md "Search index").
 *
 * The user's query never reaches FTS5 syntax: the index is detail=none
 * (migration 9 -> 10), which answers no phrase, so the query is cut into
 * trigrams (3 characters each; non-overlapping ones that cover it, and the
 * last, at most SEARCH_TRIGRAMS of them), each bound as a one-token phrase
 * "..." with every " doubled (operators AND OR NOT NEAR, *, ^, -, column
 * filters, parentheses are plain characters inside), joined by spaces
 * (AND). Every candidate row is re-checked by omtp_search_has
 * (sq_search_match.c) against its indexed text, so a result holds the query
 * as a substring (case-folded as the tokenizer folds), as before. The
 * statement walks the index newest first and stops at `count` rows of the
 * user's sessions. A query of fewer than 3 characters finds nothing (the
 * domain refuses it before).
 *
 * Writes: the triggers put a new entry into search_pending (a plain table,
 * in the message's transaction), and sq_search_flush moves the entries into
 * search_fts before every search (so a search sees every stored message)
 * and before a COMMIT once SQ_SEARCH_FLUSH_ROWS entries wait
 * (sq_search_commit). Entries waiting in search_pending are durable (they
 * commit with their messages) and are flushed by the next search or commit
 * past the threshold. Why not insert into search_fts directly: FTS5 writes
 * its pending terms out as a new segment at every SAVEPOINT, and every
 * work item (and op) runs in one, so a batch of 100 messages made 100
 * one-message segments plus their merges (it halved append throughput:
 * bench/RESULTS.md, "Search"); and a segment per commit of a few messages
 * still costs more per message than one per SQ_SEARCH_FLUSH_ROWS.
 *
 * Threading: the store thread (or an admin command's thread), like every op.
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define SEARCH_MAX           100
#define SEARCH_TRIGRAMS      16   /* trigrams of the query asked of the index, at most */
#define SQ_SEARCH_FLUSH_ROWS 2048 /* entries waiting before a commit flushes them */

/* Appends the trigram of q starting at byte b (3 characters, ending before
 * byte e) to p as "..." with '"' doubled, after a space unless first. */
static size_t put_trigram(char *p, size_t k, const char *q, size_t b, size_t e)
{
    if (k)
        p[k++] = ' ';
    p[k++] = '"';
    for (size_t i = b; i < e; i++) {
        p[k++] = q[i];
        if (q[i] == '"')
            p[k++] = '"';
    }
    p[k++] = '"';
    return k;
}

/* The FTS5 query for q: its trigrams ANDed (see the top of the file); ""
 * when q has fewer than 3 characters; NULL when out of memory. */
static char *fts_trigrams(const char *q)
{
    size_t n = strlen(q);
    size_t *at = malloc((n + 1) * sizeof(size_t)); /* byte offset of each character */
    char *p = malloc(SEARCH_TRIGRAMS * 27 + 1); /* 3 chars of 4 bytes, quotes doubled, "", space */
    if (!at || !p) {
        free(at);
        free(p);
        return NULL;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)q[i] & 0xC0) != 0x80)
            at[chars++] = i;
    at[chars] = n;
    size_t k = 0;
    if (chars >= 3) {
        size_t last = chars - 3, want = (chars + 2) / 3 + 1;
        if (want > SEARCH_TRIGRAMS)
            want = SEARCH_TRIGRAMS;
        /* starts spread evenly over 0..last: the first and the last included */
        size_t prev = (size_t)-1;
        for (size_t t = 0; t < want; t++) {
            size_t c = want == 1 ? 0 : t * last / (want - 1);
            if (c == prev)
                continue;
            prev = c;
            k = put_trigram(p, k, q, at[c], at[c + 3]);
        }
    }
    p[k] = '\0';
    free(at);
    return p;
}

int sq_search_commit(sq_db *d)
{
    sqlite3_stmt *st = sq_stmt(d, SQ_SEARCH_PENDING);
    if (!st)
        return OMTP_EDB;
    int64_t waiting = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        waiting = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(d, "search pending");
    return waiting >= SQ_SEARCH_FLUSH_ROWS ? sq_search_flush(d) : 0;
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
    char *phrase = fts_trigrams(query);
    if (!phrase)
        return OMTP_ENOMEM;
    if (!phrase[0]) { /* under 3 characters: no trigram, no match */
        free(phrase);
        return 0;
    }
    sqlite3_stmt *st = sq_stmt(d, one ? SQ_MSG_SEARCH_SESSION : SQ_MSG_SEARCH_USER);
    if (!st) {
        free(phrase);
        return OMTP_EDB;
    }
    sqlite3_bind_text(st, 1, phrase, -1, SQLITE_TRANSIENT);
    sq_bind_str(st, 2, one ? sessionId : userId);
    sqlite3_bind_int64(st, 3, beforeMs <= 0 ? INT64_MAX : beforeMs);
    sqlite3_bind_int(st, 4, count);
    sqlite3_bind_text(st, 5, query, -1, SQLITE_TRANSIENT);
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
