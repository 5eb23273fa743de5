/*
 * omtp_seqmap.c - see omtp_seqmap.h.
 */
#include "omtp_seqmap.h"
#include "proto/omtp_errors.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

void omtp_seqmap_init(omtp_seqmap *m)
{
    memset(m, 0, sizeof(*m));
}

void omtp_seqmap_free(omtp_seqmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->ents[i].key);
    free(m->ents);
    memset(m, 0, sizeof(*m));
}

static omtp_seqmap_ent *find(const omtp_seqmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = hash(key) & (m->cap - 1);
    while (m->ents[i].key) {
        if (strcmp(m->ents[i].key, key) == 0)
            return &m->ents[i];
        i = (i + 1) & (m->cap - 1);
    }
    return &m->ents[i];
}

int64_t omtp_seqmap_get(const omtp_seqmap *m, const char *key)
{
    omtp_seqmap_ent *e = find(m, key);
    return e && e->key ? e->val : 0;
}

static int grow(omtp_seqmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    omtp_seqmap_ent *ne = calloc(ncap, sizeof(*ne));
    if (!ne)
        return OMTP_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ents[i].key)
            continue;
        size_t j = hash(m->ents[i].key) & (ncap - 1);
        while (ne[j].key)
            j = (j + 1) & (ncap - 1);
        ne[j] = m->ents[i];
    }
    free(m->ents);
    m->ents = ne;
    m->cap = ncap;
    return 0;
}

int omtp_seqmap_raise(omtp_seqmap *m, const char *key, int64_t val)
{
    if ((m->n + 1) * 10 > m->cap * 7 && grow(m))
        return OMTP_ENOMEM;
    omtp_seqmap_ent *e = find(m, key);
    if (e->key) {
        if (val > e->val)
            e->val = val;
        return 0;
    }
    e->key = strdup(key);
    if (!e->key)
        return OMTP_ENOMEM;
    e->val = val;
    m->n++;
    return 0;
}
