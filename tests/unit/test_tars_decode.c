/*
 * test_tars_decode.c - the decoder's error paths and forward compatibility:
 * skipping unknown fields of every wire type (nested too), required fields
 * missing, optional fields absent, truncation at every byte offset, the
 * depth limit, forged counts and lengths, and randomized round trips of
 * every struct of the OMTP schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "proto/omtp_msg.h"
#include "tars_test_util.h"

/* Sparse {0 require int a; 20 require string s; 22 optional int o = 9} */
typedef struct sparse {
    int32_t a;
    tars_str s;
    int32_t o;
} sparse;
static const tars_field sparse_fields[] = {
    {"a", offsetof(sparse, a), 0, TK_I32, true, 0, NULL},
    {"s", offsetof(sparse, s), 20, TK_STR, true, 0, NULL},
    {"o", offsetof(sparse, o), 22, TK_I32, false, 9, NULL},
};
static const tars_struct_desc sparse_desc = {"Sparse", sizeof(sparse), sparse_fields, 3};

/* Outer {0 require Sparse in; 1 require long z} */
typedef struct outer {
    sparse in;
    int64_t z;
} outer;
static const tars_field outer_fields[] = {
    {"in", offsetof(outer, in), 0, TK_STRUCT, true, 0, &sparse_desc},
    {"z", offsetof(outer, z), 1, TK_I64, true, 0, NULL},
};
static const tars_struct_desc outer_desc = {"Outer", sizeof(outer), outer_fields, 2};

/* One unknown field of every wire type, tags 1..13 (nested containers too). */
static const char *unknown_fields =
    "1001"                         /* 1 Int1 */
    "210102"                       /* 2 Int2 */
    "3201020304"                   /* 3 Int4 */
    "330102030405060708"           /* 4 Int8 (tag 3 again: repeated unknown) */
    "443f800000"                   /* 4 Float */
    "553ff0000000000000"           /* 5 Double */
    "6603616263"                   /* 6 String1 */
    "770000000178"                 /* 7 String4 */
    "880002"                       /* 8 Map, 2 entries: */
    "060161 1a000116017a0b"        /* "a" -> struct{0:1, 1:"z"} */
    "060162 19000206017806 0179"   /* "b" -> list<string>{"x","y"} */
    "990002"                       /* 9 List, 2 elements: */
    "0a 09000100 05 1800010c1c 0b" /* struct{ list<int>{5}, map{0:0} } */
    "0d00000201 02"                /* SimpleList as a list element */
    "aa"                           /* 10 StructBegin: */
    "0a0a0a0b0b0b"                 /* three nested empty structs */
    "1d000c"                       /* empty SimpleList */
    "2c"                           /* ZeroTag */
    "0b"                           /* end of 10 */
    "bc"                           /* 11 ZeroTag */
    "cd0000030102 03"              /* 12 SimpleList */
    "d90c";                        /* 13 empty list */

static uint8_t *build(const char *hex, size_t *n)
{
    static uint8_t buf[4096];
    *n = tt_unhex(hex, buf, sizeof(buf));
    return buf;
}

static void test_skip_unknown_every_type(void **state)
{
    (void)state;
    char hex[2048];
    /* known a=1, the unknown fields, known s="ok", trailing unknowns */
    snprintf(hex, sizeof(hex), "0001 %s f61402 6f6b f01501 f71e00000001 41 f61702 7a7a",
             unknown_fields);
    size_t n;
    uint8_t *in = build(hex, &n);
    sparse v;
    tars_err err;
    assert_int_equal(tars_decode(&sparse_desc, &v, in, n, &err), TARS_OK);
    assert_int_equal(v.a, 1);
    assert_true(tars_str_eq(&v.s, "ok"));
    assert_int_equal(v.o, 9); /* tag 22 absent (23 present) -> default */
    tars_free(&sparse_desc, &v);

    /* the same inside a nested struct, followed by the outer's next field */
    snprintf(hex, sizeof(hex), "0a 0001 %s f61402 6f6b f01501 0b 1103e8", unknown_fields);
    in = build(hex, &n);
    outer o;
    assert_int_equal(tars_decode(&outer_desc, &o, in, n, &err), TARS_OK);
    assert_int_equal(o.in.a, 1);
    assert_true(tars_str_eq(&o.in.s, "ok"));
    assert_int_equal(o.z, 1000);
    tars_free(&outer_desc, &o);

    /* an unknown field whose tag is below one already read is skipped too */
    in = build("0001 f61402 6f6b 1002 f01703", &n);
    assert_int_equal(tars_decode(&sparse_desc, &v, in, n, &err), TARS_OK);
    assert_int_equal(v.o, 9);
    tars_free(&sparse_desc, &v);

    /* a repeated known tag: the first occurrence wins */
    in = build("0001 0002 f61402 6f6b", &n);
    assert_int_equal(tars_decode(&sparse_desc, &v, in, n, &err), TARS_OK);
    assert_int_equal(v.a, 1);
    tars_free(&sparse_desc, &v);
}

/* Newer writers: a schema struct followed by fields this reader does not
 * know decodes to the same values (the interop test does this per struct). */
static void test_skip_trailing_on_schema(void **state)
{
    (void)state;
    uint64_t st = 99;
    for (unsigned i = 0; i < omtp_all_descs_count; i++) {
        const tars_struct_desc *d = omtp_all_descs[i];
        void *v = malloc(d->size), *w = malloc(d->size);
        tt_fill(d, v, &st, 0);
        tars_buf b;
        tars_buf_init(&b);
        tars_encode(&b, d, v, true, 0);
        size_t plain = b.len;
        size_t n;
        uint8_t *extra = build(unknown_fields, &n);
        /* re-tag the unknown fields above every schema tag: 0xF0|type, tag */
        for (size_t k = 0; k < 3; k++) {
            tars_put_string(&b, 100 + (unsigned)k, "new", 3);
            tars_put_head(&b, 120 + (unsigned)k, TARS_STRUCT_BEGIN);
            tars_buf_put(&b, extra, n);
            tars_put_head(&b, 0, TARS_STRUCT_END);
        }
        assert_true(tars_buf_ok(&b));
        tars_err err;
        assert_int_equal(tars_decode(d, w, b.data, b.len, &err), TARS_OK);
        tars_buf c;
        tars_buf_init(&c);
        tars_encode(&c, d, w, true, 0);
        assert_int_equal(c.len, plain);
        assert_memory_equal(c.data, b.data, plain);
        tars_buf_free(&c);
        tars_buf_free(&b);
        tars_free(d, v);
        tars_free(d, w);
        free(v);
        free(w);
    }
}

static void test_required_missing(void **state)
{
    (void)state;
    size_t n;
    /* MsgReq without `from` (tag 3): sessionId, seqId, then `to` */
    uint8_t *in = build("0601 73 1001 460162", &n);
    omtp_MsgReq m;
    tars_err err;
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, in, n, &err), TARS_EMISSING);
    assert_int_equal(err.code, TARS_EMISSING);
    assert_string_equal(err.strct, "MsgReq");
    assert_string_equal(err.field, "from");
    assert_int_equal(err.tag, 3);
    assert_non_null(strstr(err.msg, "MsgReq.from (tag 3)"));
    assert_non_null(m.sessionId.data); /* left initialised and empty */
    assert_int_equal(m.sessionId.len, 0);

    /* required fields missing at the end */
    in = build("0601 73", &n);
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, in, n, &err), TARS_EMISSING);
    assert_string_equal(err.field, "from");
    /* empty input: the first required field */
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, "", 0, &err), TARS_EMISSING);
    assert_string_equal(err.field, "sessionId");

    /* inside a nested struct: HistoryMsgPullResp.errorCode lacks desc */
    in = build("0a 0001 0b 1600 290c", &n);
    omtp_HistoryMsgPullResp h;
    assert_int_equal(tars_decode(&omtp_HistoryMsgPullResp_desc, &h, in, n, &err), TARS_EMISSING);
    assert_string_equal(err.strct, "CommonErrorCode");
    assert_string_equal(err.field, "desc");

    /* inside a list element: HotSessionResp.sessions[0] lacks readSeqId */
    in = build("0c 1c 29 0001 0a 0601 73 2c 0b", &n);
    omtp_HotSessionResp hs;
    assert_int_equal(tars_decode(&omtp_HotSessionResp_desc, &hs, in, n, &err), TARS_EMISSING);
    assert_string_equal(err.strct, "HotSessionItem");
    assert_string_equal(err.field, "readSeqId");

    /* a wrong wire type names the field too */
    in = build("0601 73 1601 31", &n);
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, in, n, &err), TARS_ETYPE);
    assert_string_equal(err.field, "seqId");
    assert_non_null(strstr(err.msg, "MsgReq.seqId"));
}

static void test_optional_defaults(void **state)
{
    (void)state;
    size_t n;
    /* MsgReq with only its required fields */
    uint8_t *in = build("0601 73 3601 61 4601 62", &n);
    omtp_MsgReq m;
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, in, n, NULL), TARS_OK);
    assert_int_equal(m.seqId, 0);
    assert_int_equal(m.timestamp, 0);
    assert_int_equal(m.contentType, 0);
    assert_int_equal(m.status, 0);
    assert_non_null(m.pushInfo.data);
    assert_int_equal(m.pushInfo.len, 0);
    assert_string_equal(m.content.data, "");
    assert_string_equal(m.from.data, "a");
    omtp_msg_free(&omtp_MsgReq_desc, &m);

    /* an optional field with a non-zero default */
    in = build("0001 f61401 61", &n);
    sparse s;
    assert_int_equal(tars_decode(&sparse_desc, &s, in, n, NULL), TARS_OK);
    assert_int_equal(s.o, 9);
    tars_free(&sparse_desc, &s);
    /* optional list absent: HotSessionItem.lastMsgs */
    in = build("0601 73 1001 2c", &n);
    omtp_HotSessionItem it;
    assert_int_equal(tars_decode(&omtp_HotSessionItem_desc, &it, in, n, NULL), TARS_OK);
    assert_int_equal(it.lastMsgs.n, 0);
    assert_null(it.lastMsgs.items);
    omtp_msg_free(&omtp_HotSessionItem_desc, &it);
    /* tars_init applies declared defaults (MsgHighPrioritySyncReq.count = 200) */
    omtp_MsgHighPrioritySyncReq q;
    omtp_msg_init(&omtp_MsgHighPrioritySyncReq_desc, &q);
    assert_int_equal(q.count, 200);
}

/* Every proper prefix of a valid encoding fails cleanly (the last field is
 * required, so no prefix is valid); the whole decodes. Under ASan this also
 * proves no read past the end and no leak on any error path. */
static void check_prefixes(const tars_struct_desc *d, const uint8_t *p, size_t len, bool all_fail)
{
    void *v = malloc(d->size);
    for (size_t k = 0; k < len; k++) {
        tars_err err;
        int rc = tars_decode(d, v, p, k, &err);
        if (all_fail)
            assert_int_not_equal(rc, TARS_OK);
        if (rc == TARS_OK)
            tars_free(d, v);
        else
            assert_int_equal(err.code, rc);
    }
    assert_int_equal(tars_decode(d, v, p, len, NULL), TARS_OK);
    tars_free(d, v);
    free(v);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    uint64_t st = 7;
    for (int round = 0; round < 20; round++) {
        tt_all a;
        tt_fill(&tt_all_desc, &a, &st, 0);
        size_t n;
        uint8_t *p = tt_encode(&tt_all_desc, &a, &n);
        if (n < 20000)
            check_prefixes(&tt_all_desc, p, n, true);
        free(p);
        tars_free(&tt_all_desc, &a);
    }
    /* every schema struct (a prefix may be valid when the tail is optional) */
    for (unsigned i = 0; i < omtp_all_descs_count; i++) {
        const tars_struct_desc *d = omtp_all_descs[i];
        void *v = malloc(d->size);
        tt_fill(d, v, &st, 1);
        size_t n;
        uint8_t *p = tt_encode(d, v, &n);
        if (n < 20000)
            check_prefixes(d, p, n, d->fields[d->nfields - 1].required);
        free(p);
        tars_free(d, v);
        free(v);
    }
}

/* Node {0 optional int v; 1 optional vector<Node> kids}: recursion by list. */
typedef struct node node;
typedef TARS_LIST_OF(node) node_list;
struct node {
    int32_t v;
    node_list kids;
};
extern const tars_struct_desc node_desc;
static const tars_field node_fields[] = {
    {"v", offsetof(node, v), 0, TK_I32, false, 0, NULL},
    {"kids", offsetof(node, kids), 1, TK_LIST_STRUCT, false, 0, &node_desc},
};
const tars_struct_desc node_desc = {"Node", sizeof(node), node_fields, 2};

static size_t nested_lists(uint8_t *buf, int depth)
{
    /* kids = [ {kids = [ ... ]} ] */
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        buf[n++] = 0x19; /* tag 1 List */
        buf[n++] = 0x00; /* count Int1 */
        buf[n++] = 0x01; /* 1 */
        buf[n++] = 0x0a; /* element StructBegin */
    }
    for (int i = 0; i < depth; i++)
        buf[n++] = 0x0b;
    return n;
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t buf[1024];
    node v;
    tars_err err;
    size_t n = nested_lists(buf, 10);
    assert_int_equal(tars_decode(&node_desc, &v, buf, n, &err), TARS_OK);
    assert_int_equal(v.kids.n, 1);
    assert_int_equal(v.kids.items[0].kids.n, 1);
    tars_free(&node_desc, &v);
    n = nested_lists(buf, 40);
    assert_int_equal(tars_decode(&node_desc, &v, buf, n, &err), TARS_EDEPTH);
    assert_int_equal(err.code, TARS_EDEPTH);

    /* the same nesting as an unknown field (skipped) */
    tt_inner x;
    buf[0] = 0x00;
    buf[1] = 0x01;
    n = 2 + nested_lists(buf + 2, 10);
    buf[2] = 0x29; /* unknown tag 2 */
    assert_int_equal(tars_decode(&tt_inner_desc, &x, buf, n, NULL), TARS_OK);
    tars_free(&tt_inner_desc, &x);
    n = 2 + nested_lists(buf + 2, 40);
    buf[2] = 0x29;
    assert_int_equal(tars_decode(&tt_inner_desc, &x, buf, n, &err), TARS_EDEPTH);
    /* deep unknown structs */
    n = 0;
    buf[n++] = 0x00;
    buf[n++] = 0x01;
    buf[n++] = 0x2a;
    for (int i = 0; i < 100; i++)
        buf[n++] = 0x0a;
    for (int i = 0; i < 101; i++)
        buf[n++] = 0x0b;
    assert_int_equal(tars_decode(&tt_inner_desc, &x, buf, n, &err), TARS_EDEPTH);
    /* deep maps of maps (unknown) */
    n = 0;
    buf[n++] = 0x00;
    buf[n++] = 0x01;
    for (int i = 0; i < 60; i++) {
        buf[n++] = i == 0 ? 0x28 : 0x18; /* Map (tag 2, then value tag 1) */
        buf[n++] = 0x00;
        buf[n++] = 0x01;
        buf[n++] = 0x0c; /* key 0 */
    }
    buf[n++] = 0x1c;
    assert_int_equal(tars_decode(&tt_inner_desc, &x, buf, n, &err), TARS_EDEPTH);
}

/* Forged counts and lengths: each fails fast with a clean error and never
 * allocates in proportion to the declared size (ASan would abort on a
 * multi-gigabyte allocation; the elapsed time shows no long loop). */
static void test_forged_lengths(void **state)
{
    (void)state;
    size_t ncases;
    const tt_vector *cases = tt_forged_vectors(&ncases);
    clock_t t0 = clock();
    for (size_t i = 0; i < ncases; i++) {
        const tars_struct_desc *d = omtp_desc_by_name(cases[i].desc);
        assert_non_null(d);
        size_t n;
        uint8_t *in = build(cases[i].hex, &n);
        void *v = malloc(d->size);
        tars_err err;
        int rc = tars_decode(d, v, in, n, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s %s): rc %d (%s), want %d", i, cases[i].desc, cases[i].hex, rc,
                     err.msg, cases[i].rc);
        free(v);
    }
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
}

static void test_roundtrip_schema(void **state)
{
    (void)state;
    uint64_t st = 12345;
    for (int round = 0; round < 30; round++) {
        for (unsigned i = 0; i < omtp_all_descs_count; i++) {
            const tars_struct_desc *d = omtp_all_descs[i];
            void *v = malloc(d->size), *w = malloc(d->size), *c = malloc(d->size);
            tt_fill(d, v, &st, 0);
            size_t n1, n2, n3;
            uint8_t *p1 = tt_encode(d, v, &n1);
            tars_err err;
            assert_int_equal(tars_decode(d, w, p1, n1, &err), TARS_OK);
            uint8_t *p2 = tt_encode(d, w, &n2);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1);
            /* deep copy encodes the same */
            assert_int_equal(tars_copy(d, c, w), TARS_OK);
            uint8_t *p3 = tt_encode(d, c, &n3);
            assert_int_equal(n1, n3);
            assert_memory_equal(p1, p3, n1);
            /* nested (non-top-level) form round-trips through a reader too */
            free(p1);
            free(p2);
            free(p3);
            tars_free(d, v);
            tars_free(d, w);
            tars_free(d, c);
            free(v);
            free(w);
            free(c);
        }
    }
    /* the all-kinds struct */
    for (int round = 0; round < 50; round++) {
        tt_all a, b, c;
        tt_fill(&tt_all_desc, &a, &st, 0);
        size_t n1, n2;
        uint8_t *p1 = tt_encode(&tt_all_desc, &a, &n1);
        assert_int_equal(tars_decode(&tt_all_desc, &b, p1, n1, NULL), TARS_OK);
        assert_int_equal(tars_copy(&tt_all_desc, &c, &b), TARS_OK);
        uint8_t *p2 = tt_encode(&tt_all_desc, &c, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(p1, p2, n1);
        assert_int_equal(a.i64, c.i64);
        assert_true(a.f64 == c.f64 && a.f32 == c.f32);
        free(p1);
        free(p2);
        tars_free(&tt_all_desc, &a);
        tars_free(&tt_all_desc, &b);
        tars_free(&tt_all_desc, &c);
    }
}

static void test_reader_api(void **state)
{
    (void)state;
    size_t n;
    uint8_t *in = build("0001 f61402 6f6b", &n);
    tars_reader r;
    tars_err err;
    tars_reader_init(&r, in, n, &err);
    sparse s;
    assert_int_equal(tars_decode_fields(&r, &sparse_desc, &s), TARS_OK);
    assert_int_equal(r.off, n);
    tars_free(&sparse_desc, &s);
    /* skip_value over each value of a list, one by one */
    in = build("9900020601610c", &n);
    tars_reader_init(&r, in, n, NULL);
    unsigned tag, type;
    size_t hl;
    assert_int_equal(tars_peek_head(&r, &tag, &type, &hl), TARS_OK);
    assert_int_equal(tag, 9);
    r.off += hl;
    assert_int_equal(tars_skip_value(&r, type), TARS_OK);
    assert_int_equal(r.off, n);
    /* skip of each truncated fixed-width value */
    static const char *trunc[] = {"00",   "0100", "02000000", "03000000000000", "04000000",
                                  "0500", "0602", "07000000", "0d00",           "0d0001"};
    for (size_t i = 0; i < sizeof(trunc) / sizeof(trunc[0]); i++) {
        in = build(trunc[i], &n);
        tars_reader_init(&r, in, n, NULL);
        r.off = 1;
        assert_int_not_equal(tars_skip_value(&r, in[0] & 15), TARS_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_unknown_every_type),
        cmocka_unit_test(test_skip_trailing_on_schema),
        cmocka_unit_test(test_required_missing),
        cmocka_unit_test(test_optional_defaults),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_forged_lengths),
        cmocka_unit_test(test_roundtrip_schema),
        cmocka_unit_test(test_reader_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
