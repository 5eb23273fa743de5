/*
 * fuzz_search.c - the search query path on hostile input: the query check
 * (domain/search.h omtp_dom_search_check) and, for what it lets through,
 * the SQLite store's search (the FTS5 phrase quoting of sq_search.c) on a
 * real store with a few messages. The property: the check never crashes,
 * and a query it accepts never makes the store fail -- whatever quotes,
 * operators or bytes it holds, FTS5 never sees syntax, so msg_search
 * returns 0 (an engine error would be OMTP_EDB). And the results are
 * exact (the detail=none index answers candidates that omtp_search_has
 * re-checks, sq_search_match.c): for a query of ASCII only, every message
 * of ASCII text is a result if and only if its first 4096 bytes contain
 * the query, ASCII case ignored. Input: the query bytes; the first byte
 * also picks one session or all of them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "domain/search.h"
#include "proto/omtp_limits.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static omtp_db *db;
static char *long_text; /* over the 4096 bytes indexed */

#define CAP 4096

/* ASCII text s[0..n) holds q, ASCII case ignored */
static bool holds(const char *s, size_t n, const char *q)
{
    size_t k = strlen(q);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, q, k) == 0)
            return true;
    return false;
}

static bool ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static void put(const char *from, const char *to, const char *sid, const char *text)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = 14;
    tars_str_set(&m.msg.sessionId, sid);
    tars_str_set(&m.msg.from, from);
    tars_str_set(&m.msg.to, to);
    tars_str_set(&m.msg.content, text);
    m.msg.contentType = 1;
    bool dup = false;
    if (omtp_db_msg_append(db, &m, &dup) != 0)
        abort();
    omtp_msg_rec_free(&m);
}

static void open_store(void)
{
    char dir[] = "/tmp/omtp-fuzz-search-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    omtp_store_config cfg = {.data_dir = dir, .synchronous = 1};
    char why[256];
    if (omtp_db_open(&cfg, &db, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_search: %s\n", why);
        abort();
    }
    put("a", "b", "SC_a_b", "say \"hi\" * NEAR(x y) -z col:v OR AND NOT ^q 北京开会");
    put("b", "a", "SC_a_b", "second message with some text");
    put("a", "c", "SC_a_c", "其他会话 other session");
    put("b", "a", "SC_a_b", "say \"hi\" * NEAR(x y) -z col:v OR AND NOT ^q abc bcd cde");
    long_text = malloc(CAP + 64);
    if (!long_text)
        abort();
    for (int i = 0; i < CAP + 60; i++)
        long_text[i] = "abcdefghij klmnopqrstuvwxyz0123456789"[(i * 7 + i / 37) % 37];
    memcpy(long_text + CAP + 40, "TAILWORD", 8);
    long_text[CAP + 60] = '\0';
    put("a", "b", "SC_a_b", long_text);
}

/* the exactness property of the top of the file, for ASCII queries */
static void check_exact(const char *query, const omtp_msg_rec_list *out, bool one)
{
    if (!ascii(query) || strlen(query) < 3)
        return;
    omtp_msg_rec_list all;
    if (omtp_db_msg_history(db, "SC_a_b", 0, 100, &all) != 0)
        abort();
    for (uint32_t i = 0; i < all.n; i++) {
        const char *c = all.items[i].msg.content.data;
        if (!c || !ascii(c))
            continue;
        size_t n = strlen(c);
        bool want = holds(c, n < CAP ? n : CAP, query), got = false;
        for (uint32_t k = 0; k < out->n; k++)
            got |= strcmp(out->items[k].msg.sessionId.data, "SC_a_b") == 0 &&
                   out->items[k].msg.seqId == all.items[i].msg.seqId;
        if (want != got) {
            fprintf(stderr, "fuzz_search: query \"%s\" %s message %lld (one session: %d)\n", query,
                    got ? "wrongly found" : "did not find", (long long)all.items[i].msg.seqId, one);
            abort();
        }
    }
    omtp_msg_rec_list_free(&all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        open_store();
    if (size < 1)
        return 0;
    omtp_dom_search_req q = {.query = (const char *)data + 1, .queryLen = size - 1, .count = 20};
    char why[320];
    if (omtp_dom_search_check(&q, why, sizeof why) != 0)
        return 0;
    char query[OMTP_LIMIT_SEARCH_QUERY + 1];
    memcpy(query, data + 1, size - 1);
    query[size - 1] = '\0';
    omtp_msg_rec_list out;
    int rc = omtp_db_msg_search(db, "a", data[0] & 1 ? "SC_a_b" : NULL, query, 0, 20, &out);
    if (rc != 0) {
        fprintf(stderr, "fuzz_search: the store failed (%d: %s) on an accepted query\n", rc,
                db->errmsg);
        abort();
    }
    for (uint32_t i = 0; i < out.n; i++) /* one session asked: only its messages */
        if ((data[0] & 1) && strcmp(out.items[i].msg.sessionId.data, "SC_a_b") != 0)
            abort();
    check_exact(query, &out, data[0] & 1);
    omtp_msg_rec_list_free(&out);
    return 0;
}
