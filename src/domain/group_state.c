/*
 * group_state.c - loop-side state of groups: member cache and sliced fan-out.
 *
 * See group.h for the design. The cache is a chained hash table (FNV-1a,
 * doubled when the load factor passes 1). The fan-out queue is a singly
 * linked FIFO of jobs, each holding one wire, one member list and a cursor;
 * a uv_idle handle runs while the queue is not empty and pushes to at most
 * OMTP_FANOUT_SLICE members per loop iteration, so a 10,000-member group
 * costs ten short slices interleaved with everyone else's I/O instead of
 * one long stall. The idle handle is unreferenced: it never keeps a loop
 * alive on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "group_state.h"

typedef struct cache_entry {
    struct cache_entry *next;
    struct cache_entry *lru_prev, *lru_next; /* most recently used first */
    uint64_t hash;
    char *groupId;
    omtp_members *mem; /* NULL for a group that does not exist or was dismissed */
    uint64_t loadedMs;
    uint64_t epoch; /* the cache's epoch when installed */
    size_t bytes;
    bool meta; /* exists, dismissed, creator known (check_cache.h) */
    bool exists, dismissed;
    char *creator;
} cache_entry;

typedef struct fanout_job {
    struct fanout_job *next;
    omtp_wire *w;
    omtp_members *mem;
    uint32_t pos;
    omtp_conn *except;
} fanout_job;

typedef struct group_state {
    omtp_server *srv;
    cache_entry **buckets;
    size_t nbuckets, nentries, nids, nbytes;
    cache_entry lru; /* sentinel of the LRU ring */
    uint64_t epoch;
    fanout_job *head, *tail;
    unsigned njobs;
    uv_idle_t idle;
    bool idle_inited, idle_active;
} group_state;

/* ------------------------------------------------------------ members */

omtp_members *omtp_members_new(tars_str_list *ids)
{
    omtp_members *m = calloc(1, sizeof(*m));
    if (!m) {
        for (uint32_t i = 0; i < ids->n; i++)
            tars_str_clear(&ids->items[i]);
        free(ids->items);
        ids->items = NULL;
        ids->n = 0;
        return NULL;
    }
    m->refs = 1;
    m->ids = *ids;
    ids->items = NULL;
    ids->n = 0;
    return m;
}

void omtp_members_ref(omtp_members *m)
{
    m->refs++;
}

void omtp_members_unref(omtp_members *m)
{
    if (!m || --m->refs > 0)
        return;
    for (uint32_t i = 0; i < m->ids.n; i++)
        tars_str_clear(&m->ids.items[i]);
    free(m->ids.items);
    free(m);
}

/* -------------------------------------------------------------- state */

static group_state *state(omtp_server *s, bool create)
{
    group_state *g = s->groups;
    if (g || !create)
        return g;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->srv = s;
    g->lru.lru_prev = g->lru.lru_next = &g->lru;
    g->nbuckets = 256;
    g->buckets = calloc(g->nbuckets, sizeof(*g->buckets));
    if (!g->buckets) {
        free(g);
        return NULL;
    }
    s->groups = g;
    return g;
}

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static void lru_unlink(cache_entry *e)
{
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
}

static void lru_front(group_state *g, cache_entry *e)
{
    e->lru_next = g->lru.lru_next;
    e->lru_prev = &g->lru;
    g->lru.lru_next->lru_prev = e;
    g->lru.lru_next = e;
}

/* Frees e, which is already out of its hash chain. */
static void entry_free(group_state *g, cache_entry *e)
{
    lru_unlink(e);
    g->nids -= e->mem ? e->mem->ids.n : 0;
    g->nbytes -= e->bytes;
    g->nentries--;
    omtp_members_unref(e->mem);
    free(e->groupId);
    free(e->creator);
    free(e);
}

static cache_entry **find_slot(group_state *g, const char *groupId, uint64_t h)
{
    cache_entry **pp = &g->buckets[h & (g->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->groupId, groupId) == 0)
            return pp;
    return pp;
}

static void cache_flush(group_state *g)
{
    for (size_t i = 0; i < g->nbuckets; i++) {
        while (g->buckets[i]) {
            cache_entry *e = g->buckets[i];
            g->buckets[i] = e->next;
            entry_free(g, e);
        }
    }
}

static void cache_grow(group_state *g)
{
    size_t n = g->nbuckets * 2;
    cache_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep the longer chains */
    for (size_t i = 0; i < g->nbuckets; i++) {
        cache_entry *e = g->buckets[i];
        while (e) {
            cache_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(g->buckets);
    g->buckets = b;
    g->nbuckets = n;
}

/* The expiry bounds what a node of a cluster may miss of other nodes'
 * changes; alone, every change passes through domain/group.c, which
 * invalidates, so entries live until evicted or invalidated. */
static bool expired(omtp_server *s, const cache_entry *e)
{
    if (s->cfg && !s->cfg->redis_url[0])
        return false;
    return (uint64_t)omtp_now_ms() - e->loadedMs > OMTP_GROUP_CACHE_TTL_MS;
}

omtp_members *omtp_group_cache_get(omtp_server *s, const char *groupId)
{
    group_state *g = state(s, false);
    if (!g)
        return NULL;
    uint64_t h = hash_id(groupId);
    cache_entry **pp = find_slot(g, groupId, h);
    cache_entry *e = *pp;
    if (!e)
        return NULL;
    if (expired(s, e)) {
        *pp = e->next;
        entry_free(g, e);
        return NULL;
    }
    if (!e->mem)
        return NULL;
    lru_unlink(e);
    lru_front(g, e);
    omtp_members_ref(e->mem);
    return e->mem;
}

int omtp_group_cache_get_info(omtp_server *s, const char *groupId, omtp_group_info *out)
{
    group_state *g = state(s, false);
    if (!g)
        return 0;
    cache_entry **pp = find_slot(g, groupId, hash_id(groupId));
    cache_entry *e = *pp;
    if (!e || !e->meta)
        return 0;
    if (expired(s, e)) {
        *pp = e->next;
        entry_free(g, e);
        return 0;
    }
    lru_unlink(e);
    lru_front(g, e);
    out->exists = e->exists;
    out->dismissed = e->dismissed;
    snprintf(out->creator, sizeof(out->creator), "%s", e->creator ? e->creator : "");
    out->members = e->mem;
    if (e->mem)
        omtp_members_ref(e->mem);
    return 1;
}

void omtp_group_cache_stats(omtp_server *s, size_t *entries, size_t *bytes)
{
    group_state *g = state(s, false);
    *entries = g ? g->nentries : 0;
    *bytes = g ? g->nbytes : 0;
}

/* Unlinks the least recently used entry (not keep) and frees it. */
static bool evict_one(group_state *g, const cache_entry *keep)
{
    cache_entry *e = g->lru.lru_prev;
    if (e == &g->lru || e == keep)
        return false;
    cache_entry **pp = find_slot(g, e->groupId, e->hash);
    if (*pp == e)
        *pp = e->next;
    entry_free(g, e);
    return true;
}

uint64_t omtp_group_cache_epoch(omtp_server *s)
{
    group_state *g = state(s, false);
    return g ? g->epoch : 0;
}

/* Installs an entry (members m may be NULL with meta). */
static void cache_install(omtp_server *s, const char *groupId, omtp_members *m, uint64_t epoch,
                          const omtp_group_info *info)
{
    group_state *g = state(s, true);
    if (!g || g->epoch != epoch)
        return;
    size_t max = s->cfg ? s->cfg->check_cache_max : OMTP_CHECK_CACHE_MAX_DEFAULT;
    if (max == 0)
        return; /* caches off */
    uint32_t nids = m ? m->ids.n : 0;
    uint64_t h = hash_id(groupId);
    cache_entry **pp = find_slot(g, groupId, h);
    bool meta = info != NULL;
    omtp_group_info keep = {0};
    if (*pp) { /* replace; info read since the last change anywhere stays valid */
        cache_entry *old = *pp;
        if (!meta && old->meta && old->epoch == epoch) {
            meta = true;
            keep.exists = old->exists;
            keep.dismissed = old->dismissed;
            snprintf(keep.creator, sizeof(keep.creator), "%s", old->creator ? old->creator : "");
            info = &keep;
        }
        *pp = old->next;
        entry_free(g, old);
    }
    while (g->nentries > 0 && (g->nentries >= max || g->nids + nids > OMTP_GROUP_CACHE_MAX_IDS))
        if (!evict_one(g, NULL))
            break;
    cache_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->groupId = strdup(groupId);
    e->creator = meta ? strdup(info->creator) : NULL;
    if (!e->groupId || (meta && !e->creator)) {
        free(e->groupId);
        free(e->creator);
        free(e);
        return;
    }
    e->hash = h;
    e->mem = m;
    if (m)
        omtp_members_ref(m);
    e->meta = meta;
    if (meta) {
        e->exists = info->exists;
        e->dismissed = info->dismissed;
    }
    e->loadedMs = (uint64_t)omtp_now_ms();
    e->epoch = epoch;
    e->bytes = sizeof(*e) + strlen(groupId) + 1 + (e->creator ? strlen(e->creator) + 1 : 0);
    if (m) {
        e->bytes += sizeof(*m) + (size_t)nids * sizeof(tars_str);
        for (uint32_t i = 0; i < nids; i++)
            e->bytes += m->ids.items[i].len + 1;
    }
    pp = &g->buckets[h & (g->nbuckets - 1)];
    e->next = *pp;
    *pp = e;
    lru_front(g, e);
    g->nentries++;
    g->nids += nids;
    g->nbytes += e->bytes;
    if (g->nentries > g->nbuckets)
        cache_grow(g);
}

void omtp_group_cache_put(omtp_server *s, const char *groupId, omtp_members *m, uint64_t epoch)
{
    cache_install(s, groupId, m, epoch, NULL);
}

void omtp_group_cache_put_info(omtp_server *s, const char *groupId, const omtp_group_info *info,
                               uint64_t epoch)
{
    cache_install(s, groupId, info->members, epoch, info);
}

void omtp_group_cache_invalidate(omtp_server *s, const char *groupId)
{
    group_state *g = state(s, true); /* a read in flight must see the bump */
    if (!g)
        return;
    g->epoch++;
    cache_entry **pp = find_slot(g, groupId, hash_id(groupId));
    if (*pp) {
        cache_entry *e = *pp;
        *pp = e->next;
        entry_free(g, e);
    }
}

void omtp_group_cache_invalidate_all(omtp_server *s)
{
    group_state *g = state(s, true); /* a read in flight must see the bump */
    if (!g)
        return;
    g->epoch++;
    cache_flush(g);
}

/* ------------------------------------------------------------- fan-out */

static void job_free(fanout_job *j)
{
    omtp_wire_unref(j->w);
    omtp_members_unref(j->mem);
    if (j->except)
        omtp_conn_unref(j->except);
    free(j);
}

/* Pushes to at most `budget` members of j; returns how many it visited. */
static uint32_t job_run(omtp_server *s, fanout_job *j, uint32_t budget)
{
    uint32_t end = j->mem->ids.n;
    if (end - j->pos > budget)
        end = j->pos + budget;
    uint32_t start = j->pos;
    for (; j->pos < end; j->pos++)
        omtp_push_user(s, j->mem->ids.items[j->pos].data, j->w, j->except);
    return end - start;
}

static void on_idle(uv_idle_t *h)
{
    group_state *g = h->data;
    uint32_t budget = OMTP_FANOUT_SLICE;
    while (g->head && budget > 0) {
        fanout_job *j = g->head;
        budget -= job_run(g->srv, j, budget);
        if (j->pos < j->mem->ids.n)
            break;
        g->head = j->next;
        if (!g->head)
            g->tail = NULL;
        g->njobs--;
        job_free(j);
    }
    if (!g->head && g->idle_active) {
        uv_idle_stop(&g->idle);
        g->idle_active = false;
    }
}

void omtp_fanout_wire(omtp_server *s, omtp_wire *w, omtp_members *m, omtp_conn *except)
{
    group_state *g = state(s, true);
    if (!g || (!g->head && m->ids.n <= OMTP_FANOUT_SLICE)) {
        /* small job with nothing ahead of it (or no memory for a queue) */
        for (uint32_t i = 0; i < m->ids.n; i++)
            omtp_push_user(s, m->ids.items[i].data, w, except);
        return;
    }
    fanout_job *j = calloc(1, sizeof(*j));
    if (!j) {
        LOG_ERROR("fanout: out of memory, %u members miss a push (they resync)", m->ids.n);
        return;
    }
    j->w = w;
    omtp_wire_ref(w);
    j->mem = m;
    omtp_members_ref(m);
    j->except = except;
    if (except)
        omtp_conn_ref(except);
    if (g->tail)
        g->tail->next = j;
    else
        g->head = j;
    g->tail = j;
    g->njobs++;
    if (!g->idle_inited) {
        uv_idle_init(s->loop, &g->idle);
        g->idle.data = g;
        uv_unref((uv_handle_t *)&g->idle);
        g->idle_inited = true;
    }
    if (!g->idle_active) {
        uv_idle_start(&g->idle, on_idle);
        g->idle_active = true;
    }
}

void omtp_fanout_msg(omtp_server *s, const omtp_msg_rec *rec, omtp_members *m, omtp_conn *except)
{
    group_state *g = state(s, false);
    if ((!g || !g->head) && m->ids.n <= OMTP_FANOUT_SLICE) {
        omtp_deliver_msg(s, rec, &m->ids, except);
        return;
    }
    omtp_wire *w =
        omtp_wire_new(rec->type, rec->flags, rec->packId.data, &omtp_MsgReq_desc, &rec->msg);
    if (!w) {
        LOG_ERROR("fanout: out of memory encoding %s/%lld", rec->msg.sessionId.data,
                  (long long)rec->msg.seqId);
        return;
    }
    omtp_monitor_push(s, rec->msg.sessionId.data, w, except, &m->ids);
    omtp_fanout_wire(s, w, m, except);
    omtp_wire_unref(w);
}

static omtp_wire *sync_cmd_wire(int command, const char *content)
{
    omtp_SyncDataReq body;
    omtp_msg_init(&omtp_SyncDataReq_desc, &body);
    body.command = command;
    omtp_wire *w = NULL;
    if (tars_str_set(&body.content, content) == 0)
        w = omtp_wire_new(PT_SYNC_DATA_CMD, 0, NULL, &omtp_SyncDataReq_desc, &body);
    omtp_msg_free(&omtp_SyncDataReq_desc, &body);
    if (!w)
        LOG_ERROR("out of memory encoding a sync command");
    return w;
}

void omtp_sync_cmd_user(omtp_server *s, const char *userId, int command, const char *content,
                        const omtp_conn *except)
{
    omtp_wire *w = sync_cmd_wire(command, content);
    if (w) {
        omtp_push_user(s, userId, w, except);
        omtp_wire_unref(w);
    }
}

void omtp_fanout_sync_cmd(omtp_server *s, omtp_members *m, int command, const char *content,
                          omtp_conn *except)
{
    omtp_wire *w = sync_cmd_wire(command, content);
    if (w) {
        omtp_fanout_wire(s, w, m, except);
        omtp_wire_unref(w);
    }
}

unsigned omtp_fanout_pending(omtp_server *s)
{
    group_state *g = state(s, false);
    return g ? g->njobs : 0;
}

static void on_idle_closed(uv_handle_t *h)
{
    free(h->data);
}

void omtp_groups_close(omtp_server *s)
{
    group_state *g = state(s, false);
    if (!g)
        return;
    s->groups = NULL;
    while (g->head) {
        fanout_job *j = g->head;
        g->head = j->next;
        job_free(j);
    }
    cache_flush(g);
    free(g->buckets);
    if (g->idle_inited) {
        uv_idle_stop(&g->idle);
        uv_close((uv_handle_t *)&g->idle, on_idle_closed);
    } else {
        free(g);
    }
}
