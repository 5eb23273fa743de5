/*
 * omtp_json.c - generic Tars struct <-> JSON mapping (see omtp_json.h).
 *
 * Both directions walk the field descriptors; the only struct known by name
 * is OTIMPack, whose opaque payload is expanded through the packet type
 * table. Errors in the JSON -> struct direction carry a path built while
 * descending ("GroupChatSyncResp.groupchats[1].name"), kept in a fixed
 * buffer so that error reporting never allocates.
 */
#include "omtp_json.h"
#include "omtp_errors.h"
#include "omtp_frame.h"
#include "omtp_msg.h"
#include "omtp_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------- hex */

void omtp_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int omtp_hex_decode(const char *hex, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *b = malloc(len / 2 + 1);
    if (!b)
        return OMTP_ENOMEM;
    size_t n = 0;
    int hi = -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)hex[i];
        if (is_space(c))
            continue;
        int v = hexval(c);
        if (v < 0) {
            free(b);
            return OMTP_EINVAL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            b[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        free(b);
        return OMTP_EINVAL;
    }
    b[n] = 0;
    *out = b;
    *out_len = n;
    return OMTP_OK;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (!h)
        return NULL;
    omtp_hex_encode(p, n, h);
    json_t *s = json_stringn(h, 2 * n);
    free(h);
    return s;
}

/* ----------------------------------------------------- struct -> JSON */

static json_t *from_struct(const tars_struct_desc *d, const void *obj, const omtp_json_opts *o);

/* A string as JSON: itself when valid UTF-8, else {"hex": "..."}. */
static json_t *str_json(const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    if (s)
        return s;
    return json_pack("{s:o}", "hex", hex_json((const uint8_t *)p, n));
}

static int set_new(json_t *o, const char *k, json_t *v)
{
    if (!v)
        return -1;
    return json_object_set_new(o, k, v);
}

/* OTIMPack: header as usual, payload expanded through the type table. */
static json_t *pack_json(const omtp_OTIMPack *pk, const omtp_json_opts *o)
{
    json_t *j = json_object();
    if (!j || set_new(j, "header", from_struct(&omtp_OTIMHeader_desc, &pk->header, o)))
        goto err;
    const tars_bytes *pl = &pk->payload;
    char why[200] = "";
    json_t *body = NULL;
    bool known;
    bool ack = (pk->header.flags & OMTP_F_ACK) != 0;
    const tars_struct_desc *pd = omtp_payload_desc(pk->header.type, ack, &known);
    if (!o->raw_payload && pl->len > 0) {
        if (!known) {
            snprintf(why, sizeof(why), "unknown packet type %d", pk->header.type);
        } else if (!pd) {
            snprintf(why, sizeof(why), "%s with ACK=%d carries no payload",
                     omtp_pack_type_name(pk->header.type), ack);
        } else {
            uint8_t *plain;
            size_t plen;
            bool owned;
            size_t cap = o->max_payload ? o->max_payload : OMTP_DEFAULT_MAX_FRAME;
            int rc = omtp_payload_unwrap(pk->header.flags, pl->data, pl->len, o->key, cap, &plain,
                                         &plen, &owned, why, sizeof(why));
            if (rc == OMTP_OK) {
                void *v = malloc(pd->size);
                tars_err err;
                if (!v) {
                    snprintf(why, sizeof(why), "out of memory");
                } else if (tars_decode(pd, v, plain, plen, &err) != TARS_OK) {
                    snprintf(why, sizeof(why), "%s", err.msg);
                    free(v);
                } else {
                    body = from_struct(pd, v, o);
                    tars_free(pd, v);
                    free(v);
                    if (!body)
                        snprintf(why, sizeof(why), "out of memory");
                }
                if (owned)
                    free(plain);
            }
        }
    }
    if (!body)
        body = hex_json(pl->data, pl->len);
    if (set_new(j, "payload", body))
        goto err;
    if (why[0] && set_new(j, "payloadError", json_string(why)))
        goto err;
    return j;
err:
    json_decref(j);
    return NULL;
}

/* map<string, vector<string>>: {"key": ["a", "b"]}, or [[key, [...]], ...]
 * when a key is not valid UTF-8 (strings then as {"hex"}). */
static json_t *strs_map_json(const tars_strs_map *m)
{
    bool as_pairs = false;
    for (uint32_t k = 0; k < m->n && !as_pairs; k++) {
        json_t *probe = json_stringn(m->keys[k].data, m->keys[k].len);
        as_pairs = !probe || memchr(m->keys[k].data, 0, m->keys[k].len) != NULL;
        json_decref(probe);
    }
    json_t *out = as_pairs ? json_array() : json_object();
    for (uint32_t k = 0; out && k < m->n; k++) {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < m->vals[k].n; i++)
            if (json_array_append_new(
                    a, str_json(m->vals[k].items[i].data, m->vals[k].items[i].len))) {
                json_decref(a);
                a = NULL;
            }
        int bad = !a;
        if (a && as_pairs) {
            json_t *pair = json_pack("[oo]", str_json(m->keys[k].data, m->keys[k].len), a);
            bad = !pair || json_array_append_new(out, pair);
        } else if (a) {
            bad = json_object_set_new(out, m->keys[k].data, a);
        }
        if (bad) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

static json_t *field_json(const tars_field *f, const void *p, const omtp_json_opts *o)
{
    switch (f->kind) {
    case TK_BOOL:
        return json_boolean(*(const bool *)p);
    case TK_I8:
        return json_integer(*(const int8_t *)p);
    case TK_I16:
        return json_integer(*(const int16_t *)p);
    case TK_I32:
        return json_integer(*(const int32_t *)p);
    case TK_I64:
        return json_integer(*(const int64_t *)p);
    case TK_F32:
        return json_real(*(const float *)p);
    case TK_F64:
        return json_real(*(const double *)p);
    case TK_STR: {
        const tars_str *s = p;
        return str_json(s->data, s->len);
    }
    case TK_BYTES: {
        const tars_bytes *b = p;
        return hex_json(b->data, b->len);
    }
    case TK_STRUCT:
        return from_struct(f->sub, p, o);
    case TK_LIST_STR:
    case TK_LIST_I64:
    case TK_LIST_STRUCT: {
        const tars_list *l = p;
        json_t *a = json_array();
        for (uint32_t k = 0; a && k < l->n; k++) {
            json_t *e;
            if (f->kind == TK_LIST_STR) {
                const tars_str *s = (const tars_str *)l->items + k;
                e = str_json(s->data, s->len);
            } else if (f->kind == TK_LIST_I64) {
                e = json_integer(((const int64_t *)l->items)[k]);
            } else {
                e = from_struct(f->sub, (const char *)l->items + (size_t)k * f->sub->size, o);
            }
            if (!e || json_array_append_new(a, e)) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case TK_MAP_STR_STR: {
        const tars_str_map *m = p;
        json_t *obj = json_object();
        bool as_pairs = false;
        for (uint32_t k = 0; obj && k < m->n && !as_pairs; k++) {
            json_t *v = str_json(m->vals[k].data, m->vals[k].len);
            /* keys must be valid UTF-8 without NULs to be JSON object keys */
            json_t *probe = json_stringn(m->keys[k].data, m->keys[k].len);
            as_pairs = !probe || memchr(m->keys[k].data, 0, m->keys[k].len) != NULL;
            json_decref(probe);
            if (!v || (!as_pairs && json_object_set_new(obj, m->keys[k].data, v))) {
                json_decref(obj);
                return NULL;
            }
            if (as_pairs)
                json_decref(v);
        }
        if (!as_pairs)
            return obj;
        /* fallback: [[key, value], ...] with {"hex"} for non-UTF-8 strings */
        json_decref(obj);
        json_t *a = json_array();
        for (uint32_t k = 0; a && k < m->n; k++) {
            json_t *pair = json_pack("[oo]", str_json(m->keys[k].data, m->keys[k].len),
                                     str_json(m->vals[k].data, m->vals[k].len));
            if (!pair || json_array_append_new(a, pair)) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case TK_MAP_STR_STRS:
        return strs_map_json(p);
    }
    return NULL;
}

static json_t *from_struct(const tars_struct_desc *d, const void *obj, const omtp_json_opts *o)
{
    if (d == &omtp_OTIMPack_desc)
        return pack_json(obj, o);
    json_t *j = json_object();
    for (unsigned i = 0; j && i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        if (set_new(j, f->name, field_json(f, (const char *)obj + f->offset, o))) {
            json_decref(j);
            j = NULL;
        }
    }
    return j;
}

json_t *omtp_json_from_struct(const tars_struct_desc *d, const void *obj,
                              const omtp_json_opts *opts)
{
    omtp_json_opts dflt = {0};
    return from_struct(d, obj, opts ? opts : &dflt);
}

/* ----------------------------------------------------- JSON -> struct */

typedef struct jctx {
    const omtp_json_opts *o;
    char path[256];
    size_t plen;
    char *why;
    size_t whylen;
    int depth;
} jctx;

static size_t path_push(jctx *c, const char *fmt, ...)
{
    size_t old = c->plen;
    if (c->plen < sizeof(c->path) - 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
        va_end(ap);
        if (n > 0)
            c->plen += (size_t)n;
        if (c->plen > sizeof(c->path) - 1)
            c->plen = sizeof(c->path) - 1;
    }
    return old;
}

static void path_pop(jctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = 0;
}

static int jfail(jctx *c, int code, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->whylen)
        snprintf(c->why, c->whylen, "%s: %s", c->path, msg);
    return code;
}

static const char *jtype(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static int to_struct(jctx *c, const tars_struct_desc *d, const json_t *j, void *obj);

/* A string: a JSON string, or {"hex": "..."} for arbitrary bytes. */
static int json_str(jctx *c, const json_t *j, tars_str *s)
{
    if (json_is_string(j)) {
        if (tars_str_setn(s, json_string_value(j), json_string_length(j)))
            return jfail(c, OMTP_ENOMEM, "out of memory");
        return OMTP_OK;
    }
    const json_t *h =
        json_is_object(j) && json_object_size(j) == 1 ? json_object_get(j, "hex") : NULL;
    if (!json_is_string(h))
        return jfail(c, OMTP_EINVAL, "expected a string or {\"hex\":...}, got %s", jtype(j));
    uint8_t *b;
    size_t n;
    int rc = omtp_hex_decode(json_string_value(h), json_string_length(h), &b, &n);
    if (rc)
        return jfail(c, rc, rc == OMTP_EINVAL ? "bad hex digits" : "out of memory");
    rc = tars_str_setn(s, b, n);
    free(b);
    return rc ? jfail(c, OMTP_ENOMEM, "out of memory") : OMTP_OK;
}

static int json_hexbytes(jctx *c, const json_t *j, tars_bytes *out)
{
    if (json_is_object(j))
        return json_str(c, j, (tars_str *)(void *)out);
    if (!json_is_string(j))
        return jfail(c, OMTP_EINVAL, "expected a hex string, got %s", jtype(j));
    uint8_t *b;
    size_t n;
    int rc = omtp_hex_decode(json_string_value(j), json_string_length(j), &b, &n);
    if (rc)
        return jfail(c, rc, rc == OMTP_EINVAL ? "expected a hex string" : "out of memory");
    rc = tars_bytes_set(out, b, n);
    free(b);
    return rc ? jfail(c, OMTP_ENOMEM, "out of memory") : OMTP_OK;
}

static int json_int(jctx *c, const json_t *j, unsigned kind, void *p)
{
    int64_t v;
    if (kind == TK_BOOL && json_is_boolean(j)) {
        *(bool *)p = json_is_true(j);
        return OMTP_OK;
    }
    if (!json_is_integer(j))
        return jfail(c, OMTP_EINVAL, "expected an integer, got %s", jtype(j));
    v = json_integer_value(j);
    switch (kind) {
    case TK_BOOL:
        if (v != 0 && v != 1)
            return jfail(c, OMTP_EINVAL, "%lld is not a bool", (long long)v);
        *(bool *)p = v != 0;
        return OMTP_OK;
    case TK_I8:
        if (v < INT8_MIN || v > INT8_MAX)
            return jfail(c, OMTP_EINVAL, "%lld is out of range for a byte", (long long)v);
        *(int8_t *)p = (int8_t)v;
        return OMTP_OK;
    case TK_I16:
        if (v < INT16_MIN || v > INT16_MAX)
            return jfail(c, OMTP_EINVAL, "%lld is out of range for a short", (long long)v);
        *(int16_t *)p = (int16_t)v;
        return OMTP_OK;
    case TK_I32:
        if (v < INT32_MIN || v > INT32_MAX)
            return jfail(c, OMTP_EINVAL, "%lld is out of range for an int", (long long)v);
        *(int32_t *)p = (int32_t)v;
        return OMTP_OK;
    default:
        *(int64_t *)p = v;
        return OMTP_OK;
    }
}

static int json_list(jctx *c, const tars_field *f, const json_t *j, tars_list *l)
{
    if (!json_is_array(j))
        return jfail(c, OMTP_EINVAL, "expected an array, got %s", jtype(j));
    size_t n = json_array_size(j);
    if (n == 0)
        return OMTP_OK;
    size_t es = f->kind == TK_LIST_STR   ? sizeof(tars_str)
                : f->kind == TK_LIST_I64 ? sizeof(int64_t)
                                         : f->sub->size;
    if (n > UINT32_MAX)
        return jfail(c, OMTP_EINVAL, "array too long");
    l->items = calloc(n, es);
    if (!l->items)
        return jfail(c, OMTP_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        void *e = (char *)l->items + k * es;
        const json_t *je = json_array_get(j, k);
        size_t old = path_push(c, "[%zu]", k);
        int rc;
        if (f->kind == TK_LIST_STR) {
            rc = json_str(c, je, e);
            if (rc == OMTP_OK)
                l->n++;
        } else if (f->kind == TK_LIST_I64) {
            rc = json_int(c, je, TK_I64, e);
            if (rc == OMTP_OK)
                l->n++;
        } else {
            l->n++; /* to_struct initialises the element first */
            rc = to_struct(c, f->sub, je, e);
        }
        if (rc)
            return rc;
        path_pop(c, old);
    }
    return OMTP_OK;
}

static int json_map(jctx *c, const json_t *j, tars_str_map *m)
{
    size_t n;
    if (json_is_object(j))
        n = json_object_size(j);
    else if (json_is_array(j))
        n = json_array_size(j);
    else
        return jfail(c, OMTP_EINVAL, "expected an object, got %s", jtype(j));
    if (n == 0)
        return OMTP_OK;
    m->keys = calloc(n, sizeof(tars_str));
    m->vals = calloc(n, sizeof(tars_str));
    if (!m->keys || !m->vals)
        return jfail(c, OMTP_ENOMEM, "out of memory");
    if (json_is_object(j)) {
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v)
        {
            size_t old = path_push(c, ".%s", k);
            m->n++;
            if (tars_str_setn(&m->keys[m->n - 1], k, klen))
                return jfail(c, OMTP_ENOMEM, "out of memory");
            int rc = json_str(c, v, &m->vals[m->n - 1]);
            if (rc)
                return rc;
            path_pop(c, old);
        }
        return OMTP_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *pair = json_array_get(j, i);
        size_t old = path_push(c, "[%zu]", i);
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return jfail(c, OMTP_EINVAL, "expected a [key, value] pair");
        m->n++;
        int rc = json_str(c, json_array_get(pair, 0), &m->keys[i]);
        if (rc == OMTP_OK)
            rc = json_str(c, json_array_get(pair, 1), &m->vals[i]);
        if (rc)
            return rc;
        path_pop(c, old);
    }
    return OMTP_OK;
}

/* {"key": ["a", ...]} or [[key, [...]], ...] into a map<string,
 * vector<string>>. */
static int json_strs_map(jctx *c, const json_t *j, tars_strs_map *m)
{
    static const tars_field strs = {"", 0, 0, TK_LIST_STR, false, 0, NULL};
    bool obj = json_is_object(j);
    if (!obj && !json_is_array(j))
        return jfail(c, OMTP_EINVAL, "expected an object, got %s", jtype(j));
    size_t n = obj ? json_object_size(j) : json_array_size(j);
    if (n == 0)
        return OMTP_OK;
    m->keys = calloc(n, sizeof(tars_str));
    m->vals = calloc(n, sizeof(tars_str_list));
    if (!m->keys || !m->vals)
        return jfail(c, OMTP_ENOMEM, "out of memory");
    void *it = obj ? json_object_iter((json_t *)j) : NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *k, *v;
        json_t *kobj = NULL;
        if (obj) {
            kobj = json_stringn(json_object_iter_key(it), json_object_iter_key_len(it));
            k = kobj;
            v = json_object_iter_value(it);
            it = json_object_iter_next((json_t *)j, it);
        } else {
            const json_t *pair = json_array_get(j, i);
            if (!json_is_array(pair) || json_array_size(pair) != 2)
                return jfail(c, OMTP_EINVAL, "expected a [key, [values]] pair");
            k = json_array_get(pair, 0);
            v = json_array_get(pair, 1);
        }
        size_t old = path_push(c, "[%zu]", i);
        m->n++;
        int rc = k ? json_str(c, k, &m->keys[i]) : jfail(c, OMTP_ENOMEM, "out of memory");
        json_decref(kobj);
        if (rc == OMTP_OK)
            rc = json_list(c, &strs, v, (tars_list *)(void *)&m->vals[i]);
        if (rc)
            return rc;
        path_pop(c, old);
    }
    return OMTP_OK;
}

static int field_from_json(jctx *c, const tars_field *f, const json_t *j, void *p)
{
    switch (f->kind) {
    case TK_BOOL:
    case TK_I8:
    case TK_I16:
    case TK_I32:
    case TK_I64:
        return json_int(c, j, f->kind, p);
    case TK_F32:
    case TK_F64:
        if (!json_is_number(j))
            return jfail(c, OMTP_EINVAL, "expected a number, got %s", jtype(j));
        if (f->kind == TK_F32)
            *(float *)p = (float)json_number_value(j);
        else
            *(double *)p = json_number_value(j);
        return OMTP_OK;
    case TK_STR:
        return json_str(c, j, p);
    case TK_BYTES:
        return json_hexbytes(c, j, p);
    case TK_STRUCT:
        return to_struct(c, f->sub, j, p);
    case TK_LIST_STR:
    case TK_LIST_I64:
    case TK_LIST_STRUCT:
        return json_list(c, f, j, p);
    case TK_MAP_STR_STR:
        return json_map(c, j, p);
    case TK_MAP_STR_STRS:
        return json_strs_map(c, j, p);
    }
    return jfail(c, OMTP_EINVAL, "unsupported field kind");
}

/* OTIMPack.payload given as an object: encode with the table's struct, then
 * apply the header's compress/crypto flags. */
static int pack_payload_from_json(jctx *c, omtp_OTIMPack *pk, const json_t *j)
{
    bool known;
    bool ack = (pk->header.flags & OMTP_F_ACK) != 0;
    const tars_struct_desc *pd = omtp_payload_desc(pk->header.type, ack, &known);
    if (!pd)
        return jfail(c, OMTP_EINVAL,
                     "packet type %d with ACK=%d has no payload struct; give the payload as hex",
                     pk->header.type, ack);
    void *v = malloc(pd->size);
    if (!v)
        return jfail(c, OMTP_ENOMEM, "out of memory");
    size_t old = path_push(c, "<%s>", pd->name);
    int rc = to_struct(c, pd, j, v);
    path_pop(c, old);
    tars_buf plain, wire;
    tars_buf_init(&plain);
    tars_buf_init(&wire);
    if (rc == OMTP_OK && tars_encode(&plain, pd, v, true, 0) != TARS_OK)
        rc = jfail(c, OMTP_ENOMEM, "out of memory");
    tars_free(pd, v);
    free(v);
    if (rc == OMTP_OK) {
        rc = omtp_payload_wrap(pk->header.flags, plain.data, plain.len, c->o->key, &wire);
        if (rc)
            jfail(c, rc, "cannot apply header flags to the payload: %s", omtp_strerror(rc));
    }
    if (rc == OMTP_OK &&
        tars_bytes_set(&pk->payload, wire.data ? wire.data : (uint8_t *)"", wire.len))
        rc = jfail(c, OMTP_ENOMEM, "out of memory");
    tars_buf_free(&plain);
    tars_buf_free(&wire);
    return rc;
}

static int pack_from_json(jctx *c, const json_t *j, omtp_OTIMPack *pk)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (strcmp(k, "header") && strcmp(k, "payload") && strcmp(k, "payloadError")) {
            size_t old = path_push(c, ".%s", k);
            (void)old;
            return jfail(c, OMTP_EINVAL, "unknown field (OTIMPack has header, payload)");
        }
    }
    const json_t *h = json_object_get(j, "header");
    if (h) {
        size_t old = path_push(c, ".header");
        int rc = to_struct(c, &omtp_OTIMHeader_desc, h, &pk->header);
        if (rc)
            return rc;
        path_pop(c, old);
    }
    const json_t *p = json_object_get(j, "payload");
    if (!p || json_is_null(p))
        return OMTP_OK;
    size_t old = path_push(c, ".payload");
    int rc = json_is_object(p) && !json_object_get(p, "hex") ? pack_payload_from_json(c, pk, p)
                                                             : json_hexbytes(c, p, &pk->payload);
    if (rc)
        return rc;
    path_pop(c, old);
    return OMTP_OK;
}

static int to_struct(jctx *c, const tars_struct_desc *d, const json_t *j, void *obj)
{
    tars_init(d, obj);
    if (!json_is_object(j))
        return jfail(c, OMTP_EINVAL, "expected a %s object, got %s", d->name, jtype(j));
    if (++c->depth > TARS_MAX_DEPTH)
        return jfail(c, OMTP_EINVAL, "nesting too deep");
    int rc = OMTP_OK;
    if (d == &omtp_OTIMPack_desc) {
        rc = pack_from_json(c, j, obj);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            const tars_field *f = NULL;
            for (unsigned i = 0; i < d->nfields && !f; i++)
                if (strcmp(d->fields[i].name, k) == 0)
                    f = &d->fields[i];
            size_t old = path_push(c, ".%s", k);
            if (!f)
                return jfail(c, OMTP_EINVAL, "unknown field of %s", d->name);
            if ((rc = field_from_json(c, f, v, (char *)obj + f->offset)))
                return rc;
            path_pop(c, old);
        }
    }
    c->depth--;
    return rc;
}

int omtp_json_to_struct(const tars_struct_desc *d, const json_t *j, void *obj,
                        const omtp_json_opts *opts, char *why, size_t whylen)
{
    omtp_json_opts dflt = {0};
    jctx c = {.o = opts ? opts : &dflt, .why = why, .whylen = whylen};
    if (whylen)
        why[0] = 0;
    path_push(&c, "%s", d->name);
    int rc = to_struct(&c, d, j, obj);
    if (rc)
        tars_free(d, obj);
    return rc;
}
