/*
 * domain/oplock.h - one operation at a time per key, for the operations the
 * message log carries besides sends (message control, read cursors,
 * reactions: docs/storage.md "Delivery path").
 *
 * Such an operation checks against the store (a read behind the read
 * barrier) and then appends its record; a second operation on the same
 * message (or the same user's cursor of a session) must check against the
 * first one's outcome. Holding the key from the check until the append (not
 * until the sync) is enough: the second one's read is submitted after the
 * first one's record was appended, so the barrier applies it first.
 *
 * A key is held by one operation; the others wait in order (their `go` is
 * called when it is their turn, from inside oplock_release). Memory: one
 * entry per held key (freed on the last release), one per waiter (the
 * caller's, embedded).
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_DOMAIN_OPLOCK_H
#define OMTP_DOMAIN_OPLOCK_H

#include <stddef.h>

typedef struct oplocks oplocks;

typedef struct oplock_waiter {
    struct oplock_waiter *next;
    void (*go)(struct oplock_waiter *w); /* the key is now the waiter's */
} oplock_waiter;

oplocks *oplocks_new(void);
/* Frees every entry; waiters still queued are never called. */
void oplocks_free(oplocks *l);

/* 1: the key is w's now (go is not called); 0: w waits (go later); or
 * OMTP_ENOMEM (not queued). */
int oplock_take(oplocks *l, const void *key, size_t klen, oplock_waiter *w);
/* The holder is done: the next waiter's go runs (from inside), or the key
 * is free. */
void oplock_release(oplocks *l, const void *key, size_t klen);

size_t oplocks_held(const oplocks *l);

#endif
