/*
 * test_msg_search.c - PT_MSG_SEARCH (104) and GET /v1/search against the
 * real omtpd: messages sent over TCP are found by substring (Chinese too)
 * right after their ack, edits/revokes/deletes move the index, other
 * people's sessions never match, paging by timestamp, and hostile queries
 * (empty, 10 KB, search operators, not UTF-8) get a clear refusal or a
 * literal match -- never an engine error, never a closed connection.
 */
#include <unistd.h>

#include <jansson.h>

#include "chat_common.h"
#include "h_http.h"

#define KEY "searchkey"

static chat_srv *S;
static char Dir[64];
static int Hport;

static int setup(void **state)
{
    (void)state;
    snprintf(Dir, sizeof Dir, "/tmp/omtp-search-XXXXXX");
    assert_non_null(mkdtemp(Dir));
    char port_path[128];
    snprintf(port_path, sizeof port_path, "%s/http.port", Dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", port_path, NULL};
    S = chat_srv_start("revoke_limit_s = 0\nlogin_fail_delay_ms = 0\napi_keys = " KEY, args);
    Hport = h_http_port(port_path);
    const char *users[] = {"alice", "bob", "carol", "dave"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        chat_srv_user(S, users[i], 0);
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

/* A search's reply: code, and the messages decoded. */
typedef struct hits {
    int code;
    char desc[256];
    int n;
    int64_t seq[100], ts[100];
    char sid[100][64], content[100][128];
} hits;

static hits *find(omtp_sync *c, const char *q, const char *sid, int64_t before, int count)
{
    static hits h;
    memset(&h, 0, sizeof h);
    omtp_MsgSearchResp r;
    assert_int_equal(omtp_sync_search(c, q, sid, before, count, &r), 0);
    h.code = r.errorCode.code;
    snprintf(h.desc, sizeof h.desc, "%s", r.errorCode.desc.data ? r.errorCode.desc.data : "");
    for (uint32_t i = 0; i < r.msgs.n && i < 100; i++) {
        omtp_MsgReq m;
        chat_pack_msg(&r.msgs.items[i], &m);
        h.seq[i] = m.seqId;
        h.ts[i] = m.timestamp;
        snprintf(h.sid[i], sizeof h.sid[i], "%s", m.sessionId.data);
        snprintf(h.content[i], sizeof h.content[i], "%s", m.content.data);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        h.n++;
    }
    omtp_msg_free(&omtp_MsgSearchResp_desc, &r);
    return &h;
}

static int ctrl(omtp_sync *c, int cmd, const char *sid, int64_t seq, const char *content)
{
    omtp_CommonErrorCode ce;
    assert_int_equal(omtp_sync_ctrl(c, cmd, sid, seq, NULL, content, &ce), 0);
    int code = ce.code;
    omtp_msg_free(&omtp_CommonErrorCode_desc, &ce);
    return code;
}

static void test_find_after_ack(void **state)
{
    (void)state;
    omtp_sync *a = chat_login(chat_srv_port(S), "alice", DEVICE_LINUX);
    omtp_sync *b = chat_login(chat_srv_port(S), "bob", DEVICE_LINUX);
    omtp_sync *c = chat_login(chat_srv_port(S), "carol", DEVICE_LINUX);
    int64_t s1, s2;
    assert_int_equal(chat_send(a, "bob", "下周三在上海浦东开发布会", &s1), 0);
    assert_int_equal(chat_send(b, "alice", "Release party in Shanghai", &s2), 0);
    assert_int_equal(chat_send(c, "dave", "上海的发布会我也去", NULL), 0);
    hits *h = find(a, "上海浦东", NULL, 0, 0);
    assert_int_equal(h->code, 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->seq[0], s1);
    assert_string_equal(h->content[0], "下周三在上海浦东开发布会");
    h = find(b, "发布会", NULL, 0, 0); /* carol's chat with dave is not bob's */
    assert_int_equal(h->n, 1);
    assert_string_equal(h->sid[0], "SC_alice_bob");
    h = find(b, "SHANGHAI", NULL, 0, 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->seq[0], s2);
    h = find(a, "发布会", "SC_carol_dave", 0, 0); /* someone else's session: as history */
    assert_int_equal(h->code, OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(h->n, 0);
    /* edit, revoke, delete */
    assert_int_equal(ctrl(a, MC_OVERRIDE, "SC_alice_bob", s1, "改到北京望京开发布会"), 0);
    assert_int_equal(find(a, "上海浦东", NULL, 0, 0)->n, 0);
    h = find(b, "北京望京", NULL, 0, 0);
    assert_int_equal(h->n, 1);
    assert_int_equal(h->seq[0], s1);
    assert_int_equal(ctrl(b, MC_REVOKE, "SC_alice_bob", s2, NULL), 0);
    assert_int_equal(find(a, "Shanghai", NULL, 0, 0)->n, 0);
    assert_int_equal(ctrl(a, MC_DELETE, "SC_alice_bob", s1, NULL), 0);
    assert_int_equal(find(b, "北京望京", NULL, 0, 0)->n, 0);
    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(c);
}

static void test_paging(void **state)
{
    (void)state;
    omtp_sync *c = chat_login(chat_srv_port(S), "carol", DEVICE_LINUX);
    char text[64];
    for (int i = 0; i < 12; i++) {
        snprintf(text, sizeof text, "weekly digest %02d", i);
        assert_int_equal(chat_send(c, "dave", text, NULL), 0);
        usleep(2000); /* a millisecond apart: pages are cut by timestamp */
    }
    hits *h = find(c, "weekly digest", NULL, 0, 5);
    assert_int_equal(h->n, 5);
    assert_string_equal(h->content[0], "weekly digest 11");
    int seen = 5;
    int64_t last = h->ts[4];
    while ((h = find(c, "weekly digest", NULL, last, 5))->n > 0) {
        assert_true(h->ts[0] < last);
        seen += h->n;
        last = h->ts[h->n - 1];
    }
    assert_int_equal(seen, 12);
    assert_int_equal(find(c, "weekly digest", NULL, 0, 101)->code, OMTP_EC_PARAM);
    omtp_sync_close(c);
}

static void test_hostile_queries(void **state)
{
    (void)state;
    omtp_sync *d = chat_login(chat_srv_port(S), "dave", DEVICE_LINUX);
    assert_int_equal(chat_send(d, "carol", "quote \"x\" star * NEAR(a b) -minus col:val OR", NULL),
                     0);
    hits *h = find(d, "", NULL, 0, 0);
    assert_int_equal(h->code, OMTP_EC_PARAM);
    h = find(d, "ab", NULL, 0, 0);
    assert_int_equal(h->code, OMTP_EC_PARAM);
    assert_non_null(strstr(h->desc, "too short"));
    char *big = malloc(10 * 1024 + 1);
    memset(big, 'q', 10 * 1024);
    big[10 * 1024] = 0;
    h = find(d, big, NULL, 0, 0);
    assert_int_equal(h->code, OMTP_EC_PARAM);
    free(big);
    h = find(d, "\xc3\x28\xa0\xa1", NULL, 0, 0);
    assert_int_equal(h->code, OMTP_EC_PARAM);
    static const char *const ops[] = {"\"x\"",   "* NEAR",     "NEAR(a b)", "-minus",
                                      "col:val", "OR",         "\"\"\"",    "AND NOT",
                                      "(((",     "x\" OR \"y", "^quote",    NULL};
    for (const char *const *q = ops; *q; q++) {
        h = find(d, *q, NULL, 0, 0);
        if (strlen(*q) < 3) {
            assert_int_equal(h->code, OMTP_EC_PARAM);
            continue;
        }
        assert_int_equal(h->code, 0);
        bool literal = strstr("quote \"x\" star * NEAR(a b) -minus col:val OR", *q) != NULL;
        assert_int_equal(h->n, literal ? 1 : 0);
    }
    assert_int_equal(omtp_sync_ping(d), 0); /* still connected */
    omtp_sync_close(d);
}

/* %-encodes s into out (every byte but unreserved ones). */
static void enc(const char *s, char *out, size_t outlen)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 4 < outlen; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            out[k++] = (char)*p;
        else
            k += (size_t)snprintf(out + k, outlen - k, "%%%02X", *p);
    }
    out[k] = 0;
}

static long http_search(const char *user, const char *q, const char *extra, char *out,
                        size_t outlen)
{
    char eq[1024], path[1400];
    enc(q, eq, sizeof eq);
    snprintf(path, sizeof path, "/v1/search?userId=%s&q=%s%s", user, eq, extra ? extra : "");
    return h_http_call(Hport, "GET", path, KEY, NULL, out, outlen);
}

static void test_http(void **state)
{
    (void)state;
    omtp_sync *a = chat_login(chat_srv_port(S), "alice", DEVICE_LINUX);
    int64_t seq;
    assert_int_equal(chat_send(a, "dave", "季度报表已经上传到网盘", &seq), 0);
    omtp_sync_close(a);
    char out[8192];
    assert_int_equal(http_search("dave", "季度报表", NULL, out, sizeof out), 200);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 1);
    json_t *m = json_array_get(msgs, 0);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "季度报表已经上传到网盘");
    assert_string_equal(json_string_value(json_object_get(m, "sessionId")), "SC_alice_dave");
    assert_int_equal(json_integer_value(json_object_get(m, "seqId")), seq);
    assert_true(json_is_null(json_object_get(j, "next")));
    json_decref(j);
    /* bob is not in that chat */
    assert_int_equal(http_search("bob", "季度报表", NULL, out, sizeof out), 200);
    assert_non_null(strstr(out, "\"messages\": []") ? out : strstr(out, "\"messages\":[]"));
    /* a page that is full says where the next starts */
    assert_int_equal(http_search("dave", "报表", NULL, out, sizeof out), 400);
    assert_non_null(strstr(out, "too short"));
    assert_int_equal(http_search("dave", "季度报表", "&limit=1", out, sizeof out), 200);
    j = json_loads(out, 0, NULL);
    assert_true(json_is_integer(json_object_get(j, "next")));
    json_decref(j);
    assert_int_equal(http_search("nobody", "季度报表", NULL, out, sizeof out), 404);
    assert_int_equal(http_search("dave", "季度报表", "&limit=0", out, sizeof out), 400);
    assert_int_equal(http_search("dave", "季度报表", "&limit=abc", out, sizeof out), 400);
    assert_int_equal(http_search("dave", "季度报表", "&sessionId=SC_bob_carol", out, sizeof out),
                     403);
    assert_int_equal(http_search("dave", "NEAR(\"x\" *", NULL, out, sizeof out), 200);
    assert_int_equal(
        h_http_call(Hport, "GET", "/v1/search?userId=dave", KEY, NULL, out, sizeof out), 400);
    assert_int_equal(
        h_http_call(Hport, "GET", "/v1/search?userId=dave&q=abc", NULL, NULL, out, sizeof out),
        401);
    char *big = malloc(12000);
    memset(big, 'z', 11999);
    big[11999] = 0;
    char *path = malloc(13000);
    snprintf(path, 13000, "/v1/search?userId=dave&q=%s", big);
    long st = h_http_call(Hport, "GET", path, KEY, NULL, out, sizeof out);
    assert_true(st == 400 || st == 414 || st == 431); /* refused, never a search */
    free(big);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_after_ack),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_hostile_queries),
        cmocka_unit_test(test_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
