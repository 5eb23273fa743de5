/*
 * fuzz_transform.c - payload unwrap (zlib inflate with a cap, AES-GCM
 * decrypt) on hostile bytes. The first input byte gives the compress and
 * crypto values (including unknown ones). Whatever unwraps must be within
 * the cap; a wrap of it must unwrap to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_errors.h"
#include "proto/omtp_proto.h"
#include "proto/omtp_transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static omtp_crypto_key key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!key.set)
        omtp_crypto_key_from_hex(
            &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    int64_t flags = omtp_flags_with(0, data[0] & 7, (data[0] >> 3) & 7);
    const size_t cap = 256 * 1024;
    uint8_t *out;
    size_t out_len;
    bool owned;
    char why[200];
    int rc = omtp_payload_unwrap(flags, data + 1, size - 1, &key, cap, &out, &out_len, &owned, why,
                                 sizeof(why));
    if (rc != OMTP_OK)
        return 0;
    if (out_len > cap)
        abort();
    tars_buf w;
    tars_buf_init(&w);
    if (omtp_payload_wrap(flags, out, out_len, &key, &w) != OMTP_OK)
        abort();
    uint8_t *back;
    size_t back_len;
    bool owned2;
    if (omtp_payload_unwrap(flags, w.data, w.len, &key, cap, &back, &back_len, &owned2, why,
                            sizeof(why)) != OMTP_OK ||
        back_len != out_len || (out_len && memcmp(back, out, out_len)))
        abort();
    if (owned2)
        free(back);
    if (owned)
        free(out);
    tars_buf_free(&w);
    return 0;
}
