/*
 * sample_msg.h - fills every field of a generated struct with sample values
 * by walking its descriptor, for tests that need a message of any type.
 *
 * The walk (recursion into nested structs, list and map allocation) is done
 * here; what goes into each field is the caller's choice, through callbacks.
 * Threading: none; ctx is the caller's.
 */
#ifndef OMTP_SAMPLE_MSG_H
#define OMTP_SAMPLE_MSG_H

#include <stdint.h>

#include "tars/tars.h"

typedef struct sample_ops {
    /* The value of the integer field f (TK_BOOL..TK_I64; stored cast to
     * its C type, bool as != 0) or of one element of the TK_LIST_I64 f. */
    int64_t (*integer)(void *ctx, const tars_field *f);
    /* Stores a value of `kind` at p: a TK_F32, TK_F64, TK_STR or TK_BYTES
     * field of its own (kind == f->kind), or one TK_STR element of the list
     * or map field f (items, map keys and values). Kinds it ignores keep
     * their initial value. */
    void (*value)(void *ctx, const tars_field *f, int kind, void *p);
    /* How many elements the list or map field f gets at this depth (0: the
     * field stays empty). */
    uint32_t (*count)(void *ctx, const tars_field *f, int depth);
    void *ctx;
} sample_ops;

/* tars_init()s obj, then fills every field of it; nested structs and list
 * elements are filled at depth + 1. Free with tars_free(). */
void sample_fill(const tars_struct_desc *d, void *obj, const sample_ops *ops, int depth);

#endif
