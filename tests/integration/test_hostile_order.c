/*
 * test_hostile_order.c - out-of-order input and hostile transforms against a
 * real omtpd:
 *   - LOGIN twice on one connection (pipelined, and after success);
 *   - packets after LOGOUT (in the same write): not served, nothing stored;
 *   - PT_SYNC_DATA_CMD answers never asked for;
 *   - a second login (and a KICKOUT from another device) replacing a
 *     connection that has 300 sends in flight with the store: every MsgAck
 *     the first connection got names a message that is in history, and
 *     resending the rest (same packIds) stores each message exactly once;
 *   - transforms: bad zlib, trailing bytes after the zlib stream, a zlib bomb,
 *     a bad AES tag, a too-short AES payload, every unknown COMPRESS/CRYPTO
 *     value, CRYPTO to a server without a key, before and after login.
 */
#include "hostile_common.h"

static h_server *srv;   /* with an AES key */
static h_server *nokey; /* without */

static int setup(void **st)
{
    (void)st;
    /* the pre-login zlib bomb (64 KiB) passes the 16 KiB pre-login frame
     * limit (tests/attack covers that limit): lift it to reach the inflater */
    srv = h_server_start("aes_key_hex = " HX_AES_HEX "\n"
                         "max_frame = 1048576\n"
                         "max_prelogin_frame = 1048576\n"
                         "login_fail_delay_ms = 0\n"
                         /* floods on purpose: no request rate limit, no
                          * per-account backoff for the bad logins */
                         "req_rate = 0\n"
                         "login_account_delay_ms = 0\n"
                         "log_level = warn\n",
                         NULL);
    const char *args[] = {"user", "bulk", "o", "4", "--password", "pw", "--cost", "4", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, args), 0);
    nokey = h_server_start("login_fail_delay_ms = 0\nlog_level = warn\n"
                           "max_prelogin_frame = 1048576\n"
                           /* floods on purpose (see above) */
                           "req_rate = 0\nlogin_account_delay_ms = 0\n",
                           NULL);
    assert_int_equal(h_admin(nokey, NULL, 0, args), 0);
    return 0;
}

static int teardown(void **st)
{
    h_server *all[2] = {srv, nokey};
    for (int i = 0; i < 2; i++)
        if (all[i]) {
            assert_true(h_server_alive(all[i]));
            assert_int_equal(h_server_stop(all[i]), 0);
            h_server_free(all[i]);
        }
    srv = nokey = NULL;
    return h_teardown(st);
}

static void login_payload(tars_buf *b, const char *user, int dev)
{
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, user);
    tars_str_set(&lr.userName, user);
    tars_str_set(&lr.password, "pw");
    tars_str_set(&lr.deviceId, "d");
    lr.deviceType = dev;
    hx_payload(b, &omtp_LoginReq_desc, &lr);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
}

static void msg_payload(tars_buf *b, const char *to, const char *content)
{
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    hx_payload(b, &omtp_MsgReq_desc, &m);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
}

static void test_login_twice(void **st)
{
    (void)st;
    hx_conn *c = hx_connect(srv);
    tars_buf p, out;
    tars_buf_init(&p);
    tars_buf_init(&out);
    login_payload(&p, "o0", DEVICE_IOS);
    h_raw_frame(&out, PT_LOGIN, 0, "L1", p.data, p.len);
    h_raw_frame(&out, PT_LOGIN, 0, "L2", p.data, p.len); /* while the first is checked */
    assert_true(hx_write(c, out.data, out.len));
    hx_reply r;
    assert_int_equal(hx_wait(c, "L2", 5000, &r), 0);
    assert_int_equal(r.code, OMTP_EC_CONN_ACCESS_DENIED);
    assert_non_null(strstr(r.desc, "in progress"));
    hx_reply_free(&r);
    assert_int_equal(hx_wait(c, "L1", 5000, &r), 0);
    assert_int_equal(r.code, 0);
    hx_reply_free(&r);
    /* and again once logged in: refused, connection kept */
    assert_int_equal(hx_call(c, PT_LOGIN, 0, "L3", p.data, p.len, &r), 0);
    assert_int_equal(r.code, OMTP_EC_CONN_ACCESS_DENIED);
    assert_non_null(strstr(r.desc, "already logged in"));
    hx_reply_free(&r);
    hx_ping_ok(c);
    hx_send_ok(c, "o1");
    tars_buf_free(&p);
    tars_buf_free(&out);
    hx_close(c);
}

static void test_after_logout(void **st)
{
    (void)st;
    hx_conn *c = hx_login(srv, "o0", "pw", DEVICE_ANDROID);
    tars_buf p, out;
    tars_buf_init(&p);
    tars_buf_init(&out);
    h_raw_frame(&out, PT_LOGOUT, 0, "bye", NULL, 0);
    msg_payload(&p, "o1", "after logout");
    h_raw_frame(&out, PT_MSG_SINGLE_CHAT, 0, "late-msg", p.data, p.len);
    h_raw_frame(&out, PT_PING, 0, "late-ping", NULL, 0);
    assert_true(hx_write(c, out.data, out.len));
    hx_reply r;
    assert_int_equal(hx_wait(c, "bye", 5000, &r), 0);
    hx_reply_free(&r);
    assert_int_equal(hx_wait(c, "late-msg", 3000, &r), OMTP_ECLOSED);
    hx_close(c);
    /* the late message was not stored */
    omtp_sync *o1 = h_login(srv, "o1", "pw", DEVICE_LINUX);
    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(o1, "SC_o0_o1", 0, 200, &h), 0);
    for (uint32_t i = 0; i < h.msgs.n; i++)
        assert_false(tars_str_eq(&h.msgs.items[i].header.packId, "late-msg"));
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    omtp_sync_close(o1);
    tars_buf_free(&p);
    tars_buf_free(&out);
}

static void test_unasked_sync_answers(void **st)
{
    (void)st;
    hx_conn *c = hx_login(srv, "o2", "pw", DEVICE_IOS);
    omtp_CommonErrorCode e = {0, {NULL, 0}};
    tars_str_set(&e.desc, "ok");
    tars_buf p;
    tars_buf_init(&p);
    hx_payload(&p, &omtp_CommonErrorCode_desc, &e);
    for (int i = 0; i < 50; i++)
        assert_true(hx_send(c, PT_SYNC_DATA_CMD, OMTP_F_ACK, "never-asked", p.data, p.len));
    assert_true(hx_send(c, PT_SYNC_DATA_CMD, OMTP_F_ACK, "junk", "\xff\x01", 2));
    hx_ping_ok(c);
    hx_send_ok(c, "o3");
    omtp_msg_free(&omtp_CommonErrorCode_desc, &e);
    tars_buf_free(&p);
    hx_close(c);
}

/* Reads a's frames: MsgAcks of "<from>-inflight-<x>-<k>" into acked_seq[k],
 * a KICKOUT push into *kicked; until the close, or the first ack. */
static void read_acks(hx_conn *a, const char *from, int64_t *acked_seq, int *nacked, bool *kicked,
                      bool first_only)
{
    enum { N = 300 };
    for (;;) {
        uint8_t *body;
        size_t n;
        int rc = hx_read_frame(a, 10000, &body, &n);
        if (rc == OMTP_ECLOSED)
            break;
        assert_int_equal(rc, 0);
        hx_reply r;
        hx_parse(body, n, &r);
        free(body);
        if (r.type == PT_KICKOUT && !(r.flags & OMTP_F_ACK))
            *kicked = true;
        int k;
        if (r.type == PT_MSG_SINGLE_CHAT && (r.flags & OMTP_F_ACK) &&
            sscanf(r.packId + strlen(from) + 10, "%*d-%d", &k) == 1 && k >= 0 && k < N) {
            omtp_MsgAck ack;
            tars_err e;
            assert_int_equal(tars_decode(&omtp_MsgAck_desc, &ack, r.payload, r.payload_len, &e), 0);
            assert_int_equal(ack.code, 0);
            acked_seq[k] = ack.seqId;
            (*nacked)++;
            omtp_msg_free(&omtp_MsgAck_desc, &ack);
        }
        hx_reply_free(&r);
        if (first_only && *nacked)
            break;
    }
}

/* `n` sends pipelined on a connection that is then replaced; checks that
 * every ack names a stored message and that resending stores each once. */
static void replace_in_flight(bool by_kickout)
{
    enum { N = 300 };
    const char *from = by_kickout ? "o2" : "o0";
    const char *to = "o3";
    hx_conn *a = hx_login(srv, from, "pw", DEVICE_WINDOWS);
    /* the kicking device logs in first: its KICKOUT is then served on the
     * loop at once, while a's sends are still queued for the store */
    hx_conn *b = by_kickout ? hx_login(srv, from, "pw", DEVICE_MACOS) : NULL;
    tars_buf p, out;
    tars_buf_init(&p);
    tars_buf_init(&out);
    char id[64];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "%s-inflight-%d-%d", from, by_kickout, i);
        msg_payload(&p, to, id);
        h_raw_frame(&out, PT_MSG_SINGLE_CHAT, 0, id, p.data, p.len);
    }
    assert_true(hx_write(a, out.data, out.len));
    int64_t acked_seq[N];
    int nacked = 0;
    bool kicked = false;
    for (int i = 0; i < N; i++)
        acked_seq[i] = 0;
    if (by_kickout) /* the first commit is done, the rest is in flight */
        read_acks(a, from, acked_seq, &nacked, &kicked, true);
    /* replace it at once, while its sends are with the store */
    if (by_kickout) {
        omtp_KickOutReq k = {DEVICE_WINDOWS, {NULL, 0}};
        hx_reply r;
        assert_int_equal(hx_call_struct(b, PT_KICKOUT, "kick", &omtp_KickOutReq_desc, &k, &r), 0);
        hx_reply_free(&r);
        omtp_msg_free(&omtp_KickOutReq_desc, &k);
    } else {
        b = hx_login(srv, from, "pw", DEVICE_WINDOWS);
    }
    read_acks(a, from, acked_seq, &nacked, &kicked, false);
    assert_true(kicked);
    hx_close(a);
    /* resend everything from b with the same packIds: the acked ones must
     * come back with their original seqIds (dedup: they are stored) */
    int stored_before = 0;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "%s-inflight-%d-%d", from, by_kickout, i);
        msg_payload(&p, to, id);
        hx_reply r;
        assert_int_equal(hx_call(b, PT_MSG_SINGLE_CHAT, OMTP_F_DUP, id, p.data, p.len, &r), 0);
        omtp_MsgAck ack;
        tars_err e;
        assert_int_equal(tars_decode(&omtp_MsgAck_desc, &ack, r.payload, r.payload_len, &e), 0);
        assert_int_equal(ack.code, 0);
        if (acked_seq[i]) {
            assert_int_equal(ack.seqId, acked_seq[i]);
            stored_before++;
        }
        omtp_msg_free(&omtp_MsgAck_desc, &ack);
        hx_reply_free(&r);
    }
    assert_int_equal(stored_before, nacked);
    fprintf(stderr, "replace_in_flight(%s): %d of %d acked before the close\n",
            by_kickout ? "kickout" : "login", nacked, N);
    /* exactly N messages with these packIds in history, each once */
    omtp_sync *rd = h_login(srv, to, "pw", DEVICE_IOS);
    char sid[64];
    snprintf(sid, sizeof(sid), "SC_%s_%s", from, to);
    int seen[N] = {0};
    int64_t seq = 0;
    for (;;) {
        omtp_HistoryMsgPullResp h;
        assert_int_equal(omtp_sync_history(rd, sid, seq, 200, &h), 0);
        if (h.msgs.n == 0) {
            omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
            break;
        }
        for (uint32_t i = 0; i < h.msgs.n; i++) {
            int k;
            const char *pid = h.msgs.items[i].header.packId.data;
            char pre[64];
            snprintf(pre, sizeof(pre), "%s-inflight-%d-", from, by_kickout);
            if (strncmp(pid, pre, strlen(pre)) == 0 && sscanf(pid + strlen(pre), "%d", &k) == 1)
                seen[k]++;
            omtp_MsgReq m;
            tars_err e;
            assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, h.msgs.items[i].payload.data,
                                         h.msgs.items[i].payload.len, &e),
                             0);
            seq = m.seqId - 1;
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
        if (seq <= 0)
            break;
    }
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            fail_msg("message %d stored %d times", i, seen[i]);
    omtp_sync_close(rd);
    hx_close(b);
    tars_buf_free(&p);
    tars_buf_free(&out);
}

static void test_relogin_with_requests_in_flight(void **st)
{
    (void)st;
    replace_in_flight(false);
}

static void test_kickout_with_requests_in_flight(void **st)
{
    (void)st;
    replace_in_flight(true);
}

/* One transformed request: the reply must be PROTOCOL with words, in the clear. */
static void bad_transform(hx_conn *c, int type, int64_t flags, const uint8_t *pl, size_t n,
                          const char *what)
{
    hx_reply r;
    int rc = hx_call(c, type, flags, what, pl, n, &r);
    if (rc)
        fail_msg("%s (type %d): no reply (%s)", what, type, omtp_strerror(rc));
    assert_int_equal(omtp_flags_crypto(r.flags), 0);
    assert_int_equal(omtp_flags_compress(r.flags), 0);
    if (type == PT_PING || type == PT_LOGOUT) {
        /* no reply struct: a CommonErrorCode payload */
        assert_true(r.payload_len > 0);
    }
    if (!r.decoded || r.code != OMTP_EC_PROTOCOL || (r.has_words && !r.desc[0]))
        fail_msg("%s (type %d): code %d desc '%s'", what, type, r.code, r.desc);
    hx_reply_free(&r);
}

static void transforms_on(hx_conn *c, bool logged_in, bool server_has_key)
{
    omtp_crypto_key k;
    omtp_crypto_key_from_hex(&k, HX_AES_HEX);
    tars_buf valid, z, out;
    tars_buf_init(&valid);
    tars_buf_init(&z);
    tars_buf_init(&out);
    int types[] = {
        PT_PING,        PT_LOGIN, PT_MSG_SINGLE_CHAT, PT_HISTORY_MSG_PULL, PT_GROUPCHAT_CREATE,
        PT_USERINFO_GET};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        int type = types[t];
        if (!logged_in && type != PT_PING && type != PT_LOGIN)
            continue;
        hx_valid_payload(type, &valid);
        /* bad zlib */
        const uint8_t junk[] = {0x78, 0x9c, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x11};
        bad_transform(c, type, omtp_flags_with(0, 1, 0), junk, sizeof(junk), "bad zlib");
        /* trailing bytes after a good stream */
        tars_buf_reset(&z);
        assert_int_equal(
            omtp_payload_wrap(omtp_flags_with(0, 1, 0), valid.data, valid.len, NULL, &z), 0);
        tars_buf_put(&z, "TRAIL", 5);
        bad_transform(c, type, omtp_flags_with(0, 1, 0), z.data, z.len, "zlib trailing");
        /* unknown transform values */
        for (int v = 2; v < 8; v++) {
            bad_transform(c, type, omtp_flags_with(0, v, 0), valid.data, valid.len, "compress=v");
            bad_transform(c, type, omtp_flags_with(0, 0, v), valid.data, valid.len, "crypto=v");
        }
        /* AES: bad tag, too short, (no key) */
        uint8_t fake[64];
        for (size_t i = 0; i < sizeof(fake); i++)
            fake[i] = (uint8_t)(i * 7);
        bad_transform(c, type, omtp_flags_with(0, 0, 1), fake, sizeof(fake), "aes bad tag");
        bad_transform(c, type, omtp_flags_with(0, 0, 1), fake, 27, "aes short");
        bad_transform(c, type, omtp_flags_with(0, 1, 1), fake, sizeof(fake), "aes+zlib bad tag");
        if (server_has_key) {
            /* a good AES payload with one bit flipped */
            tars_buf_reset(&z);
            assert_int_equal(
                omtp_payload_wrap(omtp_flags_with(0, 0, 1), valid.data, valid.len, &k, &z), 0);
            z.data[z.len / 2] ^= 0x10;
            bad_transform(c, type, omtp_flags_with(0, 0, 1), z.data, z.len, "aes flipped");
        } else {
            tars_buf_reset(&z);
            assert_int_equal(
                omtp_payload_wrap(omtp_flags_with(0, 0, 1), valid.data, valid.len, &k, &z), 0);
            bad_transform(c, type, omtp_flags_with(0, 0, 1), z.data, z.len, "aes without key");
        }
    }
    /* a zlib bomb: 64 MiB of zeros (about 64 KiB compressed), cap 1 MiB */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    tars_buf_reset(&z);
    assert_int_equal(omtp_payload_wrap(omtp_flags_with(0, 1, 0), zeros, big, NULL, &z), 0);
    free(zeros);
    assert_true(z.len < 1000000);
    int64_t t0 = h_now_ms();
    bad_transform(c, logged_in ? PT_USERINFO_GET : PT_LOGIN, omtp_flags_with(0, 1, 0), z.data,
                  z.len, "zlib bomb");
    assert_true(h_now_ms() - t0 < 5000);
    hx_ping_ok(c);
    tars_buf_free(&valid);
    tars_buf_free(&z);
    tars_buf_free(&out);
}

static void test_transforms(void **st)
{
    (void)st;
    h_server *both[2] = {srv, nokey};
    for (int s = 0; s < 2; s++) {
        hx_conn *pre = hx_connect(both[s]);
        transforms_on(pre, false, s == 0);
        /* still able to log in on that very connection */
        assert_int_equal(hx_login_code(pre, "o1", "pw", DEVICE_LINUX), 0);
        transforms_on(pre, true, s == 0);
        hx_send_ok(pre, "o2");
        hx_close(pre);
    }
    /* compression works on the server without a key */
    omtp_sync *c;
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", nokey->port, 0), 0);
    omtp_sync_set_transform(c, 1, 0, NULL);
    int code = -1;
    assert_int_equal(omtp_sync_login(c, "o3", "pw", DEVICE_IOS, NULL, &code), 0);
    assert_int_equal(code, 0);
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(c, "o1", "compressed, no key", &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_sync_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_twice),
        cmocka_unit_test(test_after_logout),
        cmocka_unit_test(test_unasked_sync_answers),
        cmocka_unit_test(test_relogin_with_requests_in_flight),
        cmocka_unit_test(test_kickout_with_requests_in_flight),
        cmocka_unit_test(test_transforms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
