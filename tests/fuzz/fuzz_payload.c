/*
 * fuzz_payload.c - the generic Tars decoder on every struct of the schema.
 * The first input byte picks the struct from omtp_all_descs; the rest is
 * decoded as that struct at top level. A successful decode must re-encode
 * to bytes that decode again and re-encode identically (canonical form).
 * The arena mode (tars_decode_arena, one arena reused across inputs as a
 * server does) must agree with it: same result, same error, same encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static tars_arena arena;
    static bool arena_ready;
    if (!arena_ready) {
        tars_arena_init(&arena, NULL, 0);
        arena_ready = true;
    }
    const tars_struct_desc *d = omtp_all_descs[data[0] % omtp_all_descs_count];
    void *v = malloc(d->size), *w = malloc(d->size), *x = malloc(d->size);
    tars_err err, aerr;
    int rc = tars_decode(d, v, data + 1, size - 1, &err);
    int arc = tars_decode_arena(d, x, data + 1, size - 1, &arena, &aerr);
    if (rc != arc || (rc != TARS_OK && (err.code != aerr.code || err.offset != aerr.offset ||
                                        strcmp(err.msg, aerr.msg) != 0)))
        abort(); /* the two modes disagree */
    if (rc == TARS_OK) {
        tars_buf a, b;
        tars_buf_init(&a);
        tars_buf_init(&b);
        if (tars_encode(&a, d, v, true, 0) != TARS_OK)
            abort();
        if (tars_encode(&b, d, x, true, 0) != TARS_OK || a.len != b.len ||
            (a.len && memcmp(a.data, b.data, a.len)))
            abort();
        tars_buf_reset(&b);
        if (tars_decode(d, w, a.data, a.len, &err) != TARS_OK)
            abort();
        if (tars_encode(&b, d, w, true, 0) != TARS_OK || a.len != b.len ||
            (a.len && memcmp(a.data, b.data, a.len)))
            abort();
        tars_free(d, w);
        tars_free(d, v);
        tars_buf_free(&a);
        tars_buf_free(&b);
    } else if (err.code == TARS_OK || err.msg[0] == 0) {
        abort(); /* every failure must say why */
    }
    tars_arena_reset(&arena); /* x's contents go with it */
    free(v);
    free(w);
    free(x);
    return 0;
}
