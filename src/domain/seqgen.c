/*
 * domain/seqgen.c - per-session seqId counters (seqgen.h).
 */
#include "domain/seqgen.h"

#include <stdlib.h>
#include <string.h>

#include "domain/strtab.h"

enum { C_LOADING, C_READY };

typedef struct counter {
    strtab_node node;            /* key = sid */
    struct counter *prev, *next; /* LRU: head = most recent */
    int state;
    int64_t last;
    seq_waiter *wh, *wt; /* waiting for the load, in arrival order */
    size_t sidlen;
    char sid[];
} counter;

struct seqgen {
    omtp_server *srv;
    size_t max;
    strtab tab;
    counter *head, *tail;
    size_t bytes;
    bool hold;
    seqgen_load_stats ls;
};

typedef struct load_job {
    seqgen *g;
    counter *c; /* valid until done: a loading counter is never evicted */
    omtp_msg_rec m;
    int64_t last;
    uint64_t t0; /* uv_hrtime at submit */
} load_job;

seqgen *seqgen_new(omtp_server *s, size_t max)
{
    seqgen *g = calloc(1, sizeof *g);
    if (g) {
        g->srv = s;
        g->max = max ? max : 1;
    }
    return g;
}

static void lru_unlink(seqgen *g, counter *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_front(seqgen *g, counter *c)
{
    c->next = g->head;
    c->prev = NULL;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    if (!g->tail)
        g->tail = c;
}

static void drop(seqgen *g, counter *c)
{
    strtab_del(&g->tab, &c->node);
    lru_unlink(g, c);
    g->bytes -= sizeof *c + c->sidlen + 1;
    free(c);
}

static void evict(seqgen *g)
{
    counter *c = g->tail;
    while (!g->hold && g->tab.n > g->max && c) {
        counter *prev = c->prev;
        if (c->state == C_READY && !c->wh)
            drop(g, c);
        c = prev;
    }
}

void seqgen_free(seqgen *g)
{
    if (!g)
        return;
    while (g->head) {
        counter *c = g->head;
        g->head = c->next;
        free(c);
    }
    strtab_free(&g->tab);
    free(g);
}

static int load_work(omtp_db *db, void *arg)
{
    load_job *j = arg;
    return omtp_db_session_seq_load(db, &j->m, &j->last);
}

static void load_done(void *arg, int status)
{
    load_job *j = arg;
    seqgen *g = j->g;
    counter *c = j->c;
    seq_waiter *w = c->wh;
    c->wh = c->wt = NULL;
    static const uint64_t le[11] = {50,   100,   250,   500,   1000,  2500,
                                    5000, 10000, 25000, 50000, 100000};
    uint64_t us = (uv_hrtime() - j->t0) / 1000;
    g->ls.wait_us_sum += us;
    if (us > g->ls.wait_us_max)
        g->ls.wait_us_max = us;
    for (int i = 0; i < 11; i++)
        g->ls.wait_us_bucket[i] += us <= le[i];
    g->ls.wait_us_bucket[11]++;
    if (status == 0) {
        c->state = C_READY;
        c->last = j->last;
    } else {
        drop(g, c); /* the next message tries again */
    }
    omtp_msg_rec_free(&j->m);
    free(j);
    while (w) {
        seq_waiter *next = w->next;
        w->next = NULL;
        w->ready(w, status);
        w = next;
    }
    evict(g);
}

int seqgen_take(seqgen *g, const omtp_msg_rec *m, seq_waiter *w, int64_t **last)
{
    const tars_str *sid = &m->msg.sessionId;
    counter *c = (counter *)strtab_find(&g->tab, sid->data, sid->len);
    if (c && c->state == C_READY) {
        lru_unlink(g, c);
        lru_front(g, c);
        *last = &c->last;
        return 1;
    }
    if (!c) {
        c = calloc(1, sizeof *c + sid->len + 1);
        load_job *j = calloc(1, sizeof *j);
        if (!c || !j) {
            free(c);
            free(j);
            return OMTP_ENOMEM;
        }
        memcpy(c->sid, sid->data, sid->len);
        c->sidlen = sid->len;
        c->node.key = c->sid;
        c->node.klen = sid->len;
        c->state = C_LOADING;
        omtp_msg_rec_init(&j->m);
        j->g = g;
        j->c = c;
        j->m.type = m->type;
        if (strtab_add(&g->tab, &c->node) != 0 ||
            tars_str_setn(&j->m.msg.sessionId, sid->data, sid->len) != 0 ||
            tars_str_setn(&j->m.msg.from, m->msg.from.data, m->msg.from.len) != 0 ||
            tars_str_setn(&j->m.msg.to, m->msg.to.data, m->msg.to.len) != 0) {
            if (strtab_find(&g->tab, sid->data, sid->len) == &c->node)
                strtab_del(&g->tab, &c->node);
            omtp_msg_rec_free(&j->m);
            free(j);
            free(c);
            return OMTP_ENOMEM;
        }
        j->t0 = uv_hrtime();
        int rc = omtp_store_submit(g->srv->store, load_work, load_done, j);
        if (rc != 0) {
            strtab_del(&g->tab, &c->node);
            omtp_msg_rec_free(&j->m);
            free(j);
            free(c);
            return rc;
        }
        lru_front(g, c);
        g->bytes += sizeof *c + c->sidlen + 1;
        g->ls.loads++;
    }
    g->ls.waiters++;
    w->next = NULL;
    if (c->wt)
        c->wt->next = w;
    else
        c->wh = w;
    c->wt = w;
    return 0;
}

void seqgen_hold(seqgen *g, bool hold)
{
    g->hold = hold;
    if (!hold)
        evict(g);
}

void seqgen_get_load_stats(const seqgen *g, seqgen_load_stats *st)
{
    *st = g->ls;
}

size_t seqgen_count(const seqgen *g)
{
    return g->tab.n;
}

size_t seqgen_bytes(const seqgen *g)
{
    return g->bytes + strtab_bytes(&g->tab);
}
