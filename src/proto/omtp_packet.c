/*
 * omtp_packet.c - whole-packet encode and decode (see omtp_packet.h).
 *
 * Encoding writes the length prefix last: the frame is built in place after
 * a 4-byte hole, and the payload is first encoded into a per-thread scratch
 * buffer so that its SimpleList length can precede it without a second pass.
 */
#include "omtp_packet.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *omtp_strerror(int err)
{
    switch (err) {
    case OMTP_OK:
        return "ok";
    case OMTP_ENOMEM:
        return "out of memory";
    case OMTP_EFRAME:
        return "frame length out of range";
    case OMTP_EDECODE:
        return "malformed Tars data";
    case OMTP_ECOMPRESS:
        return "compression error";
    case OMTP_ECRYPTO:
        return "encryption error";
    case OMTP_ETOOBIG:
        return "frame too large";
    case OMTP_EINVAL:
        return "invalid argument";
    case OMTP_EIO:
        return "I/O error";
    case OMTP_ETIMEDOUT:
        return "timed out";
    case OMTP_ECLOSED:
        return "connection closed";
    case OMTP_ENOTFOUND:
        return "not found";
    case OMTP_EEXIST:
        return "already exists";
    case OMTP_EBUSY:
        return "in use";
    case OMTP_EDB:
        return "storage error";
    case OMTP_EAGAIN:
        return "try again";
    case OMTP_ENOSPC:
        return "disk full on the server";
    }
    return "unknown error";
}

void omtp_packet_free(omtp_packet *p)
{
    if (p->in_arena) { /* the arena owns it all */
        tars_init(&omtp_OTIMHeader_desc, &p->header);
    } else {
        tars_free(&omtp_OTIMHeader_desc, &p->header);
        if (p->body) {
            tars_release(p->desc, p->body);
            free(p->body);
        }
    }
    p->body = NULL;
    p->desc = NULL;
    p->in_arena = false;
}

/*
 * Fast path for the canonical layout every writer produces: StructBegin at
 * tag 0 (the header), a SimpleList at tag 1 (the payload), end of input.
 * The payload is then used in place instead of being copied. Anything else
 * (unknown fields, a List-of-Int1 payload, errors) returns -1 and the
 * generic decoder handles it, with its precise error messages.
 */
static int decode_pack_fast(const uint8_t *frame, size_t len, tars_arena *arena, omtp_OTIMHeader *h,
                            const uint8_t **pl, size_t *pll)
{
    tars_reader r;
    if (len < 2 || frame[0] != ((0 << 4) | TARS_STRUCT_BEGIN))
        return -1;
    tars_reader_init(&r, frame, len, NULL);
    r.arena = arena;
    r.off = 1;
    if (tars_decode_nested(&r, &omtp_OTIMHeader_desc, h) != TARS_OK)
        goto fail;
    if (r.off >= len || frame[r.off] != ((1 << 4) | TARS_SIMPLE_LIST))
        goto fail;
    r.off++;
    if (tars_read_bytes_ref(&r, pl, pll) != TARS_OK || r.off != len)
        goto fail;
    return 0;
fail:
    if (arena)
        tars_init(&omtp_OTIMHeader_desc, h);
    else
        tars_free(&omtp_OTIMHeader_desc, h);
    return -1;
}

int omtp_packet_decode(const uint8_t *frame, size_t len, const omtp_decode_opts *opts,
                       omtp_packet *p, int *stage, char *why, size_t whylen)
{
    omtp_decode_opts dflt = {0};
    if (!opts)
        opts = &dflt;
    memset(p, 0, sizeof(*p));
    tars_init(&omtp_OTIMHeader_desc, &p->header);
    tars_arena *arena = opts->arena;
    p->in_arena = arena != NULL;
    *stage = OMTP_STAGE_OK;
    if (whylen)
        why[0] = 0;

    omtp_OTIMPack pack; /* used by the generic path only */
    bool have_pack = false;
    const uint8_t *pl;
    size_t pll;
    tars_err err;
    int rc;
    if (decode_pack_fast(frame, len, arena, &p->header, &pl, &pll) != 0) {
        have_pack = !arena; /* an arena-decoded pack needs no release */
        rc = arena ? tars_decode_arena(&omtp_OTIMPack_desc, &pack, frame, len, arena, &err)
                   : tars_decode(&omtp_OTIMPack_desc, &pack, frame, len, &err);
        if (rc) {
            *stage = OMTP_STAGE_FRAME;
            snprintf(why, whylen, "bad frame: %s", err.msg);
            return rc == TARS_ENOMEM ? OMTP_ENOMEM : OMTP_EDECODE;
        }
        /* move the header out of the pack */
        p->header = pack.header;
        tars_init(&omtp_OTIMHeader_desc, &pack.header);
        pl = pack.payload.data;
        pll = pack.payload.len;
    }

    bool known;
    bool ack = (p->header.flags & OMTP_F_ACK) != 0;
    p->desc = omtp_payload_desc(p->header.type, ack, &known);
    if (opts->from_server && !ack)
        p->desc = omtp_push_desc(p->header.type, p->desc);
    if (opts->skip_body) {
        p->payload_len = pll;
        if (have_pack)
            tars_release(&omtp_OTIMPack_desc, &pack);
        return OMTP_OK;
    }

    uint8_t *plain;
    size_t plain_len;
    bool owned;
    size_t cap = opts->max_payload ? opts->max_payload : OMTP_DEFAULT_MAX_FRAME;
    rc = omtp_payload_unwrap(p->header.flags, pl, pll, opts->key, cap, &plain, &plain_len, &owned,
                             why, whylen);
    if (rc) {
        *stage = OMTP_STAGE_PAYLOAD;
        if (have_pack)
            tars_release(&omtp_OTIMPack_desc, &pack);
        return rc;
    }
    p->payload_len = plain_len;
    if (p->desc && plain_len > 0) {
        p->body = arena ? tars_arena_alloc(arena, p->desc->size) : malloc(p->desc->size);
        if (!p->body) {
            rc = OMTP_ENOMEM;
        } else {
            rc = arena ? tars_decode_arena(p->desc, p->body, plain, plain_len, arena, &err)
                       : tars_decode(p->desc, p->body, plain, plain_len, &err);
            if (rc) {
                if (!arena)
                    free(p->body);
                p->body = NULL;
                *stage = OMTP_STAGE_PAYLOAD;
                snprintf(why, whylen, "bad %s payload: %s", p->desc->name, err.msg);
                rc = rc == TARS_ENOMEM ? OMTP_ENOMEM : OMTP_EDECODE;
            }
        }
    }
    if (owned)
        free(plain);
    if (have_pack)
        tars_release(&omtp_OTIMPack_desc, &pack);
    return rc;
}

/* Per-thread scratch buffers for encoding: kept between packets so encoding
 * does not allocate in the steady state, freed when the thread exits. */
struct scratch {
    tars_buf payload; /* the plain payload */
    tars_buf wrapped; /* after compression / encryption */
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p)
{
    struct scratch *s = p;
    tars_buf_free(&s->payload);
    tars_buf_free(&s->wrapped);
    free(s);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_destroy);
}

static struct scratch *get_scratch(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (s && pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

int omtp_packet_encode_raw(tars_buf *out, int type, int64_t flags, const char *pack_id,
                           const uint8_t *payload, size_t payload_len, const omtp_crypto_key *key,
                           uint32_t max_frame)
{
    if (!max_frame)
        max_frame = OMTP_DEFAULT_MAX_FRAME;
    const uint8_t *pl = payload;
    size_t pll = payload_len;
    if (flags & (OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK)) {
        struct scratch *s = get_scratch();
        if (!s)
            return OMTP_ENOMEM;
        tars_buf_reset(&s->wrapped);
        int rc = omtp_payload_wrap(flags, payload, payload_len, key, &s->wrapped);
        if (rc)
            return rc;
        pl = s->wrapped.data;
        pll = s->wrapped.len;
    }
    size_t start = out->len;
    static const uint8_t hole[4] = {0};
    tars_buf_put(out, hole, 4);
    /* OTIMPack.header (tag 0, nested struct) */
    tars_put_head(out, 0, TARS_STRUCT_BEGIN);
    tars_put_int(out, 0, (int16_t)type);
    tars_put_int(out, 1, OMTP_VERSION);
    tars_put_int(out, 2, flags);
    tars_put_string(out, 3, pack_id ? pack_id : "", pack_id ? strlen(pack_id) : 0);
    tars_put_head(out, 0, TARS_STRUCT_END);
    /* OTIMPack.payload (tag 1, SimpleList) */
    tars_put_bytes(out, 1, pl, pll);
    if (!tars_buf_ok(out))
        return OMTP_ENOMEM;
    size_t flen = out->len - start;
    if (flen > max_frame) {
        out->len = start;
        return OMTP_ETOOBIG;
    }
    uint8_t *h = out->data + start;
    h[0] = (uint8_t)(flen >> 24);
    h[1] = (uint8_t)(flen >> 16);
    h[2] = (uint8_t)(flen >> 8);
    h[3] = (uint8_t)flen;
    return OMTP_OK;
}

int omtp_packet_encode(tars_buf *out, int type, int64_t flags, const char *pack_id,
                       const tars_struct_desc *desc, const void *body, const omtp_crypto_key *key,
                       uint32_t max_frame)
{
    struct scratch *s = get_scratch();
    if (!s)
        return OMTP_ENOMEM;
    tars_buf_reset(&s->payload);
    if (desc && body) {
        int rc = tars_encode(&s->payload, desc, body, true, 0);
        if (rc != TARS_OK)
            return rc == TARS_ENOMEM ? OMTP_ENOMEM : OMTP_EINVAL;
    }
    return omtp_packet_encode_raw(out, type, flags, pack_id, s->payload.data, s->payload.len, key,
                                  max_frame);
}

int omtp_payload_to_bytes(const tars_struct_desc *desc, const void *body, tars_bytes *out)
{
    tars_buf b;
    tars_buf_init(&b);
    if (tars_encode(&b, desc, body, true, 0) != TARS_OK) {
        tars_buf_free(&b);
        return OMTP_ENOMEM;
    }
    int rc = tars_bytes_set(out, b.data ? b.data : (const uint8_t *)"", b.len);
    tars_buf_free(&b);
    return rc ? OMTP_ENOMEM : OMTP_OK;
}

void omtp_uuid(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        /* RAND_bytes failing is exceptional; fall back to time-seeded bytes */
        uint64_t t = (uint64_t)omtp_now_us();
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)rand();
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int64_t omtp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t omtp_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
