/*
 * test_core_auth.c - login, tokens, devices, logout, ping against a real
 * omtpd over TCP.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static h_server *srv;

static int setup(void **st)
{
    (void)st;
    srv = h_server_start("login_fail_delay_ms = 0\n", NULL);
    h_user_add(srv, "alice", "pw-alice");
    h_user_add(srv, "bob", "pw-bob");
    return 0;
}

static int teardown(void **st)
{
    h_server_stop_free(srv);
    srv = NULL;
    return h_teardown(st);
}

static void login_code(omtp_sync *c, const char *user, const char *pw, int dev, int want)
{
    int code = -1;
    assert_int_equal(omtp_sync_login(c, user, pw, dev, NULL, &code), 0);
    assert_int_equal(code, want);
}

static void test_login_ok(void **st)
{
    (void)st;
    omtp_sync *c = h_connect(srv);
    omtp_LoginReq req;
    omtp_msg_init(&omtp_LoginReq_desc, &req);
    tars_str_set(&req.clientId, "alice");
    tars_str_set(&req.userName, "alice");
    tars_str_set(&req.password, "pw-alice");
    tars_str_set(&req.deviceId, "dev-1");
    req.deviceType = DEVICE_LINUX;
    omtp_LoginResp resp;
    assert_int_equal(
        omtp_sync_call(c, PT_LOGIN, &omtp_LoginReq_desc, &req, &omtp_LoginResp_desc, &resp), 0);
    assert_int_equal(resp.code, 0);
    assert_string_equal(resp.clientId.data, "alice");
    omtp_msg_free(&omtp_LoginResp_desc, &resp);
    omtp_msg_free(&omtp_LoginReq_desc, &req);
    assert_int_equal(omtp_sync_ping(c), 0);
    omtp_sync_close(c);
}

static void test_wrong_password(void **st)
{
    (void)st;
    omtp_sync *c = h_connect(srv);
    login_code(c, "alice", "nope", DEVICE_LINUX, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    /* unknown user: same answer */
    login_code(c, "nobody", "nope", DEVICE_LINUX, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    /* the connection stays usable: a right password now works */
    login_code(c, "alice", "pw-alice", DEVICE_LINUX, 0);
    omtp_sync_close(c);
}

static void test_token(void **st)
{
    (void)st;
    char tok[400];
    h_token(srv, "bob", 300, tok, sizeof(tok));
    assert_true(strncmp(tok, "v1.bob.", 7) == 0);
    omtp_sync *c = h_connect(srv);
    /* a token of bob is not a password of alice */
    login_code(c, "alice", tok, DEVICE_IOS, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    /* tampered */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    login_code(c, "bob", bad, DEVICE_IOS, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    login_code(c, "bob", tok, DEVICE_IOS, 0);
    assert_int_equal(omtp_sync_ping(c), 0);
    omtp_sync_close(c);
}

static void test_expired_token(void **st)
{
    (void)st;
    char tok[400];
    h_token(srv, "bob", -10, tok, sizeof(tok));
    omtp_sync *c = h_connect(srv);
    login_code(c, "bob", tok, DEVICE_IOS, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    omtp_sync_close(c);
}

static void test_missing_fields(void **st)
{
    (void)st;
    /* deviceType 0 */
    omtp_sync *c = h_connect(srv);
    login_code(c, "alice", "pw-alice", 0, OMTP_EC_CONN_INDICATE);
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_sync_close(c);
    /* empty password */
    c = h_connect(srv);
    login_code(c, "alice", "", DEVICE_LINUX, OMTP_EC_CONN_INDICATE);
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_sync_close(c);
    /* empty payload */
    c = h_connect(srv);
    omtp_packet r;
    assert_int_equal(omtp_sync_request(c, PT_LOGIN, 0, NULL, NULL, 0, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(((omtp_LoginResp *)r.body)->code, OMTP_EC_CONN_INDICATE);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_sync_close(c);
}

static void test_packet_before_login(void **st)
{
    (void)st;
    omtp_sync *c = h_connect(srv);
    assert_int_equal(omtp_sync_ping(c), 0); /* PING is allowed */
    omtp_HotSessionReq hs;
    omtp_msg_init(&omtp_HotSessionReq_desc, &hs);
    omtp_packet r;
    assert_int_equal(
        omtp_sync_request(c, PT_HOTSESSION_SYNC, 0, &omtp_HotSessionReq_desc, &hs, 0, &r), 0);
    assert_non_null(r.body);
    assert_int_equal(r.header.type, PT_HOTSESSION_SYNC);
    assert_int_equal(((omtp_HotSessionResp *)r.body)->code, OMTP_EC_CONN_ACCESS_DENIED);
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_HotSessionReq_desc, &hs);
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_sync_close(c);
}

static void test_second_device_kicks_first(void **st)
{
    (void)st;
    omtp_sync *a1 = h_connect(srv);
    int code;
    assert_int_equal(omtp_sync_login(a1, "alice", "pw-alice", DEVICE_MACOS, "mac-1", &code), 0);
    assert_int_equal(code, 0);
    /* another device type does not kick */
    omtp_sync *phone = h_login(srv, "alice", "pw-alice", DEVICE_IOS);
    omtp_sync *a2 = h_connect(srv);
    assert_int_equal(omtp_sync_login(a2, "alice", "pw-alice", DEVICE_MACOS, "mac-2", &code), 0);
    assert_int_equal(code, 0);
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(a1, 3000, &p), 0);
    assert_int_equal(p.header.type, PT_KICKOUT);
    assert_false(p.header.flags & OMTP_F_ACK);
    omtp_KickOutReq *k = p.body;
    assert_non_null(k);
    assert_int_equal(k->deviceType, DEVICE_MACOS);
    assert_string_equal(k->deviceId.data, "mac-2");
    omtp_packet_free(&p);
    assert_int_equal(omtp_sync_wait_closed(a1, 3000), 0);
    assert_int_equal(omtp_sync_ping(a2), 0);
    assert_int_equal(omtp_sync_ping(phone), 0);
    omtp_sync_close(a1);
    omtp_sync_close(a2);
    omtp_sync_close(phone);
}

/* Observers (device type 6, docs/protocol.md "Observers") kick nobody and
 * no login kicks them; the 17th of one user replaces the oldest. */
static void test_observers_share_a_slot(void **st)
{
    (void)st;
    omtp_sync *lin = h_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    omtp_sync *obs[OMTP_OBSERVERS_PER_USER + 1];
    for (int i = 0; i < OMTP_OBSERVERS_PER_USER; i++)
        obs[i] = h_login(srv, "alice", "pw-alice", DEVICE_OBSERVER);
    /* a new linux login replaces the linux one, not the observers */
    omtp_sync *lin2 = h_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    assert_int_equal(omtp_sync_wait_closed(lin, 3000), 0);
    for (int i = 0; i < OMTP_OBSERVERS_PER_USER; i++) {
        assert_int_equal(omtp_sync_ping(obs[i]), 0);
        assert_int_equal((int)omtp_sync_pending_pushes(obs[i]), 0);
    }
    assert_int_equal(omtp_sync_ping(lin2), 0);
    /* one more observer: the oldest goes, told why */
    obs[OMTP_OBSERVERS_PER_USER] = h_login(srv, "alice", "pw-alice", DEVICE_OBSERVER);
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(obs[0], 3000, &p), 0);
    assert_int_equal(p.header.type, PT_KICKOUT);
    omtp_packet_free(&p);
    assert_int_equal(omtp_sync_wait_closed(obs[0], 3000), 0);
    for (int i = 1; i <= OMTP_OBSERVERS_PER_USER; i++)
        assert_int_equal(omtp_sync_ping(obs[i]), 0);
    assert_int_equal(omtp_sync_ping(lin2), 0);
    for (int i = 0; i <= OMTP_OBSERVERS_PER_USER; i++)
        omtp_sync_close(obs[i]);
    omtp_sync_close(lin);
    omtp_sync_close(lin2);
}

static void test_kickout_request(void **st)
{
    (void)st;
    int code;
    omtp_sync *pc = h_connect(srv);
    assert_int_equal(omtp_sync_login(pc, "bob", "pw-bob", DEVICE_WINDOWS, "pc-1", &code), 0);
    assert_int_equal(code, 0);
    omtp_sync *phone = h_connect(srv);
    assert_int_equal(omtp_sync_login(phone, "bob", "pw-bob", DEVICE_ANDROID, "ph-1", &code), 0);
    assert_int_equal(code, 0);
    omtp_KickOutReq k;
    omtp_msg_init(&omtp_KickOutReq_desc, &k);
    k.deviceType = DEVICE_WINDOWS;
    tars_str_set(&k.deviceId, "pc-1");
    omtp_packet r;
    assert_int_equal(omtp_sync_request(phone, PT_KICKOUT, 0, &omtp_KickOutReq_desc, &k, 0, &r), 0);
    assert_true(r.header.flags & OMTP_F_ACK);
    assert_int_equal(r.header.type, PT_KICKOUT);
    omtp_packet_free(&r);
    omtp_msg_free(&omtp_KickOutReq_desc, &k);
    omtp_packet p;
    assert_int_equal(omtp_sync_next_push(pc, 3000, &p), 0);
    assert_int_equal(p.header.type, PT_KICKOUT);
    assert_string_equal(((omtp_KickOutReq *)p.body)->deviceId.data, "ph-1");
    omtp_packet_free(&p);
    assert_int_equal(omtp_sync_wait_closed(pc, 3000), 0);
    assert_int_equal(omtp_sync_ping(phone), 0);
    omtp_sync_close(pc);
    omtp_sync_close(phone);
}

static void test_logout(void **st)
{
    (void)st;
    omtp_sync *c = h_login(srv, "alice", "pw-alice", DEVICE_ANDROID);
    omtp_packet r;
    assert_int_equal(omtp_sync_request(c, PT_LOGOUT, 0, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.header.type, PT_LOGOUT);
    assert_true(r.header.flags & OMTP_F_ACK);
    omtp_packet_free(&r);
    assert_int_equal(omtp_sync_wait_closed(c, 3000), 0);
    omtp_sync_close(c);
}

static void test_ping(void **st)
{
    (void)st;
    omtp_sync *c = h_login(srv, "bob", "pw-bob", DEVICE_LINUX);
    for (int i = 0; i < 50; i++) {
        omtp_packet r;
        assert_int_equal(omtp_sync_request(c, PT_PING, 0, NULL, NULL, 0, &r), 0);
        assert_int_equal(r.header.type, PT_PING);
        assert_true(r.header.flags & OMTP_F_ACK);
        assert_int_equal(r.payload_len, 0);
        omtp_packet_free(&r);
    }
    omtp_sync_close(c);
}

static void test_admin_commands(void **st)
{
    (void)st;
    char out[4096];
    const char *dup[] = {"user", "add", "alice", "--password", "x", NULL};
    assert_int_not_equal(h_admin(srv, NULL, 0, dup), 0);
    const char *add[] = {"user", "add", "carol", "--password", "c1", "--role", "monitor", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, add), 0);
    const char *list[] = {"user", "list", NULL};
    assert_int_equal(h_admin(srv, out, sizeof(out), list), 0);
    assert_non_null(strstr(out, "carol\tmonitor"));
    assert_non_null(strstr(out, "alice\tuser"));
    const char *pw[] = {"user", "passwd", "carol", "--password", "c2", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, pw), 0);
    omtp_sync *c = h_connect(srv);
    login_code(c, "carol", "c1", DEVICE_LINUX, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    login_code(c, "carol", "c2", DEVICE_LINUX, 0);
    omtp_sync_close(c);
    const char *role[] = {"user", "role", "carol", "user", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, role), 0);
    const char *del[] = {"user", "del", "carol", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, del), 0);
    assert_int_not_equal(h_admin(srv, NULL, 0, del), 0);
    c = h_connect(srv);
    login_code(c, "carol", "c2", DEVICE_LINUX, OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    omtp_sync_close(c);
    const char *bad[] = {"user", "frobnicate", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, bad), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_ok),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_expired_token),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_packet_before_login),
        cmocka_unit_test(test_second_device_kicks_first),
        cmocka_unit_test(test_observers_share_a_slot),
        cmocka_unit_test(test_kickout_request),
        cmocka_unit_test(test_logout),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_admin_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
