/*
 * sq_search_match.c - the exact re-check of a search candidate: the SQL
 * function omtp_search_has(doc, query) (docs/storage.md "Search index").
 *
 * The FTS5 index is detail=none (sq_search_schema.h, migration 9 -> 10): it
 * knows which rows hold each trigram, not where. A search asks it for the
 * rows holding the query's trigrams (sq_search.c) and keeps a row only if
 * this function says its indexed text holds the query as a phrase: the
 * query's trigram tokens at consecutive positions of the text's, both
 * tokenized by FTS5's own trigram tokenizer (so case folding and every
 * other tokenizer rule are exactly the index's). That is the phrase match
 * the detail=full index answered before: results do not change.
 *
 * Cost: one tokenizing pass over the candidate's indexed text (at most
 * SQ_SEARCH_CAP_BYTES bytes), stopping at the first match.
 *
 * Threading: registered per connection (sq_search_register, at open); the
 * tokenizer object is stateless and owned by the function (freed with it).
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define TOK_MAX 15 /* a trigram token: 3 characters, at most 12 bytes folded */

typedef struct tok {
    unsigned char n;
    char b[TOK_MAX];
} tok;

typedef struct search_tok {
    fts5_tokenizer api;
    Fts5Tokenizer *t;
} search_tok;

/* tokens collected (the query) or matched against (the text) */
typedef struct tok_run {
    tok *q;      /* the query's tokens */
    int nq, cap; /* count; room */
    tok *ring;   /* the text's last nq tokens, ring[pos % nq] */
    long pos;    /* text tokens seen */
} tok_run;

static void tok_set(tok *t, const char *p, int n)
{
    t->n = (unsigned char)(n > TOK_MAX ? TOK_MAX : n);
    memcpy(t->b, p, t->n);
}

static bool tok_eq(const tok *a, const tok *b)
{
    return a->n == b->n && memcmp(a->b, b->b, a->n) == 0;
}

static int on_query_tok(void *ctx, int flags, const char *p, int n, int s, int e)
{
    (void)flags, (void)s, (void)e;
    tok_run *r = ctx;
    if (r->nq >= r->cap)
        return SQLITE_NOMEM;
    tok_set(&r->q[r->nq++], p, n);
    return SQLITE_OK;
}

static int on_text_tok(void *ctx, int flags, const char *p, int n, int s, int e)
{
    (void)flags, (void)s, (void)e;
    tok_run *r = ctx;
    tok_set(&r->ring[r->pos % r->nq], p, n);
    r->pos++;
    if (r->pos < r->nq)
        return SQLITE_OK;
    long first = r->pos - r->nq;
    for (int k = 0; k < r->nq; k++)
        if (!tok_eq(&r->ring[(first + k) % r->nq], &r->q[k]))
            return SQLITE_OK;
    return SQLITE_DONE; /* found: stop tokenizing */
}

static void search_has(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    search_tok *st = sqlite3_user_data(cx);
    const char *doc = (const char *)sqlite3_value_text(argv[0]);
    int nd = sqlite3_value_bytes(argv[0]);
    const char *q = (const char *)sqlite3_value_text(argv[1]);
    int nq = sqlite3_value_bytes(argv[1]);
    if (!doc || !q || nq == 0) {
        sqlite3_result_int(cx, 0);
        return;
    }
    /* a token per character at most */
    tok_run r = {.cap = nq};
    r.q = malloc(2 * (size_t)nq * sizeof(tok));
    if (!r.q) {
        sqlite3_result_error_nomem(cx);
        return;
    }
    r.ring = r.q + nq;
    int rc = st->api.xTokenize(st->t, &r, FTS5_TOKENIZE_QUERY, q, nq, on_query_tok);
    int found = 0;
    if (rc == SQLITE_OK && r.nq > 0) {
        rc = st->api.xTokenize(st->t, &r, FTS5_TOKENIZE_DOCUMENT, doc, nd, on_text_tok);
        found = rc == SQLITE_DONE;
        if (found)
            rc = SQLITE_OK;
    }
    free(r.q);
    if (rc != SQLITE_OK)
        sqlite3_result_error_code(cx, rc);
    else
        sqlite3_result_int(cx, found);
}

static void search_tok_free(void *p)
{
    search_tok *st = p;
    if (st && st->t)
        st->api.xDelete(st->t);
    free(st);
}

int sq_search_register(sqlite3 *h)
{
    fts5_api *fts = NULL;
    sqlite3_stmt *ps;
    if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &ps, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    sqlite3_bind_pointer(ps, 1, (void *)&fts, "fts5_api_ptr", NULL);
    sqlite3_step(ps);
    sqlite3_finalize(ps);
    if (!fts)
        return SQLITE_ERROR;
    search_tok *st = calloc(1, sizeof(*st));
    if (!st)
        return SQLITE_NOMEM;
    void *ud = NULL;
    int rc = fts->xFindTokenizer(fts, "trigram", &ud, &st->api);
    if (rc == SQLITE_OK)
        rc = st->api.xCreate(ud, NULL, 0, &st->t);
    if (rc != SQLITE_OK) {
        free(st);
        return rc;
    }
    return sqlite3_create_function_v2(h, "omtp_search_has", 2,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, st,
                                      search_has, NULL, NULL, search_tok_free);
}
