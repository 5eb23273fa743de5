/*
 * maint.c - store maintenance for admin commands, written once for every
 * backend on top of omtp_db_sql (see maint.h).
 *
 * The statements are plain SQL that SQLite and PostgreSQL both read (the
 * PostgreSQL backend turns ?N into $N); numbers go in as text, cast where
 * the type is not clear from a column.
 */
#include "maint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_proto.h"

/* ------------------------------------------------------------ helpers */

static int add_str(tars_str_list *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].data, s) == 0)
            return 0;
    tars_str *n = realloc(l->items, (l->n + 1) * sizeof *n);
    if (!n)
        return OMTP_ENOMEM;
    l->items = n;
    n[l->n].data = NULL;
    n[l->n].len = 0;
    if (tars_str_set(&n[l->n], s) != 0)
        return OMTP_ENOMEM;
    l->n++;
    return 0;
}

/* row callback: the first column into a tars_str_list (unique) */
static int row_first(void *ctx, int n, const char *const *v)
{
    return n > 0 && v[0] ? add_str(ctx, v[0]) : 0;
}

/* row callback: whether there is a row */
static int row_any(void *ctx, int n, const char *const *v)
{
    (void)n;
    (void)v;
    *(bool *)ctx = true;
    return 0;
}

/* row callback: the first column as an integer */
static int row_i64(void *ctx, int n, const char *const *v)
{
    *(int64_t *)ctx = n > 0 && v[0] ? strtoll(v[0], NULL, 10) : 0;
    return 0;
}

static int q(omtp_db *db, const char *sql, int np, const char *const *p)
{
    return omtp_db_raw_sql(db, sql, np, p, NULL, NULL, NULL);
}

static int exists(omtp_db *db, const char *sql, int np, const char *const *p, bool *yes)
{
    *yes = false;
    return omtp_db_raw_sql(db, sql, np, p, row_any, yes, NULL);
}

int omtp_store_bad_ids(omtp_db *db, tars_str_list *out, int max)
{
    bool pg = strcmp(db->ops->backend, "postgresql") == 0;
    char sql[512];
    memset(out, 0, sizeof *out);
    /* user ids: from the partial index users_bad_ids (same predicate) */
    snprintf(sql, sizeof sql, "SELECT user_id FROM users WHERE %s ORDER BY user_id LIMIT %d",
             pg ? PG_BAD_ID_PRED("user_id") : SQ_BAD_ID_PRED("user_id"), max);
    int rc = omtp_db_raw_sql(db, sql, 0, NULL, row_first, out, NULL);
    /* app ids: the first party of business sessions (the BM_ key range) */
    if (rc == 0) {
        snprintf(sql, sizeof sql,
                 "SELECT DISTINCT party_a FROM sessions WHERE session_id >= 'BM_' AND "
                 "session_id < 'BM`' AND party_a <> '' AND %s ORDER BY party_a LIMIT %d",
                 pg ? PG_BAD_ID_PRED("party_a") : SQ_BAD_ID_PRED("party_a"), max);
        rc = omtp_db_raw_sql(db, sql, 0, NULL, row_first, out, NULL);
    }
    if (rc)
        omtp_str_list_free(out);
    return rc;
}

/* ------------------------------------------------------------- rename */

typedef struct pair {
    int type;
    char from[2 * OMTP_ID_MAX + 1], to[2 * OMTP_ID_MAX + 1];
    int64_t count;
} pair;

typedef struct pairs {
    pair *v;
    int n;
} pairs;

static int row_pair(void *ctx, int n, const char *const *v)
{
    pairs *p = ctx;
    if (n < 4 || !v[0] || !v[1] || !v[2])
        return 0;
    pair *g = realloc(p->v, (size_t)(p->n + 1) * sizeof *g);
    if (!g)
        return OMTP_ENOMEM;
    p->v = g;
    g = &p->v[p->n++];
    g->type = atoi(v[0]);
    snprintf(g->from, sizeof g->from, "%s", v[1]);
    snprintf(g->to, sizeof g->to, "%s", v[2]);
    g->count = v[3] ? strtoll(v[3], NULL, 10) : 0;
    return 0;
}

typedef struct seqs {
    int64_t *v;
    int n;
} seqs;

static int row_seq(void *ctx, int n, const char *const *v)
{
    seqs *s = ctx;
    int64_t *g = realloc(s->v, (size_t)(s->n + 1) * sizeof *g);
    if (!g)
        return OMTP_ENOMEM;
    s->v = g;
    s->v[s->n++] = n > 0 && v[0] ? strtoll(v[0], NULL, 10) : 0;
    return 0;
}

typedef struct ren {
    omtp_db *db;
    const char *from, *to;
    char *why;
    size_t whylen;
    int moved_sessions, split_sessions;
} ren;

static const char *map(const ren *r, const char *id)
{
    return strcmp(id, r->from) == 0 ? r->to : id;
}

/* "<prefix>_<a>_<b>" into out (n bytes), or OMTP_EINVAL if it does not fit.
 * Copies instead of snprintf: at -O3 GCC sees the ids may be longer than
 * out and fails the build on -Wformat-truncation, length check or not. */
static int sid_join(char *out, size_t n, const char *prefix, const char *a, const char *b)
{
    size_t lp = strlen(prefix), la = strlen(a), lb = strlen(b);
    if (lp + 1 + la + 1 + lb >= n)
        return OMTP_EINVAL;
    memcpy(out, prefix, lp);
    out[lp] = '_';
    memcpy(out + lp + 1, a, la);
    out[lp + 1 + la] = '_';
    memcpy(out + lp + 2 + la, b, lb + 1);
    return 0;
}

/* The session id and parties a message of `type` between f and t belongs
 * to, spelled as the store does (no alphabet check: old data). */
static int target(int type, const char *f, const char *t, char *sid, size_t n, const char **pa,
                  const char **pb)
{
    int rc;
    if (type == PT_MSG_SINGLE_CHAT) {
        if (strcmp(f, t) > 0) {
            const char *x = f;
            f = t;
            t = x;
        }
        rc = sid_join(sid, n, "SC", f, t);
    } else if (type == PT_MSG_BIZ_NOTIFY) {
        rc = sid_join(sid, n, "BM", f, t);
    } else {
        return OMTP_EINVAL;
    }
    *pa = f;
    *pb = t;
    return rc;
}

/* Sets a session's parties from its first message (names mapped), or
 * deletes it with its member rows when no message is left. */
static int reparty(ren *r, const char *sid)
{
    pairs first = {0};
    const char *p1[] = {sid};
    int rc = omtp_db_raw_sql(r->db,
                             "SELECT type, from_id, to_id, 1 FROM messages WHERE session_id = ?1 "
                             "ORDER BY seq LIMIT 1",
                             1, p1, row_pair, &first, NULL);
    if (rc)
        goto out;
    if (first.n == 0) {
        if (!(rc = q(r->db, "DELETE FROM session_attrs WHERE session_id = ?1", 1, p1)) &&
            !(rc = q(r->db, "DELETE FROM members WHERE session_id = ?1", 1, p1)))
            rc = q(r->db, "DELETE FROM sessions WHERE session_id = ?1", 1, p1);
        goto out;
    }
    char t[2 * OMTP_ID_MAX + 8];
    const char *pa, *pb;
    if (target(first.v[0].type, map(r, first.v[0].from), map(r, first.v[0].to), t, sizeof t, &pa,
               &pb) == 0) {
        const char *p3[] = {sid, pa, pb};
        rc =
            q(r->db, "UPDATE sessions SET party_a = ?2, party_b = ?3 WHERE session_id = ?1", 3, p3);
    }
out:
    free(first.v);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Number of seqs in v (sorted) that are <= read: a read cursor mapped onto
 * the numbers 1..n those messages get. */
static int mapped_cursor(const seqs *v, int64_t read)
{
    int k = 0;
    while (k < v->n && v->v[k] <= read)
        k++;
    return k;
}

/* Renumbers the messages `v` (sorted seqs of session s) as 1..n of session
 * t (t may be s: then in place, which ascending order keeps collision-free
 * once the other conversations have moved out). */
static int renumber(ren *r, const char *s, const char *t, const seqs *v)
{
    char k[24], old[24];
    int rc = 0;
    for (int i = 0; rc == 0 && i < v->n; i++) {
        snprintf(k, sizeof k, "%d", i + 1);
        snprintf(old, sizeof old, "%lld", (long long)v->v[i]);
        const char *pm[] = {t, k, s, old};
        rc = q(r->db,
               "UPDATE messages SET session_id = ?1, seq = CAST(?2 AS INTEGER) "
               "WHERE session_id = ?3 AND seq = CAST(?4 AS INTEGER)",
               4, pm);
        if (rc == 0)
            rc = q(r->db,
                   "UPDATE reactions SET session_id = ?1, seq = CAST(?2 AS INTEGER) "
                   "WHERE session_id = ?3 AND seq = CAST(?4 AS INTEGER)",
                   4, pm);
    }
    return rc;
}

/* The seqs of session s's messages of the pairs whose target is t, sorted. */
static int target_seqs(ren *r, const char *s, const pairs *ps, const char *t, seqs *out,
                       tars_str_list *users)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < ps->n; i++) {
        const pair *g = &ps->v[i];
        char ti[2 * OMTP_ID_MAX + 8], type[16];
        const char *a, *b;
        if (target(g->type, map(r, g->from), map(r, g->to), ti, sizeof ti, &a, &b) != 0 ||
            strcmp(ti, t) != 0)
            continue;
        snprintf(type, sizeof type, "%d", g->type);
        const char *pq[] = {s, type, g->from, g->to};
        rc = omtp_db_raw_sql(r->db,
                             "SELECT seq FROM messages WHERE session_id = ?1 AND type = "
                             "CAST(?2 AS INTEGER) AND from_id = ?3 AND to_id = ?4",
                             4, pq, row_seq, out, NULL);
        /* member rows: both users of a single chat, the user of a business one */
        if (rc == 0 && g->type == PT_MSG_SINGLE_CHAT)
            rc = add_str(users, g->from);
        if (rc == 0)
            rc = add_str(users, g->to);
    }
    if (out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_i64);
    return rc;
}

/* Moves the conversation whose own session is t out of session s (t must
 * not exist): messages renumbered 1..n in their order, the users' member
 * rows (read cursors mapped) and session attributes copied; a user left
 * with nothing in s loses its row there. */
static int split_out(ren *r, const char *s, const pairs *ps, const char *t, const char *pa,
                     const char *pb)
{
    seqs v = {0};
    tars_str_list users = {0};
    char cnt[24], k[24];
    int rc = target_seqs(r, s, ps, t, &v, &users);
    snprintf(cnt, sizeof cnt, "%d", v.n);
    const char *pn[] = {t, cnt, pa, pb, s};
    if (rc == 0)
        rc = q(r->db,
               "INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, party_b) "
               "SELECT ?1, type, CAST(?2 AS INTEGER), changed_us, ?3, ?4 FROM sessions "
               "WHERE session_id = ?5",
               5, pn);
    if (rc == 0)
        rc = renumber(r, s, t, &v);
    for (uint32_t u = 0; rc == 0 && u < users.n; u++) {
        const char *user = users.items[u].data;
        int64_t read = 0;
        const char *pr[] = {user, s};
        rc = omtp_db_raw_sql(r->db,
                             "SELECT read_seq FROM members WHERE user_id = ?1 AND session_id = ?2",
                             2, pr, row_i64, &read, NULL);
        snprintf(k, sizeof k, "%d", mapped_cursor(&v, read));
        const char *pi[] = {user, s, t, k};
        if (rc == 0)
            rc = q(r->db,
                   "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "
                   "SELECT user_id, ?3, CAST(?4 AS INTEGER), changed_us, joined_ms FROM members "
                   "WHERE user_id = ?1 AND session_id = ?2",
                   4, pi);
        if (rc == 0)
            rc = q(r->db,
                   "INSERT INTO session_attrs(user_id, session_id, name, value) "
                   "SELECT user_id, ?3, name, value FROM session_attrs "
                   "WHERE user_id = ?1 AND session_id = ?2",
                   3, pi);
        bool still = false;
        if (rc == 0)
            rc = exists(r->db,
                        "SELECT 1 FROM messages WHERE session_id = ?2 AND "
                        "(from_id = ?1 OR to_id = ?1) LIMIT 1",
                        2, pr, &still);
        if (rc == 0 && !still &&
            !(rc = q(r->db, "DELETE FROM session_attrs WHERE user_id = ?1 AND session_id = ?2", 2,
                     pr)))
            rc = q(r->db, "DELETE FROM members WHERE user_id = ?1 AND session_id = ?2", 2, pr);
    }
    free(v.v);
    omtp_str_list_free(&users);
    return rc;
}

/* row callback: (user_id, read_seq) of a member row */
typedef struct cursor {
    char user[2 * OMTP_ID_MAX + 1];
    int64_t read;
} cursor;
typedef struct cursors {
    cursor *v;
    int n;
} cursors;

static int row_cursor(void *ctx, int n, const char *const *v)
{
    cursors *c = ctx;
    if (n < 2 || !v[0])
        return 0;
    cursor *g = realloc(c->v, (size_t)(c->n + 1) * sizeof *g);
    if (!g)
        return OMTP_ENOMEM;
    c->v = g;
    snprintf(g[c->n].user, sizeof g[c->n].user, "%s", v[0]);
    g[c->n].read = v[1] ? strtoll(v[1], NULL, 10) : 0;
    c->n++;
    return 0;
}

/* After a split: what is left of session s gets numbers 1..m too (gap-free,
 * as the protocol promises), with its members' read cursors mapped. */
static int renumber_rest(ren *r, const char *s)
{
    seqs v = {0};
    cursors cs = {0};
    char k[24];
    const char *p1[] = {s};
    int rc = omtp_db_raw_sql(r->db, "SELECT seq FROM messages WHERE session_id = ?1 ORDER BY seq",
                             1, p1, row_seq, &v, NULL);
    if (rc == 0)
        rc = omtp_db_raw_sql(r->db, "SELECT user_id, read_seq FROM members WHERE session_id = ?1",
                             1, p1, row_cursor, &cs, NULL);
    if (rc == 0)
        rc = renumber(r, s, s, &v);
    for (int i = 0; rc == 0 && i < cs.n; i++) {
        snprintf(k, sizeof k, "%d", mapped_cursor(&v, cs.v[i].read));
        const char *pu[] = {cs.v[i].user, s, k};
        rc = q(r->db,
               "UPDATE members SET read_seq = CAST(?3 AS INTEGER) WHERE user_id = ?1 AND "
               "session_id = ?2",
               3, pu);
    }
    snprintf(k, sizeof k, "%d", v.n);
    const char *pl[] = {s, k};
    if (rc == 0)
        rc = q(r->db, "UPDATE sessions SET last_seq = CAST(?2 AS INTEGER) WHERE session_id = ?1", 2,
               pl);
    free(v.v);
    free(cs.v);
    return rc;
}

/* Puts the messages of session s where the renamed ids say they belong. */
static int move_session(ren *r, const char *s)
{
    pairs ps = {0};
    const char *p1[] = {s};
    int rc =
        omtp_db_raw_sql(r->db,
                        "SELECT type, from_id, to_id, count(*) FROM messages WHERE session_id = "
                        "?1 GROUP BY type, from_id, to_id",
                        1, p1, row_pair, &ps, NULL);
    if (rc)
        goto out;
    char t[2 * OMTP_ID_MAX + 8], first[2 * OMTP_ID_MAX + 8] = "";
    const char *pa = NULL, *pb = NULL;
    bool one = true;
    for (int i = 0; i < ps.n; i++) {
        if (target(ps.v[i].type, map(r, ps.v[i].from), map(r, ps.v[i].to), t, sizeof t, &pa, &pb) !=
            0) {
            snprintf(r->why, r->whylen, "session %s holds a message that cannot be renamed", s);
            rc = OMTP_EINVAL;
            goto out;
        }
        if (i == 0)
            snprintf(first, sizeof first, "%s", t);
        else if (strcmp(first, t) != 0)
            one = false;
    }
    if (ps.n == 0 || (one && strcmp(first, s) == 0)) {
        rc = reparty(r, s); /* nothing moves; the parties may name the user */
        goto out;
    }
    if (one) {
        /* the whole conversation: the session keeps its numbers */
        bool taken = false;
        const char *pt[] = {first};
        if ((rc = exists(r->db, "SELECT 1 FROM sessions WHERE session_id = ?1", 1, pt, &taken)))
            goto out;
        if (taken) {
            snprintf(r->why, r->whylen, "session %s already exists; rename to another id", first);
            rc = OMTP_EEXIST;
            goto out;
        }
        const char *pm[] = {first, s};
        if (!(rc = q(r->db, "UPDATE sessions SET session_id = ?1 WHERE session_id = ?2", 2, pm)) &&
            !(rc = q(r->db, "UPDATE messages SET session_id = ?1 WHERE session_id = ?2", 2, pm)) &&
            !(rc = q(r->db, "UPDATE members SET session_id = ?1 WHERE session_id = ?2", 2, pm)) &&
            !(rc = q(r->db, "UPDATE session_attrs SET session_id = ?1 WHERE session_id = ?2", 2,
                     pm)) &&
            !(rc = q(r->db, "UPDATE reactions SET session_id = ?1 WHERE session_id = ?2", 2, pm)))
            rc = reparty(r, first);
        r->moved_sessions++;
        goto out;
    }
    /* two conversations shared this id (the attack the id rules close):
     * each conversation whose own session is elsewhere moves out */
    tars_str_list done = {0};
    for (int i = 0; rc == 0 && i < ps.n; i++) {
        char ti[2 * OMTP_ID_MAX + 8];
        const char *a, *b;
        target(ps.v[i].type, map(r, ps.v[i].from), map(r, ps.v[i].to), ti, sizeof ti, &a, &b);
        bool seen = false;
        for (uint32_t d = 0; d < done.n; d++)
            seen = seen || strcmp(done.items[d].data, ti) == 0;
        if (strcmp(ti, s) == 0 || seen)
            continue;
        if ((rc = add_str(&done, ti)))
            break;
        bool taken = false;
        const char *pt[] = {ti};
        if ((rc = exists(r->db, "SELECT 1 FROM sessions WHERE session_id = ?1", 1, pt, &taken)))
            break;
        if (taken) {
            snprintf(r->why, r->whylen, "session %s already exists; rename to another id", ti);
            rc = OMTP_EEXIST;
            break;
        }
        rc = split_out(r, s, &ps, ti, a, b);
    }
    omtp_str_list_free(&done);
    if (rc == 0)
        rc = renumber_rest(r, s);
    if (rc == 0)
        rc = reparty(r, s);
    r->split_sessions++;
out:
    free(ps.v);
    return rc;
}

int omtp_store_user_rename(omtp_db *db, const char *from, const char *to, char *why, size_t whylen,
                           omtp_rename_stats *stats)
{
    ren r = {.db = db, .from = from, .to = to, .why = why, .whylen = whylen};
    const char *p1[] = {from}, *p2[] = {from, to}, *pt[] = {to};
    bool yes = false;
    why[0] = 0;
    int rc = exists(db,
                    "SELECT 1 FROM users WHERE user_id = ?1 UNION ALL SELECT 1 FROM sessions "
                    "WHERE party_a = ?1 OR party_b = ?1",
                    1, p1, &yes);
    if (rc)
        return rc;
    if (!yes) {
        snprintf(why, whylen, "no user or app %s in the store", from);
        return OMTP_ENOTFOUND;
    }
    rc = exists(db,
                "SELECT 1 FROM users WHERE user_id = ?1 UNION ALL SELECT 1 FROM members WHERE "
                "user_id = ?1 UNION ALL SELECT 1 FROM sessions WHERE party_a = ?1 OR party_b = ?1",
                1, pt, &yes);
    if (rc)
        return rc;
    if (yes) {
        snprintf(why, whylen, "%s already exists (or has data): pick another new id", to);
        return OMTP_EEXIST;
    }
    /* 1. sessions whose id spells the old name: the user's member rows and
     * the sessions it is a party of (single chats and business notices) */
    tars_str_list sids = {0};
    rc =
        omtp_db_raw_sql(db,
                        "SELECT session_id FROM members WHERE user_id = ?1 UNION SELECT session_id "
                        "FROM sessions WHERE party_a = ?1 OR party_b = ?1",
                        1, p1, row_first, &sids, NULL);
    for (uint32_t i = 0; rc == 0 && i < sids.n; i++) {
        const char *s = sids.items[i].data;
        if (strncmp(s, "SC_", 3) == 0 || strncmp(s, "BM_", 3) == 0)
            rc = move_session(&r, s);
    }
    omtp_str_list_free(&sids);
    if (rc)
        return rc;
    /* 2. the name itself, everywhere it is stored */
    static const char *const renames[] = {
        "UPDATE users SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE members SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE session_attrs SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE messages SET from_id = ?2 WHERE from_id = ?1",
        "UPDATE messages SET to_id = ?2 WHERE to_id = ?1 AND type <> 15",
        "UPDATE sessions SET party_a = ?2 WHERE party_a = ?1",
        "UPDATE sessions SET party_b = ?2 WHERE party_b = ?1",
        "UPDATE hp_queue SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE hp_group SET except_id = ?2 WHERE except_id = ?1",
        "UPDATE chat_groups SET creator_id = ?2 WHERE creator_id = ?1",
        "UPDATE group_left SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE friends SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE friends SET friend_id = ?2 WHERE friend_id = ?1",
        "UPDATE user_attrs SET user_id = ?2 WHERE user_id = ?1",
        "UPDATE user_attrs SET friend_id = ?2 WHERE friend_id = ?1",
        "UPDATE reactions SET user_id = ?2 WHERE user_id = ?1",
    };
    for (size_t i = 0; rc == 0 && i < sizeof renames / sizeof *renames; i++)
        rc = q(db, renames[i], 2, p2);
    /* single-chat parties stay in byte order */
    if (rc == 0)
        rc = q(db,
               "UPDATE sessions SET party_a = party_b, party_b = party_a WHERE "
               "(party_a = ?1 OR party_b = ?1) AND session_id >= 'SC_' AND session_id < 'SC`' "
               "AND party_a > party_b",
               1, pt);
    if (rc == 0 && stats) {
        stats->moved_sessions = r.moved_sessions;
        stats->split_sessions = r.split_sessions;
    }
    if (rc && !why[0])
        snprintf(why, whylen, "%s", db->errmsg);
    return rc;
}
