/*
 * tars_arena.c - the chunked bump allocator behind tars_decode_arena().
 *
 * An allocation is a pointer bump inside the current block: the caller's
 * first block, then heap chunks. A chunk that cannot hold a request is
 * replaced by a new one at least twice as large (so a decode needs
 * O(log n) mallocs however big its input), and the bytes left in the old one
 * are abandoned until reset. Reset keeps one chunk of at most a->keep
 * bytes (the largest such), so an arena reused for many
 * similar decodes settles to zero mallocs per decode, while one huge input
 * does not pin its memory forever.
 *
 * Growing the latest allocation happens in place when the block has room:
 * the decoder's lists grow that way while nothing else was allocated after
 * them, and by copying otherwise (doubling keeps the copies O(n)).
 *
 * Under AddressSanitizer the free space of every block is poisoned and each
 * allocation unpoisoned as it is handed out, so a read past the end of a
 * decoded string or list into unused arena memory is reported like a heap
 * overflow, and so is a use after reset.
 */
#include "tars.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN _Alignof(max_align_t)

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n)   __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct tars_arena_chunk {
    struct tars_arena_chunk *next;
    size_t size; /* usable bytes after the header */
};

/* The header rounded up so that chunk data is aligned like malloc's. */
#define HDR (((sizeof(struct tars_arena_chunk) + ALIGN - 1) / ALIGN) * ALIGN)

static uint8_t *chunk_data(struct tars_arena_chunk *c)
{
    return (uint8_t *)c + HDR;
}

void tars_arena_init(tars_arena *a, void *buf, size_t buflen)
{
    memset(a, 0, sizeof(*a));
    /* align the caller's block; a block too small to align is ignored */
    uintptr_t b = (uintptr_t)buf, ab = (b + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    if (buf && buflen > ab - b) {
        a->buf = (uint8_t *)ab;
        a->buflen = buflen - (ab - b);
    }
    a->cur = a->buf;
    a->end = a->buf ? a->buf + a->buflen : NULL;
    a->keep = TARS_ARENA_KEEP;
    if (a->buf)
        POISON(a->buf, a->buflen);
}

/* Bump allocation in the current block, or NULL if it has no room. */
static void *bump(tars_arena *a, size_t n)
{
    if (!a->cur)
        return NULL;
    uintptr_t c = (uintptr_t)a->cur, p = (c + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t e = (uintptr_t)a->end;
    if (p > e || n > e - p)
        return NULL;
    a->cur = (uint8_t *)(p + n);
    a->last = (uint8_t *)p;
    UNPOISON((void *)p, n);
    return (void *)p;
}

/* Makes a block with room for n aligned bytes current. */
static int new_block(tars_arena *a, size_t n)
{
    if (n > SIZE_MAX / 4)
        return TARS_ENOMEM;
    struct tars_arena_chunk *c = a->spare;
    if (c && c->size >= n) {
        a->spare = NULL;
    } else {
        size_t size = TARS_ARENA_CHUNK;
        if (a->chunks && a->chunks->size <= SIZE_MAX / 4 && a->chunks->size * 2 > size)
            size = a->chunks->size * 2;
        if (size < n)
            size = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        c = malloc(HDR + size);
        if (!c)
            return TARS_ENOMEM;
        c->size = size;
        a->heap += size;
        POISON(chunk_data(c), size);
    }
    c->next = a->chunks;
    a->chunks = c;
    a->cur = chunk_data(c);
    a->end = a->cur + c->size;
    return TARS_OK;
}

void *tars_arena_alloc(tars_arena *a, size_t n)
{
    void *p = bump(a, n);
    if (p)
        return p;
    if (new_block(a, n) != TARS_OK)
        return NULL;
    return bump(a, n);
}

void *tars_arena_grow(tars_arena *a, void *p, size_t old_n, size_t new_n)
{
    if (!p)
        return tars_arena_alloc(a, new_n);
    if (new_n <= old_n)
        return p;
    uint8_t *q = p;
    if (q == a->last && new_n <= (size_t)(a->end - q)) {
        a->cur = q + new_n; /* the latest allocation: extend in place */
        UNPOISON(q, new_n);
        return p;
    }
    void *np = tars_arena_alloc(a, new_n);
    if (!np)
        return NULL;
    memcpy(np, p, old_n);
    return np;
}

static void free_list(struct tars_arena_chunk *c)
{
    while (c) {
        struct tars_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void tars_arena_reset(tars_arena *a)
{
    /* keep the largest chunk not above a->keep, free the others */
    struct tars_arena_chunk *keep = a->spare;
    if (keep && keep->size > a->keep)
        keep = NULL;
    for (struct tars_arena_chunk *c = a->chunks; c; c = c->next)
        if (c->size <= a->keep && (!keep || c->size > keep->size))
            keep = c;
    struct tars_arena_chunk *all = a->chunks;
    if (a->spare) {
        a->spare->next = all;
        all = a->spare;
    }
    struct tars_arena_chunk **pp = &all;
    while (*pp) { /* unlink `keep` from the list to free */
        if (*pp == keep) {
            *pp = keep->next;
            break;
        }
        pp = &(*pp)->next;
    }
    free_list(all);
    a->chunks = NULL;
    a->spare = keep;
    if (keep) {
        keep->next = NULL;
        POISON(chunk_data(keep), keep->size);
    }
    if (a->buf)
        POISON(a->buf, a->buflen);
    a->heap = keep ? keep->size : 0;
    a->cur = a->buf;
    a->end = a->buf ? a->buf + a->buflen : NULL;
    a->last = NULL;
}

void tars_arena_free(tars_arena *a)
{
    free_list(a->chunks);
    free_list(a->spare);
    a->chunks = a->spare = NULL;
    a->heap = 0;
    if (a->buf) /* the caller may reuse its block for anything now */
        UNPOISON(a->buf, a->buflen);
    a->cur = a->buf;
    a->end = a->buf ? a->buf + a->buflen : NULL;
    a->last = NULL;
}
