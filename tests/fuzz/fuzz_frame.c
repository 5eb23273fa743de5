/*
 * fuzz_frame.c - the frame reader and whole-packet decode on hostile bytes.
 * The first input byte picks how the rest is split into reads (1..256
 * bytes), so partial frames are exercised as well as many frames per read.
 * Every decoded packet is re-encoded and decoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static omtp_crypto_key key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!key.set)
        omtp_crypto_key_from_hex(
            &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 64 * 1024);
    omtp_decode_opts o = {.key = &key, .max_payload = 64 * 1024};
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (omtp_frame_reader_feed(&r, data + off, n))
            break;
        const uint8_t *f;
        size_t fl;
        int rc;
        while ((rc = omtp_frame_reader_next(&r, &f, &fl)) == 1) {
            omtp_packet p;
            int stage;
            char why[256];
            if (omtp_packet_decode(f, fl, &o, &p, &stage, why, sizeof(why)) == OMTP_OK && p.body) {
                tars_buf b;
                tars_buf_init(&b);
                if (omtp_packet_encode(&b, p.header.type, p.header.flags, p.header.packId.data,
                                       p.desc, p.body, &key, 1 << 20) == OMTP_OK) {
                    omtp_packet q;
                    if (omtp_packet_decode(b.data + 4, b.len - 4, &o, &q, &stage, why,
                                           sizeof(why)) != OMTP_OK)
                        abort(); /* what we encode we must decode */
                    omtp_packet_free(&q);
                }
                tars_buf_free(&b);
            }
            omtp_packet_free(&p);
        }
        if (rc < 0)
            break;
    }
    omtp_frame_reader_free(&r);
    return 0;
}
