/*
 * domain/strtab.h - an intrusive hash table keyed by byte strings, for the
 * send path's in-memory tables (seqgen.h: session counters, dedupwin.h:
 * the dedup window). The caller embeds a strtab_node in its entry, points
 * node.key at bytes the entry owns and keeps them unchanged while linked.
 * The table never allocates entries; it grows its bucket array (doubling,
 * at one entry per bucket). Threading: one thread (the loop).
 */
#ifndef OMTP_DOMAIN_STRTAB_H
#define OMTP_DOMAIN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct strtab_node {
    struct strtab_node *next; /* bucket chain */
    uint64_t hash;
    const char *key;
    size_t klen;
} strtab_node;

typedef struct strtab {
    strtab_node **b;
    size_t nb; /* a power of two, or 0 before the first add */
    size_t n;
} strtab;

uint64_t strtab_hash(const void *key, size_t klen);
/* The node with this key, or NULL. */
strtab_node *strtab_find(const strtab *t, const void *key, size_t klen);
/* Links n (n->key, n->klen set; the key must not be present). 0 or OMTP_ENOMEM. */
int strtab_add(strtab *t, strtab_node *n);
/* Makes sure the next strtab_add cannot fail (a bucket array exists; a
 * later failed growth only lengthens chains). 0 or OMTP_ENOMEM. */
int strtab_reserve(strtab *t);
/* Unlinks n (must be linked). */
void strtab_del(strtab *t, strtab_node *n);
/* Frees the bucket array (the entries are the caller's). */
void strtab_free(strtab *t);
/* Bytes the table itself holds (buckets). */
size_t strtab_bytes(const strtab *t);

#endif
