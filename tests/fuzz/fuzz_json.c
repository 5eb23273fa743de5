/*
 * fuzz_json.c - JSON -> struct (the `omtp codec encode` path and the HTTP
 * API's) on hostile text. The first byte picks the struct (OTIMPack half of
 * the time, so payload objects are encoded through the type table); the
 * rest is JSON. A successful conversion must encode, decode, and convert
 * back to JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_json.h"
#include "proto/omtp_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const tars_struct_desc *d =
        data[0] & 1 ? &omtp_OTIMPack_desc : omtp_all_descs[(data[0] >> 1) % omtp_all_descs_count];
    json_error_t je;
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_ALLOW_NUL, &je);
    if (!j)
        return 0;
    void *v = malloc(d->size);
    char why[300];
    if (omtp_json_to_struct(d, j, v, NULL, why, sizeof(why)) == 0) {
        tars_buf b;
        tars_buf_init(&b);
        if (tars_encode(&b, d, v, true, 0) != TARS_OK)
            abort();
        void *w = malloc(d->size);
        if (tars_decode(d, w, b.data, b.len, NULL) != TARS_OK)
            abort();
        json_t *back = omtp_json_from_struct(d, w, NULL);
        if (!back)
            abort();
        json_decref(back);
        tars_free(d, w);
        free(w);
        tars_buf_free(&b);
        tars_free(d, v);
    } else if (why[0] == 0) {
        abort(); /* every failure must say why */
    }
    free(v);
    json_decref(j);
    return 0;
}
