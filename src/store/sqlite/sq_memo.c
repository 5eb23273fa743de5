/*
 * sq_memo.c - membership rows known to exist, so msg_append skips its
 * per-message "INSERT INTO members ... ON CONFLICT DO NOTHING".
 *
 * A set of (user, session) pairs per connection (the store thread's). The
 * rule: a pair is in the set only if its row exists in the database or in
 * the connection's open transaction. To keep it true the set is emptied
 *
 *   - whenever anything is rolled back (an op savepoint, an item savepoint,
 *     a whole batch): a row added in the rolled-back part may be gone;
 *   - when membership rows are deleted (group member removal, dismissal)
 *     and when a user is deleted;
 *   - when another connection (an admin command) committed since our last
 *     transaction (PRAGMA data_version, checked at every BEGIN).
 *
 * All of these are rare next to messages, so clearing everything is simpler
 * than tracking which pairs a rollback touched. The set is bounded: when it
 * is full it is emptied and refills from the messages that follow.
 */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define MEMO_SLOTS 65536 /* power of two; at most half of them used */

struct sq_memo {
    uint32_t used;
    char *slot[MEMO_SLOTS]; /* "user\0session\0" or NULL */
    uint32_t len[MEMO_SLOTS];
};

static uint64_t hash(const tars_str *u, const tars_str *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < u->len; i++)
        h = (h ^ (unsigned char)u->data[i]) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("ab","c") != ("a","bc") */
    for (size_t i = 0; i < s->len; i++)
        h = (h ^ (unsigned char)s->data[i]) * 1099511628211ULL;
    return h;
}

static bool same(const char *k, uint32_t klen, const tars_str *u, const tars_str *s)
{
    return klen == u->len + 1 + s->len && memcmp(k, u->data, u->len) == 0 && k[u->len] == 0 &&
           memcmp(k + u->len + 1, s->data, s->len) == 0;
}

/* The slot of (u, s), or the empty slot where it would go. */
static uint32_t find(const sq_memo *m, const tars_str *u, const tars_str *s)
{
    uint32_t i = (uint32_t)hash(u, s) & (MEMO_SLOTS - 1);
    while (m->slot[i] && !same(m->slot[i], m->len[i], u, s))
        i = (i + 1) & (MEMO_SLOTS - 1);
    return i;
}

bool sq_memo_has(sq_db *d, const tars_str *user, const tars_str *session)
{
    sq_memo *m = d->memo;
    return m && m->used && m->slot[find(m, user, session)] != NULL;
}

void sq_memo_add(sq_db *d, const tars_str *user, const tars_str *session)
{
    if (!user->len || !session->len)
        return;
    sq_memo *m = d->memo;
    if (!m && !(m = d->memo = calloc(1, sizeof(*m))))
        return; /* no memo: every message upserts, as before */
    if (m->used >= MEMO_SLOTS / 2)
        sq_memo_clear(d);
    uint32_t i = find(m, user, session);
    if (m->slot[i])
        return;
    uint32_t n = (uint32_t)(user->len + 1 + session->len);
    char *k = malloc(n + 1);
    if (!k)
        return;
    memcpy(k, user->data, user->len);
    k[user->len] = 0;
    memcpy(k + user->len + 1, session->data, session->len);
    k[n] = 0;
    m->slot[i] = k;
    m->len[i] = n;
    m->used++;
}

void sq_memo_clear(sq_db *d)
{
    sq_memo *m = d->memo;
    if (!m || !m->used)
        return;
    for (uint32_t i = 0; i < MEMO_SLOTS; i++) {
        free(m->slot[i]);
        m->slot[i] = NULL;
    }
    m->used = 0;
}

void sq_memo_free(sq_db *d)
{
    sq_memo_clear(d);
    free(d->memo);
    d->memo = NULL;
}
