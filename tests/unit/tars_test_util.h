/*
 * tars_test_util.h - helpers shared by the codec unit tests (header-only,
 * static functions): hex conversion, a test struct using every field kind
 * and odd tags, and a generic random filler that walks any descriptor.
 */
#ifndef TARS_TEST_UTIL_H
#define TARS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample_msg.h"
#include "tars/tars.h"

/* ---- hex ---- */

static inline char *tt_hex(const uint8_t *p, size_t n)
{
    static char buf[8][65536];
    static int which;
    char *out = buf[which++ & 7];
    size_t max = (sizeof(buf[0]) - 1) / 2;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
    return out;
}

/* Decodes hex (spaces ignored) into a static buffer; returns its length. */
static inline size_t tt_unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int c = *h, v;
        if (c == ' ')
            continue;
        v = c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n] = (uint8_t)(hi << 4 | v);
            n++;
            hi = -1;
        }
    }
    return n;
}

/* ---- a struct with every field kind ---- */

typedef struct tt_inner {
    int32_t a;
    tars_str s;
} tt_inner;

static const tars_field tt_inner_fields[] = {
    {"a", offsetof(tt_inner, a), 0, TK_I32, true, 0, NULL},
    {"s", offsetof(tt_inner, s), 1, TK_STR, false, 0, NULL},
};
static const tars_struct_desc tt_inner_desc = {"Inner", sizeof(tt_inner), tt_inner_fields, 2};

typedef struct tt_all {
    bool b;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    tars_str s;
    tars_bytes by;
    tt_inner in;
    tars_str_list ls;
    tars_i64_list li;
    TARS_LIST_OF(tt_inner) lst;
    tars_str_map m;
    int32_t opt7;  /* optional, default 7, tag 15 */
    int64_t t200;  /* tag 200 */
    tars_str t255; /* tag 255, required: every proper prefix is invalid */
} tt_all;

static const tars_field tt_all_fields[] = {
    {"b", offsetof(tt_all, b), 0, TK_BOOL, true, 0, NULL},
    {"i8", offsetof(tt_all, i8), 1, TK_I8, true, 0, NULL},
    {"i16", offsetof(tt_all, i16), 2, TK_I16, true, 0, NULL},
    {"i32", offsetof(tt_all, i32), 3, TK_I32, true, 0, NULL},
    {"i64", offsetof(tt_all, i64), 4, TK_I64, true, 0, NULL},
    {"f32", offsetof(tt_all, f32), 5, TK_F32, true, 0, NULL},
    {"f64", offsetof(tt_all, f64), 6, TK_F64, true, 0, NULL},
    {"s", offsetof(tt_all, s), 7, TK_STR, true, 0, NULL},
    {"by", offsetof(tt_all, by), 8, TK_BYTES, true, 0, NULL},
    {"in", offsetof(tt_all, in), 9, TK_STRUCT, true, 0, &tt_inner_desc},
    {"ls", offsetof(tt_all, ls), 10, TK_LIST_STR, true, 0, NULL},
    {"li", offsetof(tt_all, li), 11, TK_LIST_I64, true, 0, NULL},
    {"lst", offsetof(tt_all, lst), 12, TK_LIST_STRUCT, true, 0, &tt_inner_desc},
    {"m", offsetof(tt_all, m), 14, TK_MAP_STR_STR, true, 0, NULL},
    {"opt7", offsetof(tt_all, opt7), 15, TK_I32, false, 7, NULL},
    {"t200", offsetof(tt_all, t200), 200, TK_I64, true, 0, NULL},
    {"t255", offsetof(tt_all, t255), 255, TK_STR, true, 0, NULL},
};
static const tars_struct_desc tt_all_desc = {"All", sizeof(tt_all), tt_all_fields,
                                             sizeof(tt_all_fields) / sizeof(tt_all_fields[0])};

/* ---- generic random filler ---- */

static inline uint64_t tt_rand(uint64_t *st)
{
    /* xorshift64* */
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 2685821657736338717ULL;
}

static inline int64_t tt_rand_int(uint64_t *st, unsigned bits)
{
    static const int64_t edges[] = {0,
                                    1,
                                    -1,
                                    127,
                                    128,
                                    -128,
                                    -129,
                                    255,
                                    256,
                                    32767,
                                    32768,
                                    -32768,
                                    -32769,
                                    65535,
                                    65536,
                                    2147483647LL,
                                    2147483648LL,
                                    -2147483648LL,
                                    -2147483649LL,
                                    INT64_MAX,
                                    INT64_MIN};
    uint64_t r = tt_rand(st);
    int64_t v;
    if (r % 3 == 0)
        v = edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
    else
        v = (int64_t)(tt_rand(st) >> (r % 64));
    if (r & 0x100000)
        v = (int64_t)(0 - (uint64_t)v);
    if (bits < 64) {
        /* wrap into the field's range */
        int64_t span = (int64_t)1 << bits;
        v = (int64_t)((uint64_t)v & (uint64_t)(span - 1));
        if (v >= span / 2)
            v -= span;
    }
    return v;
}

static inline void tt_rand_str(uint64_t *st, tars_str *s, bool binary)
{
    uint64_t r = tt_rand(st);
    size_t n = r % 8 == 0 ? (size_t)(250 + tt_rand(st) % 12) : (size_t)(r % 20);
    if (r % 97 == 0)
        n = 70000;
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = binary ? (char)tt_rand(st) : (char)('a' + tt_rand(st) % 26);
    tars_str_setn(s, buf, n);
    free(buf);
}

static inline int64_t tt_fill_integer(void *ctx, const tars_field *f)
{
    uint64_t *st = ctx;
    switch (f->kind) {
    case TK_BOOL:
        return (int64_t)(tt_rand(st) & 1);
    case TK_I8:
        return tt_rand_int(st, 8);
    case TK_I16:
        return tt_rand_int(st, 16);
    case TK_I32:
        return tt_rand_int(st, 32);
    default:
        return tt_rand_int(st, 64);
    }
}

static inline void tt_fill_value(void *ctx, const tars_field *f, int kind, void *p)
{
    uint64_t *st = ctx;
    if (kind != f->kind) { /* a list or map element */
        tt_rand_str(st, p, false);
        return;
    }
    switch (kind) {
    case TK_F32:
        *(float *)p = (float)(int32_t)tt_rand(st) / 64.0f;
        break;
    case TK_F64:
        *(double *)p = (double)(int64_t)tt_rand(st) / 1024.0;
        break;
    case TK_STR:
        tt_rand_str(st, (tars_str *)p, tt_rand(st) % 5 == 0);
        break;
    case TK_BYTES:
        tt_rand_str(st, (tars_str *)p, true);
        break;
    }
}

static inline uint32_t tt_fill_count(void *ctx, const tars_field *f, int depth)
{
    uint64_t *st = ctx;
    if (f->kind == TK_MAP_STR_STR)
        return (uint32_t)(tt_rand(st) % 3);
    return depth > 2 ? 0 : (uint32_t)(tt_rand(st) % 4);
}

/* Fills obj with random values from the state st (lists only to depth 2). */
static inline void tt_fill(const tars_struct_desc *d, void *obj, uint64_t *st, int depth)
{
    const sample_ops ops = {tt_fill_integer, tt_fill_value, tt_fill_count, st};
    sample_fill(d, obj, &ops, depth);
}

/* Encodes obj (top level) into a new malloc'd buffer. */
static inline uint8_t *tt_encode(const tars_struct_desc *d, const void *obj, size_t *len)
{
    tars_buf b;
    tars_buf_init(&b);
    *len = 0;
    if (tars_encode(&b, d, obj, true, 0) != TARS_OK) {
        tars_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

/* Hostile inputs: forged counts and lengths, bad list/count encodings. Each
 * must fail fast with the given error and never allocate in proportion to
 * the declared size. Run by test_tars_decode (owning decode) and
 * test_tars_arena (arena decode), so both modes meet the same inputs. */
typedef struct tt_vector {
    const char *desc; /* struct name (omtp_desc_by_name) */
    const char *hex;  /* input, whitespace ignored */
    int rc;           /* expected TARS_* result */
} tt_vector;

static inline const tt_vector *tt_forged_vectors(size_t *n)
{
    static const tt_vector v[] = {
        /* MsgReq.sessionId String4 of 4 GiB - 1 */
        {"MsgReq", "07ffffffff 616263", TARS_ETRUNC},
        /* String1 longer than the input */
        {"MsgReq", "06ff 616263", TARS_ETRUNC},
        /* UserInfoGetReq.userIds with 2^31-1 elements */
        {"UserInfoGetReq", "09027fffffff 060161", TARS_ETRUNC},
        /* ... with an Int8 count of 2^62 */
        {"UserInfoGetReq", "09034000000000000000 060161", TARS_ETRUNC},
        /* negative count */
        {"UserInfoGetReq", "0900ff", TARS_EINVAL},
        /* FriendAddReq.friends: list of structs, huge count */
        {"FriendAddReq", "09027fffffff 0a060161160162260163 0b", TARS_ETRUNC},
        /* OTIMPack.payload SimpleList of 2^31-1 bytes */
        {"OTIMPack", "0a0001100120003600 0b 1d00027fffffff 0102", TARS_ETRUNC},
        /* ... as a List of Int1 with a huge count */
        {"OTIMPack", "0a0001100120003600 0b 19027fffffff 0001", TARS_ETRUNC},
        /* unknown map field with count INT64_MAX (count * 2 must not overflow) */
        {"SessionMonitor", "0600 18037fffffffffffffff", TARS_ETRUNC},
        {"SessionMonitor", "0600 1803c000000000000000", TARS_EINVAL},
        /* unknown list / String4 / SimpleList with huge lengths */
        {"SessionMonitor", "0600 19037fffffffffffffff", TARS_ETRUNC},
        {"SessionMonitor", "0600 17ffffffff", TARS_ETRUNC},
        {"SessionMonitor", "0600 1d00037fffffffffffffff", TARS_ETRUNC},
        /* list element not at tag 0 */
        {"UserInfoGetReq", "090001 160161", TARS_EINVAL},
        /* list count with a non-zero tag */
        {"UserInfoGetReq", "09 1001 060161", TARS_EINVAL},
        /* list count that is not an integer */
        {"UserInfoGetReq", "09 0600", TARS_ETYPE},
    };
    *n = sizeof(v) / sizeof(v[0]);
    return v;
}

#endif
