/*
 * omtp_seqmap.h - string -> int64 map (session id -> last delivered seqId).
 *
 * Open addressing with linear probing, grown at 70 % load; keys are copied.
 * A client tracks a handful to a few thousand sessions, so this stays small.
 * Threading: not thread-safe; one owner.
 */
#ifndef OMTP_SEQMAP_H
#define OMTP_SEQMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct omtp_seqmap_ent {
    char *key; /* NULL = empty slot */
    int64_t val;
} omtp_seqmap_ent;

typedef struct omtp_seqmap {
    omtp_seqmap_ent *ents;
    size_t cap; /* power of two, or 0 */
    size_t n;
} omtp_seqmap;

void omtp_seqmap_init(omtp_seqmap *m);
void omtp_seqmap_free(omtp_seqmap *m);
/* The value of key, or 0 if absent. */
int64_t omtp_seqmap_get(const omtp_seqmap *m, const char *key);
/* Sets key to max(current, val). Returns 0 or OMTP_ENOMEM. */
int omtp_seqmap_raise(omtp_seqmap *m, const char *key, int64_t val);

#endif
