/*
 * test_tars_types.c - every type rule of the Tars encoding, byte-exact:
 * integer narrowing and the reader's width rules, ZeroTag, bool, floats,
 * String1/String4 boundaries, vector<byte> (SimpleList and List of Int1),
 * empty containers, maps, nested structs, tags 15..255, invalid type codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tars/tars.h"
#include "tars_test_util.h"

static void expect_buf(tars_buf *b, const char *want)
{
    assert_true(tars_buf_ok(b));
    assert_string_equal(tt_hex(b->data, b->len), want);
}

/* ---- integers ---- */

static void test_int_narrowing(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *hex;
    } cases[] = {
        {0, "0c"},
        {1, "0001"},
        {-1, "00ff"},
        {127, "007f"},
        {-128, "0080"},
        {128, "010080"},
        {-129, "01ff7f"},
        {32767, "017fff"},
        {-32768, "018000"},
        {32768, "0200008000"},
        {-32769, "02ffff7fff"},
        {2147483647LL, "027fffffff"},
        {-2147483648LL, "0280000000"},
        {2147483648LL, "030000000080000000"},
        {-2147483649LL, "03ffffffff7fffffff"},
        {INT64_MAX, "037fffffffffffffff"},
        {INT64_MIN, "038000000000000000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tars_buf b;
        tars_buf_init(&b);
        tars_put_int(&b, 0, cases[i].v);
        expect_buf(&b, cases[i].hex);
        /* and the reader gets the value back in a long field */
        int64_t got = 12345;
        tars_field f = {"v", 0, 0, TK_I64, true, 0, NULL};
        tars_struct_desc d = {"L", sizeof(int64_t), &f, 1};
        assert_int_equal(tars_decode(&d, &got, b.data, b.len, NULL), TARS_OK);
        assert_true(got == cases[i].v);
        tars_buf_free(&b);
    }
}

/* A reader accepts ZeroTag or any width up to the field's own and rejects a
 * wider one, for every integer kind. */
static void test_int_reader_widths(void **state)
{
    (void)state;
    static const char *wire[] = {"0c", "00fe", "01fffe", "02fffffffe", "03fffffffffffffffe"};
    static const int wire_width[] = {0, 1, 2, 4, 8};
    static const struct {
        unsigned kind;
        int width;
    } kinds[] = {{TK_BOOL, 1}, {TK_I8, 1}, {TK_I16, 2}, {TK_I32, 4}, {TK_I64, 8}};
    for (size_t k = 0; k < 5; k++) {
        for (size_t w = 0; w < 5; w++) {
            uint8_t in[16];
            size_t n = tt_unhex(wire[w], in, sizeof(in));
            union {
                bool b;
                int8_t i8;
                int16_t i16;
                int32_t i32;
                int64_t i64;
            } v;
            v.i64 = 0x55;
            tars_field f = {"v", 0, 0, (uint8_t)kinds[k].kind, true, 0, NULL};
            tars_struct_desc d = {"W", sizeof(v), &f, 1};
            tars_err err;
            int rc = tars_decode(&d, &v, in, n, &err);
            if (wire_width[w] <= kinds[k].width) {
                assert_int_equal(rc, TARS_OK);
                int64_t got = kinds[k].kind == TK_BOOL  ? v.b
                              : kinds[k].kind == TK_I8  ? v.i8
                              : kinds[k].kind == TK_I16 ? v.i16
                              : kinds[k].kind == TK_I32 ? v.i32
                                                        : v.i64;
                if (kinds[k].kind == TK_BOOL)
                    assert_int_equal(got, w == 0 ? 0 : 1);
                else
                    assert_int_equal(got, w == 0 ? 0 : -2); /* sign-extended */
            } else {
                assert_int_equal(rc, TARS_ETYPE);
                assert_int_equal(err.code, TARS_ETYPE);
                assert_string_equal(err.field, "v");
                assert_non_null(strstr(err.msg, "wider"));
            }
        }
    }
}

static void test_int_wrong_type(void **state)
{
    (void)state;
    /* a string where an int is declared, a float where a long is */
    static const char *bad[] = {"060161", "0400000000", "090c", "0a0b", "0d00000101"};
    for (size_t i = 0; i < 5; i++) {
        uint8_t in[16];
        size_t n = tt_unhex(bad[i], in, sizeof(in));
        int64_t v;
        tars_field f = {"v", 0, 0, TK_I64, true, 0, NULL};
        tars_struct_desc d = {"W", sizeof(int64_t), &f, 1};
        tars_err err;
        assert_int_equal(tars_decode(&d, &v, in, n, &err), TARS_ETYPE);
        assert_string_equal(err.strct, "W");
    }
}

static void test_bool(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    bool t = true, f = false;
    tars_field fl = {"b", 0, 1, TK_BOOL, true, 0, NULL};
    tars_struct_desc d = {"B", sizeof(bool), &fl, 1};
    assert_int_equal(tars_encode(&b, &d, &t, true, 0), TARS_OK);
    expect_buf(&b, "1001");
    tars_buf_reset(&b);
    assert_int_equal(tars_encode(&b, &d, &f, true, 0), TARS_OK);
    expect_buf(&b, "1c");
    tars_buf_free(&b);
}

static void test_floats(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    tars_put_float(&b, 0, 1.5f);
    expect_buf(&b, "043fc00000");
    tars_buf_reset(&b);
    tars_put_double(&b, 1, -2.0);
    expect_buf(&b, "15c000000000000000");
    tars_buf_free(&b);

    struct {
        float f;
        double d;
    } v;
    tars_field fs[] = {{"f", offsetof(__typeof__(v), f), 0, TK_F32, true, 0, NULL},
                       {"d", offsetof(__typeof__(v), d), 1, TK_F64, true, 0, NULL}};
    tars_struct_desc d = {"F", sizeof(v), fs, 2};
    uint8_t in[32];
    size_t n = tt_unhex("043fc00000 14bfc00000", in, sizeof(in)); /* float into double */
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_OK);
    assert_true(v.f == 1.5f && v.d == -1.5);
    n = tt_unhex("0c 1c", in, sizeof(in)); /* ZeroTag */
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_OK);
    assert_true(v.f == 0 && v.d == 0);
    n = tt_unhex("053ff8000000000000 1c", in, sizeof(in)); /* double into float */
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_ETYPE);
    n = tt_unhex("0001 1c", in, sizeof(in)); /* an int is not a float */
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_ETYPE);
}

/* ---- strings ---- */

static void test_string_boundaries(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 254, 255, 256, 257, 65535, 65536, 100000};
    tars_field f = {"s", 0, 3, TK_STR, true, 0, NULL};
    tars_struct_desc d = {"S", sizeof(tars_str), &f, 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        char *s = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            s[k] = (char)('A' + k % 26);
        tars_buf b;
        tars_buf_init(&b);
        tars_put_string(&b, 3, s, n);
        assert_true(tars_buf_ok(&b));
        if (n <= 255) {
            assert_int_equal(b.len, 2 + n);
            assert_int_equal(b.data[0], 0x36);
            assert_int_equal(b.data[1], n);
        } else {
            assert_int_equal(b.len, 5 + n);
            assert_int_equal(b.data[0], 0x37);
            assert_int_equal(b.data[1], (n >> 24) & 0xff);
            assert_int_equal(b.data[2], (n >> 16) & 0xff);
            assert_int_equal(b.data[3], (n >> 8) & 0xff);
            assert_int_equal(b.data[4], n & 0xff);
        }
        tars_str got;
        assert_int_equal(tars_decode(&d, &got, b.data, b.len, NULL), TARS_OK);
        assert_int_equal(got.len, n);
        assert_memory_equal(got.data, s, n);
        assert_int_equal(got.data[n], 0); /* NUL-terminated */
        tars_str_clear(&got);
        tars_buf_free(&b);
        free(s);
    }
    /* a reader accepts String4 for a short string, and embedded NULs */
    uint8_t in[16];
    size_t n = tt_unhex("37 00000003 610062", in, sizeof(in));
    tars_str got;
    assert_int_equal(tars_decode(&d, &got, in, n, NULL), TARS_OK);
    assert_int_equal(got.len, 3);
    assert_memory_equal(got.data, "a\0b", 3);
    tars_str_clear(&got);
    /* the empty string is String1 0; ZeroTag is not a string */
    n = tt_unhex("3c", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &got, in, n, NULL), TARS_ETYPE);
}

/* ---- vector<byte> ---- */

static void test_bytes(void **state)
{
    (void)state;
    tars_field f = {"payload", 0, 1, TK_BYTES, true, 0, NULL};
    tars_struct_desc d = {"P", sizeof(tars_bytes), &f, 1};
    tars_buf b;
    tars_buf_init(&b);
    tars_bytes v;
    tars_init(&d, &v);
    tars_bytes_set(&v, "\x01\x02", 2);
    assert_int_equal(tars_encode(&b, &d, &v, true, 0), TARS_OK);
    expect_buf(&b, "1d0000020102");
    tars_free(&d, &v);

    /* empty vector<byte>: SimpleList with a ZeroTag length */
    tars_buf_reset(&b);
    assert_int_equal(tars_encode(&b, &d, &v, true, 0), TARS_OK);
    expect_buf(&b, "1d000c");
    assert_int_equal(tars_decode(&d, &v, b.data, b.len, NULL), TARS_OK);
    assert_int_equal(v.len, 0);
    assert_non_null(v.data);
    tars_free(&d, &v);

    /* 300 bytes: length as Int2 */
    uint8_t big[300];
    for (int i = 0; i < 300; i++)
        big[i] = (uint8_t)i;
    tars_buf_reset(&b);
    tars_put_bytes(&b, 1, big, 300);
    assert_memory_equal(b.data, "\x1d\x00\x01\x01\x2c", 5);
    assert_int_equal(tars_decode(&d, &v, b.data, b.len, NULL), TARS_OK);
    assert_int_equal(v.len, 300);
    assert_memory_equal(v.data, big, 300);
    tars_free(&d, &v);
    tars_buf_free(&b);

    /* List of Int1 (and ZeroTag elements) is accepted for vector<byte> */
    uint8_t in[32];
    size_t n = tt_unhex("19 0003 0001 0c 00ff", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_OK);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.data, "\x01\x00\xff", 3);
    tars_free(&d, &v);
    n = tt_unhex("19 0c", in, sizeof(in)); /* empty list */
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_OK);
    assert_int_equal(v.len, 0);
    tars_free(&d, &v);
    /* a List of Int2 elements is not vector<byte> */
    n = tt_unhex("19 0001 010100", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_ETYPE);
    /* SimpleList whose inner head is not Int1 tag 0 */
    n = tt_unhex("1d 01 0001 41", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_EINVAL);
    n = tt_unhex("1d 10 0001 41", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_EINVAL);
    /* negative SimpleList length */
    n = tt_unhex("1d 00 00ff", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_EINVAL);
    /* a string is not vector<byte> */
    n = tt_unhex("16 01 41", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &v, in, n, NULL), TARS_ETYPE);
}

/* ---- containers ---- */

static void test_empty_containers(void **state)
{
    (void)state;
    tt_all a;
    tars_init(&tt_all_desc, &a);
    tars_str_set(&a.t255, "z");
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(tars_encode(&b, &tt_all_desc, &a, true, 0), TARS_OK);
    /* b i8 i16 i32 i64 f32 f64 s by in{a s} ls li lst m opt7 t200 t255 */
    expect_buf(&b, "0c1c2c3c4c"
                   "5400000000"
                   "650000000000000000"
                   "7600"
                   "8d000c"
                   "9a0c16000b"
                   "a90c"
                   "b90c"
                   "c90c"
                   "e80c"
                   "f00f07"
                   "fcc8"
                   "f6ff017a");
    tt_all c;
    assert_int_equal(tars_decode(&tt_all_desc, &c, b.data, b.len, NULL), TARS_OK);
    assert_int_equal(c.ls.n, 0);
    assert_int_equal(c.lst.n, 0);
    assert_int_equal(c.m.n, 0);
    assert_int_equal(c.opt7, 7);
    tars_free(&tt_all_desc, &c);
    tars_free(&tt_all_desc, &a);
    tars_buf_free(&b);
}

static void test_lists_and_map(void **state)
{
    (void)state;
    tt_all a;
    tars_init(&tt_all_desc, &a);
    a.ls.items = calloc(2, sizeof(tars_str));
    a.ls.n = 2;
    tars_str_set(&a.ls.items[0], "a");
    tars_str_set(&a.ls.items[1], "bc");
    a.li.items = calloc(2, sizeof(int64_t));
    a.li.n = 2;
    a.li.items[0] = 0;
    a.li.items[1] = 300;
    a.lst.items = calloc(1, sizeof(tt_inner));
    a.lst.n = 1;
    tars_init(&tt_inner_desc, &a.lst.items[0]);
    a.lst.items[0].a = 1;
    a.m.keys = calloc(1, sizeof(tars_str));
    a.m.vals = calloc(1, sizeof(tars_str));
    a.m.n = 1;
    tars_str_set(&a.m.keys[0], "k");
    tars_str_set(&a.m.vals[0], "v");
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(tars_encode(&b, &tt_all_desc, &a, true, 0), TARS_OK);
    const char *h = tt_hex(b.data, b.len);
    assert_non_null(strstr(h, "a900020601610602626"
                              "3"));                  /* vector<string>{"a","bc"} at 10 */
    assert_non_null(strstr(h, "b900020c01012c"));     /* vector<long>{0,300} at 11 */
    assert_non_null(strstr(h, "c900010a000116000b")); /* vector<Inner>{{1,""}} at 12 */
    assert_non_null(strstr(h, "e8000106016b160176")); /* map{k:v} at 14 */
    tars_buf_free(&b);
    tars_free(&tt_all_desc, &a);
}

static void test_map_vector(void **state)
{
    (void)state;
    tars_field f = {"m", 0, 0, TK_MAP_STR_STR, true, 0, NULL};
    tars_struct_desc d = {"M", sizeof(tars_str_map), &f, 1};
    uint8_t in[64];
    size_t n = tt_unhex("08 0001 06016b 160176", in, sizeof(in));
    tars_str_map m;
    assert_int_equal(tars_decode(&d, &m, in, n, NULL), TARS_OK);
    assert_int_equal(m.n, 1);
    assert_true(tars_str_eq(&m.keys[0], "k") && tars_str_eq(&m.vals[0], "v"));
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(tars_encode(&b, &d, &m, true, 0), TARS_OK);
    expect_buf(&b, "08000106016b160176");
    tars_buf_free(&b);
    tars_free(&d, &m);
    /* value at tag 0 instead of 1 */
    n = tt_unhex("08 0001 06016b 060176", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &m, in, n, NULL), TARS_EINVAL);
    /* map shorter than its count */
    n = tt_unhex("08 0002 06016b 160176", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &m, in, n, NULL), TARS_ETRUNC);
    /* empty map */
    n = tt_unhex("08 0c", in, sizeof(in));
    assert_int_equal(tars_decode(&d, &m, in, n, NULL), TARS_OK);
    assert_int_equal(m.n, 0);
}

/* ---- nesting and tags ---- */

static void test_nested_struct(void **state)
{
    (void)state;
    tt_all a;
    tars_init(&tt_all_desc, &a);
    a.in.a = -5;
    tars_str_set(&a.in.s, "xy");
    tars_str_set(&a.t255, "z");
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(tars_encode(&b, &tt_all_desc, &a, true, 0), TARS_OK);
    assert_non_null(strstr(tt_hex(b.data, b.len), "9a00fb160278790b"));
    tt_all c;
    assert_int_equal(tars_decode(&tt_all_desc, &c, b.data, b.len, NULL), TARS_OK);
    assert_int_equal(c.in.a, -5);
    assert_true(tars_str_eq(&c.in.s, "xy"));
    tars_free(&tt_all_desc, &c);

    /* a nested struct encoded standalone (not top level) */
    tars_buf_reset(&b);
    assert_int_equal(tars_encode(&b, &tt_inner_desc, &a.in, false, 20), TARS_OK);
    expect_buf(&b, "fa1400fb160278790b");
    tars_buf_free(&b);
    tars_free(&tt_all_desc, &a);

    /* StructEnd at top level, and a nested struct without its StructEnd */
    uint8_t in[8];
    size_t n = tt_unhex("0001 0b", in, sizeof(in));
    tt_inner x;
    tars_err err;
    assert_int_equal(tars_decode(&tt_inner_desc, &x, in, n, &err), TARS_EINVAL);
    assert_non_null(strstr(err.msg, "StructEnd"));
}

static void test_tags(void **state)
{
    (void)state;
    static const struct {
        unsigned tag;
        const char *hex;
    } cases[] = {{0, "0c"}, {14, "ec"}, {15, "fc0f"}, {16, "fc10"}, {200, "fcc8"}, {255, "fcff"}};
    tars_buf b;
    tars_buf_init(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tars_buf_reset(&b);
        tars_put_int(&b, cases[i].tag, 0);
        expect_buf(&b, cases[i].hex);
        tars_reader r;
        tars_reader_init(&r, b.data, b.len, NULL);
        unsigned tag, type;
        size_t hl;
        assert_int_equal(tars_peek_head(&r, &tag, &type, &hl), TARS_OK);
        assert_int_equal(tag, cases[i].tag);
        assert_int_equal(type, TARS_ZERO);
        assert_int_equal(hl, cases[i].tag < 15 ? 1 : 2);
    }
    tars_buf_reset(&b);
    tars_put_int(&b, 15, 1);
    expect_buf(&b, "f00f01");
    /* tags above 255 are refused */
    tars_buf_reset(&b);
    tars_put_int(&b, 256, 1);
    assert_false(tars_buf_ok(&b));
    assert_int_equal(b.err, TARS_EINVAL);
    assert_int_equal(b.len, 0);
    tars_buf_reset(&b);
    assert_true(tars_buf_ok(&b));
    /* a nested struct at tag 300 makes tars_encode fail */
    tt_inner in;
    tars_init(&tt_inner_desc, &in);
    assert_int_equal(tars_encode(&b, &tt_inner_desc, &in, false, 300), TARS_EINVAL);
    tars_buf_free(&b);
    /* a head whose tag byte is missing */
    uint8_t h[1] = {0xf0};
    tars_reader r;
    tars_reader_init(&r, h, 1, NULL);
    unsigned tag, type;
    size_t hl;
    assert_int_equal(tars_peek_head(&r, &tag, &type, &hl), TARS_ETRUNC);
}

static void test_invalid_type_codes(void **state)
{
    (void)state;
    for (unsigned t = 14; t <= 15; t++) {
        for (unsigned tag = 0; tag < 3; tag++) {
            uint8_t in[8] = {(uint8_t)(tag << 4 | t), 0, 0, 0};
            tars_reader r;
            tars_reader_init(&r, in, sizeof(in), NULL);
            unsigned gt, gy;
            size_t hl;
            assert_int_equal(tars_peek_head(&r, &gt, &gy, &hl), TARS_EINVAL);
            tt_inner x;
            tars_err err;
            /* as a known field, as an unknown field, after a known field */
            assert_int_equal(tars_decode(&tt_inner_desc, &x, in, 4, &err), TARS_EINVAL);
            assert_int_equal(err.code, TARS_EINVAL);
        }
        uint8_t in2[8] = {0x00, 0x01, (uint8_t)(0x20 | t), 0, 0};
        tt_inner x;
        assert_int_equal(tars_decode(&tt_inner_desc, &x, in2, 5, NULL), TARS_EINVAL);
        /* inside a skipped list */
        uint8_t in3[8] = {0x00, 0x01, 0x29, 0x00, 0x01, (uint8_t)t, 0};
        assert_int_equal(tars_decode(&tt_inner_desc, &x, in3, 7, NULL), TARS_EINVAL);
    }
}

static void test_string_over_4g_refused(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    /* the length check happens before any byte is read from the pointer */
    tars_put_string(&b, 0, "", (size_t)UINT32_MAX + 1);
    assert_false(tars_buf_ok(&b));
    assert_int_equal(b.err, TARS_ERANGE);
    tars_buf_free(&b);
}

static void test_str_helpers(void **state)
{
    (void)state;
    tars_str s = {0};
    tars_str_clear(&s);
    assert_non_null(s.data);
    assert_int_equal(tars_str_set(&s, "hello"), TARS_OK);
    assert_true(tars_str_eq(&s, "hello"));
    assert_false(tars_str_eq(&s, "hell"));
    assert_int_equal(tars_str_set(&s, NULL), TARS_OK);
    assert_int_equal(s.len, 0);
    tars_str_clear(&s);
    for (int c = 0; c >= -7; c--)
        assert_non_null(tars_err_name(c));
    assert_string_equal(tars_err_name(-99), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_narrowing),
        cmocka_unit_test(test_int_reader_widths),
        cmocka_unit_test(test_int_wrong_type),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_string_boundaries),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_empty_containers),
        cmocka_unit_test(test_lists_and_map),
        cmocka_unit_test(test_map_vector),
        cmocka_unit_test(test_nested_struct),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_invalid_type_codes),
        cmocka_unit_test(test_string_over_4g_refused),
        cmocka_unit_test(test_str_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
