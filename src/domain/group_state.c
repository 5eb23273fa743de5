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
    uint64_t hash;
    char *groupId;
    omtp_members *mem;
    uint64_t loadedMs;
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
    size_t nbuckets, nentries, nids;
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

static void entry_free(group_state *g, cache_entry *e)
{
    g->nids -= e->mem->ids.n;
    g->nentries--;
    omtp_members_unref(e->mem);
    free(e->groupId);
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
    if ((uint64_t)omtp_now_ms() - e->loadedMs > OMTP_GROUP_CACHE_TTL_MS) {
        *pp = e->next;
        entry_free(g, e);
        return NULL;
    }
    omtp_members_ref(e->mem);
    return e->mem;
}

uint64_t omtp_group_cache_epoch(omtp_server *s)
{
    group_state *g = state(s, false);
    return g ? g->epoch : 0;
}

void omtp_group_cache_put(omtp_server *s, const char *groupId, omtp_members *m, uint64_t epoch)
{
    group_state *g = state(s, true);
    if (!g || g->epoch != epoch)
        return;
    if (g->nids + m->ids.n > OMTP_GROUP_CACHE_MAX_IDS)
        cache_flush(g);
    uint64_t h = hash_id(groupId);
    cache_entry **pp = find_slot(g, groupId, h);
    if (*pp) { /* replace */
        cache_entry *old = *pp;
        *pp = old->next;
        entry_free(g, old);
    }
    cache_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->groupId = strdup(groupId);
    if (!e->groupId) {
        free(e);
        return;
    }
    e->hash = h;
    e->mem = m;
    omtp_members_ref(m);
    e->loadedMs = (uint64_t)omtp_now_ms();
    cache_entry **head = &g->buckets[h & (g->nbuckets - 1)];
    e->next = *head;
    *head = e;
    g->nentries++;
    g->nids += m->ids.n;
    if (g->nentries > g->nbuckets)
        cache_grow(g);
}

void omtp_group_cache_invalidate(omtp_server *s, const char *groupId)
{
    group_state *g = state(s, false);
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
    group_state *g = state(s, false);
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
