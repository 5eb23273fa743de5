/*
 * test_json.c - the struct <-> JSON mapping: every schema struct round-trips
 * through JSON to the same bytes, int64 stays exact, non-UTF-8 strings use
 * {"hex"}, OTIMPack payloads are decoded (also compressed/encrypted ones and
 * nested ones), and bad JSON names the field.
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
#include "proto/omtp_packet.h"
#include "tars_test_util.h"

static omtp_crypto_key key;

static int setup(void **state)
{
    (void)state;
    return omtp_crypto_key_from_hex(
        &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

static void test_roundtrip_every_struct(void **state)
{
    (void)state;
    uint64_t st = 77;
    omtp_json_opts o = {.key = &key};
    for (int round = 0; round < 10; round++) {
        for (unsigned i = 0; i < omtp_all_descs_count; i++) {
            const tars_struct_desc *d = omtp_all_descs[i];
            void *v = malloc(d->size), *w = malloc(d->size);
            tt_fill(d, v, &st, 0);
            json_t *j = omtp_json_from_struct(d, v, &o);
            assert_non_null(j);
            /* through text, as the CLI does */
            char *text = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            json_error_t je;
            j = json_loads(text, JSON_ALLOW_NUL, &je);
            assert_non_null(j);
            char why[300];
            int rc = omtp_json_to_struct(d, j, w, &o, why, sizeof(why));
            if (rc)
                fail_msg("%s: %s", d->name, why);
            size_t n1, n2;
            uint8_t *e1 = tt_encode(d, v, &n1), *e2 = tt_encode(d, w, &n2);
            assert_int_equal(n1, n2);
            assert_memory_equal(e1, e2, n1);
            free(e1);
            free(e2);
            free(text);
            json_decref(j);
            tars_free(d, v);
            tars_free(d, w);
            free(v);
            free(w);
        }
    }
}

static void test_scalars_and_hex(void **state)
{
    (void)state;
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    m.seqId = INT64_MAX;
    m.timestamp = INT64_MIN;
    tars_str_setn(&m.content, "\xff\x00z", 3);
    tars_str_set(&m.from, "\xe4\xbd\xa0\xe5\xa5\xbd"); /* valid UTF-8 */
    json_t *j = omtp_json_from_struct(&omtp_MsgReq_desc, &m, NULL);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(strstr(s, "\"seqId\":9223372036854775807"));
    assert_non_null(strstr(s, "\"timestamp\":-9223372036854775808"));
    assert_non_null(strstr(s, "\"content\":{\"hex\":\"ff007a\"}"));
    assert_non_null(strstr(s, "\"from\":\"\xe4\xbd\xa0\xe5\xa5\xbd\""));
    assert_non_null(strstr(s, "{\"sessionId\":\"\",\"seqId\""));
    free(s);
    json_decref(j);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static void test_pack_payload_decoded(void **state)
{
    (void)state;
    /* a HistoryMsgPullResp frame, compressed+encrypted, holding a MsgReq */
    const char *text =
        "{\"header\":{\"type\":21,\"version\":1,\"flags\":577,\"packId\":\"p\"},"
        "\"payload\":{\"errorCode\":{\"code\":0,\"desc\":\"\"},\"sessionId\":\"s\",\"msgs\":["
        "{\"header\":{\"type\":14,\"version\":1,\"flags\":0,\"packId\":\"m1\"},"
        "\"payload\":{\"sessionId\":\"s\",\"from\":\"a\",\"to\":\"b\",\"content\":\"hi\"}},"
        "{\"header\":{\"type\":14,\"version\":1,\"flags\":0,\"packId\":\"m2\"},"
        "\"payload\":\"0601\"}]}}";
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    omtp_OTIMPack pk;
    char why[300];
    omtp_json_opts o = {.key = &key};
    assert_int_equal(omtp_json_to_struct(&omtp_OTIMPack_desc, j, &pk, &o, why, sizeof(why)), 0);
    json_decref(j);
    /* the payload really is zlib+AES: decode it with the packet layer */
    tars_buf b;
    tars_buf_init(&b);
    tars_encode(&b, &omtp_OTIMPack_desc, &pk, true, 0);
    omtp_packet p;
    int stage;
    omtp_decode_opts dopts = {.key = &key};
    assert_int_equal(omtp_packet_decode(b.data, b.len, &dopts, &p, &stage, why, sizeof(why)), 0);
    omtp_HistoryMsgPullResp *h = p.body;
    assert_int_equal(h->msgs.n, 2);
    assert_int_equal(h->msgs.items[1].payload.len, 2);
    omtp_packet_free(&p);
    tars_buf_free(&b);

    /* and back to JSON: nested payload decoded, broken one as hex + error */
    j = omtp_json_from_struct(&omtp_OTIMPack_desc, &pk, &o);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(strstr(s, "\"content\":\"hi\""));
    assert_non_null(strstr(s, "\"payload\":\"0601\",\"payloadError\":\"MsgReq.sessionId"));
    free(s);
    json_decref(j);
    /* without the key: hex and a reason */
    j = omtp_json_from_struct(&omtp_OTIMPack_desc, &pk, NULL);
    assert_non_null(strstr(json_string_value(json_object_get(j, "payloadError")), "no key"));
    json_decref(j);
    /* raw_payload: always hex, no error */
    omtp_json_opts raw = {.raw_payload = true};
    j = omtp_json_from_struct(&omtp_OTIMPack_desc, &pk, &raw);
    assert_true(json_is_string(json_object_get(j, "payload")));
    assert_null(json_object_get(j, "payloadError"));
    json_decref(j);
    omtp_msg_free(&omtp_OTIMPack_desc, &pk);
}

static void expect_error(const char *strct, const char *text, const char *want)
{
    const tars_struct_desc *d = omtp_desc_by_name(strct);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    void *v = malloc(d->size);
    char why[300];
    int rc = omtp_json_to_struct(d, j, v, NULL, why, sizeof(why));
    assert_int_not_equal(rc, 0);
    if (!strstr(why, want))
        fail_msg("got '%s', want '%s'", why, want);
    /* left initialised and empty */
    tars_free(d, v);
    free(v);
    json_decref(j);
}

static void test_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("MsgReq", "{\"sessionId\":1}", "MsgReq.sessionId: expected a string");
    expect_error("MsgReq", "{\"sesionId\":\"x\"}", "MsgReq.sesionId: unknown field");
    expect_error("MsgReq", "{\"seqId\":1.5}", "MsgReq.seqId: expected an integer");
    expect_error("MsgReq", "[]", "MsgReq: expected a MsgReq object");
    expect_error("OTIMHeader", "{\"type\":40000}", "OTIMHeader.type: 40000 is out of range");
    expect_error("MsgAck", "{\"code\":2147483648}", "MsgAck.code: 2147483648 is out of range");
    expect_error("HotSessionResp", "{\"sessions\":[{\"sessionId\":\"a\"},{\"readSeqId\":\"x\"}]}",
                 "HotSessionResp.sessions[1].readSeqId: expected an integer");
    expect_error("GroupChatSyncResp", "{\"delGroupChatIds\":[\"a\",2]}",
                 "GroupChatSyncResp.delGroupChatIds[1]: expected a string");
    expect_error("OTIMPack", "{\"payload\":\"zz\"}", "OTIMPack.payload: expected a hex string");
    expect_error("OTIMPack", "{\"payload\":\"abc\"}", "OTIMPack.payload: expected a hex string");
    expect_error("OTIMPack", "{\"header\":{\"type\":10},\"payload\":{}}", "has no payload struct");
    expect_error("OTIMPack", "{\"header\":{\"type\":14},\"payload\":{\"x\":1}}",
                 "OTIMPack.payload<MsgReq>.x: unknown field");
    expect_error("OTIMPack", "{\"header\":{\"type\":14,\"flags\":512},\"payload\":{}}",
                 "cannot apply header flags");
    expect_error("OTIMPack", "{\"header\":{\"type\":14,\"flags\":128},\"payload\":{}}",
                 "cannot apply header flags");
    expect_error("OTIMPack", "{\"extra\":1}", "OTIMPack.extra: unknown field");
    expect_error("MsgReq", "{\"content\":{\"hex\":\"0\"}}", "MsgReq.content: bad hex");
    expect_error("MsgReq", "{\"content\":{\"hex\":1}}", "MsgReq.content: expected a string");
}

static void test_hex_helpers(void **state)
{
    (void)state;
    uint8_t *b;
    size_t n;
    assert_int_equal(omtp_hex_decode(" 0A0b\n ff\t", 10, &b, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "\x0a\x0b\xff", 3);
    char out[7];
    omtp_hex_encode(b, n, out);
    assert_string_equal(out, "0a0bff");
    free(b);
    assert_int_not_equal(omtp_hex_decode("0a0", 3, &b, &n), 0);
    assert_int_not_equal(omtp_hex_decode("0g", 2, &b, &n), 0);
    assert_int_equal(omtp_hex_decode("0 a", 3, &b, &n), 0); /* whitespace anywhere */
    assert_int_equal(b[0], 0x0a);
    free(b);
    assert_int_equal(omtp_hex_decode("", 0, &b, &n), 0);
    assert_int_equal(n, 0);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_struct),
        cmocka_unit_test(test_scalars_and_hex),
        cmocka_unit_test(test_pack_payload_decoded),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_hex_helpers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
