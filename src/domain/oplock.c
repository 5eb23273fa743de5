/*
 * domain/oplock.c - per-key serialisation of logged operations (oplock.h).
 */
#include "domain/oplock.h"

#include <stdlib.h>
#include <string.h>

#include "domain/strtab.h"
#include "proto/omtp_errors.h"

typedef struct held {
    strtab_node node;
    oplock_waiter *wh, *wt; /* waiting, in order */
    char key[];
} held;

struct oplocks {
    strtab t;
};

oplocks *oplocks_new(void)
{
    return calloc(1, sizeof(oplocks));
}

void oplocks_free(oplocks *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->t.nb; i++) {
        strtab_node *n = l->t.b[i];
        while (n) {
            strtab_node *next = n->next;
            free(n); /* node is the first member of held */
            n = next;
        }
    }
    strtab_free(&l->t);
    free(l);
}

int oplock_take(oplocks *l, const void *key, size_t klen, oplock_waiter *w)
{
    held *h = (held *)strtab_find(&l->t, key, klen);
    if (h) {
        w->next = NULL;
        if (h->wt)
            h->wt->next = w;
        else
            h->wh = w;
        h->wt = w;
        return 0;
    }
    h = calloc(1, sizeof *h + klen + 1);
    if (!h)
        return OMTP_ENOMEM;
    memcpy(h->key, key, klen);
    h->node.key = h->key;
    h->node.klen = klen;
    if (strtab_add(&l->t, &h->node) != 0) {
        free(h);
        return OMTP_ENOMEM;
    }
    return 1;
}

void oplock_release(oplocks *l, const void *key, size_t klen)
{
    held *h = (held *)strtab_find(&l->t, key, klen);
    if (!h)
        return;
    oplock_waiter *w = h->wh;
    if (!w) {
        strtab_del(&l->t, &h->node);
        free(h);
        return;
    }
    h->wh = w->next;
    if (!h->wh)
        h->wt = NULL;
    w->next = NULL;
    w->go(w);
}

size_t oplocks_held(const oplocks *l)
{
    return l ? l->t.n : 0;
}
