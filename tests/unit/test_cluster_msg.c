/*
 * test_cluster_msg.c - node-to-node messages: round trips, and every
 * truncation / bad length of hostile input is refused, never over-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster_msg.h"

static void encode_push(tars_buf *b, uint32_t nusers)
{
    static const char *users[] = {"alice", "bob", "carol"};
    static const uint8_t payload[] = {0x06, 0x03, 'a', 0, 'c', 0xff, 0x00};
    omtp_cluster_push m = {0};
    m.users = users;
    m.nusers = nusers;
    m.type = 14;
    m.flags = 0x20;
    m.packId = "3f1c0a2e-pack";
    m.payload = payload;
    m.payload_len = sizeof(payload);
    omtp_cluster_push_encode(b, &m);
    assert_true(tars_buf_ok(b));
}

static void test_push_roundtrip(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    encode_push(&b, 3);
    omtp_cluster_push m;
    assert_int_equal(omtp_cluster_push_decode(b.data, b.len, &m), 0);
    assert_int_equal(m.nusers, 3);
    assert_string_equal(m.users[0], "alice");
    assert_string_equal(m.users[2], "carol");
    assert_int_equal(m.type, 14);
    assert_int_equal(m.flags, 0x20);
    assert_string_equal(m.packId, "3f1c0a2e-pack");
    assert_int_equal(m.payload_len, 7);
    assert_int_equal(m.payload[5], 0xff);
    assert_int_equal(m.payload[6], 0x00);
    omtp_cluster_push_free(&m);
    tars_buf_free(&b);
}

static void test_push_truncated(void **state)
{
    (void)state;
    tars_buf b;
    tars_buf_init(&b);
    encode_push(&b, 2);
    /* every proper prefix is refused; so is trailing garbage */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, b.data, n);
        omtp_cluster_push m;
        assert_int_equal(omtp_cluster_push_decode(copy, n, &m), OMTP_EDECODE);
        free(copy);
    }
    tars_buf_put(&b, "x", 1);
    omtp_cluster_push m;
    assert_int_equal(omtp_cluster_push_decode(b.data, b.len, &m), OMTP_EDECODE);
    tars_buf_free(&b);
}

static void test_push_bad_lengths(void **state)
{
    (void)state;
    /* a user id length pointing past the end */
    static const uint8_t a[] = {'P', 0, 1, 0xff, 0xff, 'x'};
    omtp_cluster_push m;
    assert_int_equal(omtp_cluster_push_decode(a, sizeof(a), &m), OMTP_EDECODE);
    /* a huge user count with no users behind it */
    static const uint8_t c[] = {'P', 0xff, 0xff};
    assert_int_equal(omtp_cluster_push_decode(c, sizeof(c), &m), OMTP_EDECODE);
    /* an empty user id */
    tars_buf b;
    tars_buf_init(&b);
    const char *users[] = {""};
    omtp_cluster_push e = {.users = users, .nusers = 1, .packId = "p", .payload = NULL};
    omtp_cluster_push_encode(&b, &e);
    assert_int_equal(omtp_cluster_push_decode(b.data, b.len, &m), OMTP_EDECODE);
    tars_buf_free(&b);
    /* the wrong kind */
    static const uint8_t k[] = {'K', 0, 0};
    assert_int_equal(omtp_cluster_push_decode(k, sizeof(k), &m), OMTP_EDECODE);
}

static void test_kick_roundtrip(void **state)
{
    (void)state;
    omtp_cluster_kick k, d;
    memset(&k, 0, sizeof(k));
    strcpy(k.userId, "alice");
    k.deviceType = 5;
    k.beforeMs = 1764100000123;
    strcpy(k.deviceId, "");
    k.byType = 5;
    strcpy(k.byId, "laptop-2");
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_kick_encode(&b, &k);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(omtp_cluster_kick_decode(b.data, b.len, &d), 0);
    assert_string_equal(d.userId, "alice");
    assert_int_equal(d.deviceType, 5);
    assert_int_equal(d.beforeMs, 1764100000123);
    assert_string_equal(d.deviceId, "");
    assert_string_equal(d.byId, "laptop-2");
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_kick_decode(b.data, n, &d), OMTP_EDECODE);
    tars_buf_free(&b);
    /* a user id longer than any id we accept */
    uint8_t big[3 + 300];
    memset(big, 'a', sizeof(big));
    big[0] = 'K';
    big[1] = 0x01;
    big[2] = 0x2c; /* 300 */
    assert_int_equal(omtp_cluster_kick_decode(big, sizeof(big), &d), OMTP_EDECODE);
}

/* 'Y' (presence changed): the layout of 'G', the user id in groupId */
static void test_presence_notice_roundtrip(void **state)
{
    (void)state;
    omtp_cluster_group g, d;
    memset(&g, 0, sizeof(g));
    strcpy(g.node, "node-b");
    strcpy(g.groupId, "alice");
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_PRES, &g);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(((const uint8_t *)b.data)[0], 'Y');
    assert_int_equal(omtp_cluster_group_decode(b.data, b.len, OMTP_CLUSTER_MSG_PRES, &d), 0);
    assert_string_equal(d.node, "node-b");
    assert_string_equal(d.groupId, "alice");
    assert_int_equal(omtp_cluster_group_decode(b.data, b.len, OMTP_CLUSTER_MSG_GROUP, &d),
                     OMTP_EDECODE);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_group_decode(b.data, n, OMTP_CLUSTER_MSG_PRES, &d),
                         OMTP_EDECODE);
    static const uint8_t empty[] = {'Y', 0, 1, 'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(omtp_cluster_group_decode(empty, sizeof empty, OMTP_CLUSTER_MSG_PRES, &d),
                     OMTP_EDECODE); /* no user id */
    tars_buf_free(&b);
}

static void test_group_roundtrip(void **state)
{
    (void)state;
    omtp_cluster_group g, d;
    memset(&g, 0, sizeof(g));
    strcpy(g.node, "node-a");
    strcpy(g.groupId, "GC_team");
    g.token = 0x0102030405060708ULL;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GROUP, &g);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(omtp_cluster_group_decode(b.data, b.len, OMTP_CLUSTER_MSG_GROUP, &d), 0);
    assert_string_equal(d.node, "node-a");
    assert_string_equal(d.groupId, "GC_team");
    assert_true(d.token == g.token);
    assert_int_equal(omtp_cluster_group_decode(b.data, b.len, OMTP_CLUSTER_MSG_GACK, &d),
                     OMTP_EDECODE);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_group_decode(b.data, n, OMTP_CLUSTER_MSG_GROUP, &d),
                         OMTP_EDECODE);
    /* trailing garbage, the wrong kind, an empty group id */
    uint8_t more[64];
    memcpy(more, b.data, b.len);
    more[b.len] = 'x';
    assert_int_equal(omtp_cluster_group_decode(more, b.len + 1, OMTP_CLUSTER_MSG_GROUP, &d),
                     OMTP_EDECODE);
    more[0] = 'K';
    assert_int_equal(omtp_cluster_group_decode(more, b.len, OMTP_CLUSTER_MSG_GROUP, &d),
                     OMTP_EDECODE);
    static const uint8_t empty[] = {'G', 0, 1, 'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(omtp_cluster_group_decode(empty, sizeof(empty), OMTP_CLUSTER_MSG_GROUP, &d),
                     OMTP_EDECODE);
    tars_buf_free(&b);
    /* the ack: node and token only */
    tars_buf_init(&b);
    omtp_cluster_group_encode(&b, OMTP_CLUSTER_MSG_GACK, &g);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(b.len, 1 + 2 + 6 + 8);
    assert_int_equal(omtp_cluster_group_decode(b.data, b.len, OMTP_CLUSTER_MSG_GACK, &d), 0);
    assert_string_equal(d.node, "node-a");
    assert_string_equal(d.groupId, "");
    assert_true(d.token == g.token);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_group_decode(b.data, n, OMTP_CLUSTER_MSG_GACK, &d),
                         OMTP_EDECODE);
    tars_buf_free(&b);
}

/* A monitor push: the session id, then a push body; every prefix refused;
 * a push is not a monitor push and vice versa. */
static void test_mpush_roundtrip(void **state)
{
    (void)state;
    static const char *users[] = {"mona"};
    static const uint8_t payload[] = {0x16, 0x02, 'h', 'i'};
    omtp_cluster_push m = {0}, d;
    m.sessionId = "SC_alice_bob";
    m.users = users;
    m.nusers = 1;
    m.type = 11;
    m.flags = 0x4;
    m.packId = "pk-1";
    m.payload = payload;
    m.payload_len = sizeof(payload);
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_mpush_encode(&b, &m);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(b.data[0], 'W');
    assert_int_equal(omtp_cluster_mpush_decode(b.data, b.len, &d), 0);
    assert_string_equal(d.sessionId, "SC_alice_bob");
    assert_int_equal(d.nusers, 1);
    assert_string_equal(d.users[0], "mona");
    assert_int_equal(d.type, 11);
    assert_int_equal(d.flags, 0x4);
    assert_string_equal(d.packId, "pk-1");
    assert_int_equal(d.payload_len, sizeof(payload));
    assert_memory_equal(d.payload, payload, sizeof(payload));
    omtp_cluster_push_free(&d);
    assert_int_equal(omtp_cluster_push_decode(b.data, b.len, &d), OMTP_EDECODE);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        assert_int_equal(omtp_cluster_mpush_decode(copy, n, &d), OMTP_EDECODE);
        free(copy);
    }
    tars_buf_free(&b);
    /* an empty session id */
    m.sessionId = "";
    tars_buf_init(&b);
    omtp_cluster_mpush_encode(&b, &m);
    assert_int_equal(omtp_cluster_mpush_decode(b.data, b.len, &d), OMTP_EDECODE);
    tars_buf_free(&b);
    /* a plain push does not decode as a monitor push */
    tars_buf_init(&b);
    encode_push(&b, 2);
    assert_int_equal(omtp_cluster_mpush_decode(b.data, b.len, &d), OMTP_EDECODE);
    tars_buf_free(&b);
}

static void test_msub_hello_roundtrip(void **state)
{
    (void)state;
    omtp_cluster_msub m, d;
    memset(&m, 0, sizeof(m));
    strcpy(m.node, "node-a");
    strcpy(m.sessionId, "SC_alice_bob");
    strcpy(m.userId, "mona");
    m.on = true;
    m.token = 0x1122334455667788ULL;
    tars_buf b;
    tars_buf_init(&b);
    omtp_cluster_msub_encode(&b, &m);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(b.len, 1 + 8 + 14 + 6 + 1 + 8);
    assert_int_equal(omtp_cluster_msub_decode(b.data, b.len, &d), 0);
    assert_string_equal(d.node, "node-a");
    assert_string_equal(d.sessionId, "SC_alice_bob");
    assert_string_equal(d.userId, "mona");
    assert_true(d.on);
    assert_true(d.token == m.token);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_msub_decode(b.data, n, &d), OMTP_EDECODE);
    /* on/off is 0 or 1, nothing else */
    uint8_t bad[64];
    memcpy(bad, b.data, b.len);
    bad[b.len - 9] = 2;
    assert_int_equal(omtp_cluster_msub_decode(bad, b.len, &d), OMTP_EDECODE);
    bad[b.len - 9] = 0;
    assert_int_equal(omtp_cluster_msub_decode(bad, b.len, &d), 0);
    assert_false(d.on);
    tars_buf_free(&b);
    /* an empty user id */
    m.userId[0] = 0;
    tars_buf_init(&b);
    omtp_cluster_msub_encode(&b, &m);
    assert_int_equal(omtp_cluster_msub_decode(b.data, b.len, &d), OMTP_EDECODE);
    tars_buf_free(&b);

    omtp_cluster_hello h = {.hello = true}, hd;
    strcpy(h.node, "node-b");
    tars_buf_init(&b);
    omtp_cluster_hello_encode(&b, &h);
    assert_true(tars_buf_ok(&b));
    assert_int_equal(omtp_cluster_hello_decode(b.data, b.len, &hd), 0);
    assert_string_equal(hd.node, "node-b");
    assert_true(hd.hello);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(omtp_cluster_hello_decode(b.data, n, &hd), OMTP_EDECODE);
    assert_int_equal(omtp_cluster_msub_decode(b.data, b.len, &d), OMTP_EDECODE);
    tars_buf_free(&b);
    h.hello = false;
    tars_buf_init(&b);
    omtp_cluster_hello_encode(&b, &h);
    assert_int_equal(omtp_cluster_hello_decode(b.data, b.len, &hd), 0);
    assert_false(hd.hello);
    tars_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_roundtrip),   cmocka_unit_test(test_push_truncated),
        cmocka_unit_test(test_push_bad_lengths), cmocka_unit_test(test_kick_roundtrip),
        cmocka_unit_test(test_group_roundtrip),  cmocka_unit_test(test_presence_notice_roundtrip),
        cmocka_unit_test(test_mpush_roundtrip),  cmocka_unit_test(test_msub_hello_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
