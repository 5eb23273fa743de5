/*
 * test_packet.c - whole packets: encode/decode through the frame reader,
 * the two failure stages (broken OTIMPack vs broken payload), empty and
 * absent payloads, transforms, size limits, the payload table, UUIDs.
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

static omtp_crypto_key key;

static int setup(void **state)
{
    (void)state;
    return omtp_crypto_key_from_hex(
        &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

/* Encodes, feeds through a frame reader, decodes. */
static int through(tars_buf *b, omtp_packet *p, int *stage, char *why)
{
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 0);
    omtp_frame_reader_feed(&r, b->data, b->len);
    const uint8_t *f;
    size_t fl;
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 1);
    omtp_decode_opts o = {.key = &key};
    int rc = omtp_packet_decode(f, fl, &o, p, stage, why, 300);
    omtp_frame_reader_free(&r);
    return rc;
}

static void test_every_payload_struct(void **state)
{
    (void)state;
    static const int types[] = {11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 40,
                                41, 42, 43, 44, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57, 58};
    uint64_t st = 5;
    int64_t flagset[] = {0, omtp_flags_with(0, 1, 0), omtp_flags_with(0, 0, 1),
                         omtp_flags_with(OMTP_F_HIGHPRJ, 1, 1)};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        for (int ack = 0; ack <= 1; ack++) {
            bool known;
            const tars_struct_desc *d = omtp_payload_desc(types[t], ack, &known);
            assert_true(known);
            if (!d)
                continue;
            for (size_t fi = 0; fi < 4; fi++) {
                void *v = malloc(d->size);
                tt_fill(d, v, &st, 1);
                tars_buf b;
                tars_buf_init(&b);
                int64_t flags = flagset[fi] | (ack ? OMTP_F_ACK : 0);
                int rc = omtp_packet_encode(&b, types[t], flags, "pid", d, v, &key, 8 << 20);
                assert_int_equal(rc, OMTP_OK);
                omtp_packet p;
                int stage;
                char why[300];
                assert_int_equal(through(&b, &p, &stage, why), OMTP_OK);
                assert_int_equal(stage, OMTP_STAGE_OK);
                assert_int_equal(p.header.type, types[t]);
                assert_int_equal(p.header.version, OMTP_VERSION);
                assert_true(p.header.flags == flags);
                assert_true(tars_str_eq(&p.header.packId, "pid"));
                assert_ptr_equal(p.desc, d);
                assert_non_null(p.body);
                size_t n1, n2;
                uint8_t *e1 = tt_encode(d, v, &n1), *e2 = tt_encode(d, p.body, &n2);
                assert_int_equal(n1, n2);
                assert_memory_equal(e1, e2, n1);
                assert_int_equal(p.payload_len, n1);
                free(e1);
                free(e2);
                omtp_packet_free(&p);
                omtp_packet_free(&p); /* safe twice */
                tars_buf_free(&b);
                tars_free(d, v);
                free(v);
            }
        }
    }
}

static void test_no_payload_types(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode(&b, PT_PING, 0, "x", NULL, NULL, NULL, 0), OMTP_OK);
    /* 00000016? length, header struct, empty SimpleList */
    omtp_packet p;
    int stage;
    char why[300];
    assert_int_equal(through(&b, &p, &stage, why), OMTP_OK);
    assert_null(p.desc);
    assert_null(p.body);
    assert_int_equal(p.payload_len, 0);
    omtp_packet_free(&p);
    /* USERATTRIBUTE_GET with an empty payload: desc set, body NULL */
    tars_buf_reset(&b);
    assert_int_equal(omtp_packet_encode(&b, PT_USERATTRIBUTE_GET, 0, "x", NULL, NULL, NULL, 0),
                     OMTP_OK);
    assert_int_equal(through(&b, &p, &stage, why), OMTP_OK);
    assert_ptr_equal(p.desc, &omtp_UserAttribute_desc);
    assert_null(p.body);
    omtp_packet_free(&p);
    /* an unknown type decodes (the server answers PROTOCOL), no body */
    tars_buf_reset(&b);
    assert_int_equal(omtp_packet_encode_raw(&b, 99, 0, "x", (const uint8_t *)"\x0c", 1, NULL, 0),
                     OMTP_OK);
    assert_int_equal(through(&b, &p, &stage, why), OMTP_OK);
    assert_int_equal(p.header.type, 99);
    assert_false(omtp_pack_type_known(99));
    assert_null(p.body);
    omtp_packet_free(&p);
    tars_buf_free(&b);
}

static void test_frame_stage_errors(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.sessionId, "s");
    assert_int_equal(
        omtp_packet_encode(&b, PT_MSG_SINGLE_CHAT, 0, "abc", &omtp_MsgReq_desc, &m, NULL, 0),
        OMTP_OK);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    /* every truncation of the OTIMPack is a frame-stage error */
    const uint8_t *body = b.data + 4;
    size_t blen = b.len - 4;
    for (size_t k = 0; k < blen; k++) {
        omtp_packet p;
        int stage;
        char why[300];
        int rc = omtp_packet_decode(body, k, NULL, &p, &stage, why, sizeof(why));
        assert_int_equal(rc, OMTP_EDECODE);
        assert_int_equal(stage, OMTP_STAGE_FRAME);
        assert_non_null(strstr(why, "bad frame"));
        omtp_packet_free(&p);
    }
    /* header missing a field */
    uint8_t bad[] = {0x0a, 0x00, 0x0e, 0x10, 0x01, 0x0b, 0x1d, 0x00, 0x0c};
    omtp_packet p;
    int stage;
    char why[300];
    assert_int_equal(omtp_packet_decode(bad, sizeof(bad), NULL, &p, &stage, why, sizeof(why)),
                     OMTP_EDECODE);
    assert_int_equal(stage, OMTP_STAGE_FRAME);
    assert_non_null(strstr(why, "OTIMHeader.flags"));
    omtp_packet_free(&p);
    tars_buf_free(&b);
}

static void test_payload_stage_errors(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    omtp_packet p;
    int stage;
    char why[300];
    /* a MsgReq payload lacking `from` */
    assert_int_equal(omtp_packet_encode_raw(&b, PT_MSG_SINGLE_CHAT, 0, "id",
                                            (const uint8_t *)"\x06\x01s\x46\x01t", 6, NULL, 0),
                     OMTP_OK);
    assert_int_equal(through(&b, &p, &stage, why), OMTP_EDECODE);
    assert_int_equal(stage, OMTP_STAGE_PAYLOAD);
    assert_non_null(strstr(why, "MsgReq.from"));
    assert_int_equal(p.header.type, PT_MSG_SINGLE_CHAT); /* header still valid */
    assert_true(tars_str_eq(&p.header.packId, "id"));
    assert_null(p.body);
    omtp_packet_free(&p);
    /* unknown compression / cipher values */
    for (int v = 2; v < 8; v++) {
        tars_buf_reset(&b);
        int64_t f = omtp_flags_with(0, v, 0);
        /* encode_raw refuses to apply them ... */
        assert_int_equal(omtp_packet_encode_raw(&b, PT_PING, f, "x", NULL, 0, NULL, 0),
                         OMTP_ECOMPRESS);
        /* ... so build such a frame by hand */
        omtp_OTIMPack pk;
        omtp_msg_init(&omtp_OTIMPack_desc, &pk);
        pk.header.type = PT_MSG_READ;
        pk.header.flags = f;
        tars_bytes_set(&pk.payload, "\x06\x00", 2);
        tars_buf_reset(&b);
        tars_encode(&b, &omtp_OTIMPack_desc, &pk, true, 0);
        assert_int_equal(omtp_packet_decode(b.data, b.len, NULL, &p, &stage, why, sizeof(why)),
                         OMTP_ECOMPRESS);
        assert_int_equal(stage, OMTP_STAGE_PAYLOAD);
        omtp_packet_free(&p);
        pk.header.flags = omtp_flags_with(0, 0, v);
        tars_buf_reset(&b);
        tars_encode(&b, &omtp_OTIMPack_desc, &pk, true, 0);
        assert_int_equal(omtp_packet_decode(b.data, b.len, NULL, &p, &stage, why, sizeof(why)),
                         OMTP_ECRYPTO);
        assert_int_equal(stage, OMTP_STAGE_PAYLOAD);
        omtp_packet_free(&p);
        omtp_msg_free(&omtp_OTIMPack_desc, &pk);
    }
    /* encrypted payload without a key at the receiver */
    omtp_MsgReaded r;
    omtp_msg_init(&omtp_MsgReaded_desc, &r);
    tars_buf_reset(&b);
    assert_int_equal(omtp_packet_encode(&b, PT_MSG_READ, omtp_flags_with(0, 0, 1), "x",
                                        &omtp_MsgReaded_desc, &r, &key, 0),
                     OMTP_OK);
    assert_int_equal(omtp_packet_decode(b.data + 4, b.len - 4, NULL, &p, &stage, why, sizeof(why)),
                     OMTP_ECRYPTO);
    assert_int_equal(stage, OMTP_STAGE_PAYLOAD);
    omtp_packet_free(&p);
    /* skip_body decodes the header only */
    omtp_decode_opts o = {.skip_body = true};
    assert_int_equal(omtp_packet_decode(b.data + 4, b.len - 4, &o, &p, &stage, why, sizeof(why)),
                     OMTP_OK);
    assert_null(p.body);
    assert_true(p.payload_len > 28);
    omtp_packet_free(&p);
    tars_buf_free(&b);
}

static void test_compressed_bomb_in_packet(void **state)
{
    (void)state;
    size_t n = 2 << 20;
    uint8_t *z = calloc(1, n);
    tars_buf b;
    tars_buf_init(&b);
    assert_int_equal(omtp_packet_encode_raw(&b, PT_MSG_SINGLE_CHAT, omtp_flags_with(0, 1, 0), "x",
                                            z, n, NULL, 0),
                     OMTP_OK);
    assert_true(b.len < 10000);
    omtp_packet p;
    int stage;
    char why[300];
    assert_int_equal(through(&b, &p, &stage, why), OMTP_ECOMPRESS);
    assert_int_equal(stage, OMTP_STAGE_PAYLOAD);
    assert_non_null(strstr(why, "limit"));
    omtp_packet_free(&p);
    tars_buf_free(&b);
    free(z);
}

static void test_too_big(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    tars_buf_put(&b, "keep", 4);
    static uint8_t payload[2000];
    assert_int_equal(
        omtp_packet_encode_raw(&b, PT_PING, 0, "x", payload, sizeof(payload), NULL, 1000),
        OMTP_ETOOBIG);
    assert_int_equal(b.len, 4); /* nothing appended */
    assert_int_equal(omtp_packet_encode_raw(&b, PT_PING, 0, "x", payload, 900, NULL, 1000),
                     OMTP_OK);
    assert_true(b.len - 4 <= 1000);
    /* the length prefix counts itself */
    const uint8_t *h = b.data + 4;
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    assert_int_equal(len, b.len - 4);
    tars_buf_free(&b);
}

static void test_payload_to_bytes(void **state)
{
    (void)state;
    omtp_MsgAck a;
    omtp_msg_init(&omtp_MsgAck_desc, &a);
    a.seqId = 300;
    tars_bytes out = {0};
    assert_int_equal(omtp_payload_to_bytes(&omtp_MsgAck_desc, &a, &out), OMTP_OK);
    /* code 0, seqId 300, empty desc (tag 4, the optional refusal reason) */
    assert_string_equal(tt_hex(out.data, out.len), "0c160021012c3c4600");
    tars_str_clear((tars_str *)(void *)&out);
}

static void test_uuid_clock_names(void **state)
{
    (void)state;
    char a[37], b[37];
    omtp_uuid(a);
    omtp_uuid(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_int_equal(a[8], '-');
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
    int64_t ms = omtp_now_ms(), us = omtp_now_us();
    assert_true(ms > 1600000000000LL);
    assert_true(us / 1000 - ms < 1000);
    assert_string_equal(omtp_pack_type_name(PT_LOGIN), "PT_LOGIN");
    assert_string_equal(omtp_pack_type_name(9), "PT_UNKNOWN");
    assert_int_equal(omtp_pack_type_from_name("LOGIN"), 11);
    assert_int_equal(omtp_pack_type_from_name("pt_msg_ctrl"), 17);
    assert_int_equal(omtp_pack_type_from_name("58"), 58);
    assert_int_equal(omtp_pack_type_from_name("59"), -1);
    assert_int_equal(omtp_pack_type_from_name("nope"), -1);
    assert_string_equal(omtp_error_code_name(21), "CONN_USERNAME_OR_PASSWORD");
    assert_string_equal(omtp_error_code_name(4), "UNKNOWN_CODE");
    for (int e = 0; e >= -13; e--)
        assert_string_not_equal(omtp_strerror(e), "unknown error");
    /* the table: request and reply structs */
    bool known;
    assert_ptr_equal(omtp_payload_desc(PT_LOGIN, false, &known), &omtp_LoginReq_desc);
    assert_ptr_equal(omtp_payload_desc(PT_LOGIN, true, &known), &omtp_LoginResp_desc);
    assert_null(omtp_payload_desc(PT_PING, false, &known));
    assert_true(known);
    assert_null(omtp_payload_desc(PT_KICKOUT, true, &known));
    assert_ptr_equal(omtp_payload_desc(PT_SESSION_MONITOR_SYNC, true, &known),
                     &omtp_HotSessionResp_desc);
    assert_null(omtp_payload_desc(26, false, &known));
    assert_false(known);
    assert_ptr_equal(omtp_desc_by_name("MsgReq"), &omtp_MsgReq_desc);
    assert_null(omtp_desc_by_name("Nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_payload_struct),
        cmocka_unit_test(test_no_payload_types),
        cmocka_unit_test(test_frame_stage_errors),
        cmocka_unit_test(test_payload_stage_errors),
        cmocka_unit_test(test_compressed_bomb_in_packet),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_payload_to_bytes),
        cmocka_unit_test(test_uuid_clock_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
