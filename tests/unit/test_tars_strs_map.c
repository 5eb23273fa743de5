/*
 * test_tars_strs_map.c - the map<string, vector<string>> field kind
 * (F_MAPSTRS, TK_MAP_STR_STRS): MsgReq.reactions of the extensions.
 *
 * Encode/decode both ways (owned and arena), copy, JSON, and hostile input:
 * every truncation of a valid encoding, repeated keys, wrong wire types,
 * forged counts, and the count limits of proto/omtp_limits.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/omtp_json.h"
#include "proto/omtp_limits.h"
#include "proto/omtp_msg.h"
#include "tars_test_util.h"

/* {"👍": ["bob", "carol"], "x": []} as MsgReq.reactions at tag 11 */
static const char *REACTIONS_HEX = "b8 0002"
                                   " 0604f09f918d 19 0002 0603626f62 06056361726f6c"
                                   " 060178 19 0c";

static void fill(omtp_MsgReq *m)
{
    omtp_msg_init(&omtp_MsgReq_desc, m);
    tars_str_set(&m->sessionId, "SC_a_b");
    tars_str_set(&m->from, "a");
    tars_str_set(&m->to, "b");
    m->replyTo = 7;
    tars_strs_map *r = &m->reactions;
    r->n = 2;
    r->keys = calloc(2, sizeof(tars_str));
    r->vals = calloc(2, sizeof(tars_str_list));
    tars_str_set(&r->keys[0], "\xf0\x9f\x91\x8d");
    tars_str_set(&r->keys[1], "x");
    r->vals[0].n = 2;
    r->vals[0].items = calloc(2, sizeof(tars_str));
    tars_str_set(&r->vals[0].items[0], "bob");
    tars_str_set(&r->vals[0].items[1], "carol");
}

static void check_decoded(const omtp_MsgReq *m)
{
    assert_int_equal(m->replyTo, 7);
    assert_int_equal(m->reactions.n, 2);
    assert_true(tars_str_eq(&m->reactions.keys[0], "\xf0\x9f\x91\x8d"));
    assert_int_equal(m->reactions.vals[0].n, 2);
    assert_true(tars_str_eq(&m->reactions.vals[0].items[0], "bob"));
    assert_true(tars_str_eq(&m->reactions.vals[0].items[1], "carol"));
    assert_true(tars_str_eq(&m->reactions.keys[1], "x"));
    assert_int_equal(m->reactions.vals[1].n, 0);
}

static void encode(const omtp_MsgReq *m, tars_buf *b)
{
    tars_buf_init(b);
    assert_int_equal(tars_encode(b, &omtp_MsgReq_desc, m, true, 0), TARS_OK);
}

static void test_round_trip(void **state)
{
    (void)state;
    omtp_MsgReq m, d, c;
    fill(&m);
    tars_buf b;
    encode(&m, &b);
    /* the wire bytes of the map, as @tars/stream writes them */
    uint8_t want[64];
    size_t wn = tt_unhex(REACTIONS_HEX, want, sizeof(want));
    assert_true(b.len >= wn);
    assert_memory_equal(b.data + b.len - wn, want, wn);
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &d, b.data, b.len, NULL), TARS_OK);
    check_decoded(&d);
    /* deep copy owns its own memory */
    assert_int_equal(tars_copy(&omtp_MsgReq_desc, &c, &d), TARS_OK);
    tars_free(&omtp_MsgReq_desc, &d);
    check_decoded(&c);
    tars_free(&omtp_MsgReq_desc, &c);
    /* arena decode */
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    assert_int_equal(tars_decode_arena(&omtp_MsgReq_desc, &d, b.data, b.len, &a, NULL), TARS_OK);
    check_decoded(&d);
    tars_arena_free(&a);
    tars_buf_free(&b);
    tars_free(&omtp_MsgReq_desc, &m);
}

/* an old peer (no tag 9..11) decodes to empty extension fields */
static void test_absent_is_empty(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = tt_unhex("060173 3601 61 4601 62", in, sizeof(in));
    omtp_MsgReq d;
    assert_int_equal(tars_decode(&omtp_MsgReq_desc, &d, in, n, NULL), TARS_OK);
    assert_int_equal(d.replyTo, 0);
    assert_int_equal(d.mentions.n, 0);
    assert_int_equal(d.reactions.n, 0);
    tars_free(&omtp_MsgReq_desc, &d);
}

/* every proper prefix of a valid encoding fails cleanly (ASan checks the
 * frees), owned and arena alike */
static void test_truncated(void **state)
{
    (void)state;
    omtp_MsgReq m, d;
    fill(&m);
    tars_buf b;
    encode(&m, &b);
    uint8_t want[64];
    size_t wn = tt_unhex(REACTIONS_HEX, want, sizeof(want));
    tars_arena a;
    tars_arena_init(&a, NULL, 0);
    for (size_t cut = b.len - wn + 1; cut < b.len; cut++) {
        tars_err e;
        int rc = tars_decode(&omtp_MsgReq_desc, &d, b.data, cut, &e);
        assert_int_not_equal(rc, TARS_OK);
        assert_int_equal(d.reactions.n, 0);
        rc = tars_decode_arena(&omtp_MsgReq_desc, &d, b.data, cut, &a, NULL);
        assert_int_not_equal(rc, TARS_OK);
        tars_arena_reset(&a);
    }
    tars_arena_free(&a);
    tars_buf_free(&b);
    tars_free(&omtp_MsgReq_desc, &m);
}

static int decode_field(const char *hex, tars_err *e)
{
    tars_field f = {"reactions", 0, 11, TK_MAP_STR_STRS, true, 0, NULL};
    tars_struct_desc d = {"R", sizeof(tars_strs_map), &f, 1};
    uint8_t in[256];
    size_t n = tt_unhex(hex, in, sizeof(in));
    tars_strs_map m;
    int rc = tars_decode(&d, &m, in, n, e);
    tars_free(&d, &m);
    return rc;
}

static void test_hostile(void **state)
{
    (void)state;
    tars_err e;
    /* a key repeated: refused, naming the field */
    assert_int_equal(decode_field("b8 0002 060178 19 0c 060178 19 0c", &e), TARS_EINVAL);
    assert_non_null(strstr(e.msg, "repeated"));
    assert_non_null(strstr(e.msg, "reactions"));
    /* distinct keys that share a prefix are fine */
    assert_int_equal(decode_field("b8 0002 060178 19 0c 06027879 19 0c", NULL), TARS_OK);
    /* value not a list */
    assert_int_equal(decode_field("b8 0001 060178 160179", &e), TARS_ETYPE);
    /* value at tag 0 */
    assert_int_equal(decode_field("b8 0001 060178 09 0c", NULL), TARS_EINVAL);
    /* list element at tag 1 */
    assert_int_equal(decode_field("b8 0001 060178 19 0001 160162", NULL), TARS_EINVAL);
    /* list element not a string */
    assert_int_equal(decode_field("b8 0001 060178 19 0001 0005", NULL), TARS_ETYPE);
    /* forged counts: far more entries / elements than the input holds */
    assert_int_equal(decode_field("b8 027fffffff 060178 19 0c", NULL), TARS_ETRUNC);
    assert_int_equal(decode_field("b8 0001 060178 19 027fffffff 060162", NULL), TARS_ETRUNC);
    /* negative count */
    assert_int_equal(decode_field("b8 00ff", NULL), TARS_EINVAL);
    /* a map where a list is expected, and the other way round */
    assert_int_equal(decode_field("b9 0c", NULL), TARS_ETYPE);
    /* a string length beyond the input */
    assert_int_equal(decode_field("b8 0001 0609 78", NULL), TARS_ETRUNC);
}

/* many distinct keys decode without quadratic work; a repeat among them
 * is found wherever it is */
static void test_many_keys(void **state)
{
    (void)state;
    tars_field f = {"reactions", 0, 0, TK_MAP_STR_STRS, true, 0, NULL};
    tars_struct_desc d = {"R", sizeof(tars_strs_map), &f, 1};
    const uint32_t N = 20000;
    tars_buf b;
    tars_buf_init(&b);
    tars_put_head(&b, 0, TARS_MAP);
    tars_put_int(&b, 0, N);
    for (uint32_t i = 0; i < N; i++) {
        char k[16];
        int kn = snprintf(k, sizeof(k), "k%u", i == N - 1 ? 17u : i);
        tars_put_string(&b, 0, k, (size_t)kn);
        tars_put_head(&b, 1, TARS_LIST);
        tars_put_int(&b, 0, 0);
    }
    tars_strs_map m;
    assert_int_equal(tars_decode(&d, &m, b.data, b.len, NULL), TARS_EINVAL);
    tars_free(&d, &m);
    tars_buf_free(&b);
}

static void test_limits(void **state)
{
    (void)state;
    omtp_MsgReq m;
    fill(&m);
    char why[200];
    assert_int_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof(why)), 0);
    /* a key over 32 bytes */
    tars_str_set(&m.reactions.keys[1], "0123456789012345678901234567890123");
    assert_int_not_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "MsgReq.reactions"));
    tars_str_set(&m.reactions.keys[1], "x");
    /* too many reactors in one list */
    tars_str_list *l = &m.reactions.vals[1];
    l->items = calloc(OMTP_LIMIT_REACTORS + 1, sizeof(tars_str));
    for (uint32_t i = 0; i <= OMTP_LIMIT_REACTORS; i++)
        tars_str_set(&l->items[i], "u");
    l->n = OMTP_LIMIT_REACTORS + 1;
    assert_int_not_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof(why)), 0);
    l->n = OMTP_LIMIT_REACTORS;
    assert_int_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof(why)), 0);
    l->n = OMTP_LIMIT_REACTORS + 1;
    tars_free(&omtp_MsgReq_desc, &m);
    /* too many mentions */
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    m.mentions.items = calloc(OMTP_LIMIT_MENTIONS + 1, sizeof(tars_str));
    for (uint32_t i = 0; i <= OMTP_LIMIT_MENTIONS; i++)
        tars_str_set(&m.mentions.items[i], "u");
    m.mentions.n = OMTP_LIMIT_MENTIONS + 1;
    assert_int_not_equal(omtp_limits_check(&omtp_MsgReq_desc, &m, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "MsgReq.mentions has 51 entries"));
    tars_free(&omtp_MsgReq_desc, &m);
    /* an emoji over 32 bytes in a reaction request */
    omtp_ReactionReq r;
    omtp_msg_init(&omtp_ReactionReq_desc, &r);
    tars_str_set(&r.emoji, "0123456789012345678901234567890123");
    assert_int_not_equal(omtp_limits_check(&omtp_ReactionReq_desc, &r, why, sizeof(why)), 0);
    tars_free(&omtp_ReactionReq_desc, &r);
}

static void test_json(void **state)
{
    (void)state;
    omtp_MsgReq m;
    fill(&m);
    json_t *j = omtp_json_from_struct(&omtp_MsgReq_desc, &m, NULL);
    assert_non_null(j);
    json_t *r = json_object_get(j, "reactions");
    assert_true(json_is_object(r));
    assert_int_equal(json_array_size(json_object_get(r, "\xf0\x9f\x91\x8d")), 2);
    assert_int_equal(json_array_size(json_object_get(r, "x")), 0);
    omtp_MsgReq back;
    char err[200];
    assert_int_equal(omtp_json_to_struct(&omtp_MsgReq_desc, j, &back, NULL, err, sizeof(err)), 0);
    check_decoded(&back);
    tars_free(&omtp_MsgReq_desc, &back);
    json_decref(j);
    tars_free(&omtp_MsgReq_desc, &m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_absent_is_empty),
        cmocka_unit_test(test_truncated),  cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_many_keys),  cmocka_unit_test(test_limits),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
