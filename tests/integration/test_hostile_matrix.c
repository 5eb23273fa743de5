/*
 * test_hostile_matrix.c - every packet type of the protocol (10-25, 40-47,
 * 51-58) and some that are not (0, 9, 26, 39, 48, 59, 32767, -1), before
 * and after login, with a valid struct (every field filled), (a) an empty payload, (b) a valid
 * payload truncated at several offsets, (c) random bytes, (d) another type's struct, (e) the ACK
 * bit set by the client. Each must get the documented answer:
 *
 *   before login: PING is answered, LOGIN is judged (20 + close when fields
 *     are missing, PROTOCOL when it does not decode), everything else gets
 *     its type's reply with CONN_ACCESS_DENIED (23) and the connection closes;
 *   after login: the type's reply struct with PROTOCOL (1) and words naming
 *     the problem when the payload does not decode, "empty payload" for an
 *     empty one, a handler's code (and words) when it decodes; unknown types
 *     get CommonErrorCode PROTOCOL; the connection stays open;
 *   ACK packets from the client are not answered and change nothing.
 *
 * After each block the server still answers a PING and a normal send.
 */
#include "hostile_common.h"

static h_server *srv;
static uint64_t seed = 0x5eedf00dULL;

static int setup(void **st)
{
    (void)st;
    srv = h_server_start("aes_key_hex = " HX_AES_HEX "\n"
                         "login_fail_delay_ms = 0\n"
                         /* floods on purpose: no request rate limit, no
                          * per-account backoff for the bad logins */
                         "req_rate = 0\n"
                         "login_account_delay_ms = 0\n"
                         "log_level = warn\n",
                         NULL);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    fprintf(stderr, "test_hostile_matrix: seed 0x%llx\n", (unsigned long long)seed);
    return 0;
}

static int teardown(void **st)
{
    if (srv) {
        assert_true(h_server_alive(srv));
        assert_int_equal(h_server_stop(srv), 0);
        h_server_free(srv);
    }
    srv = NULL;
    return h_teardown(st);
}

enum {
    V_VALID,
    V_EMPTY,
    V_TRUNC1,
    V_TRUNC_HALF,
    V_TRUNC_LAST,
    V_RAND1,
    V_RAND7,
    V_RAND64,
    V_OTHER,
    V_N
};

static const char *vname[V_N] = {"valid",      "empty",       "trunc@1",
                                 "trunc@half", "trunc@len-1", "random[1]",
                                 "random[7]",  "random[64]",  "other struct"};

/* The payload of variant v for type t in b. */
static void variant(int t, int v, tars_buf *b)
{
    tars_buf_reset(b);
    if (v == V_EMPTY)
        return;
    if (v == V_VALID) {
        hx_valid_payload(t, b);
        return;
    }
    if (v == V_RAND1 || v == V_RAND7 || v == V_RAND64) {
        size_t n = v == V_RAND1 ? 1 : v == V_RAND7 ? 7 : 64;
        for (size_t i = 0; i < n; i++) {
            uint8_t x = (uint8_t)hx_rand(&seed);
            tars_buf_put(b, &x, 1);
        }
        return;
    }
    if (v == V_OTHER) {
        /* the request struct of another type: the next one in the table */
        int other = PT_GROUPCHAT_CREATE;
        for (int i = 0; i < HX_NKNOWN; i++)
            if (hx_known_types[i] == t)
                other = hx_known_types[(i + 7) % HX_NKNOWN];
        if (!omtp_payload_desc(other, false, NULL) || other == t)
            other = PT_GROUPCHAT_CREATE;
        hx_valid_payload(other, b);
        return;
    }
    tars_buf full;
    tars_buf_init(&full);
    hx_valid_payload(t == 10 || t == 12 || t == 24 || !omtp_payload_desc(t, false, NULL)
                         ? PT_GROUPCHAT_INFO_UPDATE
                         : t,
                     &full);
    size_t n = v == V_TRUNC1 ? 1 : v == V_TRUNC_HALF ? full.len / 2 : full.len - 1;
    tars_buf_put(b, full.data, n);
    tars_buf_free(&full);
}

/* After login: the answer of a known type to a variant. */
static void check_online(hx_conn *c, int t, int v)
{
    tars_buf b;
    tars_buf_init(&b);
    variant(t, v, &b);
    char id[64];
    snprintf(id, sizeof(id), "m-%d-%d", t, v);
    hx_reply r;
    int rc = hx_call(c, t, 0, id, b.data, b.len, &r);
    if (rc)
        fail_msg("type %d (%s) %s: no reply (%s)", t, omtp_pack_type_name(t), vname[v],
                 omtp_strerror(rc));
    assert_int_equal(r.type, t);
    assert_true(r.flags & OMTP_F_ACK);
    bool has_req = omtp_payload_desc(t, false, NULL) != NULL;
    if (t == PT_PING || t == PT_LOGOUT) {
        assert_int_equal(r.payload_len, 0);
    } else if (v == V_EMPTY && has_req && t != PT_LOGIN && t != PT_USERATTRIBUTE_GET &&
               t != PT_SESSION_MONITOR_SYNC) { /* empty = no filter / from the start */
        if (!r.decoded || r.code != OMTP_EC_PROTOCOL ||
            (r.has_words && !strstr(r.desc, "empty payload")))
            fail_msg("type %d empty: code %d desc '%s'", t, r.code, r.desc);
    } else if (has_req && !hx_decodes(t, b.data, b.len)) {
        if (!r.decoded || r.code != OMTP_EC_PROTOCOL || (r.has_words && !r.desc[0]))
            fail_msg("type %d %s (undecodable): code %d desc '%s'", t, vname[v], r.code, r.desc);
    } else if (t == PT_KICKOUT && r.payload_len == 0) {
        /* KICKOUT of a device that does not exist: an empty ACK */
    } else {
        if (!r.decoded)
            fail_msg("type %d %s: reply payload of %zu bytes does not decode", t, vname[v],
                     r.payload_len);
        if (r.code != 0 && r.has_words && !r.desc[0])
            fail_msg("type %d %s: code %d without words", t, vname[v], r.code);
    }
    hx_reply_free(&r);
    tars_buf_free(&b);
}

static void test_online_known_types(void **st)
{
    (void)st;
    hx_conn *c = hx_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    for (int i = 0; i < HX_NKNOWN; i++) {
        int t = hx_known_types[i];
        if (t == PT_LOGOUT)
            continue; /* closes: below */
        for (int v = 0; v < V_N; v++)
            check_online(c, t, v);
    }
    hx_ping_ok(c);
    hx_send_ok(c, "bob");
    hx_close(c);
}

static void test_online_logout_variants(void **st)
{
    (void)st;
    for (int v = 0; v < V_N; v++) {
        hx_conn *c = hx_login(srv, "alice", "pw-alice", DEVICE_LINUX);
        check_online(c, PT_LOGOUT, v);
        assert_true(hx_wait_closed(c, 3000));
        hx_close(c);
    }
}

static void test_online_unknown_types(void **st)
{
    (void)st;
    hx_conn *c = hx_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    for (int i = 0; i < HX_NUNKNOWN; i++) {
        int t = hx_unknown_types[i];
        for (int v = 0; v < V_N; v++) {
            tars_buf b;
            tars_buf_init(&b);
            variant(t, v, &b);
            char id[64];
            snprintf(id, sizeof(id), "u-%d-%d", t, v);
            hx_reply r;
            int rc = hx_call(c, t, 0, id, b.data, b.len, &r);
            if (rc)
                fail_msg("unknown type %d %s: no reply (%s)", t, vname[v], omtp_strerror(rc));
            assert_int_equal(r.type, (int16_t)t);
            assert_true(r.decoded);
            assert_int_equal(r.code, OMTP_EC_PROTOCOL);
            assert_non_null(strstr(r.desc, "unknown packet type"));
            hx_reply_free(&r);
            tars_buf_free(&b);
        }
    }
    hx_ping_ok(c);
    hx_send_ok(c, "bob");
    hx_close(c);
}

static void test_prelogin_every_type(void **st)
{
    (void)st;
    int all[HX_NKNOWN + HX_NUNKNOWN];
    int n = 0;
    for (int i = 0; i < HX_NKNOWN; i++)
        all[n++] = hx_known_types[i];
    for (int i = 0; i < HX_NUNKNOWN; i++)
        all[n++] = hx_unknown_types[i];
    for (int i = 0; i < n; i++) {
        int t = all[i];
        for (int v = 0; v < V_N; v++) {
            tars_buf b;
            tars_buf_init(&b);
            variant(t, v, &b);
            char id[64];
            snprintf(id, sizeof(id), "p-%d-%d", t, v);
            hx_conn *c = hx_connect(srv);
            hx_reply r;
            int rc = hx_call(c, t, 0, id, b.data, b.len, &r);
            if (rc)
                fail_msg("pre-login type %d %s: no reply (%s)", t, vname[v], omtp_strerror(rc));
            assert_int_equal(r.type, (int16_t)t);
            assert_true(r.flags & OMTP_F_ACK);
            if (t == PT_PING) {
                assert_int_equal(r.payload_len, 0);
                hx_ping_ok(c);
            } else if (t == PT_LOGIN) {
                assert_true(r.decoded);
                if (v == V_EMPTY) {
                    assert_int_equal(r.code, OMTP_EC_CONN_INDICATE);
                    assert_true(r.desc[0]);
                    assert_true(hx_wait_closed(c, 3000));
                } else if (!hx_decodes(t, b.data, b.len)) {
                    if (r.code != OMTP_EC_PROTOCOL || !r.desc[0])
                        fail_msg("pre-login LOGIN %s: code %d extraData '%s'", vname[v], r.code,
                                 r.desc);
                    hx_ping_ok(c); /* stays open */
                } else {
                    assert_true(r.code == OMTP_EC_CONN_INDICATE ||
                                r.code == OMTP_EC_CONN_USERNAME_OR_PASSWORD);
                    assert_true(r.desc[0]);
                }
            } else {
                if (!r.decoded || r.code != OMTP_EC_CONN_ACCESS_DENIED)
                    fail_msg("pre-login type %d %s: code %d (decoded %d)", t, vname[v], r.code,
                             r.decoded);
                if (r.has_words)
                    assert_non_null(strstr(r.desc, "log in first"));
                assert_true(hx_wait_closed(c, 3000));
            }
            hx_reply_free(&r);
            hx_close(c);
            tars_buf_free(&b);
        }
    }
    hx_conn *c = hx_login(srv, "bob", "pw-bob", DEVICE_IOS);
    hx_ping_ok(c);
    hx_send_ok(c, "alice");
    hx_close(c);
}

/* Packets with the ACK bit set from the client: never answered, no effect. */
static void test_client_acks(void **st)
{
    (void)st;
    for (int online = 0; online < 2; online++) {
        hx_conn *c = online ? hx_login(srv, "alice", "pw-alice", DEVICE_LINUX) : hx_connect(srv);
        for (int i = 0; i < HX_NKNOWN + HX_NUNKNOWN; i++) {
            int t = i < HX_NKNOWN ? hx_known_types[i] : hx_unknown_types[i - HX_NKNOWN];
            for (int v = 0; v < V_N; v++) {
                tars_buf b;
                tars_buf_init(&b);
                variant(t, v, &b);
                assert_true(hx_send(c, t, OMTP_F_ACK, "ack", b.data, b.len));
                tars_buf_free(&b);
            }
        }
        /* a reply to an ACK would arrive before the PING's */
        hx_reply r;
        assert_true(hx_send(c, PT_PING, 0, "after-acks", NULL, 0));
        uint8_t *body;
        size_t n;
        for (;;) {
            assert_int_equal(hx_read_frame(c, 5000, &body, &n), 0);
            hx_parse(body, n, &r);
            free(body);
            if (r.flags & OMTP_F_ACK)
                break;
            hx_reply_free(&r); /* a push is fine */
        }
        assert_string_equal(r.packId, "after-acks");
        hx_reply_free(&r);
        if (online)
            hx_send_ok(c, "bob");
        hx_close(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_online_known_types),   cmocka_unit_test(test_online_logout_variants),
        cmocka_unit_test(test_online_unknown_types), cmocka_unit_test(test_prelogin_every_type),
        cmocka_unit_test(test_client_acks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
