/*
 * test_tars_vectors.c - the byte-exact test vectors of the Tars format
 * (docs/protocol.md), checked in both directions.
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

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

static void expect_bytes(tars_buf *b, const char *want)
{
    char got[4096];
    assert_true(tars_buf_ok(b));
    hex(b->data, b->len, got);
    assert_string_equal(got, want);
}

static void test_header_pack_vector(void **state)
{
    (void)state;
    omtp_OTIMPack p;
    omtp_msg_init(&omtp_OTIMPack_desc, &p);
    p.header.type = 11;
    p.header.version = 1;
    p.header.flags = 1;
    tars_str_set(&p.header.packId, "abc");
    tars_bytes_set(&p.payload, "\x01\x02", 2);
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(tars_encode(&b, &omtp_OTIMPack_desc, &p, true, 0), 0);
    expect_bytes(&b, "0a000b1001200136036162630b1d0000020102");

    omtp_OTIMPack q;
    tars_err err;
    assert_int_equal(tars_decode(&omtp_OTIMPack_desc, &q, b.data, b.len, &err), 0);
    assert_int_equal(q.header.type, 11);
    assert_int_equal(q.header.flags, 1);
    assert_true(tars_str_eq(&q.header.packId, "abc"));
    assert_int_equal(q.payload.len, 2);
    assert_memory_equal(q.payload.data, "\x01\x02", 2);
    omtp_msg_free(&omtp_OTIMPack_desc, &q);
    omtp_msg_free(&omtp_OTIMPack_desc, &p);
    tars_buf_free(&b);
}

static void test_int_widths(void **state)
{
    (void)state;
    struct {
        int64_t v;
        const char *hex;
    } cases[] = {{0, "0c"},       {1, "0001"},           {-1, "00ff"},
                 {128, "010080"}, {32768, "0200008000"}, {2147483648LL, "030000000080000000"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tars_buf b;
        tars_buf_init(&b);
        tars_put_int(&b, 0, cases[i].v);
        expect_bytes(&b, cases[i].hex);
        tars_buf_free(&b);
    }
    tars_buf b;
    tars_buf_init(&b);
    tars_put_int(&b, 15, 1);
    expect_bytes(&b, "f00f01");
    tars_buf_reset(&b);
    tars_put_int(&b, 200, 0);
    expect_bytes(&b, "fcc8");
    tars_buf_free(&b);
}

static void test_strings_and_lists(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    tars_put_string(&b, 0, "", 0);
    expect_bytes(&b, "0600");
    tars_buf_reset(&b);
    char big[256];
    memset(big, 'x', sizeof(big));
    tars_put_string(&b, 0, big, sizeof(big));
    assert_int_equal(b.len, 1 + 4 + 256);
    assert_memory_equal(b.data, "\x07\x00\x00\x01\x00", 5);

    /* vector<string>{"a","bc"} as UserInfoGetReq.userIds (tag 0) */
    omtp_UserInfoGetReq r;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &r);
    tars_buf_reset(&b);
    tars_encode(&b, &omtp_UserInfoGetReq_desc, &r, true, 0);
    expect_bytes(&b, "090c");
    r.userIds.items = calloc(2, sizeof(tars_str));
    r.userIds.n = 2;
    tars_str_set(&r.userIds.items[0], "a");
    tars_str_set(&r.userIds.items[1], "bc");
    tars_buf_reset(&b);
    tars_encode(&b, &omtp_UserInfoGetReq_desc, &r, true, 0);
    expect_bytes(&b, "090002060161060262"
                     "63");
    omtp_msg_free(&omtp_UserInfoGetReq_desc, &r);
    tars_buf_free(&b);
}

static void test_frame_roundtrip(void **state)
{
    (void)state;
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.sessionId, "SC_alice_bob");
    tars_str_set(&m.from, "alice");
    tars_str_set(&m.to, "bob");
    tars_str_set(&m.content, "hello");
    m.contentType = 1;
    tars_buf b;
    tars_buf_init(&b);
    omtp_crypto_key key;
    assert_int_equal(omtp_crypto_key_from_hex(
                         &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                     0);
    int64_t flags[] = {0, omtp_flags_with(0, 1, 0), omtp_flags_with(0, 0, 1),
                       omtp_flags_with(OMTP_F_DUP, 1, 1)};
    for (size_t i = 0; i < 4; i++) {
        tars_buf_reset(&b);
        assert_int_equal(omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, flags[i], "p1",
                                            &omtp_MsgReq_desc, &m, &key, 0),
                         0);
        omtp_frame_reader fr;
        omtp_frame_reader_init(&fr, 0);
        const uint8_t *f;
        size_t flen;
        for (size_t k = 0; k < b.len; k++) { /* byte by byte */
            assert_int_equal(omtp_frame_reader_next(&fr, &f, &flen), 0);
            omtp_frame_reader_feed(&fr, b.data + k, 1);
        }
        assert_int_equal(omtp_frame_reader_next(&fr, &f, &flen), 1);
        omtp_packet p;
        int stage;
        char why[200];
        omtp_decode_opts o = {.key = &key};
        assert_int_equal(omtp_packet_decode(f, flen, &o, &p, &stage, why, sizeof(why)), 0);
        assert_ptr_equal(p.desc, &omtp_MsgReq_desc);
        omtp_MsgReq *got = p.body;
        assert_string_equal(got->content.data, "hello");
        assert_string_equal(got->sessionId.data, "SC_alice_bob");
        assert_int_equal(p.header.flags, flags[i]);
        omtp_packet_free(&p);
        omtp_frame_reader_free(&fr);
    }
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    tars_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_pack_vector),
        cmocka_unit_test(test_int_widths),
        cmocka_unit_test(test_strings_and_lists),
        cmocka_unit_test(test_frame_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
