/*
 * domain/msgcache.c - recent messages for message control (msgcache.h).
 */
#include "domain/msgcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/strtab.h"
#include "proto/omtp_session.h"

typedef struct rx {
    struct rx *next;
    uint8_t elen, ulen;
    char s[]; /* emoji then user, no terminators */
} rx;

typedef struct entry {
    strtab_node node;
    struct entry *newer; /* insertion order: the oldest is dropped first */
    msgcache_msg m;
    bool rx_known; /* the reactions below are all of them */
    unsigned rx_n;
    rx *rxs; /* in order of addition */
    size_t bytes;
    char key[]; /* sessionId NUL seqId, then from, to, packId (NUL-terminated) */
} entry;

struct msgcache {
    strtab t;
    entry *oldest, *newest;
    size_t max, bytes;
};

static size_t make_key(char *out, size_t cap, const char *sid, size_t sidlen, int64_t seq)
{
    if (sidlen + 24 > cap)
        return 0;
    memcpy(out, sid, sidlen);
    out[sidlen] = 0;
    int n = snprintf(out + sidlen + 1, cap - sidlen - 1, "%lld", (long long)seq);
    return sidlen + 1 + (size_t)n;
}

msgcache *msgcache_new(size_t max)
{
    msgcache *c = calloc(1, sizeof *c);
    if (c)
        c->max = max ? max : 1;
    return c;
}

static void rx_forget(msgcache *c, entry *e)
{
    while (e->rxs) {
        rx *r = e->rxs;
        e->rxs = r->next;
        size_t n = sizeof *r + r->elen + r->ulen;
        e->bytes -= n;
        c->bytes -= n;
        free(r);
    }
    e->rx_n = 0;
    e->rx_known = false;
}

static void drop(msgcache *c, entry *e)
{
    rx_forget(c, e);
    strtab_del(&c->t, &e->node);
    c->bytes -= e->bytes;
    free(e);
}

void msgcache_free(msgcache *c)
{
    if (!c)
        return;
    while (c->oldest) {
        entry *e = c->oldest;
        c->oldest = e->newer;
        drop(c, e);
    }
    strtab_free(&c->t);
    free(c);
}

static char *put(char *at, tars_str *dst, const tars_str *src)
{
    if (src->len)
        memcpy(at, src->data, src->len);
    at[src->len] = 0;
    dst->data = at;
    dst->len = src->len;
    return at + src->len + 1;
}

void msgcache_add(msgcache *c, const omtp_msg_rec *m)
{
    char key[OMTP_SESSION_ID_MAX + 24];
    size_t klen =
        make_key(key, sizeof key, m->msg.sessionId.data, m->msg.sessionId.len, m->msg.seqId);
    if (!klen || strtab_find(&c->t, key, klen))
        return;
    size_t n =
        sizeof(entry) + klen + 1 + m->msg.from.len + 1 + m->msg.to.len + 1 + m->packId.len + 1;
    entry *e = calloc(1, n);
    if (!e)
        return;
    memcpy(e->key, key, klen);
    char *at = e->key + klen + 1;
    at = put(at, &e->m.from, &m->msg.from);
    at = put(at, &e->m.to, &m->msg.to);
    put(at, &e->m.packId, &m->packId);
    e->m.type = m->type;
    e->m.status = m->msg.status;
    e->m.timestamp = m->msg.timestamp;
    e->rx_known = true;                /* a new message has no reactions */
    e->bytes = n + 2 * sizeof(void *); /* and its bucket */
    e->node.key = e->key;
    e->node.klen = klen;
    if (strtab_add(&c->t, &e->node) != 0) {
        free(e);
        return;
    }
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->bytes += e->bytes;
    while (c->t.n > c->max && c->oldest) {
        entry *o = c->oldest;
        c->oldest = o->newer;
        if (!c->oldest)
            c->newest = NULL;
        drop(c, o);
    }
}

static entry *find(msgcache *c, const char *sid, int64_t seq)
{
    char key[OMTP_SESSION_ID_MAX + 24];
    size_t klen = make_key(key, sizeof key, sid, strlen(sid), seq);
    return klen ? (entry *)strtab_find(&c->t, key, klen) : NULL;
}

const msgcache_msg *msgcache_find(msgcache *c, const char *sid, int64_t seq)
{
    entry *e = find(c, sid, seq);
    return e ? &e->m : NULL;
}

void msgcache_set_status(msgcache *c, const char *sid, int64_t seq, int status)
{
    entry *e = find(c, sid, seq);
    if (e)
        e->m.status = status;
}

static bool rx_is(const rx *r, const tars_str *emoji, const tars_str *user)
{
    return r->elen == emoji->len && memcmp(r->s, emoji->data, emoji->len) == 0 &&
           (!user || (r->ulen == user->len && memcmp(r->s + r->elen, user->data, user->len) == 0));
}

int msgcache_react_state(msgcache *c, const char *sid, int64_t seq, const tars_str *user,
                         const tars_str *emoji, bool *has, bool *mine, uint32_t *distinct)
{
    entry *e = find(c, sid, seq);
    if (!e || !e->rx_known)
        return 0;
    *has = *mine = false;
    *distinct = 0;
    for (rx *r = e->rxs; r; r = r->next) {
        bool seen = false;
        for (rx *q = e->rxs; q != r && !seen; q = q->next)
            seen = q->elen == r->elen && memcmp(q->s, r->s, r->elen) == 0;
        if (!seen)
            (*distinct)++;
        *has |= rx_is(r, emoji, NULL);
        *mine |= rx_is(r, emoji, user);
    }
    return 1;
}

void msgcache_react(msgcache *c, const char *sid, int64_t seq, const tars_str *user,
                    const tars_str *emoji, int op)
{
    entry *e = find(c, sid, seq);
    if (!e || !e->rx_known)
        return;
    rx **at = &e->rxs;
    while (*at && !rx_is(*at, emoji, user))
        at = &(*at)->next;
    if (op == 2) {
        if (*at) {
            rx *r = *at;
            *at = r->next;
            size_t n = sizeof *r + r->elen + r->ulen;
            e->bytes -= n;
            c->bytes -= n;
            e->rx_n--;
            free(r);
        }
        return;
    }
    if (*at)
        return;
    rx *r = NULL;
    if (e->rx_n < MSGCACHE_RX_MAX && emoji->len < 256 && user->len < 256)
        r = malloc(sizeof *r + emoji->len + user->len);
    if (!r) {
        rx_forget(c, e); /* too many (or no memory): the store knows */
        return;
    }
    r->next = NULL;
    r->elen = (uint8_t)emoji->len;
    r->ulen = (uint8_t)user->len;
    memcpy(r->s, emoji->data, emoji->len);
    memcpy(r->s + r->elen, user->data, user->len);
    *at = r;
    e->rx_n++;
    size_t n = sizeof *r + r->elen + r->ulen;
    e->bytes += n;
    c->bytes += n;
}

size_t msgcache_count(const msgcache *c)
{
    return c ? c->t.n : 0;
}

size_t msgcache_bytes(const msgcache *c)
{
    return c ? c->bytes + strtab_bytes(&c->t) : 0;
}
