/*
 * tars_buf.c - the growable output buffer and the low-level Tars writers.
 *
 * The buffer doubles its capacity, so appending n bytes costs amortised O(n).
 * On allocation failure it latches `oom` and ignores later writes; encoders
 * check once at the end instead of after every field.
 */
#include "tars.h"

#include <stdlib.h>
#include <string.h>

void tars_buf_init(tars_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void tars_buf_free(tars_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void tars_buf_reset(tars_buf *b)
{
    b->len = 0;
    b->oom = false;
    b->err = 0;
}

bool tars_buf_reserve(tars_buf *b, size_t extra)
{
    if (b->oom || b->err)
        return false;
    if (extra > SIZE_MAX - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

/* The common case (room left, no latched error) without a call. */
static inline bool room(tars_buf *b, size_t n)
{
    return (b->cap - b->len >= n && !b->oom && !b->err) || tars_buf_reserve(b, n);
}

void tars_buf_put(tars_buf *b, const void *p, size_t n)
{
    if (n == 0 || !room(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u8(tars_buf *b, uint8_t v)
{
    if (room(b, 1))
        b->data[b->len++] = v;
}

static void put_be(tars_buf *b, uint64_t v, unsigned width)
{
    if (!room(b, width))
        return;
    for (unsigned i = 0; i < width; i++)
        b->data[b->len + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    b->len += width;
}

void tars_put_head(tars_buf *b, unsigned tag, unsigned type)
{
    if (tag > TARS_MAX_TAG) {
        if (!b->err)
            b->err = TARS_EINVAL;
        return;
    }
    if (!room(b, 2))
        return;
    if (tag < 15) {
        b->data[b->len++] = (uint8_t)((tag << 4) | type);
    } else {
        b->data[b->len++] = (uint8_t)(0xF0 | type);
        b->data[b->len++] = (uint8_t)tag;
    }
}

void tars_put_int(tars_buf *b, unsigned tag, int64_t v)
{
    if (v == 0) {
        tars_put_head(b, tag, TARS_ZERO);
    } else if (v >= INT8_MIN && v <= INT8_MAX) {
        tars_put_head(b, tag, TARS_INT1);
        put_be(b, (uint64_t)v, 1);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        tars_put_head(b, tag, TARS_INT2);
        put_be(b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        tars_put_head(b, tag, TARS_INT4);
        put_be(b, (uint64_t)v, 4);
    } else {
        tars_put_head(b, tag, TARS_INT8);
        put_be(b, (uint64_t)v, 8);
    }
}

void tars_put_float(tars_buf *b, unsigned tag, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    tars_put_head(b, tag, TARS_FLOAT);
    put_be(b, u, 4);
}

void tars_put_double(tars_buf *b, unsigned tag, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    tars_put_head(b, tag, TARS_DOUBLE);
    put_be(b, u, 8);
}

void tars_put_string(tars_buf *b, unsigned tag, const void *s, size_t len)
{
    if (len > UINT32_MAX) {
        if (!b->err)
            b->err = TARS_ERANGE;
        return;
    }
    if (len <= 255) {
        tars_put_head(b, tag, TARS_STRING1);
        put_u8(b, (uint8_t)len);
    } else {
        tars_put_head(b, tag, TARS_STRING4);
        put_be(b, (uint64_t)len, 4);
    }
    tars_buf_put(b, s, len);
}

void tars_put_bytes(tars_buf *b, unsigned tag, const void *p, size_t len)
{
    tars_put_head(b, tag, TARS_SIMPLE_LIST);
    tars_put_head(b, 0, TARS_INT1);
    tars_put_int(b, 0, (int64_t)len);
    tars_buf_put(b, p, len);
}
