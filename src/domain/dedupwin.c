/*
 * domain/dedupwin.c - the dedup window (dedupwin.h): a hash of
 * (from NUL packId) plus a FIFO in arrival order for expiry.
 */
#include "domain/dedupwin.h"

#include <stdlib.h>
#include <string.h>

#include "domain/strtab.h"
#include "util/log.h"

struct dedup_slot {
    char unused;
};

typedef struct dent {
    strtab_node node; /* key = from NUL packId */
    struct dent *newer;
    int64_t t_ms;
    int32_t type;
    int64_t seqId, timestamp;
    uint64_t print, lsn_end;
    size_t size;
    bool superseded; /* a later entry has the key: not in the table */
    char *sid;       /* points into data, after the key */
    char data[];
} dent;

struct dedupwin {
    int64_t window_ms;
    size_t max;
    strtab tab;
    dent *oldest, *newest;
    size_t bytes;
    uint64_t early; /* dropped by max before window_ms */
    int64_t early_logged_ms;
};

dedupwin *dedupwin_new(uint32_t window_s, size_t max)
{
    dedupwin *w = calloc(1, sizeof *w);
    if (w) {
        w->window_ms = (int64_t)window_s * 1000;
        w->max = max ? max : 1;
    }
    return w;
}

static void drop_oldest(dedupwin *w)
{
    dent *e = w->oldest;
    w->oldest = e->newer;
    if (!w->oldest)
        w->newest = NULL;
    if (!e->superseded)
        strtab_del(&w->tab, &e->node);
    w->bytes -= e->size;
    free(e);
}

static void expire(dedupwin *w, int64_t now_ms)
{
    while (w->oldest && (w->tab.n > w->max || now_ms - w->oldest->t_ms > w->window_ms)) {
        if (now_ms - w->oldest->t_ms <= w->window_ms && !w->oldest->superseded) {
            w->early++;
            if (now_ms - w->early_logged_ms >= 60000) {
                w->early_logged_ms = now_ms;
                LOG_WARN("dedup window full (dedup_window_max = %zu): entries younger than "
                         "dedup_window_s are dropped (%llu so far); a packId reused without the "
                         "DUP flag may be stored twice -- raise dedup_window_max",
                         w->max, (unsigned long long)w->early);
            }
        }
        drop_oldest(w);
    }
}

void dedupwin_free(dedupwin *w)
{
    if (!w)
        return;
    while (w->oldest)
        drop_oldest(w);
    strtab_free(&w->tab);
    free(w);
}

/* from NUL packId, in buf (at least from->len + packId->len + 1 bytes) */
static size_t key_of(char *buf, const tars_str *from, const tars_str *packId)
{
    memcpy(buf, from->data, from->len);
    buf[from->len] = 0;
    memcpy(buf + from->len + 1, packId->data, packId->len);
    return from->len + 1 + packId->len;
}

bool dedupwin_find(dedupwin *w, const tars_str *from, const tars_str *packId, int64_t now_ms,
                   dedup_hit *out)
{
    expire(w, now_ms);
    size_t n = from->len + packId->len + 1;
    char stackbuf[512];
    char *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!buf)
        return false;
    key_of(buf, from, packId);
    dent *e = (dent *)strtab_find(&w->tab, buf, n);
    if (buf != stackbuf)
        free(buf);
    if (!e)
        return false;
    out->type = e->type;
    out->seqId = e->seqId;
    out->timestamp = e->timestamp;
    out->print = e->print;
    out->lsn_end = e->lsn_end;
    out->sessionId = e->sid;
    return true;
}

dedup_slot *dedupwin_reserve(dedupwin *w, const omtp_msg_rec *m)
{
    if (strtab_reserve(&w->tab) != 0)
        return NULL;
    size_t klen = m->msg.from.len + 1 + m->packId.len;
    size_t size = sizeof(dent) + klen + m->msg.sessionId.len + 1;
    dent *e = malloc(size);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->size = size;
    return (dedup_slot *)e;
}

void dedupwin_release(dedup_slot *slot)
{
    free(slot);
}

void dedupwin_commit(dedupwin *w, dedup_slot *slot, const omtp_msg_rec *m, uint64_t print,
                     uint64_t lsn_end, int64_t now_ms)
{
    dent *e = (dent *)slot;
    size_t klen = m->msg.from.len + 1 + m->packId.len;
    key_of(e->data, &m->msg.from, &m->packId);
    e->sid = e->data + klen;
    memcpy(e->sid, m->msg.sessionId.data, m->msg.sessionId.len);
    e->sid[m->msg.sessionId.len] = 0;
    e->node.key = e->data;
    e->node.klen = klen;
    e->t_ms = now_ms;
    e->type = m->type;
    e->seqId = m->msg.seqId;
    e->timestamp = m->msg.timestamp;
    e->print = print;
    e->lsn_end = lsn_end;
    dent *old = (dent *)strtab_find(&w->tab, e->data, klen);
    if (old) { /* superseded: stays in the FIFO until it expires, never found again */
        strtab_del(&w->tab, &old->node);
        old->superseded = true;
    }
    strtab_add(&w->tab, &e->node); /* cannot fail: reserved */
    if (w->newest)
        w->newest->newer = e;
    else
        w->oldest = e;
    w->newest = e;
    w->bytes += e->size;
    expire(w, now_ms);
}

int dedupwin_add(dedupwin *w, const omtp_msg_rec *m, uint64_t print, uint64_t lsn_end,
                 int64_t now_ms)
{
    dedup_slot *e = dedupwin_reserve(w, m);
    if (!e)
        return OMTP_ENOMEM;
    dedupwin_commit(w, e, m, print, lsn_end, now_ms);
    return 0;
}

uint64_t dedupwin_early_drops(const dedupwin *w)
{
    return w->early;
}

size_t dedupwin_count(const dedupwin *w)
{
    return w->tab.n;
}

size_t dedupwin_bytes(const dedupwin *w)
{
    return w->bytes + strtab_bytes(&w->tab);
}
