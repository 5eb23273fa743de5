/*
 * test_tars_arena.c - the arena allocator and the arena decode mode.
 *
 * The arena mode must decode exactly like the owning mode: every input
 * below (random values of every schema struct and of a struct with every
 * field kind, each of their truncations, random corruptions, forged lengths,
 * unknown fields, deep nesting, whole packets with every transform) is
 * decoded both ways and must give the same return code, the same error
 * (code, offset, tag, struct, field, message) and, on success, the same
 * re-encoding. Under ASan the arena poisons its free space, so a read past
 * a decoded string into the arena is reported too, and nothing leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/omtp_packet.h"
#include "tars_test_util.h"

/* ------------------------------------------------------------ allocator */

static void test_alloc_basics(void **state)
{
    (void)state;
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    assert_int_equal(a.heap, 0);
    /* alignment of every allocation, whatever the sizes before it */
    for (size_t n = 0; n < 50; n++) {
        uint8_t *p = tars_arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 0xab, n);
    }
    assert_int_equal(a.heap, TARS_ARENA_CHUNK);
    /* a request larger than a chunk gets a chunk of its own */
    uint8_t *big = tars_arena_alloc(&a, 3 * TARS_ARENA_CHUNK);
    assert_non_null(big);
    memset(big, 1, 3 * TARS_ARENA_CHUNK);
    assert_true(a.heap >= 4 * TARS_ARENA_CHUNK);
    /* absurd sizes fail cleanly */
    assert_null(tars_arena_alloc(&a, SIZE_MAX - 8));
    assert_null(tars_arena_alloc(&a, SIZE_MAX / 2));
    /* reset keeps one chunk (the largest <= KEEP) and reuses it */
    tars_arena_reset(&a);
    assert_int_equal(a.heap, 3 * TARS_ARENA_CHUNK);
    size_t h = a.heap;
    for (int i = 0; i < 100; i++) {
        assert_non_null(tars_arena_alloc(&a, 100));
        tars_arena_reset(&a);
    }
    assert_int_equal(a.heap, h);
    /* a chunk above KEEP is not kept */
    assert_non_null(tars_arena_alloc(&a, 2 * TARS_ARENA_KEEP));
    tars_arena_reset(&a);
    assert_int_equal(a.heap, 3 * TARS_ARENA_CHUNK);
    tars_arena_free(&a);
    assert_int_equal(a.heap, 0);
    tars_arena_free(&a); /* twice is fine */
}

static void test_alloc_first_block(void **state)
{
    (void)state;
    _Alignas(max_align_t) uint8_t buf[1000];
    tars_arena a;
    tars_arena_init(&a, buf, sizeof(buf));
    uint8_t *p = tars_arena_alloc(&a, 500);
    assert_true(p >= buf && p + 500 <= buf + sizeof(buf));
    assert_int_equal(a.heap, 0);
    uint8_t *q = tars_arena_alloc(&a, 600); /* does not fit: heap chunk */
    assert_true(q < buf || q >= buf + sizeof(buf));
    assert_int_equal(a.heap, TARS_ARENA_CHUNK);
    tars_arena_reset(&a);
    /* after reset the first block serves first again, the chunk is spare */
    p = tars_arena_alloc(&a, 10);
    assert_true(p >= buf && p < buf + sizeof(buf));
    q = tars_arena_alloc(&a, 990);
    assert_non_null(q);
    assert_int_equal(a.heap, TARS_ARENA_CHUNK); /* the spare, not a new one */
    tars_arena_free(&a);
    memset(buf, 0, sizeof(buf)); /* unpoisoned after free */
    /* an unaligned, tiny block is aligned or ignored */
    tars_arena_init(&a, buf + 1, 8);
    p = tars_arena_alloc(&a, 4);
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    tars_arena_free(&a);
    tars_arena_init(&a, buf + 1, sizeof(buf) - 1);
    p = tars_arena_alloc(&a, 4);
    assert_true(p > buf && p < buf + sizeof(buf));
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    tars_arena_free(&a);
}

static void test_alloc_grow(void **state)
{
    (void)state;
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    /* the latest allocation grows in place */
    uint8_t *p = tars_arena_grow(&a, NULL, 0, 16);
    memset(p, 7, 16);
    uint8_t *q = tars_arena_grow(&a, p, 16, 64);
    assert_ptr_equal(p, q);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[i], 7);
    /* an older one moves, keeping its bytes */
    uint8_t *other = tars_arena_alloc(&a, 8);
    memset(other, 9, 8);
    q = tars_arena_grow(&a, p, 64, 128);
    assert_ptr_not_equal(p, q);
    for (int i = 0; i < 16; i++)
        assert_int_equal(q[i], 7);
    assert_int_equal(other[0], 9);
    /* growing past the chunk copies into a new one */
    uint8_t *r = tars_arena_grow(&a, q, 128, 2 * TARS_ARENA_CHUNK);
    assert_non_null(r);
    for (int i = 0; i < 16; i++)
        assert_int_equal(r[i], 7);
    memset(r, 0, 2 * TARS_ARENA_CHUNK);
    /* shrinking is a no-op */
    assert_ptr_equal(tars_arena_grow(&a, r, 100, 50), r);
    tars_arena_free(&a);
}

/* --------------------------------------------------- decode, both modes */

static tars_arena arena; /* shared: reset between decodes, as a server would */

/* Decodes [p, n) as d in both modes; they must agree. Returns the rc. */
static int both(const tars_struct_desc *d, const uint8_t *p, size_t n)
{
    void *v = malloc(d->size), *w = malloc(d->size);
    tars_err e1, e2;
    int rc1 = tars_decode(d, v, p, n, &e1);
    /* copy the input so that a decoded pointer into it would be caught */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    int rc2 = tars_decode_arena(d, w, copy, n, &arena, &e2);
    memset(copy, 0xee, n);
    free(copy);
    assert_int_equal(rc1, rc2);
    if (rc1 == TARS_OK) {
        size_t n1, n2;
        uint8_t *a1 = tt_encode(d, v, &n1), *a2 = tt_encode(d, w, &n2);
        assert_non_null(a1);
        assert_non_null(a2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a1, a2, n1);
        free(a1);
        free(a2);
        tars_free(d, v);
    } else {
        assert_int_equal(e1.code, e2.code);
        assert_int_equal(e1.offset, e2.offset);
        assert_int_equal(e1.tag, e2.tag);
        assert_ptr_equal(e1.strct, e2.strct);
        assert_ptr_equal(e1.field, e2.field);
        assert_string_equal(e1.msg, e2.msg);
        /* a failed arena decode leaves obj initialised and empty */
        void *z = malloc(d->size);
        tars_init(d, z);
        size_t n1, n2;
        uint8_t *a1 = tt_encode(d, z, &n1), *a2 = tt_encode(d, w, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a1, a2, n1);
        free(a1);
        free(a2);
        free(z);
    }
    tars_arena_reset(&arena); /* w is gone with it: no tars_free */
    free(v);
    free(w);
    return rc1;
}

static void check_all_prefixes(const tars_struct_desc *d, const uint8_t *p, size_t n)
{
    for (size_t k = 0; k <= n; k++)
        both(d, p, k);
}

static void test_random_values_and_truncations(void **state)
{
    (void)state;
    uint64_t st = 424242;
    for (int round = 0; round < 10; round++) {
        for (unsigned i = 0; i < omtp_all_descs_count; i++) {
            const tars_struct_desc *d = omtp_all_descs[i];
            void *v = malloc(d->size);
            tt_fill(d, v, &st, round & 1);
            size_t n;
            uint8_t *p = tt_encode(d, v, &n);
            assert_int_equal(both(d, p, n), TARS_OK);
            if (round < 2 && n < 20000)
                check_all_prefixes(d, p, n);
            free(p);
            tars_free(d, v);
            free(v);
        }
    }
    for (int round = 0; round < 30; round++) {
        tt_all a;
        tt_fill(&tt_all_desc, &a, &st, 0);
        size_t n;
        uint8_t *p = tt_encode(&tt_all_desc, &a, &n);
        assert_int_equal(both(&tt_all_desc, p, n), TARS_OK);
        if (round < 10 && n < 20000)
            check_all_prefixes(&tt_all_desc, p, n);
        free(p);
        tars_free(&tt_all_desc, &a);
    }
}

static void test_corruptions(void **state)
{
    (void)state;
    uint64_t st = 777;
    int ok = 0, bad = 0;
    for (int round = 0; round < 400; round++) {
        const tars_struct_desc *d = omtp_all_descs[round % omtp_all_descs_count];
        void *v = malloc(d->size);
        tt_fill(d, v, &st, 1);
        size_t n;
        uint8_t *p = tt_encode(d, v, &n);
        if (n > 0) {
            for (int k = 0; k < 1 + (int)(tt_rand(&st) % 4); k++)
                p[tt_rand(&st) % n] = (uint8_t)tt_rand(&st);
            if (both(d, p, n) == TARS_OK)
                ok++;
            else
                bad++;
        }
        free(p);
        tars_free(d, v);
        free(v);
    }
    assert_true(ok > 0 && bad > 0); /* both paths exercised */
}

/* Map {0 optional map<string,string> m}: the schema has no map field. */
typedef struct map_s {
    tars_str_map m;
} map_s;
static const tars_field map_fields[] = {
    {"m", offsetof(map_s, m), 0, TK_MAP_STR_STR, false, 0, NULL},
};
static const tars_struct_desc map_desc = {"Map", sizeof(map_s), map_fields, 1};

static void test_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *desc;
        const char *hex;
        int rc;
    } cases[] = {
        /* required field missing, at the end, in a nested struct, in a list */
        {"MsgReq", "0601 73 1001 460162", TARS_EMISSING},
        {"MsgReq", "", TARS_EMISSING},
        {"HistoryMsgPullResp", "0a 0001 0b 1600 290c", TARS_EMISSING},
        {"HotSessionResp", "0c 1c 29 0001 0a 0601 73 2c 0b", TARS_EMISSING},
        {"MsgReq", "0601 73 1601 31", TARS_ETYPE},
        /* valid: only required fields; OTIMPack payload as a List of Int1 */
        {"MsgReq", "0601 73 3601 61 4601 62", TARS_OK},
        {"OTIMPack", "0a0001100120003600 0b 1900020001 0002", TARS_OK},
        {"OTIMPack", "0a0001100120003600 0b 1900020001 0602", TARS_ETYPE},
        /* map<string,string>: entries, empty, truncated, wrong entry tags */
        {"Map", "080002 06016b 160176 060161 1601 62", TARS_OK},
        {"Map", "080c", TARS_OK},
        {"Map", "080002 06016b", TARS_ETRUNC},
        {"Map", "080001 16016b 060176", TARS_EINVAL},
        {"Map", "080001 06016b 1001", TARS_ETYPE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const tars_struct_desc *d =
            strcmp(cases[i].desc, "Map") ? omtp_desc_by_name(cases[i].desc) : &map_desc;
        assert_non_null(d);
        uint8_t buf[256];
        size_t n = tt_unhex(cases[i].hex, buf, sizeof(buf));
        int rc = both(d, buf, n);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s %s): rc %d, want %d", i, cases[i].desc, cases[i].hex, rc,
                     cases[i].rc);
    }
    /* the forged lengths and counts test_tars_decode runs, in both modes */
    size_t nforged;
    const tt_vector *forged = tt_forged_vectors(&nforged);
    for (size_t i = 0; i < nforged; i++) {
        const tars_struct_desc *d = omtp_desc_by_name(forged[i].desc);
        assert_non_null(d);
        uint8_t buf[256];
        size_t n = tt_unhex(forged[i].hex, buf, sizeof(buf));
        int rc = both(d, buf, n);
        if (rc != forged[i].rc)
            fail_msg("forged case %zu (%s %s): rc %d, want %d", i, forged[i].desc, forged[i].hex,
                     rc, forged[i].rc);
    }
}

/* Node {0 optional int v; 1 optional vector<Node> kids}: depth by lists. */
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

static void test_depth_and_long_lists(void **state)
{
    (void)state;
    uint8_t buf[4096];
    for (int depth = 1; depth < 40; depth += 3) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) {
            buf[n++] = 0x19;
            buf[n++] = 0x00;
            buf[n++] = 0x01;
            buf[n++] = 0x0a;
        }
        for (int i = 0; i < depth; i++)
            buf[n++] = 0x0b;
        int rc = both(&node_desc, buf, n);
        if (depth < 10)
            assert_int_equal(rc, TARS_OK);
        if (depth > 30)
            assert_int_equal(rc, TARS_EDEPTH);
    }
    /* a list of 1000 strings and one of 1000 structs (growth across chunks) */
    tars_buf b;
    tars_buf_init(&b);
    tars_put_head(&b, 0, TARS_LIST);
    tars_put_int(&b, 0, 1000);
    for (int i = 0; i < 1000; i++)
        tars_put_string(&b, 0, "0123456789abcdef", (size_t)(i % 17));
    const tars_struct_desc *d = omtp_desc_by_name("UserInfoGetReq");
    assert_int_equal(both(d, b.data, b.len), TARS_OK);
    tars_buf_reset(&b);
    tars_put_head(&b, 1, TARS_LIST);
    tars_put_int(&b, 0, 1000);
    for (int i = 0; i < 1000; i++) {
        tars_put_head(&b, 0, TARS_STRUCT_BEGIN);
        tars_put_int(&b, 0, i);
        tars_put_head(&b, 0, TARS_STRUCT_END);
    }
    assert_int_equal(both(&node_desc, b.data, b.len), TARS_OK);
    tars_buf_free(&b);
}

/* -------------------------------------------------------------- packets */

static omtp_crypto_key key;

static int setup(void **state)
{
    (void)state;
    tars_arena_init(&arena, NULL, 0);
    return omtp_crypto_key_from_hex(
        &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

static int teardown(void **state)
{
    (void)state;
    tars_arena_free(&arena);
    return 0;
}

/* Decodes a frame body both ways; they must agree. */
static int packet_both(const uint8_t *f, size_t n, tars_arena *a)
{
    omtp_packet p1, p2;
    int s1, s2;
    char w1[300], w2[300];
    omtp_decode_opts o1 = {.key = &key}, o2 = {.key = &key, .arena = a};
    int rc1 = omtp_packet_decode(f, n, &o1, &p1, &s1, w1, sizeof(w1));
    int rc2 = omtp_packet_decode(f, n, &o2, &p2, &s2, w2, sizeof(w2));
    assert_int_equal(rc1, rc2);
    assert_int_equal(s1, s2);
    assert_string_equal(w1, w2);
    assert_true(p2.in_arena);
    size_t n1, n2;
    uint8_t *h1 = tt_encode(&omtp_OTIMHeader_desc, &p1.header, &n1);
    uint8_t *h2 = tt_encode(&omtp_OTIMHeader_desc, &p2.header, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(h1, h2, n1);
    free(h1);
    free(h2);
    assert_ptr_equal(p1.desc, p2.desc);
    assert_int_equal(p1.payload_len, p2.payload_len);
    assert_int_equal(p1.body == NULL, p2.body == NULL);
    if (p1.body) {
        uint8_t *b1 = tt_encode(p1.desc, p1.body, &n1), *b2 = tt_encode(p2.desc, p2.body, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        free(b1);
        free(b2);
    }
    omtp_packet_free(&p1);
    omtp_packet_free(&p2); /* forgets, frees nothing */
    assert_false(p2.in_arena);
    assert_null(p2.body);
    tars_arena_reset(a);
    return rc1;
}

static void test_packets(void **state)
{
    (void)state;
    static const int types[] = {11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 40,
                                41, 42, 43, 44, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57, 58};
    int64_t flagset[] = {0, omtp_flags_with(0, 1, 0), omtp_flags_with(0, 0, 1),
                         omtp_flags_with(OMTP_F_HIGHPRJ, 1, 1)};
    uint64_t st = 31337;
    /* a per-request arena with a first block, as the server uses it */
    _Alignas(max_align_t) uint8_t first[512];
    tars_arena a;
    tars_arena_init(&a, first, sizeof(first));
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (int ack = 0; ack <= 1; ack++) {
            const tars_struct_desc *d = omtp_payload_desc(types[t], ack, NULL);
            if (!d)
                continue;
            for (size_t fi = 0; fi < 4; fi++) {
                void *v = malloc(d->size);
                tt_fill(d, v, &st, 1);
                tars_buf b;
                tars_buf_init(&b);
                int64_t flags = flagset[fi] | (ack ? OMTP_F_ACK : 0);
                assert_int_equal(
                    omtp_packet_encode(&b, types[t], flags, "pid", d, v, &key, 8 << 20), OMTP_OK);
                assert_int_equal(packet_both(b.data + 4, b.len - 4, fi & 1 ? &a : &arena), OMTP_OK);
                if (fi == 0 && b.len < 4000) /* every truncation, frame stage */
                    for (size_t k = 0; k < b.len - 4; k++)
                        assert_int_not_equal(packet_both(b.data + 4, k, &a), OMTP_OK);
                tars_buf_free(&b);
                tars_free(d, v);
                free(v);
            }
        }
    }
    /* the generic OTIMPack path (payload as a List of Int1, unknown field) */
    uint8_t buf[256];
    size_t n = tt_unhex("0a 000e 1001 2000 3603 616263 0b 19 0003 0006 0001 0073 f0640c", buf,
                        sizeof(buf));
    assert_int_equal(packet_both(buf, n, &a), OMTP_EDECODE); /* MsgReq lacks `from` */
    n = tt_unhex("0a 000a 1001 2000 3603 616263 0b 19 0001 0000 f0640c", buf, sizeof(buf));
    assert_int_equal(packet_both(buf, n, &a), OMTP_OK);
    tars_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_basics),
        cmocka_unit_test(test_alloc_first_block),
        cmocka_unit_test(test_alloc_grow),
        cmocka_unit_test(test_random_values_and_truncations),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_depth_and_long_lists),
        cmocka_unit_test(test_packets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
