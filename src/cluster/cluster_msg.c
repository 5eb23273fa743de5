/*
 * cluster_msg.c - encoding and decoding of the node-to-node messages
 * (format in cluster_msg.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cluster_msg.h"

static void put_u16(tars_buf *b, uint32_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    tars_buf_put(b, p, 2);
}

static void put_u32(tars_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tars_buf_put(b, p, 4);
}

static void put_u64(tars_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static void put_str16(tars_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 65535) {
        b->oom = true; /* refuse rather than truncate */
        return;
    }
    put_u16(b, (uint32_t)n);
    tars_buf_put(b, s, n);
}

static void push_encode(tars_buf *b, int kind, const omtp_cluster_push *m)
{
    uint8_t t = (uint8_t)kind;
    if (m->nusers > OMTP_CLUSTER_MAX_USERS || m->payload_len > UINT32_MAX) {
        b->oom = true;
        return;
    }
    tars_buf_put(b, &t, 1);
    if (kind == OMTP_CLUSTER_MSG_MPUSH)
        put_str16(b, m->sessionId);
    put_u16(b, m->nusers);
    for (uint32_t i = 0; i < m->nusers; i++)
        put_str16(b, m->users[i]);
    put_u32(b, (uint32_t)m->type);
    put_u64(b, (uint64_t)m->flags);
    put_str16(b, m->packId);
    put_u32(b, (uint32_t)m->payload_len);
    tars_buf_put(b, m->payload, m->payload_len);
}

void omtp_cluster_push_encode(tars_buf *b, const omtp_cluster_push *m)
{
    push_encode(b, OMTP_CLUSTER_MSG_PUSH, m);
}

void omtp_cluster_mpush_encode(tars_buf *b, const omtp_cluster_push *m)
{
    push_encode(b, OMTP_CLUSTER_MSG_MPUSH, m);
}

void omtp_cluster_msub_encode(tars_buf *b, const omtp_cluster_msub *m)
{
    uint8_t t = OMTP_CLUSTER_MSG_MSUB, on = m->on ? 1 : 0;
    tars_buf_put(b, &t, 1);
    put_str16(b, m->node);
    put_str16(b, m->sessionId);
    put_str16(b, m->userId);
    tars_buf_put(b, &on, 1);
    put_u64(b, m->token);
}

void omtp_cluster_hello_encode(tars_buf *b, const omtp_cluster_hello *h)
{
    uint8_t t = OMTP_CLUSTER_MSG_HELLO, hello = h->hello ? 1 : 0;
    tars_buf_put(b, &t, 1);
    put_str16(b, h->node);
    tars_buf_put(b, &hello, 1);
}

void omtp_cluster_kick_encode(tars_buf *b, const omtp_cluster_kick *k)
{
    uint8_t t = OMTP_CLUSTER_MSG_KICK;
    tars_buf_put(b, &t, 1);
    put_str16(b, k->userId);
    put_u32(b, (uint32_t)k->deviceType);
    put_u64(b, (uint64_t)k->beforeMs);
    put_str16(b, k->deviceId);
    put_u32(b, (uint32_t)k->byType);
    put_str16(b, k->byId);
}

void omtp_cluster_group_encode(tars_buf *b, int kind, const omtp_cluster_group *g)
{
    uint8_t t = (uint8_t)kind;
    tars_buf_put(b, &t, 1);
    put_str16(b, g->node);
    if (kind == OMTP_CLUSTER_MSG_GROUP || kind == OMTP_CLUSTER_MSG_PRES)
        put_str16(b, g->groupId);
    put_u64(b, g->token);
}

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
} rd;

static uint64_t get_n(rd *r, size_t n)
{
    uint64_t v = 0;
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->p[r->off + i];
    r->off += n;
    return v;
}

/* A length-prefixed byte run: returns its start, or NULL (r->bad). */
static const uint8_t *get_run(rd *r, size_t lenbytes, size_t *n)
{
    *n = (size_t)get_n(r, lenbytes);
    if (r->bad || r->len - r->off < *n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = r->p + r->off;
    r->off += *n;
    return s;
}

static void get_cstr(rd *r, char *out, size_t cap)
{
    size_t n;
    const uint8_t *s = get_run(r, 2, &n);
    if (!s || n >= cap || memchr(s, 0, n)) {
        r->bad = true;
        out[0] = 0;
        return;
    }
    memcpy(out, s, n);
    out[n] = 0;
}

static int push_decode(const void *data, size_t len, int kind, omtp_cluster_push *m)
{
    rd r = {data, len, 0, false};
    size_t slen = 0;
    const uint8_t *sid = NULL;
    memset(m, 0, sizeof(*m));
    if (get_n(&r, 1) != (uint64_t)kind)
        return OMTP_EDECODE;
    if (kind == OMTP_CLUSTER_MSG_MPUSH) {
        sid = get_run(&r, 2, &slen);
        if (!sid || slen == 0 || slen >= OMTP_CLUSTER_SID_MAX || memchr(sid, 0, slen))
            return OMTP_EDECODE;
    }
    uint32_t nusers = (uint32_t)get_n(&r, 2);
    /* first pass: validate and size */
    size_t need = 0, start = r.off;
    for (uint32_t i = 0; i < nusers && !r.bad; i++) {
        size_t n;
        const uint8_t *s = get_run(&r, 2, &n);
        if (s && (n == 0 || n > OMTP_ID_MAX || memchr(s, 0, n)))
            r.bad = true;
        need += n + 1;
    }
    int32_t type = (int32_t)get_n(&r, 4);
    int64_t flags = (int64_t)get_n(&r, 8);
    size_t plen, ylen;
    const uint8_t *pk = get_run(&r, 2, &plen);
    const uint8_t *pay = get_run(&r, 4, &ylen);
    if (r.bad || r.off != len || (pk && memchr(pk, 0, plen)))
        return OMTP_EDECODE;
    m->owned =
        malloc(need + plen + 1 + ylen + 1 + slen + 1 + nusers * sizeof(char *) + sizeof(char *));
    if (!m->owned)
        return OMTP_ENOMEM;
    const char **users = (const char **)(void *)m->owned;
    char *q = m->owned + (nusers + 1) * sizeof(char *);
    r.off = start;
    r.bad = false;
    for (uint32_t i = 0; i < nusers; i++) {
        size_t n;
        const uint8_t *s = get_run(&r, 2, &n);
        memcpy(q, s, n);
        q[n] = 0;
        users[i] = q;
        q += n + 1;
    }
    memcpy(q, pk, plen);
    q[plen] = 0;
    m->packId = q;
    q += plen + 1;
    memcpy(q, pay, ylen);
    m->payload = (const uint8_t *)q;
    m->payload_len = ylen;
    q += ylen + 1;
    if (sid) {
        memcpy(q, sid, slen);
        q[slen] = 0;
        m->sessionId = q;
    }
    m->users = users;
    m->nusers = nusers;
    m->type = type;
    m->flags = flags;
    return 0;
}

int omtp_cluster_push_decode(const void *data, size_t len, omtp_cluster_push *m)
{
    return push_decode(data, len, OMTP_CLUSTER_MSG_PUSH, m);
}

int omtp_cluster_mpush_decode(const void *data, size_t len, omtp_cluster_push *m)
{
    return push_decode(data, len, OMTP_CLUSTER_MSG_MPUSH, m);
}

void omtp_cluster_push_free(omtp_cluster_push *m)
{
    free(m->owned);
    memset(m, 0, sizeof(*m));
}

int omtp_cluster_kick_decode(const void *data, size_t len, omtp_cluster_kick *k)
{
    rd r = {data, len, 0, false};
    memset(k, 0, sizeof(*k));
    if (get_n(&r, 1) != OMTP_CLUSTER_MSG_KICK)
        return OMTP_EDECODE;
    get_cstr(&r, k->userId, sizeof(k->userId));
    k->deviceType = (int32_t)get_n(&r, 4);
    k->beforeMs = (int64_t)get_n(&r, 8);
    get_cstr(&r, k->deviceId, sizeof(k->deviceId));
    k->byType = (int32_t)get_n(&r, 4);
    get_cstr(&r, k->byId, sizeof(k->byId));
    return r.bad || r.off != len || !k->userId[0] ? OMTP_EDECODE : 0;
}

int omtp_cluster_group_decode(const void *data, size_t len, int kind, omtp_cluster_group *g)
{
    rd r = {data, len, 0, false};
    memset(g, 0, sizeof(*g));
    if ((kind != OMTP_CLUSTER_MSG_GROUP && kind != OMTP_CLUSTER_MSG_GACK &&
         kind != OMTP_CLUSTER_MSG_PRES) ||
        get_n(&r, 1) != (uint64_t)kind)
        return OMTP_EDECODE;
    get_cstr(&r, g->node, sizeof(g->node));
    if (kind == OMTP_CLUSTER_MSG_GROUP || kind == OMTP_CLUSTER_MSG_PRES) {
        get_cstr(&r, g->groupId, sizeof(g->groupId));
        if (!g->groupId[0])
            r.bad = true;
    }
    g->token = get_n(&r, 8);
    return r.bad || r.off != len || !g->node[0] ? OMTP_EDECODE : 0;
}

int omtp_cluster_msub_decode(const void *data, size_t len, omtp_cluster_msub *m)
{
    rd r = {data, len, 0, false};
    memset(m, 0, sizeof(*m));
    if (get_n(&r, 1) != OMTP_CLUSTER_MSG_MSUB)
        return OMTP_EDECODE;
    get_cstr(&r, m->node, sizeof(m->node));
    get_cstr(&r, m->sessionId, sizeof(m->sessionId));
    get_cstr(&r, m->userId, sizeof(m->userId));
    uint64_t on = get_n(&r, 1);
    m->on = on == 1;
    m->token = get_n(&r, 8);
    return r.bad || r.off != len || on > 1 || !m->node[0] || !m->sessionId[0] || !m->userId[0]
               ? OMTP_EDECODE
               : 0;
}

int omtp_cluster_hello_decode(const void *data, size_t len, omtp_cluster_hello *h)
{
    rd r = {data, len, 0, false};
    memset(h, 0, sizeof(*h));
    if (get_n(&r, 1) != OMTP_CLUSTER_MSG_HELLO)
        return OMTP_EDECODE;
    get_cstr(&r, h->node, sizeof(h->node));
    uint64_t hello = get_n(&r, 1);
    h->hello = hello == 1;
    return r.bad || r.off != len || hello > 1 || !h->node[0] ? OMTP_EDECODE : 0;
}
