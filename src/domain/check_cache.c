/*
 * check_cache.c - the send checks' caches (check_cache.h).
 *
 * Users and friends: one table each, a chained hash (FNV-1a, doubled when
 * the load factor passes 1) of entries keyed by the user id, or by
 * "a\nb" for the friend pair (ids never contain a control character).
 * An entry is either VALID (the answer; in the LRU ring, counted in
 * entries/bytes) or PENDING (a store read in flight, with its waiters).
 * Each table has an epoch bumped by every invalidation: a pending read
 * started at an older epoch is not joined (a later query starts its own
 * read, which replaces it in the hash) and its answer is not installed.
 *
 * Groups: the answers live in group_state.c's member cache (one entry per
 * group, members with the group's info); this file keeps only the pending
 * reads (a third table of PENDING entries), joined while the member
 * cache's epoch is the one the read started at, installed through
 * omtp_group_cache_put_info (which checks the epoch again).
 *
 * The store reads run the same omtp_db_* calls send_work makes.
 */
#include "domain/check_cache.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idlist.h"

const char *const omtp_cc_names[OMTP_CC_N] = {"users", "friends", "groups"};

typedef struct cc_waiter {
    struct cc_waiter *next;
    omtp_cc_bool_fn bcb;
    omtp_cc_group_fn gcb;
    void *arg;
} cc_waiter;

struct cc_table;

typedef struct group_read {
    omtp_group_info g;
    tars_str_list ids;
} group_read;

typedef struct cc_entry {
    struct cc_entry *hnext;
    struct cc_entry *lprev, *lnext; /* LRU ring, VALID entries only */
    struct cc_table *t;
    omtp_server *srv;
    uint64_t hash;
    uint64_t epoch;    /* PENDING: the epoch the read started at */
    uint64_t loadedMs; /* when the read that gave the answer was submitted */
    bool pending;
    bool refresh;    /* PENDING, never hashed: renews a VALID user entry */
    bool refreshing; /* VALID: a refresh of it is in flight */
    bool hashed;     /* in t's hash */
    bool yes;        /* the answer (users, friends) */
    cc_waiter *waiters, **wtail;
    struct group_read *gr; /* group reads: filled on the store thread */
    size_t keylen;
    char key[]; /* "userId", "a\nb" or "groupId" */
} cc_entry;

typedef struct cc_table {
    int kind;
    cc_entry **buckets;
    size_t nbuckets, nhashed, nvalid, bytes;
    cc_entry
        *lru; /* sentinel of the LRU ring (its own allocation: an entry ends in a flexible key) */
    uint64_t epoch;
    omtp_cc_stats st;
} cc_table;

typedef struct check_cache {
    cc_table t[OMTP_CC_N];
} check_cache;

/* ------------------------------------------------------------- tables */

static check_cache *state(omtp_server *s, bool create)
{
    check_cache *c = s->check_cache;
    if (c || !create)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    for (int k = 0; k < OMTP_CC_N; k++) {
        cc_table *t = &c->t[k];
        t->kind = k;
        t->lru = calloc(1, sizeof(*t->lru));
        t->nbuckets = 256;
        t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
        if (!t->buckets || !t->lru) {
            for (int j = 0; j <= k; j++) {
                free(c->t[j].buckets);
                free(c->t[j].lru);
            }
            free(c);
            return NULL;
        }
        t->lru->lprev = t->lru->lnext = t->lru;
    }
    s->check_cache = c;
    return c;
}

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 1099511628211ULL;
    return h;
}

static void entry_free(cc_entry *e)
{
    if (e->gr) {
        omtp_ids_free(&e->gr->ids);
        omtp_members_unref(e->gr->g.members);
        free(e->gr);
    }
    free(e);
}

static size_t entry_bytes(const cc_entry *e)
{
    return sizeof(*e) + e->keylen + 1;
}

static cc_entry **find_slot(cc_table *t, const char *key, size_t n, uint64_t h)
{
    cc_entry **pp = &t->buckets[h & (t->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if ((*pp)->hash == h && (*pp)->keylen == n && memcmp((*pp)->key, key, n) == 0)
            return pp;
    return pp;
}

static void unhash(cc_table *t, cc_entry *e)
{
    if (!e->hashed)
        return;
    cc_entry **pp = find_slot(t, e->key, e->keylen, e->hash);
    for (; *pp && *pp != e; pp = &(*pp)->hnext) {
    }
    if (*pp == e)
        *pp = e->hnext;
    e->hashed = false;
    t->nhashed--;
}

static void grow(cc_table *t)
{
    size_t n = t->nbuckets * 2;
    cc_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep the longer chains */
    for (size_t i = 0; i < t->nbuckets; i++) {
        cc_entry *e = t->buckets[i];
        while (e) {
            cc_entry *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static void insert(cc_table *t, cc_entry *e)
{
    cc_entry **head = &t->buckets[e->hash & (t->nbuckets - 1)];
    e->hnext = *head;
    *head = e;
    e->hashed = true;
    t->nhashed++;
    if (t->nhashed > t->nbuckets)
        grow(t);
}

static void lru_unlink(cc_entry *e)
{
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_front(cc_table *t, cc_entry *e)
{
    e->lnext = t->lru->lnext;
    e->lprev = t->lru;
    t->lru->lnext->lprev = e;
    t->lru->lnext = e;
}

/* Drops a VALID entry. */
static void drop_valid(cc_table *t, cc_entry *e)
{
    unhash(t, e);
    lru_unlink(e);
    t->nvalid--;
    t->bytes -= entry_bytes(e);
    free(e);
}

/* --------------------------------------------------------- policy */

static size_t max_entries(omtp_server *s)
{
    return s->cfg ? s->cfg->check_cache_max : OMTP_CHECK_CACHE_MAX_DEFAULT;
}

/* Whether answers of this kind may be kept at all. */
static bool may_keep(omtp_server *s, int kind)
{
    if (max_entries(s) == 0)
        return false;
    if (kind == OMTP_CC_GROUPS)
        return true;
    /* users and friends change on other nodes without a notice here */
    if (s->cfg && s->cfg->redis_url[0])
        return false;
    if (kind == OMTP_CC_USERS)
        return (s->cfg ? s->cfg->check_cache_user_ttl_ms : OMTP_CHECK_CACHE_USER_TTL_MS_DEFAULT) >
               0;
    return true;
}

/* Users: 0 = fresh, 1 = past half its TTL (answer, and renew it in the
 * background so a user in use never waits), 2 = expired (a miss). */
static int age_of(omtp_server *s, const cc_table *t, const cc_entry *e)
{
    if (t->kind != OMTP_CC_USERS)
        return 0;
    uint64_t ttl = s->cfg ? s->cfg->check_cache_user_ttl_ms : OMTP_CHECK_CACHE_USER_TTL_MS_DEFAULT;
    uint64_t age = (uint64_t)omtp_now_ms() - e->loadedMs;
    return age >= ttl ? 2 : age >= ttl / 2 ? 1 : 0;
}

static uint64_t current_epoch(omtp_server *s, const cc_table *t)
{
    return t->kind == OMTP_CC_GROUPS ? omtp_group_cache_epoch(s) : t->epoch;
}

/* ----------------------------------------------------------- reads */

static int read_work(omtp_db *db, void *arg)
{
    cc_entry *e = arg;
    if (e->t->kind == OMTP_CC_USERS)
        return omtp_db_user_exists(db, e->key, &e->yes);
    if (e->t->kind == OMTP_CC_FRIENDS) {
        /* a copy: the loop thread may compare the key while this runs */
        char a[OMTP_ID_MAX + 1];
        const char *nl = memchr(e->key, '\n', e->keylen);
        size_t na = (size_t)(nl - e->key);
        memcpy(a, e->key, na);
        a[na] = 0;
        return omtp_db_friend_is(db, a, nl + 1, &e->yes);
    }
    group_read *gr = e->gr;
    omtp_GroupChatInfo g;
    bool dismissed = false;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &g);
    int rc = omtp_db_group_get(db, e->key, &g, &dismissed);
    if (rc == 0) {
        gr->g.exists = true;
        gr->g.dismissed = dismissed;
        snprintf(gr->g.creator, sizeof(gr->g.creator), "%s",
                 g.creatorId.data ? g.creatorId.data : "");
    }
    omtp_msg_free(&omtp_GroupChatInfo_desc, &g);
    if (rc == OMTP_ENOTFOUND)
        return 0;
    if (rc != 0 || dismissed)
        return rc;
    rc = omtp_db_group_members(db, e->key, &gr->ids);
    if (rc == 0)
        omtp_ids_sort(&gr->ids);
    return rc;
}

static void evict(omtp_server *s, cc_table *t)
{
    size_t max = max_entries(s);
    while (t->nvalid > max && t->lru->lprev != t->lru) {
        drop_valid(t, t->lru->lprev);
        t->st.evicted++;
    }
}

static void read_done(void *arg, int status)
{
    cc_entry *e = arg;
    cc_table *t = e->t;
    omtp_server *s = e->srv;
    cc_waiter *w = e->waiters;
    e->waiters = NULL;
    bool yes = e->yes, keep = false;
    omtp_cc_group g = {0};

    if (e->refresh) {
        /* renew the VALID entry if it is still there and nothing changed */
        cc_entry **pp = find_slot(t, e->key, e->keylen, e->hash);
        cc_entry *v = *pp;
        if (v && !v->pending) {
            v->refreshing = false;
            if (status == 0 && e->epoch == t->epoch && e->loadedMs > v->loadedMs) {
                v->yes = e->yes;
                v->loadedMs = e->loadedMs;
            }
        }
        entry_free(e);
        return;
    }
    if (t->kind == OMTP_CC_GROUPS) {
        group_read *gr = e->gr;
        if (status == 0 && gr->g.exists && !gr->g.dismissed) {
            gr->g.members = omtp_members_new(&gr->ids);
            if (!gr->g.members)
                status = OMTP_ENOMEM;
        }
        if (status == 0 && may_keep(s, t->kind))
            omtp_group_cache_put_info(s, e->key, &gr->g, e->epoch);
        g.exists = gr->g.exists;
        g.dismissed = gr->g.dismissed;
        snprintf(g.creator, sizeof(g.creator), "%s", gr->g.creator);
        g.members = gr->g.members;
        gr->g.members = NULL;
        unhash(t, e);
    } else if (e->hashed) {
        if (status == 0 && e->epoch == t->epoch && may_keep(s, t->kind)) {
            e->pending = false;
            lru_front(t, e);
            t->nvalid++;
            t->bytes += entry_bytes(e);
            keep = true;
            evict(s, t);
        } else {
            unhash(t, e);
        }
    }
    if (!keep)
        entry_free(e);
    /* e may be gone from here on (a callback may invalidate or evict) */
    while (w) {
        cc_waiter *next = w->next;
        if (w->gcb)
            w->gcb(w->arg, status, &g);
        else
            w->bcb(w->arg, status, status == 0 && yes);
        free(w);
        w = next;
    }
    omtp_members_unref(g.members);
}

/* Renews a VALID entry in the background (users past half their TTL). On
 * failure nothing happens: the entry expires and the next query waits. */
static void start_refresh(omtp_server *s, cc_table *t, cc_entry *v)
{
    if (!s->store)
        return;
    cc_entry *e = calloc(1, sizeof(*e) + v->keylen + 1);
    if (!e)
        return;
    e->t = t;
    e->srv = s;
    e->hash = v->hash;
    e->keylen = v->keylen;
    memcpy(e->key, v->key, v->keylen);
    e->pending = e->refresh = true;
    e->epoch = t->epoch;
    e->loadedMs = (uint64_t)omtp_now_ms();
    e->wtail = &e->waiters;
    /* users, friendships, groups: nothing the message log applies, so no
     * read barrier (store.h, omtp_store_submit_unordered) */
    if (omtp_store_submit_unordered(s->store, read_work, read_done, e) != 0) {
        free(e);
        return;
    }
    v->refreshing = true;
    t->st.reads++;
}

/* Looks key up: 1 with a VALID entry in *found, 0 with a joinable PENDING
 * one in *found, or 0 with *found NULL (start a read). */
static int look_up(omtp_server *s, cc_table *t, const char *key, size_t n, uint64_t h,
                   cc_entry **found)
{
    *found = NULL;
    cc_entry **pp = find_slot(t, key, n, h);
    cc_entry *e = *pp;
    if (!e)
        return 0;
    if (!e->pending) {
        int age = age_of(s, t, e);
        if (age == 2) {
            drop_valid(t, e);
            return 0;
        }
        if (age == 1 && !e->refreshing)
            start_refresh(s, t, e);
        lru_unlink(e);
        lru_front(t, e);
        *found = e;
        return 1;
    }
    if (e->epoch == current_epoch(s, t)) {
        *found = e;
        return 0;
    }
    unhash(t, e); /* an older read: it answers its own waiters only */
    return 0;
}

static int add_waiter(cc_entry *e, omtp_cc_bool_fn bcb, omtp_cc_group_fn gcb, void *arg)
{
    cc_waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return OMTP_ENOMEM;
    w->bcb = bcb;
    w->gcb = gcb;
    w->arg = arg;
    *e->wtail = w;
    e->wtail = &w->next;
    return 0;
}

/* The common path of the three queries: 1 (answered, *hit set), 0 (a read
 * started or joined), < 0 (could not start). */
static int query(omtp_server *s, int kind, const char *key, size_t n, omtp_cc_bool_fn bcb,
                 omtp_cc_group_fn gcb, void *arg, cc_entry **hit)
{
    check_cache *c = state(s, true);
    if (!c)
        return OMTP_ENOMEM;
    cc_table *t = &c->t[kind];
    uint64_t h = hash_key(key, n);
    cc_entry *e = NULL;
    if (look_up(s, t, key, n, h, &e) == 1) {
        t->st.hits++;
        *hit = e;
        return 1;
    }
    if (e) { /* join the read in flight */
        int rc = add_waiter(e, bcb, gcb, arg);
        if (rc == 0) {
            t->st.misses++;
            t->st.joined++;
        }
        return rc;
    }
    if (!s->store)
        return OMTP_ECLOSED;
    e = calloc(1, sizeof(*e) + n + 1);
    if (!e)
        return OMTP_ENOMEM;
    e->t = t;
    e->srv = s;
    e->hash = h;
    e->keylen = n;
    memcpy(e->key, key, n);
    e->pending = true;
    e->epoch = current_epoch(s, t);
    e->loadedMs = (uint64_t)omtp_now_ms();
    e->wtail = &e->waiters;
    if (kind == OMTP_CC_GROUPS && !(e->gr = calloc(1, sizeof(*e->gr)))) {
        free(e);
        return OMTP_ENOMEM;
    }
    if (add_waiter(e, bcb, gcb, arg) != 0) {
        entry_free(e);
        return OMTP_ENOMEM;
    }
    int rc = omtp_store_submit_unordered(s->store, read_work, read_done, e); /* no barrier */
    if (rc != 0) {
        free(e->waiters);
        entry_free(e);
        return rc;
    }
    insert(t, e);
    t->st.misses++;
    t->st.reads++;
    return 0;
}

/* ------------------------------------------------------------ queries */

int omtp_cc_user_exists(omtp_server *s, const char *userId, bool *yes, omtp_cc_bool_fn cb,
                        void *arg)
{
    size_t n = strlen(userId);
    if (n == 0 || n > OMTP_ID_MAX)
        return OMTP_EINVAL;
    cc_entry *e = NULL;
    int rc = query(s, OMTP_CC_USERS, userId, n, cb, NULL, arg, &e);
    if (rc == 1)
        *yes = e->yes;
    return rc;
}

int omtp_cc_friends(omtp_server *s, const char *a, const char *b, bool *yes, omtp_cc_bool_fn cb,
                    void *arg)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na == 0 || na > OMTP_ID_MAX || nb == 0 || nb > OMTP_ID_MAX)
        return OMTP_EINVAL;
    char key[2 * OMTP_ID_MAX + 2];
    memcpy(key, a, na);
    key[na] = '\n';
    memcpy(key + na + 1, b, nb);
    cc_entry *e = NULL;
    int rc = query(s, OMTP_CC_FRIENDS, key, na + 1 + nb, cb, NULL, arg, &e);
    if (rc == 1)
        *yes = e->yes;
    return rc;
}

int omtp_cc_group_get(omtp_server *s, const char *groupId, omtp_cc_group *out, omtp_cc_group_fn cb,
                      void *arg)
{
    size_t n = strlen(groupId);
    if (n == 0 || n > OMTP_ID_MAX)
        return OMTP_EINVAL;
    omtp_group_info info;
    if (omtp_group_cache_get_info(s, groupId, &info) == 1) {
        check_cache *c = state(s, true);
        if (c)
            c->t[OMTP_CC_GROUPS].st.hits++;
        out->exists = info.exists;
        out->dismissed = info.dismissed;
        memcpy(out->creator, info.creator, sizeof(out->creator));
        out->members = info.members;
        return 1;
    }
    cc_entry *e = NULL;
    return query(s, OMTP_CC_GROUPS, groupId, n, NULL, cb, arg, &e); /* never 1: no VALID */
}

bool omtp_cc_is_member(const omtp_members *m, const char *userId)
{
    return m && omtp_ids_contains(&m->ids, userId);
}

/* -------------------------------------------------------- invalidation */

static void drop_key(cc_table *t, const char *key, size_t n)
{
    t->epoch++;
    cc_entry **pp = find_slot(t, key, n, hash_key(key, n));
    if (*pp && !(*pp)->pending)
        drop_valid(t, *pp);
}

void omtp_cc_invalidate_user(omtp_server *s, const char *userId)
{
    check_cache *c = state(s, false);
    if (c)
        drop_key(&c->t[OMTP_CC_USERS], userId, strlen(userId));
}

void omtp_cc_invalidate_friends(omtp_server *s, const char *a, const char *b)
{
    check_cache *c = state(s, false);
    if (!c)
        return;
    size_t na = strlen(a), nb = strlen(b);
    if (na > OMTP_ID_MAX || nb > OMTP_ID_MAX)
        return;
    char key[2 * OMTP_ID_MAX + 2];
    memcpy(key, a, na);
    key[na] = '\n';
    memcpy(key + na + 1, b, nb);
    drop_key(&c->t[OMTP_CC_FRIENDS], key, na + 1 + nb);
    memcpy(key, b, nb);
    key[nb] = '\n';
    memcpy(key + nb + 1, a, na);
    drop_key(&c->t[OMTP_CC_FRIENDS], key, na + 1 + nb);
}

/* ------------------------------------------------------------- stats */

void omtp_cc_stats_get(omtp_server *s, omtp_cc_stats out[OMTP_CC_N])
{
    memset(out, 0, sizeof(omtp_cc_stats) * OMTP_CC_N);
    check_cache *c = state(s, false);
    for (int k = 0; c && k < OMTP_CC_N; k++) {
        out[k] = c->t[k].st;
        out[k].entries = c->t[k].nvalid;
        out[k].bytes = c->t[k].bytes;
    }
    size_t n = 0, b = 0;
    omtp_group_cache_stats(s, &n, &b);
    out[OMTP_CC_GROUPS].entries = n;
    out[OMTP_CC_GROUPS].bytes = b;
}

char *omtp_cc_metrics(void *arg)
{
    omtp_server *s = arg;
    omtp_cc_stats st[OMTP_CC_N];
    omtp_cc_stats_get(s, st);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } f[] = {
        {"hits_total", "counter", "send checks answered from memory",
         offsetof(omtp_cc_stats, hits)},
        {"misses_total", "counter", "send checks that waited for a store read (joined included)",
         offsetof(omtp_cc_stats, misses)},
        {"reads_total", "counter", "store reads the misses started",
         offsetof(omtp_cc_stats, reads)},
        {"joined_total", "counter", "misses that joined a read already in flight",
         offsetof(omtp_cc_stats, joined)},
        {"evicted_total", "counter", "entries evicted by check_cache_max",
         offsetof(omtp_cc_stats, evicted)},
        {"entries", "gauge", "entries held", offsetof(omtp_cc_stats, entries)},
        {"bytes", "gauge", "memory held by the entries", offsetof(omtp_cc_stats, bytes)},
    };
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        len += (size_t)snprintf(out + len, cap - len,
                                "# HELP omtp_check_cache_%s %s, per cache\n"
                                "# TYPE omtp_check_cache_%s %s\n",
                                f[i].name, f[i].help, f[i].name, f[i].type);
        for (int k = 0; k < OMTP_CC_N && len < cap; k++) {
            uint64_t v;
            memcpy(&v, (const char *)&st[k] + f[i].off, sizeof(v));
            len +=
                (size_t)snprintf(out + len, cap - len, "omtp_check_cache_%s{cache=\"%s\"} %llu\n",
                                 f[i].name, omtp_cc_names[k], (unsigned long long)v);
        }
        if (len >= cap) {
            free(out);
            return NULL;
        }
    }
    return out;
}

void omtp_cc_close(omtp_server *s)
{
    check_cache *c = state(s, false);
    if (!c)
        return;
    s->check_cache = NULL;
    for (int k = 0; k < OMTP_CC_N; k++) {
        cc_table *t = &c->t[k];
        /* no read is in flight once the store closed: only VALID entries */
        for (size_t i = 0; i < t->nbuckets; i++) {
            cc_entry *e = t->buckets[i];
            while (e) {
                cc_entry *next = e->hnext;
                entry_free(e);
                e = next;
            }
        }
        free(t->buckets);
        free(t->lru);
    }
    free(c);
}
