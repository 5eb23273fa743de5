/*
 * test_http_browse.c - the backend's read endpoints against a real omtpd:
 * GET /v1/sessions/{id}/messages (history newest first, paged by before),
 * GET /v1/users (prefix, after cursor, stable byte order) and
 * GET /v1/users/{id}/sessions (hot sessions with unread counts and the last
 * message). Messages are sent over TCP and read back over HTTP; every bad
 * argument (limit 0, huge, negative, not a number; an unknown session or
 * user; ids outside the alphabet) gets its 4xx and error code.
 */
#include <unistd.h>

#include <jansson.h>

#include "chat_common.h"
#include "h_http.h"

#define KEY "browsekey"

static chat_srv *S;
static char Dir[64];
static int Hport;
static int64_t Seq[5]; /* alice -> bob, "m0".."m4" */

static int setup(void **state)
{
    (void)state;
    snprintf(Dir, sizeof Dir, "/tmp/omtp-browse-XXXXXX");
    assert_non_null(mkdtemp(Dir));
    char port_path[128];
    snprintf(port_path, sizeof port_path, "%s/http.port", Dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", port_path, NULL};
    S = chat_srv_start("login_fail_delay_ms = 0\napi_keys = " KEY, args);
    Hport = h_http_port(port_path);
    const char *users[] = {"alice", "bob", "carol", "u1", "u2", "u3", "u4", "u5", "v1"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        chat_srv_user(S, users[i], 0);
    omtp_sync *a = chat_login(chat_srv_port(S), "alice", DEVICE_LINUX);
    for (int i = 0; i < 5; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(chat_send(a, "bob", text, &Seq[i]), 0);
    }
    omtp_sync_close(a);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    chat_srv_stop(S);
    char path[128];
    snprintf(path, sizeof path, "%s/http.port", Dir);
    unlink(path);
    rmdir(Dir);
    return 0;
}

/* GET path with the key; the status, the parsed body into *j (NULL if it
 * is not JSON). */
static long get(const char *path, json_t **j)
{
    static char out[65536];
    long st = h_http_call(Hport, "GET", path, KEY, NULL, out, sizeof out);
    if (j)
        *j = json_loads(out, 0, NULL);
    return st;
}

/* The error code of a refusal. */
static void expect_error(const char *path, long status, const char *code)
{
    json_t *j = NULL;
    long st = get(path, &j);
    if (st != status)
        print_error("GET %s: %ld, wanted %ld\n", path, st, status);
    assert_int_equal(st, status);
    assert_non_null(j);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_non_null(c);
    if (strcmp(c, code))
        print_error("GET %s: code %s, wanted %s\n", path, c, code);
    assert_string_equal(c, code);
    json_decref(j);
}

static void test_history_pages(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(get("/v1/sessions/SC_alice_bob/messages", &j), 200);
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 5);
    for (int i = 0; i < 5; i++) { /* newest first */
        json_t *m = json_array_get(msgs, (size_t)i);
        char text[16];
        snprintf(text, sizeof text, "m%d", 4 - i);
        assert_string_equal(json_string_value(json_object_get(m, "content")), text);
        assert_int_equal(json_integer_value(json_object_get(m, "seqId")), Seq[4 - i]);
        assert_string_equal(json_string_value(json_object_get(m, "from")), "alice");
        assert_string_equal(json_string_value(json_object_get(m, "sessionId")), "SC_alice_bob");
    }
    assert_true(json_is_null(json_object_get(j, "next")));
    json_decref(j);

    /* pages of two, following next, see every message once */
    char path[256] = "/v1/sessions/SC_alice_bob/messages?limit=2";
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        assert_int_equal(get(path, &j), 200);
        msgs = json_object_get(j, "messages");
        for (size_t i = 0; i < json_array_size(msgs); i++, seen++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(msgs, i), "seqId")),
                             Seq[4 - seen]);
        json_t *next = json_object_get(j, "next");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        snprintf(path, sizeof path, "/v1/sessions/SC_alice_bob/messages?limit=2&before=%lld",
                 (long long)json_integer_value(next));
        json_decref(j);
    }
    assert_int_equal(seen, 5);

    /* nothing is older than the first message */
    snprintf(path, sizeof path, "/v1/sessions/SC_alice_bob/messages?before=%lld",
             (long long)Seq[0]);
    assert_int_equal(get(path, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 0);
    json_decref(j);
}

static void test_history_refusals(void **state)
{
    (void)state;
    const char *p = "/v1/sessions/SC_alice_bob/messages";
    char path[700];
    const char *bad[] = {"limit=0",   "limit=201", "limit=-1",  "limit=99999999999999999999",
                         "limit=abc", "before=0",  "before=-5", "before=x1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(path, sizeof path, "%s?%s", p, bad[i]);
        expect_error(path, 400, "invalid_field");
    }
    /* a session nobody wrote in, a group that does not exist */
    expect_error("/v1/sessions/SC_alice_carol/messages", 404, "unknown_session");
    expect_error("/v1/sessions/GC_nothere/messages", 404, "unknown_session");
    /* ids the protocol cannot spell */
    expect_error("/v1/sessions/SC_alice/messages", 400, "invalid_id");
    expect_error("/v1/sessions/SC_al!ce_bob/messages", 400, "invalid_id");
    expect_error("/v1/sessions/SC_a_b_c/messages", 400, "invalid_id");
    expect_error("/v1/sessions/XY_alice_bob/messages", 400, "invalid_id");
    expect_error("/v1/sessions/SC_al%20ice_bob/messages", 400, "invalid_id");
    /* the longest session id the protocol spells is routed, not cut */
    char id[130];
    memset(id, 'a', 128);
    id[128] = 0;
    snprintf(path, sizeof path, "/v1/sessions/SC_%s_%s/messages", id, id);
    expect_error(path, 404, "unknown_session");
    snprintf(path, sizeof path, "/v1/sessions/SC_%s_%sa/messages", id, id);
    expect_error(path, 400, "invalid_id");
    /* the key is needed */
    char out[512];
    assert_int_equal(h_http_call(Hport, "GET", p, NULL, NULL, out, sizeof out), 401);
}

static void test_users_pages(void **state)
{
    (void)state;
    json_t *j = NULL;
    const char *want[] = {"u1", "u2", "u3", "u4", "u5"};
    char path[256] = "/v1/users?prefix=u&limit=2";
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        assert_int_equal(get(path, &j), 200);
        json_t *users = json_object_get(j, "users");
        for (size_t i = 0; i < json_array_size(users); i++, seen++) {
            assert_true(seen < 5);
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(users, i), "userId")), want[seen]);
        }
        json_t *next = json_object_get(j, "next");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        assert_int_equal(json_array_size(users), 2);
        snprintf(path, sizeof path, "/v1/users?prefix=u&limit=2&after=%s", json_string_value(next));
        json_decref(j);
    }
    assert_int_equal(seen, 5);

    /* every user, byte order, with the profile fields */
    assert_int_equal(get("/v1/users", &j), 200);
    json_t *users = json_object_get(j, "users");
    assert_int_equal(json_array_size(users), 9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(users, 0), "userId")),
                        "alice");
    assert_string_equal(json_string_value(json_object_get(json_array_get(users, 8), "userId")),
                        "v1");
    assert_true(json_is_true(json_object_get(json_array_get(users, 0), "passwordLogin")));
    assert_true(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    assert_int_equal(get("/v1/users?after=u5", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
    json_decref(j);
    assert_int_equal(get("/v1/users?prefix=zz", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "users")), 0);
    json_decref(j);

    expect_error("/v1/users?limit=0", 400, "invalid_field");
    expect_error("/v1/users?limit=1001", 400, "invalid_field");
    expect_error("/v1/users?limit=-3", 400, "invalid_field");
    expect_error("/v1/users?prefix=a_b", 400, "invalid_field");
    expect_error("/v1/users?after=%25%27%3B", 400, "invalid_field");
}

static void test_user_sessions(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(get("/v1/users/bob/sessions", &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "userId")), "bob");
    json_t *ss = json_object_get(j, "sessions");
    assert_int_equal(json_array_size(ss), 1);
    json_t *h = json_array_get(ss, 0);
    assert_string_equal(json_string_value(json_object_get(h, "sessionId")), "SC_alice_bob");
    assert_int_equal(json_integer_value(json_object_get(h, "unreadCount")), 5);
    json_t *last = json_object_get(h, "lastMsg");
    assert_string_equal(json_string_value(json_object_get(last, "content")), "m4");
    assert_int_equal(json_integer_value(json_object_get(last, "seqId")), Seq[4]);
    assert_true(json_is_null(json_object_get(j, "next")));
    json_decref(j);

    /* the sender has read its own messages */
    assert_int_equal(get("/v1/users/alice/sessions", &j), 200);
    h = json_array_get(json_object_get(j, "sessions"), 0);
    assert_int_equal(json_integer_value(json_object_get(h, "unreadCount")), 0);
    json_decref(j);
    /* paging by since: a full page of one says where to go on */
    assert_int_equal(get("/v1/users/bob/sessions?limit=1", &j), 200);
    assert_true(json_is_integer(json_object_get(j, "next")));
    json_decref(j);

    assert_int_equal(get("/v1/users/carol/sessions", &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "sessions")), 0);
    json_decref(j);
    expect_error("/v1/users/nobody/sessions", 404, "unknown_user");
    expect_error("/v1/users/a_b/sessions", 400, "invalid_id");
    expect_error("/v1/users/bob/sessions?limit=0", 400, "invalid_field");
    expect_error("/v1/users/bob/sessions?limit=100000", 400, "invalid_field");
    expect_error("/v1/users/bob/sessions?since=-1", 400, "invalid_field");
}

/* Runs last: it writes in SC_alice_carol, which the tests above expect empty. */
static void test_history_revoked_deleted(void **state)
{
    (void)state;
    omtp_sync *a = chat_login(chat_srv_port(S), "alice", DEVICE_LINUX);
    int64_t s[3];
    assert_int_equal(chat_send(a, "carol", "keep", &s[0]), 0);
    assert_int_equal(chat_send(a, "carol", "take back", &s[1]), 0);
    assert_int_equal(chat_send(a, "carol", "gone", &s[2]), 0);
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_ctrl(a, MC_REVOKE, "SC_alice_carol", s[1], NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    assert_int_equal(omtp_sync_ctrl(a, MC_DELETE, "SC_alice_carol", s[2], NULL, NULL, &ce), 0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    omtp_sync_close(a);
    json_t *j = NULL;
    assert_int_equal(get("/v1/sessions/SC_alice_carol/messages", &j), 200);
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 2); /* the deleted one is left out */
    json_t *rv = json_array_get(msgs, 0);
    assert_int_equal(json_integer_value(json_object_get(rv, "seqId")), s[1]);
    assert_int_equal(json_integer_value(json_object_get(rv, "status")), MC_REVOKE);
    assert_string_equal(json_string_value(json_object_get(rv, "content")), "");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "keep");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_pages),
        cmocka_unit_test(test_history_refusals),
        cmocka_unit_test(test_users_pages),
        cmocka_unit_test(test_user_sessions),
        cmocka_unit_test(test_history_revoked_deleted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
