/*
 * tars_codec.c - the generic, table-driven struct encoder and decoder.
 *
 * One walker for every struct: fields are visited in the descriptor's order
 * (ascending tags). The decoder scans forward as the Tars rules say: a head
 * with the wanted tag is the field; a larger tag or StructEnd means the field
 * is absent (nothing consumed); a smaller tag is an unknown field and is
 * skipped. Containers are grown one decoded element at a time (doubling), so
 * a forged count can never make us allocate more than the input justifies.
 */
#include "tars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

const char *tars_err_name(int code)
{
    switch (code) {
    case TARS_OK:
        return "ok";
    case TARS_ENOMEM:
        return "out of memory";
    case TARS_ETRUNC:
        return "truncated input";
    case TARS_ETYPE:
        return "wrong wire type";
    case TARS_EMISSING:
        return "required field missing";
    case TARS_EDEPTH:
        return "nesting too deep";
    case TARS_EINVAL:
        return "invalid encoding";
    case TARS_ERANGE:
        return "value out of range";
    }
    return "unknown error";
}

static int fail(tars_reader *r, int code, const tars_struct_desc *d, const tars_field *f, int tag,
                const char *why)
{
    tars_err *e = r->err;
    if (e && e->code == TARS_OK) {
        e->code = code;
        e->offset = r->off;
        e->tag = f ? f->tag : tag;
        e->strct = d ? d->name : NULL;
        e->field = f ? f->name : NULL;
        if (d && f)
            snprintf(e->msg, sizeof(e->msg), "%s.%s (tag %u) at byte %zu: %s", d->name, f->name,
                     f->tag, r->off, why ? why : tars_err_name(code));
        else
            snprintf(e->msg, sizeof(e->msg), "%s%stag %d at byte %zu: %s", d ? d->name : "",
                     d ? " " : "", tag, r->off, why ? why : tars_err_name(code));
    }
    return code;
}

/* ----------------------------------------------------------------- reader */

void tars_reader_init(tars_reader *r, const void *p, size_t len, tars_err *err)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->depth = 0;
    r->err = err;
    r->arena = NULL;
    if (err) {
        memset(err, 0, sizeof(*err));
        err->tag = -1;
    }
}

static size_t left(const tars_reader *r)
{
    return r->len - r->off;
}

/* Inlined into the decode loops; tars_peek_head is the public wrapper. */
static inline int peek(const tars_reader *r, unsigned *tag, unsigned *type, size_t *head_len)
{
    if (r->off >= r->len)
        return TARS_ETRUNC;
    uint8_t h = r->p[r->off];
    *type = h & 0x0F;
    *tag = h >> 4;
    *head_len = 1;
    if (*tag == 15) {
        if (r->len - r->off < 2)
            return TARS_ETRUNC;
        *tag = r->p[r->off + 1];
        *head_len = 2;
    }
    if (*type > TARS_SIMPLE_LIST)
        return TARS_EINVAL;
    return TARS_OK;
}

int tars_peek_head(tars_reader *r, unsigned *tag, unsigned *type, size_t *head_len)
{
    return peek(r, tag, type, head_len);
}

static inline uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads an integer value of wire `type` (head consumed). */
static inline int read_int_value(tars_reader *r, unsigned type, int64_t *out)
{
    const uint8_t *q = r->p + r->off;
    size_t avail = r->len - r->off;
    switch (type) {
    case TARS_ZERO:
        *out = 0;
        return TARS_OK;
    case TARS_INT1:
        if (avail < 1)
            return TARS_ETRUNC;
        *out = (int8_t)q[0];
        r->off += 1;
        return TARS_OK;
    case TARS_INT2:
        if (avail < 2)
            return TARS_ETRUNC;
        *out = (int16_t)(uint16_t)((unsigned)q[0] << 8 | q[1]);
        r->off += 2;
        return TARS_OK;
    case TARS_INT4:
        if (avail < 4)
            return TARS_ETRUNC;
        *out = (int32_t)(uint32_t)be(q, 4);
        r->off += 4;
        return TARS_OK;
    case TARS_INT8:
        if (avail < 8)
            return TARS_ETRUNC;
        *out = (int64_t)be(q, 8);
        r->off += 8;
        return TARS_OK;
    }
    return TARS_ETYPE;
}

/* Reads a complete integer field (head + value) expecting `want_tag`; used
 * for container lengths. */
static int read_len_field(tars_reader *r, int64_t *out)
{
    unsigned tag, type;
    size_t hl;
    int rc = peek(r, &tag, &type, &hl);
    if (rc)
        return rc;
    if (tag != 0)
        return TARS_EINVAL;
    r->off += hl;
    rc = read_int_value(r, type, out);
    if (rc)
        return rc;
    if (*out < 0)
        return TARS_EINVAL;
    return TARS_OK;
}

static int skip_field(tars_reader *r);

int tars_skip_value(tars_reader *r, unsigned type)
{
    int64_t n;
    int rc;
    switch (type) {
    case TARS_ZERO:
    case TARS_STRUCT_END:
        return TARS_OK;
    case TARS_INT1:
        n = 1;
        break;
    case TARS_INT2:
        n = 2;
        break;
    case TARS_INT4:
    case TARS_FLOAT:
        n = 4;
        break;
    case TARS_INT8:
    case TARS_DOUBLE:
        n = 8;
        break;
    case TARS_STRING1:
        if (left(r) < 1)
            return TARS_ETRUNC;
        n = r->p[r->off];
        r->off += 1;
        break;
    case TARS_STRING4:
        if (left(r) < 4)
            return TARS_ETRUNC;
        n = (int64_t)be(r->p + r->off, 4);
        r->off += 4;
        break;
    case TARS_MAP:
    case TARS_LIST: {
        if ((rc = read_len_field(r, &n)))
            return rc;
        /* every item takes at least one byte: refuse counts the input cannot
         * hold before doing arithmetic on them (n * 2 could overflow) */
        if ((uint64_t)n > left(r))
            return TARS_ETRUNC;
        int64_t items = type == TARS_MAP ? n * 2 : n;
        if (++r->depth > TARS_MAX_DEPTH)
            return TARS_EDEPTH;
        for (int64_t i = 0; i < items; i++) {
            if (left(r) == 0)
                return TARS_ETRUNC; /* each item needs a byte: bounds the loop */
            if ((rc = skip_field(r)))
                return rc;
        }
        r->depth--;
        return TARS_OK;
    }
    case TARS_STRUCT_BEGIN: {
        if (++r->depth > TARS_MAX_DEPTH)
            return TARS_EDEPTH;
        for (;;) {
            unsigned tag, t;
            size_t hl;
            if ((rc = peek(r, &tag, &t, &hl)))
                return rc;
            if (t == TARS_STRUCT_END) {
                r->off += hl;
                break;
            }
            if ((rc = skip_field(r)))
                return rc;
        }
        r->depth--;
        return TARS_OK;
    }
    case TARS_SIMPLE_LIST: {
        unsigned tag, t;
        size_t hl;
        if ((rc = peek(r, &tag, &t, &hl)))
            return rc;
        if (t != TARS_INT1 || tag != 0)
            return TARS_EINVAL;
        r->off += hl;
        if ((rc = read_len_field(r, &n)))
            return rc;
        break;
    }
    default:
        return TARS_EINVAL;
    }
    if ((uint64_t)n > left(r))
        return TARS_ETRUNC;
    r->off += (size_t)n;
    return TARS_OK;
}

static int skip_field(tars_reader *r)
{
    unsigned tag, type;
    size_t hl;
    int rc = peek(r, &tag, &type, &hl);
    if (rc)
        return rc;
    if (type == TARS_STRUCT_END)
        return TARS_EINVAL; /* a StructEnd where a value should be */
    r->off += hl;
    return tars_skip_value(r, type);
}

/* -------------------------------------------------------------- helpers */

static const char empty_cstr[1] = "";

int tars_str_setn(tars_str *s, const void *p, size_t len)
{
    if (len > UINT32_MAX - 1)
        return TARS_ERANGE;
    if (len == 0) { /* no allocation: every empty string is the shared "" */
        tars_str_clear(s);
        return TARS_OK;
    }
    char *d = malloc(len + 1);
    if (!d)
        return TARS_ENOMEM;
    if (len)
        memcpy(d, p, len);
    d[len] = 0;
    tars_str_clear(s);
    s->data = d;
    s->len = (uint32_t)len;
    return TARS_OK;
}

int tars_str_set(tars_str *s, const char *cstr)
{
    return tars_str_setn(s, cstr ? cstr : "", cstr ? strlen(cstr) : 0);
}

int tars_bytes_set(tars_bytes *b, const void *p, size_t len)
{
    return tars_str_setn((tars_str *)(void *)b, p, len);
}

void tars_str_clear(tars_str *s)
{
    if (s->data != empty_cstr)
        free(s->data);
    s->data = (char *)empty_cstr;
    s->len = 0;
}

bool tars_str_eq(const tars_str *s, const char *cstr)
{
    size_t n = strlen(cstr);
    return s->len == n && memcmp(s->data, cstr, n) == 0;
}

static size_t elem_size(const tars_field *f)
{
    switch (f->kind) {
    case TK_LIST_STR:
        return sizeof(tars_str);
    case TK_LIST_I64:
        return sizeof(int64_t);
    case TK_LIST_STRUCT:
        return f->sub->size;
    }
    return 0;
}

/* -------------------------------------------------------- init and free */

void tars_init(const tars_struct_desc *d, void *obj)
{
    memset(obj, 0, d->size);
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        char *p = (char *)obj + f->offset;
        switch (f->kind) {
        case TK_BOOL:
            *(bool *)p = f->def != 0;
            break;
        case TK_I8:
            *(int8_t *)p = (int8_t)f->def;
            break;
        case TK_I16:
            *(int16_t *)p = (int16_t)f->def;
            break;
        case TK_I32:
            *(int32_t *)p = (int32_t)f->def;
            break;
        case TK_I64:
            *(int64_t *)p = f->def;
            break;
        case TK_STR:
        case TK_BYTES:
            ((tars_str *)p)->data = (char *)empty_cstr;
            break;
        case TK_STRUCT:
            tars_init(f->sub, p);
            break;
        default:
            break;
        }
    }
}

static void free_str_list(tars_str_list *l)
{
    for (uint32_t k = 0; k < l->n; k++)
        tars_str_clear(&l->items[k]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Copies a list of strings into dst (empty); TARS_OK or TARS_ENOMEM (dst
 * then holds what was copied, for the caller to free). */
static int copy_str_list(tars_str_list *dst, const tars_str_list *src)
{
    if (src->n == 0)
        return TARS_OK;
    dst->items = calloc(src->n, sizeof(tars_str));
    if (!dst->items)
        return TARS_ENOMEM;
    for (uint32_t k = 0; k < src->n; k++) {
        dst->items[k].data = (char *)empty_cstr;
        dst->n = k + 1;
        int rc = tars_str_setn(&dst->items[k], src->items[k].data, src->items[k].len);
        if (rc)
            return rc;
    }
    return TARS_OK;
}

/* Releases what the struct owns without re-initialising it (the caller
 * either re-initialises once at the top or frees the memory itself). */
static void free_contents(const tars_struct_desc *d, void *obj)
{
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        char *p = (char *)obj + f->offset;
        switch (f->kind) {
        case TK_STR:
        case TK_BYTES:
            tars_str_clear((tars_str *)p);
            break;
        case TK_STRUCT:
            free_contents(f->sub, p);
            break;
        case TK_LIST_STR: {
            tars_str_list *l = (tars_str_list *)p;
            for (uint32_t k = 0; k < l->n; k++)
                tars_str_clear(&l->items[k]);
            free(l->items);
            break;
        }
        case TK_LIST_I64:
            free(((tars_list *)p)->items);
            break;
        case TK_LIST_STRUCT: {
            tars_list *l = (tars_list *)p;
            for (uint32_t k = 0; k < l->n; k++)
                free_contents(f->sub, (char *)l->items + (size_t)k * f->sub->size);
            free(l->items);
            break;
        }
        case TK_MAP_STR_STR: {
            tars_str_map *m = (tars_str_map *)p;
            for (uint32_t k = 0; k < m->n; k++) {
                tars_str_clear(&m->keys[k]);
                tars_str_clear(&m->vals[k]);
            }
            free(m->keys);
            free(m->vals);
            break;
        }
        case TK_MAP_STR_STRS: {
            tars_strs_map *m = (tars_strs_map *)p;
            for (uint32_t k = 0; k < m->n; k++) {
                tars_str_clear(&m->keys[k]);
                free_str_list(&m->vals[k]);
            }
            free(m->keys);
            free(m->vals);
            break;
        }
        default:
            break;
        }
    }
}

void tars_free(const tars_struct_desc *d, void *obj)
{
    free_contents(d, obj);
    tars_init(d, obj);
}

void tars_release(const tars_struct_desc *d, void *obj)
{
    free_contents(d, obj);
}

int tars_copy(const tars_struct_desc *d, void *dst, const void *src)
{
    tars_init(d, dst);
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        char *dp = (char *)dst + f->offset;
        const char *sp = (const char *)src + f->offset;
        int rc = TARS_OK;
        switch (f->kind) {
        case TK_STR:
        case TK_BYTES: {
            const tars_str *s = (const tars_str *)sp;
            rc = tars_str_setn((tars_str *)dp, s->data, s->len);
            break;
        }
        case TK_STRUCT:
            rc = tars_copy(f->sub, dp, sp);
            break;
        case TK_LIST_STR:
        case TK_LIST_I64:
        case TK_LIST_STRUCT: {
            const tars_list *s = (const tars_list *)sp;
            tars_list *l = (tars_list *)dp;
            size_t es = elem_size(f);
            if (s->n == 0)
                break;
            l->items = calloc(s->n, es);
            if (!l->items) {
                rc = TARS_ENOMEM;
                break;
            }
            for (uint32_t k = 0; k < s->n && rc == TARS_OK; k++) {
                void *de = (char *)l->items + k * es;
                const void *se = (const char *)s->items + k * es;
                if (f->kind == TK_LIST_I64) {
                    memcpy(de, se, es);
                } else if (f->kind == TK_LIST_STR) {
                    ((tars_str *)de)->data = (char *)empty_cstr;
                    rc = tars_str_setn(de, ((const tars_str *)se)->data,
                                       ((const tars_str *)se)->len);
                } else {
                    rc = tars_copy(f->sub, de, se);
                }
                if (rc == TARS_OK)
                    l->n = k + 1;
            }
            break;
        }
        case TK_MAP_STR_STR: {
            const tars_str_map *s = (const tars_str_map *)sp;
            tars_str_map *m = (tars_str_map *)dp;
            if (s->n == 0)
                break;
            m->keys = calloc(s->n, sizeof(tars_str));
            m->vals = calloc(s->n, sizeof(tars_str));
            if (!m->keys || !m->vals) {
                free(m->keys);
                free(m->vals);
                m->keys = m->vals = NULL;
                rc = TARS_ENOMEM;
                break;
            }
            for (uint32_t k = 0; k < s->n && rc == TARS_OK; k++) {
                m->keys[k].data = m->vals[k].data = (char *)empty_cstr;
                m->n = k + 1;
                rc = tars_str_setn(&m->keys[k], s->keys[k].data, s->keys[k].len);
                if (rc == TARS_OK)
                    rc = tars_str_setn(&m->vals[k], s->vals[k].data, s->vals[k].len);
            }
            break;
        }
        case TK_MAP_STR_STRS: {
            const tars_strs_map *s = (const tars_strs_map *)sp;
            tars_strs_map *m = (tars_strs_map *)dp;
            if (s->n == 0)
                break;
            m->keys = calloc(s->n, sizeof(tars_str));
            m->vals = calloc(s->n, sizeof(tars_str_list));
            if (!m->keys || !m->vals) {
                free(m->keys);
                free(m->vals);
                m->keys = NULL;
                m->vals = NULL;
                rc = TARS_ENOMEM;
                break;
            }
            for (uint32_t k = 0; k < s->n && rc == TARS_OK; k++) {
                m->keys[k].data = (char *)empty_cstr;
                m->n = k + 1;
                rc = tars_str_setn(&m->keys[k], s->keys[k].data, s->keys[k].len);
                if (rc == TARS_OK)
                    rc = copy_str_list(&m->vals[k], &s->vals[k]);
            }
            break;
        }
        default:
            memcpy(dp, sp,
                   f->kind == TK_I64 || f->kind == TK_F64 ? 8
                   : f->kind == TK_I32 || f->kind == TK_F32
                       ? 4
                       : (f->kind == TK_I16 ? 2 : (f->kind == TK_BOOL ? sizeof(bool) : 1)));
            break;
        }
        if (rc != TARS_OK) {
            tars_free(d, dst);
            return rc;
        }
    }
    return TARS_OK;
}

/* ---------------------------------------------------------------- encode */

static void encode_list(tars_buf *b, const tars_field *f, const void *p, unsigned tag)
{
    const tars_list *l = p;
    size_t es = elem_size(f);
    tars_put_head(b, tag, TARS_LIST);
    tars_put_int(b, 0, l->n);
    for (uint32_t k = 0; k < l->n; k++) {
        const void *e = (const char *)l->items + k * es;
        if (f->kind == TK_LIST_STR)
            tars_put_string(b, 0, ((const tars_str *)e)->data, ((const tars_str *)e)->len);
        else if (f->kind == TK_LIST_I64)
            tars_put_int(b, 0, *(const int64_t *)e);
        else
            tars_encode(b, f->sub, e, false, 0);
    }
}

int tars_encode(tars_buf *b, const tars_struct_desc *d, const void *obj, bool top_level,
                unsigned tag)
{
    if (!top_level)
        tars_put_head(b, tag, TARS_STRUCT_BEGIN);
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        const char *p = (const char *)obj + f->offset;
        switch (f->kind) {
        case TK_BOOL:
            tars_put_int(b, f->tag, *(const bool *)p ? 1 : 0);
            break;
        case TK_I8:
            tars_put_int(b, f->tag, *(const int8_t *)p);
            break;
        case TK_I16:
            tars_put_int(b, f->tag, *(const int16_t *)p);
            break;
        case TK_I32:
            tars_put_int(b, f->tag, *(const int32_t *)p);
            break;
        case TK_I64:
            tars_put_int(b, f->tag, *(const int64_t *)p);
            break;
        case TK_F32:
            tars_put_float(b, f->tag, *(const float *)p);
            break;
        case TK_F64:
            tars_put_double(b, f->tag, *(const double *)p);
            break;
        case TK_STR: {
            const tars_str *s = (const tars_str *)p;
            tars_put_string(b, f->tag, s->data, s->len);
            break;
        }
        case TK_BYTES: {
            const tars_bytes *s = (const tars_bytes *)p;
            tars_put_bytes(b, f->tag, s->data, s->len);
            break;
        }
        case TK_STRUCT:
            tars_encode(b, f->sub, p, false, f->tag);
            break;
        case TK_LIST_STR:
        case TK_LIST_I64:
        case TK_LIST_STRUCT:
            encode_list(b, f, p, f->tag);
            break;
        case TK_MAP_STR_STR: {
            const tars_str_map *m = (const tars_str_map *)p;
            tars_put_head(b, f->tag, TARS_MAP);
            tars_put_int(b, 0, m->n);
            for (uint32_t k = 0; k < m->n; k++) {
                tars_put_string(b, 0, m->keys[k].data, m->keys[k].len);
                tars_put_string(b, 1, m->vals[k].data, m->vals[k].len);
            }
            break;
        }
        case TK_MAP_STR_STRS: {
            const tars_strs_map *m = (const tars_strs_map *)p;
            tars_put_head(b, f->tag, TARS_MAP);
            tars_put_int(b, 0, m->n);
            for (uint32_t k = 0; k < m->n; k++) {
                const tars_str_list *l = &m->vals[k];
                tars_put_string(b, 0, m->keys[k].data, m->keys[k].len);
                tars_put_head(b, 1, TARS_LIST);
                tars_put_int(b, 0, l->n);
                for (uint32_t j = 0; j < l->n; j++)
                    tars_put_string(b, 0, l->items[j].data, l->items[j].len);
            }
            break;
        }
        }
    }
    if (!top_level)
        tars_put_head(b, 0, TARS_STRUCT_END);
    return b->oom ? TARS_ENOMEM : b->err;
}

/* ---------------------------------------------------------------- decode */

static int decode_struct(tars_reader *r, const tars_struct_desc *d, void *obj, bool top_level);

/* Stores a copy of [p, p+n) in s: owned (malloc), or from the reader's
 * arena. s holds nothing that needs freeing (it was just initialised). */
static int set_str(tars_reader *r, tars_str *s, const void *p, size_t n)
{
    if (!r->arena)
        return tars_str_setn(s, p, n);
    if (n > UINT32_MAX - 1)
        return TARS_ERANGE;
    if (n == 0) {
        s->data = (char *)empty_cstr;
        s->len = 0;
        return TARS_OK;
    }
    char *d = tars_arena_alloc(r->arena, n + 1);
    if (!d)
        return TARS_ENOMEM;
    memcpy(d, p, n);
    d[n] = 0;
    s->data = d;
    s->len = (uint32_t)n;
    return TARS_OK;
}

/* Reads a string value (head consumed, type String1/String4) into s. */
static int read_string_value(tars_reader *r, unsigned type, tars_str *s)
{
    size_t n;
    if (type == TARS_STRING1) {
        if (left(r) < 1)
            return TARS_ETRUNC;
        n = r->p[r->off];
        r->off += 1;
    } else if (type == TARS_STRING4) {
        if (left(r) < 4)
            return TARS_ETRUNC;
        n = (size_t)be(r->p + r->off, 4);
        r->off += 4;
    } else {
        return TARS_ETYPE;
    }
    if (n > left(r))
        return TARS_ETRUNC;
    int rc = set_str(r, s, r->p + r->off, n);
    if (rc)
        return rc;
    r->off += n;
    return TARS_OK;
}

/* vector<byte>: a SimpleList, or (accepted for interop) a List of Int1. */
static int read_bytes_value(tars_reader *r, unsigned type, tars_bytes *out)
{
    int64_t n;
    int rc;
    if (type == TARS_SIMPLE_LIST) {
        unsigned tag, t;
        size_t hl;
        if ((rc = peek(r, &tag, &t, &hl)))
            return rc;
        if (t != TARS_INT1 || tag != 0)
            return TARS_EINVAL;
        r->off += hl;
        if ((rc = read_len_field(r, &n)))
            return rc;
        if ((uint64_t)n > left(r))
            return TARS_ETRUNC;
        if ((rc = set_str(r, (tars_str *)(void *)out, r->p + r->off, (size_t)n)))
            return rc;
        r->off += (size_t)n;
        return TARS_OK;
    }
    if (type != TARS_LIST)
        return TARS_ETYPE;
    if ((rc = read_len_field(r, &n)))
        return rc;
    /* each element is at least one byte (a head), so n is bounded by input */
    if ((uint64_t)n > left(r))
        return TARS_ETRUNC;
    uint8_t *tmp = r->arena ? tars_arena_alloc(r->arena, (size_t)n + 1) : malloc((size_t)n + 1);
    if (!tmp)
        return TARS_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        unsigned tag, t;
        size_t hl;
        int64_t v;
        if ((rc = peek(r, &tag, &t, &hl)) == TARS_OK) {
            r->off += hl;
            rc = (t == TARS_INT1 || t == TARS_ZERO) ? read_int_value(r, t, &v) : TARS_ETYPE;
        }
        if (rc) {
            if (!r->arena)
                free(tmp);
            return rc;
        }
        tmp[i] = (uint8_t)v;
    }
    if (!r->arena)
        tars_str_clear((tars_str *)(void *)out);
    tmp[n] = 0;
    out->data = tmp;
    out->len = (uint32_t)n;
    return TARS_OK;
}

/* Appends one zeroed element slot to a list, doubling capacity on powers of
 * two (capacity is implicit: the next power of two >= n). */
static void *list_grow(tars_reader *r, tars_list *l, size_t es)
{
    uint32_t n = l->n;
    if (n == UINT32_MAX)
        return NULL;
    if (n == 0 || (n & (n - 1)) == 0) {
        size_t cap = n ? (size_t)n * 2 : 1;
        void *p = r->arena ? tars_arena_grow(r->arena, l->items, (size_t)n * es, cap * es)
                           : realloc(l->items, cap * es);
        if (!p)
            return NULL;
        l->items = p;
    }
    void *e = (char *)l->items + (size_t)n * es;
    memset(e, 0, es);
    return e;
}

static int check_int_type(unsigned type, unsigned kind)
{
    unsigned max;
    switch (kind) {
    case TK_BOOL:
    case TK_I8:
        max = TARS_INT1;
        break;
    case TK_I16:
        max = TARS_INT2;
        break;
    case TK_I32:
        max = TARS_INT4;
        break;
    default:
        max = TARS_INT8;
        break;
    }
    if (type == TARS_ZERO || type <= max)
        return TARS_OK;
    return TARS_ETYPE;
}

static int cmp_key(const void *a, const void *b)
{
    const tars_str *x = *(const tars_str *const *)a, *y = *(const tars_str *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* True when two of the n keys are equal: sorted pointers, O(n log n), so a
 * hostile map of many small keys costs no quadratic time. -1: no memory. */
static int keys_repeat(const tars_str *keys, uint32_t n)
{
    if (n < 2)
        return 0;
    const tars_str **v = malloc((size_t)n * sizeof(*v));
    if (!v)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        v[i] = &keys[i];
    qsort(v, n, sizeof(*v), cmp_key);
    int dup = 0;
    for (uint32_t i = 1; i < n && !dup; i++)
        dup = cmp_key(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

/* map<string, vector<string>> (its head consumed): entries of a string at
 * tag 0 and a list of strings at tag 1. Grows one entry at a time like the
 * other containers; refuses repeated keys. */
static int decode_strs_map(tars_reader *r, const tars_struct_desc *d, const tars_field *f,
                           tars_strs_map *m)
{
    int64_t n;
    int rc;
    if ((rc = read_len_field(r, &n)))
        return fail(r, rc, d, f, -1, "bad map length");
    for (int64_t i = 0; i < n; i++) {
        unsigned tag, t;
        size_t hl;
        tars_list kl = {m->keys, m->n}, vl = {m->vals, m->n};
        tars_str *k = list_grow(r, &kl, sizeof(tars_str));
        if (k)
            m->keys = kl.items;
        tars_str_list *val = k ? list_grow(r, &vl, sizeof(tars_str_list)) : NULL;
        if (val)
            m->vals = vl.items;
        if (!k || !val)
            return fail(r, TARS_ENOMEM, d, f, -1, NULL);
        k->data = (char *)empty_cstr;
        m->n++;
        if ((rc = peek(r, &tag, &t, &hl)))
            return fail(r, rc, d, f, -1, "map shorter than its count");
        if (tag != 0)
            return fail(r, TARS_EINVAL, d, f, -1, "map entry tags must be 0 and 1");
        r->off += hl;
        if ((rc = read_string_value(r, t, k)))
            return fail(r, rc, d, f, -1, "bad map key");
        if ((rc = peek(r, &tag, &t, &hl)))
            return fail(r, rc, d, f, -1, "map shorter than its count");
        if (tag != 1)
            return fail(r, TARS_EINVAL, d, f, -1, "map entry tags must be 0 and 1");
        if (t != TARS_LIST)
            return fail(r, TARS_ETYPE, d, f, -1, "map value is not a list");
        r->off += hl;
        int64_t ln;
        if ((rc = read_len_field(r, &ln)))
            return fail(r, rc, d, f, -1, "bad list length");
        for (int64_t j = 0; j < ln; j++) {
            if ((rc = peek(r, &tag, &t, &hl)))
                return fail(r, rc, d, f, -1, "list shorter than its count");
            if (tag != 0)
                return fail(r, TARS_EINVAL, d, f, -1, "list element not at tag 0");
            r->off += hl;
            tars_str *e = list_grow(r, (tars_list *)(void *)val, sizeof(tars_str));
            if (!e)
                return fail(r, TARS_ENOMEM, d, f, -1, NULL);
            e->data = (char *)empty_cstr;
            val->n++;
            if ((rc = read_string_value(r, t, e)))
                return fail(r, rc, d, f, -1, "bad list element");
        }
    }
    rc = keys_repeat(m->keys, m->n);
    if (rc < 0)
        return fail(r, TARS_ENOMEM, d, f, -1, NULL);
    if (rc)
        return fail(r, TARS_EINVAL, d, f, -1, "map key repeated");
    return TARS_OK;
}

static int decode_value(tars_reader *r, const tars_struct_desc *d, const tars_field *f,
                        unsigned type, void *p)
{
    int rc;
    int64_t v;
    switch (f->kind) {
    case TK_BOOL:
    case TK_I8:
    case TK_I16:
    case TK_I32:
    case TK_I64:
        if (type > TARS_INT8 && type != TARS_ZERO)
            return fail(r, TARS_ETYPE, d, f, -1, "expected an integer");
        if (check_int_type(type, f->kind))
            return fail(r, TARS_ETYPE, d, f, -1, "integer wider than the field");
        if ((rc = read_int_value(r, type, &v)))
            return fail(r, rc, d, f, -1, NULL);
        if (f->kind == TK_BOOL)
            *(bool *)p = v != 0;
        else if (f->kind == TK_I8)
            *(int8_t *)p = (int8_t)v;
        else if (f->kind == TK_I16)
            *(int16_t *)p = (int16_t)v;
        else if (f->kind == TK_I32)
            *(int32_t *)p = (int32_t)v;
        else
            *(int64_t *)p = v;
        return TARS_OK;
    case TK_F32:
    case TK_F64: {
        if (type == TARS_ZERO) {
            if (f->kind == TK_F32)
                *(float *)p = 0;
            else
                *(double *)p = 0;
            return TARS_OK;
        }
        if (type == TARS_FLOAT) {
            if (left(r) < 4)
                return fail(r, TARS_ETRUNC, d, f, -1, NULL);
            uint32_t u = (uint32_t)be(r->p + r->off, 4);
            float x;
            memcpy(&x, &u, 4);
            r->off += 4;
            if (f->kind == TK_F32)
                *(float *)p = x;
            else
                *(double *)p = x;
            return TARS_OK;
        }
        if (type == TARS_DOUBLE && f->kind == TK_F64) {
            if (left(r) < 8)
                return fail(r, TARS_ETRUNC, d, f, -1, NULL);
            uint64_t u = be(r->p + r->off, 8);
            memcpy(p, &u, 8);
            r->off += 8;
            return TARS_OK;
        }
        return fail(r, TARS_ETYPE, d, f, -1, "expected a float");
    }
    case TK_STR:
        if (type != TARS_STRING1 && type != TARS_STRING4)
            return fail(r, TARS_ETYPE, d, f, -1, "expected a string");
        if ((rc = read_string_value(r, type, p)))
            return fail(r, rc, d, f, -1, NULL);
        return TARS_OK;
    case TK_BYTES:
        if ((rc = read_bytes_value(r, type, p)))
            return fail(r, rc, d, f, -1, rc == TARS_ETYPE ? "expected vector<byte>" : NULL);
        return TARS_OK;
    case TK_STRUCT:
        if (type != TARS_STRUCT_BEGIN)
            return fail(r, TARS_ETYPE, d, f, -1, "expected a struct");
        if (++r->depth > TARS_MAX_DEPTH)
            return fail(r, TARS_EDEPTH, d, f, -1, NULL);
        if (r->arena)
            tars_init(f->sub, p); /* arena data is never freed one by one */
        else
            tars_free(f->sub, p);
        if ((rc = decode_struct(r, f->sub, p, false)))
            return rc;
        r->depth--;
        return TARS_OK;
    case TK_LIST_STR:
    case TK_LIST_I64:
    case TK_LIST_STRUCT: {
        int64_t n;
        tars_list *l = p;
        size_t es = elem_size(f);
        if (type != TARS_LIST)
            return fail(r, TARS_ETYPE, d, f, -1, "expected a list");
        if ((rc = read_len_field(r, &n)))
            return fail(r, rc, d, f, -1, "bad list length");
        if (++r->depth > TARS_MAX_DEPTH)
            return fail(r, TARS_EDEPTH, d, f, -1, NULL);
        for (int64_t i = 0; i < n; i++) {
            unsigned tag, t;
            size_t hl;
            if ((rc = peek(r, &tag, &t, &hl)))
                return fail(r, rc, d, f, -1, "list shorter than its count");
            if (tag != 0)
                return fail(r, TARS_EINVAL, d, f, -1, "list element not at tag 0");
            r->off += hl;
            void *e = list_grow(r, l, es);
            if (!e)
                return fail(r, TARS_ENOMEM, d, f, -1, NULL);
            if (f->kind == TK_LIST_STR) {
                ((tars_str *)e)->data = (char *)empty_cstr;
                l->n++;
                if ((rc = read_string_value(r, t, e)))
                    return fail(r, rc, d, f, -1, "bad list element");
            } else if (f->kind == TK_LIST_I64) {
                l->n++;
                if ((rc = read_int_value(r, t, e)))
                    return fail(r, rc, d, f, -1, "bad list element");
            } else {
                tars_init(f->sub, e);
                l->n++;
                if (t != TARS_STRUCT_BEGIN)
                    return fail(r, TARS_ETYPE, d, f, -1, "list element is not a struct");
                if (++r->depth > TARS_MAX_DEPTH)
                    return fail(r, TARS_EDEPTH, d, f, -1, NULL);
                if ((rc = decode_struct(r, f->sub, e, false)))
                    return rc;
                r->depth--;
            }
        }
        r->depth--;
        return TARS_OK;
    }
    case TK_MAP_STR_STR: {
        int64_t n;
        tars_str_map *m = p;
        if (type != TARS_MAP)
            return fail(r, TARS_ETYPE, d, f, -1, "expected a map");
        if ((rc = read_len_field(r, &n)))
            return fail(r, rc, d, f, -1, "bad map length");
        for (int64_t i = 0; i < n; i++) {
            tars_list kl = {m->keys, m->n}, vl = {m->vals, m->n};
            tars_str *k = list_grow(r, &kl, sizeof(tars_str));
            if (k)
                m->keys = kl.items;
            tars_str *val = k ? list_grow(r, &vl, sizeof(tars_str)) : NULL;
            if (val)
                m->vals = vl.items;
            if (!k || !val)
                return fail(r, TARS_ENOMEM, d, f, -1, NULL);
            k->data = val->data = (char *)empty_cstr;
            m->n++;
            for (unsigned want = 0; want < 2; want++) {
                unsigned tag, t;
                size_t hl;
                if ((rc = peek(r, &tag, &t, &hl)))
                    return fail(r, rc, d, f, -1, "map shorter than its count");
                if (tag != want)
                    return fail(r, TARS_EINVAL, d, f, -1, "map entry tags must be 0 and 1");
                r->off += hl;
                if ((rc = read_string_value(r, t, want ? val : k)))
                    return fail(r, rc, d, f, -1, "bad map entry");
            }
        }
        return TARS_OK;
    }
    case TK_MAP_STR_STRS:
        if (type != TARS_MAP)
            return fail(r, TARS_ETYPE, d, f, -1, "expected a map");
        if (++r->depth > TARS_MAX_DEPTH)
            return fail(r, TARS_EDEPTH, d, f, -1, NULL);
        if ((rc = decode_strs_map(r, d, f, p)))
            return rc;
        r->depth--;
        return TARS_OK;
    }
    return fail(r, TARS_EINVAL, d, f, -1, "unknown field kind");
}

static int decode_struct(tars_reader *r, const tars_struct_desc *d, void *obj, bool top_level)
{
    int rc;
    unsigned fi = 0;
    for (;;) {
        unsigned tag, type;
        size_t hl;
        if (left(r) == 0) {
            if (!top_level)
                return fail(r, TARS_ETRUNC, d, NULL, -1, "struct has no StructEnd");
            break;
        }
        if ((rc = peek(r, &tag, &type, &hl)))
            return fail(r, rc, d, NULL, -1, NULL);
        if (type == TARS_STRUCT_END) {
            if (top_level)
                return fail(r, TARS_EINVAL, d, NULL, (int)tag, "StructEnd at top level");
            r->off += hl;
            break;
        }
        /* fields whose tag is below this head's are absent */
        while (fi < d->nfields && d->fields[fi].tag < tag) {
            if (d->fields[fi].required)
                return fail(r, TARS_EMISSING, d, &d->fields[fi], -1, NULL);
            fi++;
        }
        r->off += hl;
        if (fi < d->nfields && d->fields[fi].tag == tag) {
            const tars_field *f = &d->fields[fi++];
            if ((rc = decode_value(r, d, f, type, (char *)obj + f->offset)))
                return rc;
        } else {
            /* unknown (or repeated) field: skip it */
            if ((rc = tars_skip_value(r, type)))
                return fail(r, rc, d, NULL, (int)tag, "cannot skip unknown field");
        }
    }
    for (; fi < d->nfields; fi++)
        if (d->fields[fi].required)
            return fail(r, TARS_EMISSING, d, &d->fields[fi], -1, NULL);
    return TARS_OK;
}

int tars_decode_nested(tars_reader *r, const tars_struct_desc *d, void *obj)
{
    if (++r->depth > TARS_MAX_DEPTH)
        return fail(r, TARS_EDEPTH, d, NULL, -1, NULL);
    int rc = decode_struct(r, d, obj, false);
    if (rc == TARS_OK)
        r->depth--;
    return rc;
}

int tars_read_bytes_ref(tars_reader *r, const uint8_t **p, size_t *len)
{
    unsigned tag, t;
    size_t hl;
    int64_t n;
    int rc = peek(r, &tag, &t, &hl);
    if (rc)
        return rc;
    if (t != TARS_INT1 || tag != 0)
        return TARS_EINVAL;
    r->off += hl;
    if ((rc = read_len_field(r, &n)))
        return rc;
    if ((uint64_t)n > left(r))
        return TARS_ETRUNC;
    *p = r->p + r->off;
    *len = (size_t)n;
    r->off += (size_t)n;
    return TARS_OK;
}

int tars_decode_fields(tars_reader *r, const tars_struct_desc *d, void *obj)
{
    tars_init(d, obj);
    int rc = decode_struct(r, d, obj, true);
    if (rc) {
        if (r->arena)
            tars_init(d, obj); /* what it holds stays in the arena until reset */
        else
            tars_free(d, obj);
    }
    return rc;
}

int tars_decode(const tars_struct_desc *d, void *obj, const void *p, size_t len, tars_err *err)
{
    tars_reader r;
    tars_reader_init(&r, p, len, err);
    return tars_decode_fields(&r, d, obj);
}

int tars_decode_arena(const tars_struct_desc *d, void *obj, const void *p, size_t len,
                      tars_arena *arena, tars_err *err)
{
    tars_reader r;
    tars_reader_init(&r, p, len, err);
    r.arena = arena;
    return tars_decode_fields(&r, d, obj);
}
