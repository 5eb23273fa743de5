/*
 * domain/strtab.c - the intrusive string-keyed hash table (strtab.h).
 */
#include "domain/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "proto/omtp_errors.h"

uint64_t strtab_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

strtab_node *strtab_find(const strtab *t, const void *key, size_t klen)
{
    if (!t->nb)
        return NULL;
    uint64_t h = strtab_hash(key, klen);
    for (strtab_node *n = t->b[h & (t->nb - 1)]; n; n = n->next)
        if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
            return n;
    return NULL;
}

static int grow(strtab *t)
{
    size_t nb = t->nb ? t->nb * 2 : 64;
    strtab_node **b = calloc(nb, sizeof *b);
    if (!b)
        return OMTP_ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        strtab_node *n = t->b[i];
        while (n) {
            strtab_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

int strtab_reserve(strtab *t)
{
    return t->nb ? 0 : grow(t);
}

int strtab_add(strtab *t, strtab_node *n)
{
    if (t->n >= t->nb && grow(t) != 0 && t->nb == 0)
        return OMTP_ENOMEM; /* a failed growth keeps the old (longer) chains */
    n->hash = strtab_hash(n->key, n->klen);
    strtab_node **head = &t->b[n->hash & (t->nb - 1)];
    n->next = *head;
    *head = n;
    t->n++;
    return 0;
}

void strtab_del(strtab *t, strtab_node *n)
{
    strtab_node **p = &t->b[n->hash & (t->nb - 1)];
    while (*p && *p != n)
        p = &(*p)->next;
    if (*p) {
        *p = n->next;
        t->n--;
    }
    n->next = NULL;
}

void strtab_free(strtab *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

size_t strtab_bytes(const strtab *t)
{
    return t->nb * sizeof(*t->b);
}
