/*
 * test_http_api.c - the HTTP API against a real omtpd, effects checked over
 * OMTP.
 *
 * Each test starts omtpd (tests/support/harness.h) with the HTTP listener on
 * port 0, two API keys and a 4 KiB body cap, drives the API with libcurl,
 * and checks what it did with connected OMTP clients (omtp_sync.h): the
 * notification arrives as a push and shows as unread in hot sessions, the
 * sync command arrives, messages are in history, group changes push
 * SYNC_DATA_CMD 3 and change who may send. Every error path of the API is
 * checked for its status and JSON error code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "client/omtp_sync.h"
#include "harness.h"

#define KEY1 "test-key-one"
#define KEY2 "test-key-two"

typedef struct api {
    h_server *s;
    int port;
    char dir[64];
    char port_path[128];
} api;

static api A; /* the current test's server */

/* ---------------------------------------------------------------- setup */

static void api_start(void)
{
    memset(&A, 0, sizeof(A));
    snprintf(A.dir, sizeof(A.dir), "/tmp/omtp-http-XXXXXX");
    assert_non_null(mkdtemp(A.dir));
    snprintf(A.port_path, sizeof(A.port_path), "%s/http.port", A.dir);
    const char *args[] = {"--http-listen",   "127.0.0.1:0", "--http-port-file",
                          A.port_path,       "--api-keys",  KEY1 "," KEY2,
                          "--http-max-body", "4096",        NULL};
    A.s = h_server_start(NULL, args);
    /* the HTTP port file is written at start-up, next to the OMTP one */
    int64_t deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline) {
        FILE *f = fopen(A.port_path, "r");
        if (f) {
            int ok = fscanf(f, "%d", &A.port);
            fclose(f);
            if (ok == 1 && A.port > 0)
                break;
        }
        usleep(10000);
    }
    assert_true(A.port > 0);
}

static int api_teardown(void **state)
{
    h_teardown(state);
    unlink(A.port_path);
    rmdir(A.dir);
    return 0;
}

static void api_stop(void)
{
    assert_int_equal(h_server_stop(A.s), 0);
    h_server_free(A.s);
    A.s = NULL;
}

/* ----------------------------------------------------------- HTTP client */

typedef struct resp {
    long status;
    char *body;
    size_t len;
    json_t *json; /* parsed body when it is JSON */
    char allow[128];
    char ctype[128];
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    assert_non_null(nb);
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0)
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
    if (len > 14 && strncasecmp(p, "Content-Type: ", 14) == 0)
        snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(len - 16), p + 14);
    return len;
}

static void resp_free(resp *r)
{
    free(r->body);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* One request. key NULL = no Authorization header. extra_hdr may be NULL. */
static resp http_do(const char *method, const char *path, const char *key, const char *body,
                    const char *extra_hdr)
{
    resp r;
    memset(&r, 0, sizeof(r));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512], auth[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", A.port, path);
    struct curl_slist *h = NULL;
    if (key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (extra_hdr)
        h = curl_slist_append(h, extra_hdr);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body)
        r.json = json_loads(r.body, 0, NULL);
    return r;
}

/* A request with KEY1 and a printf-formatted JSON body (NULL = none). */
static resp api_call(const char *method, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static resp api_call(const char *method, const char *path, const char *fmt, ...)
{
    char body[4096];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
    }
    return http_do(method, path, KEY1, fmt ? body : NULL, NULL);
}

/* Asserts the status; on a mismatch shows the body. */
static void expect_status(const resp *r, long status)
{
    if (r->status != status)
        fail_msg("HTTP %ld, expected %ld: %s", r->status, status, r->body ? r->body : "");
}

/* Asserts an error reply {"error":{"code": code, "message": non-empty}}. */
static void expect_error(resp *r, long status, const char *code)
{
    expect_status(r, status);
    assert_non_null(r->json);
    json_t *e = json_object_get(r->json, "error");
    assert_non_null(e);
    const char *got = json_string_value(json_object_get(e, "code"));
    if (!got || strcmp(got, code) != 0)
        fail_msg("error code %s, expected %s (%s)", got ? got : "(none)", code, r->body);
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    assert_string_equal(r->ctype, "application/json");
    resp_free(r);
}

static const char *jstr(const resp *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    if (!s)
        fail_msg("no string \"%s\" in %s", key, r->body ? r->body : "");
    return s;
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Creates a user with password "pw-<id>" through the API. */
static void user_create(const char *id)
{
    resp r = api_call("POST", "/v1/users", "{\"userId\":\"%s\",\"password\":\"pw-%s\"}", id, id);
    expect_status(&r, 201);
    assert_string_equal(jstr(&r, "userId"), id);
    resp_free(&r);
}

/* ------------------------------------------------------------ OMTP side */

static omtp_sync *login_pw(const char *user, const char *password, int dev, int *code)
{
    omtp_sync *c = h_connect(A.s);
    assert_int_equal(omtp_sync_login(c, user, password, dev, NULL, code), 0);
    return c;
}

static omtp_sync *login(const char *user, int dev)
{
    char pw[160];
    int code = -1;
    snprintf(pw, sizeof(pw), "pw-%s", user);
    omtp_sync *c = login_pw(user, pw, dev, &code);
    assert_int_equal(code, OMTP_EC_SUCCESS);
    return c;
}

/* Login result code for user/password on a fresh connection. */
static int login_code(const char *user, const char *password)
{
    int code = -1; /* on its own device type: it must not replace the test's devices */
    omtp_sync *c = login_pw(user, password, DEVICE_WINDOWS, &code);
    omtp_sync_close(c);
    return code;
}

static int next_push(omtp_sync *c, int type, omtp_packet *p)
{
    for (;;) {
        int rc = omtp_sync_next_push(c, 5000, p);
        if (rc != 0)
            return rc;
        if (p->header.type == type)
            return 0;
        omtp_packet_free(p);
    }
}

/* Pushes of `type` that reached c before the reply to a PING sent now. */
static int count_pushes(omtp_sync *c, int type)
{
    omtp_packet p;
    int n = 0;
    assert_int_equal(omtp_sync_ping(c), 0);
    while (omtp_sync_next_push(c, 0, &p) == 0) {
        n += p.header.type == type;
        omtp_packet_free(&p);
    }
    return n;
}

/* The hot-session item of sid (unread count), -1 if absent. */
static int unread_of(omtp_sync *c, const char *sid)
{
    omtp_HotSessionResp hs;
    assert_int_equal(omtp_sync_hot_sessions(c, 0, &hs), 0);
    assert_int_equal(hs.code, 0);
    int unread = -1;
    for (uint32_t i = 0; i < hs.sessions.n; i++)
        if (strcmp(hs.sessions.items[i].sessionId.data, sid) == 0)
            unread = hs.sessions.items[i].unreadCount;
    omtp_msg_free(&omtp_HotSessionResp_desc, &hs);
    return unread;
}

/* Whether history of sid holds a message with this content. */
static bool in_history(omtp_sync *c, const char *sid, const char *content, int64_t seq)
{
    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(c, sid, 0, 50, &h), 0);
    assert_int_equal(h.errorCode.code, 0);
    bool found = false;
    for (uint32_t i = 0; i < h.msgs.n; i++) {
        omtp_MsgReq m;
        assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, h.msgs.items[i].payload.data,
                                     h.msgs.items[i].payload.len, NULL),
                         0);
        if (strcmp(m.content.data, content) == 0 && m.seqId == seq)
            found = true;
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    return found;
}

/* ------------------------------------------------------------ metrics */

/* The value of one sample line ("name{labels}") of /metrics, -1 if absent. */
static double metric(const char *sample)
{
    resp r = http_do("GET", "/metrics", NULL, NULL, NULL);
    expect_status(&r, 200);
    double v = -1;
    size_t n = strlen(sample);
    for (char *line = r.body; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, sample, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
        line = nl ? nl + 1 : NULL;
    }
    resp_free(&r);
    return v;
}

/* =============================================================== tests */

static void test_errors(void **st)
{
    api_start();
    user_create("alice");
    const char *ok = "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"x1\",\"content\":\"hi\"}";

    resp r = http_do("POST", "/v1/notify", NULL, ok, NULL);
    expect_error(&r, 401, "unauthorized");
    r = http_do("POST", "/v1/notify", "not-a-key", ok, NULL);
    expect_error(&r, 401, "unauthorized");
    r = http_do("POST", "/v1/notify", KEY1 "x", ok, NULL);
    expect_error(&r, 401, "unauthorized");
    r = http_do("POST", "/v1/notify", NULL, ok, "Authorization: Basic dGVzdDp0ZXN0");
    expect_error(&r, 401, "unauthorized");
    r = http_do("POST", "/v1/notify", KEY2, ok, NULL); /* the second key works too */
    expect_status(&r, 200);
    resp_free(&r);

    r = http_do("POST", "/v1/notify", KEY1, "{\"appId\":\"shop\",", NULL);
    expect_error(&r, 400, "bad_json");
    r = http_do("POST", "/v1/notify", KEY1, "[1,2]", NULL);
    expect_error(&r, 400, "bad_json");
    r = api_call("POST", "/v1/notify", "{\"appId\":\"shop\",\"to\":\"alice\",\"content\":\"c\"}");
    expect_error(&r, 400, "missing_field");
    r = api_call("POST", "/v1/notify", "{\"appId\":\"shop\",\"id\":\"1\",\"content\":\"c\"}");
    expect_error(&r, 400, "missing_field");
    r = api_call("POST", "/v1/notify",
                 "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"1\",\"content\":7}");
    expect_error(&r, 400, "invalid_field");
    r = api_call(
        "POST", "/v1/notify",
        "{\"appId\":\"shop\",\"to\":[\"alice\",\"ghost\"],\"id\":\"1\",\"content\":\"c\"}");
    expect_error(&r, 404, "unknown_user");
    r = api_call("POST", "/v1/sync", "{\"to\":\"ghost\",\"command\":1}");
    expect_error(&r, 404, "unknown_user");
    r = api_call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"ghost\",\"content\":\"c\"}");
    expect_error(&r, 404, "unknown_user");
    r = api_call("GET", "/v1/users/ghost", NULL);
    expect_error(&r, 404, "unknown_user");
    r = api_call("PUT", "/v1/users/ghost/password", "{\"password\":\"x\"}");
    expect_error(&r, 404, "unknown_user");
    r = api_call("POST", "/v1/users/ghost/token", NULL);
    expect_error(&r, 404, "unknown_user");
    r = api_call("DELETE", "/v1/groups/GC_nope", NULL);
    expect_error(&r, 404, "unknown_group");

    /* over the 4 KiB cap: declared length, and chunked (no length) */
    char big[6000];
    int n = snprintf(big, sizeof(big),
                     "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"b\",\"content\":\"");
    memset(big + n, 'x', 5000);
    strcpy(big + n + 5000, "\"}");
    r = http_do("POST", "/v1/notify", KEY1, big, NULL);
    expect_error(&r, 413, "body_too_large");
    r = http_do("POST", "/v1/notify", KEY1, big, "Transfer-Encoding: chunked");
    expect_error(&r, 413, "body_too_large");

    r = http_do("GET", "/v1/notify", KEY1, NULL, NULL);
    assert_string_equal(r.allow, "POST");
    expect_error(&r, 405, "method_not_allowed");
    r = http_do("PUT", "/v1/users/alice", KEY1, "{}", NULL);
    expect_error(&r, 405, "method_not_allowed");
    r = http_do("GET", "/v2/nothing", KEY1, NULL, NULL);
    expect_error(&r, 404, "not_found");
    r = http_do("GET", "/v1/users/alice/x/y", KEY1, NULL, NULL);
    expect_error(&r, 404, "not_found");

    /* the server is fine after all that */
    r = http_do("GET", "/healthz", NULL, NULL, NULL);
    expect_status(&r, 200);
    resp_free(&r);
    api_stop();
}

static void test_users(void **st)
{
    api_start();
    resp r = api_call("POST", "/v1/users",
                      "{\"userId\":\"alice\",\"password\":\"pw-alice\",\"name\":\"Alice\","
                      "\"mobile\":\"123\",\"birthday\":19900101}");
    expect_status(&r, 201);
    assert_string_equal(jstr(&r, "name"), "Alice");
    assert_string_equal(jstr(&r, "role"), "user");
    resp_free(&r);
    r = api_call("POST", "/v1/users", "{\"userId\":\"alice\",\"password\":\"x\"}");
    expect_error(&r, 409, "user_exists");
    r = api_call("POST", "/v1/users", "{\"userId\":\"bad/id\"}");
    expect_error(&r, 400, "invalid_field");
    r = api_call("POST", "/v1/users", "{\"userId\":\"x\",\"role\":\"admin\"}");
    expect_error(&r, 400, "invalid_field");
    assert_int_equal(login_code("alice", "pw-alice"), OMTP_EC_SUCCESS);

    /* profile: PATCH merges, GET and OMTP USERINFO_GET see it */
    r = api_call("PATCH", "/v1/users/alice", "{\"name\":\"Alice B\",\"avatar\":\"a.png\"}");
    expect_status(&r, 200);
    assert_string_equal(jstr(&r, "name"), "Alice B");
    assert_string_equal(jstr(&r, "mobile"), "123");
    resp_free(&r);
    r = api_call("PATCH", "/v1/users/alice", "{}");
    expect_error(&r, 400, "missing_field");
    r = api_call("GET", "/v1/users/alice", NULL);
    expect_status(&r, 200);
    assert_string_equal(jstr(&r, "avatar"), "a.png");
    assert_int_equal(jint(r.json, "birthday"), 19900101);
    resp_free(&r);
    omtp_sync *c = login("alice", DEVICE_LINUX);
    omtp_UserInfoGetReq q;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &q);
    q.userIds.items = calloc(1, sizeof(tars_str));
    q.userIds.n = 1;
    tars_str_set(&q.userIds.items[0], "alice");
    omtp_UserInfoGetResp ui;
    assert_int_equal(omtp_sync_call(c, PT_USERINFO_GET, &omtp_UserInfoGetReq_desc, &q,
                                    &omtp_UserInfoGetResp_desc, &ui),
                     0);
    assert_int_equal(ui.userInfos.n, 1);
    assert_string_equal(ui.userInfos.items[0].name.data, "Alice B");
    omtp_msg_free(&omtp_UserInfoGetResp_desc, &ui);
    omtp_msg_free(&omtp_UserInfoGetReq_desc, &q);

    /* password change: the old one stops working */
    r = api_call("PUT", "/v1/users/alice/password", "{\"password\":\"new-secret\"}");
    expect_status(&r, 200);
    resp_free(&r);
    assert_int_equal(login_code("alice", "pw-alice"), OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    assert_int_equal(login_code("alice", "new-secret"), OMTP_EC_SUCCESS);
    r = api_call("PUT", "/v1/users/alice/password", "{}");
    expect_error(&r, 400, "missing_field");

    /* a token works as the login password */
    r = api_call("POST", "/v1/users/alice/token", "{\"ttl\":600}");
    expect_status(&r, 200);
    char token[512];
    snprintf(token, sizeof(token), "%s", jstr(&r, "token"));
    assert_true(jint(r.json, "expiresAt") > (json_int_t)time(NULL) + 500);
    resp_free(&r);
    assert_int_equal(login_code("alice", token), OMTP_EC_SUCCESS);
    r = api_call("POST", "/v1/users/alice/token", "{\"ttl\":-5}");
    expect_error(&r, 400, "invalid_field");

    /* role */
    r = api_call("PUT", "/v1/users/alice/role", "{\"role\":\"monitor\"}");
    expect_status(&r, 200);
    resp_free(&r);
    r = api_call("GET", "/v1/users/alice", NULL);
    assert_string_equal(jstr(&r, "role"), "monitor");
    resp_free(&r);
    r = api_call("PUT", "/v1/users/alice/role", "{}");
    expect_error(&r, 400, "missing_field");

    /* delete: the online device is closed, login and lookups fail */
    r = api_call("DELETE", "/v1/users/alice", NULL);
    expect_status(&r, 200);
    assert_int_equal(jint(r.json, "devicesClosed"), 1);
    resp_free(&r);
    assert_int_equal(omtp_sync_wait_closed(c, 5000), 0);
    omtp_sync_close(c);
    r = api_call("GET", "/v1/users/alice", NULL);
    expect_error(&r, 404, "unknown_user");
    r = api_call("DELETE", "/v1/users/alice", NULL);
    expect_error(&r, 404, "unknown_user");
    assert_int_not_equal(login_code("alice", "new-secret"), OMTP_EC_SUCCESS);
    api_stop();
}

static void test_notify(void **st)
{
    api_start();
    user_create("alice");
    user_create("bob");
    omtp_sync *a = login("alice", DEVICE_LINUX);

    resp r = api_call("POST", "/v1/notify",
                      "{\"appId\":\"shop\",\"to\":[\"alice\",\"bob\"],\"id\":\"order-42\","
                      "\"content\":\"your order shipped\",\"contentType\":4,"
                      "\"pushInfo\":\"order 42\"}");
    expect_status(&r, 200);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 2);
    json_t *ra = json_array_get(res, 0), *rb = json_array_get(res, 1);
    assert_string_equal(json_string_value(json_object_get(ra, "sessionId")), "BM_shop_alice");
    assert_string_equal(json_string_value(json_object_get(rb, "sessionId")), "BM_shop_bob");
    assert_int_equal(jint(ra, "seqId"), 1);
    assert_int_equal(jint(rb, "seqId"), 1);
    assert_false(json_is_true(json_object_get(ra, "duplicate")));
    resp_free(&r);

    /* alice's device got the push, with the stored fields */
    omtp_packet p;
    assert_int_equal(next_push(a, PT_MSG_BIZ_NOTIFY, &p), 0);
    omtp_MsgReq *m = p.body;
    assert_non_null(m);
    assert_string_equal(m->sessionId.data, "BM_shop_alice");
    assert_string_equal(m->content.data, "your order shipped");
    assert_string_equal(m->from.data, "shop");
    assert_string_equal(m->to.data, "alice");
    assert_string_equal(m->pushInfo.data, "order 42");
    assert_int_equal(m->contentType, 4);
    assert_int_equal(m->seqId, 1);
    omtp_packet_free(&p);
    assert_int_equal(unread_of(a, "BM_shop_alice"), 1);

    /* the same id again (a retry of the same body): same seqIds, marked
     * duplicate, no second push */
    r = api_call("POST", "/v1/notify",
                 "{\"appId\":\"shop\",\"to\":[\"alice\",\"bob\"],\"id\":\"order-42\","
                 "\"content\":\"your order shipped\",\"contentType\":4,"
                 "\"pushInfo\":\"order 42\"}");
    expect_status(&r, 200);
    ra = json_array_get(json_object_get(r.json, "results"), 0);
    assert_int_equal(jint(ra, "seqId"), 1);
    assert_true(json_is_true(json_object_get(ra, "duplicate")));
    resp_free(&r);
    assert_int_equal(count_pushes(a, PT_MSG_BIZ_NOTIFY), 0);
    assert_int_equal(unread_of(a, "BM_shop_alice"), 1);

    /* the same id with a different body is a caller bug, not a retry: 409,
     * nothing stored or pushed */
    r = api_call("POST", "/v1/notify",
                 "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"order-42\","
                 "\"content\":\"something else\"}");
    expect_error(&r, 409, "msg_repeated");
    resp_free(&r);
    assert_int_equal(count_pushes(a, PT_MSG_BIZ_NOTIFY), 0);
    assert_int_equal(unread_of(a, "BM_shop_alice"), 1);

    /* a new id is a new message: seq 2, unread 2 */
    r = api_call("POST", "/v1/notify",
                 "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"order-43\",\"content\":\"paid\"}");
    expect_status(&r, 200);
    assert_int_equal(jint(json_array_get(json_object_get(r.json, "results"), 0), "seqId"), 2);
    resp_free(&r);
    assert_int_equal(count_pushes(a, PT_MSG_BIZ_NOTIFY), 1);
    assert_int_equal(unread_of(a, "BM_shop_alice"), 2);
    assert_true(in_history(a, "BM_shop_alice", "paid", 2));

    /* bob was offline: he finds it as unread when he logs in */
    omtp_sync *b = login("bob", DEVICE_IOS);
    assert_int_equal(unread_of(b, "BM_shop_bob"), 1);
    assert_true(in_history(b, "BM_shop_bob", "your order shipped", 1));
    omtp_sync_close(b);
    omtp_sync_close(a);
    api_stop();
}

static void test_sync(void **st)
{
    api_start();
    user_create("alice");
    user_create("bob");
    omtp_sync *a1 = login("alice", DEVICE_LINUX);
    omtp_sync *a2 = login("alice", DEVICE_IOS);

    resp r = api_call("POST", "/v1/sync",
                      "{\"to\":[\"alice\",\"bob\"],\"command\":2,\"content\":\"{\\\"why\\\":1}\"}");
    expect_status(&r, 200);
    assert_int_equal(jint(r.json, "devices"), 2);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(jint(json_array_get(res, 0), "devices"), 2);
    assert_int_equal(jint(json_array_get(res, 1), "devices"), 0);
    resp_free(&r);
    omtp_sync *cs[2] = {a1, a2};
    for (int i = 0; i < 2; i++) {
        omtp_packet p;
        assert_int_equal(next_push(cs[i], PT_SYNC_DATA_CMD, &p), 0);
        omtp_SyncDataReq *sd = p.body;
        assert_non_null(sd);
        assert_int_equal(sd->command, 2);
        assert_string_equal(sd->content.data, "{\"why\":1}");
        assert_int_equal(p.header.flags & OMTP_F_ACK, 0);
        omtp_packet_free(&p);
    }
    r = api_call("POST", "/v1/sync", "{\"to\":\"alice\",\"command\":0}");
    expect_error(&r, 400, "invalid_field");
    r = api_call("POST", "/v1/sync", "{\"to\":\"alice\"}");
    expect_error(&r, 400, "missing_field");
    omtp_sync_close(a1);
    omtp_sync_close(a2);
    api_stop();
}

static void monitor_start(omtp_sync *c, const char *sid)
{
    omtp_SessionMonitor m;
    omtp_msg_init(&omtp_SessionMonitor_desc, &m);
    tars_str_set(&m.sessionId, sid);
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_call(c, PT_SESSION_MONITOR_START, &omtp_SessionMonitor_desc, &m,
                                    &omtp_CommonErrorCode_desc, &ce),
                     0);
    assert_int_equal(ce.code, 0);
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    omtp_msg_free(&omtp_SessionMonitor_desc, &m);
}

static void test_messages(void **st)
{
    api_start();
    user_create("alice");
    user_create("bob");
    user_create("system");
    user_create("mona");
    resp r0 = api_call("PUT", "/v1/users/mona/role", "{\"role\":\"monitor\"}");
    expect_status(&r0, 200);
    resp_free(&r0);
    omtp_sync *a = login("alice", DEVICE_LINUX);
    omtp_sync *b = login("bob", DEVICE_LINUX);
    /* a session monitor sees messages sent through the HTTP API too */
    omtp_sync *mo = login("mona", DEVICE_LINUX);
    monitor_start(mo, "SC_alice_bob");

    resp r =
        api_call("POST", "/v1/messages",
                 "{\"from\":\"alice\",\"to\":\"bob\",\"content\":\"hello bob\",\"id\":\"m-1\"}");
    expect_status(&r, 201);
    assert_string_equal(jstr(&r, "sessionId"), "SC_alice_bob");
    json_int_t seq = jint(r.json, "seqId");
    assert_true(seq >= 1);
    resp_free(&r);
    /* delivered to bob, and to alice's device (sent on her behalf) */
    omtp_packet p;
    assert_int_equal(next_push(b, PT_MSG_SINGLE_CHAT, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "hello bob");
    assert_string_equal(((omtp_MsgReq *)p.body)->from.data, "alice");
    omtp_packet_free(&p);
    assert_int_equal(next_push(a, PT_MSG_SINGLE_CHAT, &p), 0);
    omtp_packet_free(&p);
    assert_int_equal(next_push(mo, PT_MSG_SINGLE_CHAT, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "hello bob");
    omtp_packet_free(&p);
    assert_true(in_history(b, "SC_alice_bob", "hello bob", seq));
    assert_int_equal(unread_of(b, "SC_alice_bob"), 1);

    /* same id: the original ack, nothing new */
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"alice\",\"to\":\"bob\",\"content\":\"hello bob\",\"id\":\"m-1\"}");
    expect_status(&r, 200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    assert_int_equal(jint(r.json, "seqId"), seq);
    resp_free(&r);
    assert_int_equal(count_pushes(b, PT_MSG_SINGLE_CHAT), 0);

    /* a system account (a user without password) writes to alice */
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"system\",\"to\":\"alice\",\"content\":\"welcome\"}");
    expect_status(&r, 201);
    assert_string_equal(jstr(&r, "sessionId"), "SC_alice_system");
    resp_free(&r);
    assert_int_equal(next_push(a, PT_MSG_SINGLE_CHAT, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "welcome");
    omtp_packet_free(&p);

    /* group message */
    r = api_call("POST", "/v1/groups",
                 "{\"groupId\":\"GC_team\",\"name\":\"Team\",\"creatorId\":\"alice\","
                 "\"members\":[\"bob\"]}");
    expect_status(&r, 201);
    resp_free(&r);
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"bob\",\"to\":\"GC_team\",\"type\":\"group\",\"content\":\"hi "
                 "team\"}");
    expect_status(&r, 201);
    assert_string_equal(jstr(&r, "sessionId"), "GC_team");
    seq = jint(r.json, "seqId");
    resp_free(&r);
    assert_int_equal(next_push(a, PT_MSG_GROUP_CHAT, &p), 0);
    assert_string_equal(((omtp_MsgReq *)p.body)->content.data, "hi team");
    omtp_packet_free(&p);
    assert_true(in_history(a, "GC_team", "hi team", seq));
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"system\",\"to\":\"GC_team\",\"type\":\"group\",\"content\":\"x\"}");
    expect_error(&r, 403, "not_member");
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"bob\",\"to\":\"GC_none\",\"type\":\"group\",\"content\":\"x\"}");
    expect_error(&r, 404, "unknown_group");
    r = api_call("POST", "/v1/messages", "{\"from\":\"ghost\",\"to\":\"bob\",\"content\":\"x\"}");
    expect_error(&r, 404, "unknown_user");

    r = api_call("POST", "/v1/messages", "{\"from\":\"alice\",\"to\":\"bob\",\"content\":\"\"}");
    expect_error(&r, 400, "invalid_field");
    r = api_call("POST", "/v1/messages",
                 "{\"from\":\"alice\",\"to\":\"bob\",\"content\":\"x\",\"type\":\"nope\"}");
    expect_error(&r, 400, "invalid_field");
    r = api_call("POST", "/v1/messages", "{\"from\":\"alice\",\"content\":\"x\"}");
    expect_error(&r, 400, "missing_field");
    omtp_sync_close(mo);
    omtp_sync_close(a);
    omtp_sync_close(b);
    api_stop();
}

/* Sends a group message over OMTP and returns the MsgAck code. */
static int group_send(omtp_sync *c, const char *gid, const char *content)
{
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_group_chat(c, gid, content, &ack), 0);
    int code = ack.code;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return code;
}

static void expect_group_sync(omtp_sync *c, const char *gid, const char *op)
{
    omtp_packet p;
    assert_int_equal(next_push(c, PT_SYNC_DATA_CMD, &p), 0);
    omtp_SyncDataReq *sd = p.body;
    assert_int_equal(sd->command, 3);
    json_t *o = json_loads(sd->content.data, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "groupId")), gid);
    assert_string_equal(json_string_value(json_object_get(o, "op")), op);
    json_decref(o);
    omtp_packet_free(&p);
}

static void test_groups(void **st)
{
    api_start();
    user_create("alice");
    user_create("bob");
    user_create("carol");
    omtp_sync *b = login("bob", DEVICE_LINUX);
    omtp_sync *c = login("carol", DEVICE_LINUX);

    resp r = api_call("POST", "/v1/groups",
                      "{\"name\":\"Team\",\"creatorId\":\"alice\",\"members\":[\"bob\"],"
                      "\"memberLimit\":3}");
    expect_status(&r, 201);
    char gid[160];
    snprintf(gid, sizeof(gid), "%s", jstr(&r, "groupId"));
    assert_true(strncmp(gid, "GC_", 3) == 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 2);
    resp_free(&r);
    expect_group_sync(b, gid, "create");
    assert_int_equal(group_send(b, gid, "bob here"), OMTP_EC_SUCCESS);
    assert_int_not_equal(group_send(c, gid, "carol here"), OMTP_EC_SUCCESS);

    char path[256];
    snprintf(path, sizeof(path), "/v1/groups/%s/members", gid);
    r = api_call("POST", path, "{\"members\":[\"carol\"]}");
    expect_status(&r, 200);
    assert_int_equal(jint(r.json, "added"), 1);
    resp_free(&r);
    expect_group_sync(c, gid, "join");
    expect_group_sync(b, gid, "join");
    assert_int_equal(group_send(c, gid, "carol here"), OMTP_EC_SUCCESS);
    r = api_call("POST", path, "{\"members\":[\"ghost\"]}");
    expect_error(&r, 404, "unknown_user");
    user_create("dave");
    r = api_call("POST", path, "{\"members\":[\"dave\"]}");
    expect_error(&r, 409, "member_limit");

    snprintf(path, sizeof(path), "/v1/groups/%s", gid);
    r = api_call("GET", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(jstr(&r, "creatorId"), "alice");
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 3);
    resp_free(&r);

    snprintf(path, sizeof(path), "/v1/groups/%s/members/carol", gid);
    r = api_call("DELETE", path, NULL);
    expect_status(&r, 200);
    assert_int_equal(jint(r.json, "removed"), 1);
    resp_free(&r);
    expect_group_sync(c, gid, "quit"); /* the removed member hears of it too */
    expect_group_sync(b, gid, "quit");
    assert_int_not_equal(group_send(c, gid, "still here?"), OMTP_EC_SUCCESS);
    r = api_call("DELETE", path, NULL);
    expect_error(&r, 404, "not_member");
    snprintf(path, sizeof(path), "/v1/groups/%s/members/alice", gid);
    r = api_call("DELETE", path, NULL);
    expect_error(&r, 409, "is_creator");

    r = api_call("POST", "/v1/groups", "{\"groupId\":\"%s\",\"name\":\"x\",\"creatorId\":\"bob\"}",
                 gid);
    expect_error(&r, 409, "group_exists");
    r = api_call("POST", "/v1/groups", "{\"name\":\"x\",\"creatorId\":\"ghost\"}");
    expect_error(&r, 404, "unknown_user");
    r = api_call("POST", "/v1/groups",
                 "{\"groupId\":\"team\",\"name\":\"x\",\"creatorId\":\"bob\"}");
    expect_error(&r, 400, "invalid_field");

    snprintf(path, sizeof(path), "/v1/groups/%s", gid);
    r = api_call("DELETE", path, NULL);
    expect_status(&r, 200);
    resp_free(&r);
    expect_group_sync(b, gid, "dismiss");
    assert_int_not_equal(group_send(b, gid, "anyone?"), OMTP_EC_SUCCESS);
    r = api_call("GET", path, NULL);
    expect_error(&r, 404, "unknown_group");
    omtp_sync_close(b);
    omtp_sync_close(c);
    api_stop();
}

static void test_health_metrics(void **st)
{
    api_start();
    resp r = http_do("GET", "/healthz", NULL, NULL, NULL);
    expect_status(&r, 200);
    assert_string_equal(jstr(&r, "status"), "ok");
    assert_string_equal(jstr(&r, "store"), "sqlite");
    resp_free(&r);
    r = http_do("POST", "/healthz", NULL, "{}", NULL);
    expect_error(&r, 405, "method_not_allowed");

    double stored0 = metric("omtp_messages_stored_total");
    double logins0 = metric("omtp_logins_total{result=\"ok\"}");
    double failed0 = metric("omtp_logins_total{result=\"failed\"}");
    double http2xx0 = metric("omtp_http_responses_total{class=\"2xx\"}");
    assert_true(stored0 >= 0 && logins0 >= 0 && failed0 >= 0);
    assert_true(metric("process_resident_memory_bytes") > 1e6);
    assert_true(metric("omtp_store_commit_seconds_bucket{le=\"+Inf\"}") >= 0);
    assert_true(metric("omtp_store_queue_depth") >= 0);

    user_create("alice");
    user_create("bob");
    omtp_sync *a = login("alice", DEVICE_LINUX);
    assert_int_equal(login_code("alice", "wrong"), OMTP_EC_CONN_USERNAME_OR_PASSWORD);
    double in_login = metric("omtp_packets_in_total{type=\"PT_LOGIN\"}");
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(a, "bob", "counted", &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    r = api_call("POST", "/v1/notify",
                 "{\"appId\":\"shop\",\"to\":\"alice\",\"id\":\"n1\",\"content\":\"c\"}");
    expect_status(&r, 200);
    resp_free(&r);

    assert_true(metric("omtp_messages_stored_total") >= stored0 + 2);
    assert_true(metric("omtp_logins_total{result=\"ok\"}") >= logins0 + 1);
    assert_true(metric("omtp_logins_total{result=\"failed\"}") >= failed0 + 1);
    assert_true(in_login >= 2);
    assert_true(metric("omtp_packets_in_total{type=\"PT_MSG_SINGLE_CHAT\"}") >= 1);
    assert_true(metric("omtp_connections_open") >= 1);
    assert_true(metric("omtp_pushes_total") >= 1);
    assert_true(metric("omtp_store_commits_total") >= 3);
    assert_true(metric("omtp_http_responses_total{class=\"2xx\"}") >= http2xx0 + 3);
    assert_true(metric("omtp_errors_total{code=\"21\",name=\"CONN_USERNAME_OR_PASSWORD\"}") >= 1);
    omtp_sync_close(a);
    api_stop();
}

/* Requests still in the loop (password hashing, store) when the server is
 * told to stop: every one gets an answer (or a closed connection), nothing
 * hangs, and omtpd exits 0 (under ASan: without leaks). */
typedef struct bg_req {
    pthread_t t;
    int port;
    int i;
    long status;
    CURLcode rc;
} bg_req;

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    return sz * n;
}

static void *bg_run(void *arg)
{
    bg_req *b = arg;
    CURL *c = curl_easy_init();
    char url[128], body[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/users", b->port);
    snprintf(body, sizeof(body), "{\"userId\":\"u%d\",\"password\":\"pw\"}", b->i);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " KEY1);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    b->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &b->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_shutdown_inflight(void **st)
{
    api_start();
    enum { N = 8 };
    bg_req b[N];
    for (int i = 0; i < N; i++) {
        b[i] = (bg_req){.port = A.port, .i = i};
        assert_int_equal(pthread_create(&b[i].t, NULL, bg_run, &b[i]), 0);
    }
    usleep(20000); /* let some reach the loop; the outcome is checked either way */
    int64_t t0 = h_now_ms();
    assert_int_equal(h_server_stop(A.s), 0);
    assert_true(h_now_ms() - t0 < 10000);
    int created = 0, refused = 0, closed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(b[i].t, NULL);
        /* answered (created before the stop, or 503), or refused/closed */
        if (b[i].rc == CURLE_OK)
            assert_true(b[i].status == 201 || b[i].status == 503);
        created += b[i].rc == CURLE_OK && b[i].status == 201;
        refused += b[i].rc == CURLE_OK && b[i].status == 503;
        closed += b[i].rc != CURLE_OK;
    }
    print_message("shutdown with %d requests: %d created, %d answered 503, %d closed\n", N, created,
                  refused, closed);
    h_server_free(A.s);
    A.s = NULL;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_errors, api_teardown),
        cmocka_unit_test_teardown(test_users, api_teardown),
        cmocka_unit_test_teardown(test_notify, api_teardown),
        cmocka_unit_test_teardown(test_sync, api_teardown),
        cmocka_unit_test_teardown(test_messages, api_teardown),
        cmocka_unit_test_teardown(test_groups, api_teardown),
        cmocka_unit_test_teardown(test_health_metrics, api_teardown),
        cmocka_unit_test_teardown(test_shutdown_inflight, api_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
