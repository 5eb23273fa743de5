/*
 * test_attack_session_ids.c - replay of the private-history leak (critical).
 *
 * The attack: users x, y_z, x_y and z. x's message to y_z and x_y's message
 * to z both landed in session SC_x_y_z, so z read x's private message to y_z
 * (`omtp history x_y --user z`) and x_y wrote into their conversation. The
 * fix (DESIGN "Ids never contain the session separator"): ids with '_' are
 * refused at every entry point, a store that holds such ids refuses to
 * start and names them, `omtpd user rename OLD NEW` moves the data (taking a
 * shared session apart), and sessions store their members.
 *
 *  - test_omtp_entry_points: admin add, token issue, OMTP login and message
 *    `to` refuse '_' ids; the colliding session reads as DENY for z.
 *  - test_http_entry_points: creating y_z over HTTP is 400 with words that
 *    say what an id is; paths naming '_' or '%00' ids are 400.
 *  - test_old_store_rename: the old layout made by hand in the store (the
 *    store itself now refuses to append x_y's message to x's session); the
 *    server refuses to start naming the ids; `user rename` refuses while the
 *    server runs and works when it is stopped; afterwards the two
 *    conversations are separate, z cannot read x's message, nothing
 *    stored is lost.
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
#include <unistd.h>

#include "client/omtp_sync.h"
#include "harness.h"
#include "store/maint.h"
#include "store/store.h"

#define KEY "attack-key"

static omtp_sync *login_pw(h_server *s, const char *user, const char *pw)
{
    omtp_sync *c = NULL;
    int code = -1;
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", s->port, 5000), 0);
    assert_int_equal(omtp_sync_login(c, user, pw, DEVICE_LINUX, NULL, &code), 0);
    assert_int_equal(code, OMTP_EC_SUCCESS);
    return c;
}

static int send_to(omtp_sync *c, const char *to, const char *content, int64_t *seq)
{
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(c, PT_MSG_SINGLE_CHAT, to, content, NULL, 0, &ack), 0);
    int code = ack.code;
    if (seq)
        *seq = ack.seqId;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    return code;
}

/* History code of sid; *n = messages, first (newest) content into last. */
static int history(omtp_sync *c, const char *sid, uint32_t *n, char *last, size_t lastlen,
                   char *from)
{
    omtp_HistoryMsgPullResp h;
    assert_int_equal(omtp_sync_history(c, sid, 0, 50, &h), 0);
    int code = h.errorCode.code;
    *n = h.msgs.n;
    if (last)
        last[0] = 0;
    if (h.msgs.n && last) {
        omtp_MsgReq m;
        assert_int_equal(tars_decode(&omtp_MsgReq_desc, &m, h.msgs.items[0].payload.data,
                                     h.msgs.items[0].payload.len, NULL),
                         0);
        snprintf(last, lastlen, "%s", m.content.data ? m.content.data : "");
        if (from)
            snprintf(from, OMTP_ID_MAX + 1, "%s", m.from.data ? m.from.data : "");
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    omtp_msg_free(&omtp_HistoryMsgPullResp_desc, &h);
    return code;
}

static bool log_has(h_server *s, const char *what)
{
    char *log = h_server_log(s);
    bool yes = log && strstr(log, what);
    free(log);
    return yes;
}

/* -------------------------------------------------------------- OMTP */

static void test_omtp_entry_points(void **st)
{
    (void)st;
    h_server *s = h_server_start("log_level = warn\n", NULL);
    h_user_add(s, "x", "pw");
    h_user_add(s, "z", "pw");
    h_user_add(s, "yz", "pw");

    /* admin: the attack's accounts cannot be made */
    const char *add[] = {"user", "add", "y_z", "--password", "pw", NULL};
    assert_int_equal(h_admin(s, NULL, 0, add), 2);
    assert_true(log_has(s, "'y_z' is not a valid user id"));
    const char *add2[] = {"user", "add", "x_y", "--password", "pw", NULL};
    assert_int_equal(h_admin(s, NULL, 0, add2), 2);
    const char *tok[] = {"token", "issue", "y_z", NULL};
    assert_int_equal(h_admin(s, NULL, 0, tok), 2);
    /* dots are ids (tokens for them work) */
    char t[400];
    const char *add3[] = {"user", "add", "john.smith", "--password", "pw", NULL};
    assert_int_equal(h_admin(s, NULL, 0, add3), 0);
    h_token(s, "john.smith", 600, t, sizeof t);
    omtp_sync *js = login_pw(s, "john.smith", t);
    omtp_sync_close(js);

    /* OMTP login with a '_' id: a clear refusal and a close */
    omtp_sync *c = NULL;
    int code = -1;
    assert_int_equal(omtp_sync_connect(&c, "127.0.0.1", s->port, 5000), 0);
    omtp_sync_login(c, "y_z", "pw", DEVICE_LINUX, NULL, &code);
    assert_int_equal(code, OMTP_EC_CONN_INDICATE);
    omtp_sync_close(c);

    /* a message to a '_' id is a PARAM error, nothing is stored */
    omtp_sync *x = login_pw(s, "x", "pw");
    omtp_sync *z = login_pw(s, "z", "pw");
    assert_int_equal(send_to(x, "y_z", "private", NULL), OMTP_EC_PARAM);
    uint32_t n;
    assert_int_equal(history(z, "SC_x_y_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(history(x, "SC_x_y_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    /* the real conversation still works */
    int64_t seq = 0;
    assert_int_equal(send_to(x, "yz", "hello yz", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(history(z, "SC_x_yz", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    omtp_sync_close(x);
    omtp_sync_close(z);
    h_server_stop_free(s);
}

/* -------------------------------------------------------------- HTTP */

typedef struct hresp {
    long status;
    char body[2048];
    size_t len;
} hresp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    hresp *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = 0;
    return k;
}

static void http(int port, const char *method, const char *path, const char *body, hresp *r)
{
    memset(r, 0, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Authorization: Bearer " KEY);
    hd = curl_slist_append(hd, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

static void expect_400(int port, const char *method, const char *path, const char *body,
                       const char *words)
{
    hresp r;
    http(port, method, path, body, &r);
    if (r.status != 400 || !strstr(r.body, words))
        fail_msg("%s %s: %ld %s (wanted 400 with '%s')", method, path, r.status, r.body, words);
}

static void test_http_entry_points(void **st)
{
    (void)st;
    char dir[64], port_path[128];
    snprintf(dir, sizeof dir, "/tmp/omtp-attack-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(port_path, sizeof port_path, "%s/http.port", dir);
    const char *args[] = {
        "--http-listen", "127.0.0.1:0", "--http-port-file", port_path, "--api-keys", KEY, NULL};
    h_server *s = h_server_start("log_level = warn\n", args);
    int port = 0;
    for (int64_t end = h_now_ms() + 10000; port <= 0 && h_now_ms() < end; usleep(10000)) {
        FILE *f = fopen(port_path, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
    }
    assert_true(port > 0);
    hresp r;
    http(port, "POST", "/v1/users", "{\"userId\":\"x\",\"password\":\"pw\"}", &r);
    assert_int_equal(r.status, 201);

    /* the attack's accounts: 400, and the words say what an id is */
    expect_400(port, "POST", "/v1/users", "{\"userId\":\"y_z\",\"password\":\"pw\"}",
               "letters, digits and . - @ +");
    expect_400(port, "POST", "/v1/users", "{\"userId\":\"x_y\",\"password\":\"pw\"}",
               "invalid_field");
    /* paths naming a '_' id or a percent-encoded NUL */
    expect_400(port, "GET", "/v1/users/y_z", NULL, "invalid_id");
    expect_400(port, "GET", "/v1/users/y%00z", NULL, "invalid_id");
    expect_400(port, "DELETE", "/v1/users/x_y", NULL, "invalid_id");
    expect_400(port, "POST", "/v1/users/y_z/token", "{}", "invalid_id");
    expect_400(port, "PUT", "/v1/users/y_z/password", "{\"password\":\"p\"}", "invalid_id");
    expect_400(port, "DELETE", "/v1/groups/GC_g/members/y_z", NULL, "invalid_id");
    expect_400(port, "DELETE", "/v1/groups/GC_g/members/y%00z", NULL, "invalid_id");
    /* bodies naming one */
    expect_400(port, "POST", "/v1/messages", "{\"from\":\"x\",\"to\":\"y_z\",\"content\":\"hi\"}",
               "\\\"to\\\" must be a user id");
    expect_400(port, "POST", "/v1/messages", "{\"from\":\"x_y\",\"to\":\"x\",\"content\":\"hi\"}",
               "invalid_field");
    expect_400(port, "POST", "/v1/notify",
               "{\"appId\":\"crm_x\",\"to\":\"x\",\"content\":\"hi\",\"title\":\"t\"}",
               "invalid_field");
    expect_400(port, "POST", "/v1/groups",
               "{\"name\":\"g\",\"creatorId\":\"x\",\"members\":[\"y_z\"]}", "invalid_field");
    /* nothing was created */
    http(port, "GET", "/v1/users/x", NULL, &r);
    assert_int_equal(r.status, 200);
    /* the whole alphabet still works, in bodies and paths ('+' stays '+',
     * %40 decodes to '@') */
    http(port, "POST", "/v1/users", "{\"userId\":\"Me.2+x@example-org\",\"password\":\"pw\"}", &r);
    assert_int_equal(r.status, 201);
    http(port, "GET", "/v1/users/Me.2+x@example-org", NULL, &r);
    assert_int_equal(r.status, 200);
    http(port, "GET", "/v1/users/Me.2+x%40example-org", NULL, &r);
    assert_int_equal(r.status, 200);
    http(port, "POST", "/v1/messages",
         "{\"from\":\"x\",\"to\":\"Me.2+x@example-org\",\"content\":\"hi\"}", &r);
    assert_int_equal(r.status, 201); /* stored */
    assert_non_null(strstr(r.body, "SC_Me.2+x@example-org_x"));
    h_server_stop_free(s);
    unlink(port_path);
    rmdir(dir);
}

/* ------------------------------------------------- old store, rename */

static void old_layout(h_server *s)
{
    omtp_store_config sc = {.data_dir = s->data_dir};
    omtp_db *db;
    char why[512];
    assert_int_equal(omtp_db_open(&sc, &db, why, sizeof why), 0);
    omtp_user_rec x;
    omtp_user_rec_init(&x);
    assert_int_equal(omtp_db_user_get(db, "x", &x), 0);
    const char *bad[] = {"y_z", "x_y"};
    for (int i = 0; i < 2; i++) {
        omtp_user_rec u;
        omtp_user_rec_init(&u);
        tars_str_set(&u.userId, bad[i]);
        tars_str_set(&u.pwHash, x.pwHash.data); /* password "pw" */
        tars_str_set(&u.info.userId, bad[i]);
        u.createdMs = 1;
        assert_int_equal(omtp_db_user_create(db, &u), 0);
        omtp_user_rec_free(&u);
    }
    omtp_user_rec_free(&x);
    /* x -> y_z, as the old server stored it */
    omtp_msg_rec m;
    bool dup;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, "p1");
    tars_str_set(&m.msg.sessionId, "SC_x_y_z");
    tars_str_set(&m.msg.from, "x");
    tars_str_set(&m.msg.to, "y_z");
    tars_str_set(&m.msg.content, "for y_z only");
    assert_int_equal(omtp_db_msg_append(db, &m, &dup), 0);
    omtp_msg_rec_free(&m);
    /* the store now refuses x_y -> z into that session ... */
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, "p2");
    tars_str_set(&m.msg.sessionId, "SC_x_y_z");
    tars_str_set(&m.msg.from, "x_y");
    tars_str_set(&m.msg.to, "z");
    tars_str_set(&m.msg.content, "x_y writes here");
    assert_int_equal(omtp_db_msg_append(db, &m, &dup), OMTP_EINVAL);
    omtp_msg_rec_free(&m);
    /* ... so the old layout is made by hand, as the old server left it */
    static const char *const sql[] = {
        "INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, push_info, "
        "content_type, content, status, ts_ms) VALUES ('SC_x_y_z', 2, 14, 0, 'p2', 'x_y', 'z', "
        "'', 0, 'x_y writes here', 0, 2)",
        "UPDATE sessions SET last_seq = 2 WHERE session_id = 'SC_x_y_z'",
        "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) VALUES "
        "('x_y', 'SC_x_y_z', 2, 2, 2), ('z', 'SC_x_y_z', 0, 2, 2)",
        "UPDATE members SET read_seq = 1 WHERE user_id = 'y_z'",
        "INSERT INTO friends(user_id, friend_id, remark, deleted, changed_ms) VALUES "
        "('x_y', 'z', 'zed', 0, 1), ('z', 'x_y', '', 0, 1)",
    };
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++)
        assert_int_equal(omtp_db_raw_sql(db, sql[i], 0, NULL, NULL, NULL, NULL), 0);
    omtp_db_close(db);
}

static void test_old_store_rename(void **st)
{
    (void)st;
    h_server *s = h_server_start("log_level = warn\n", NULL);
    h_user_add(s, "x", "pw");
    h_user_add(s, "z", "pw");
    assert_int_equal(h_server_stop(s), 0);
    old_layout(s);

    /* the server refuses to start and names the ids to rename */
    assert_int_not_equal(h_server_try_restart(s), -1);
    assert_true(log_has(s, "'x_y'"));
    assert_true(log_has(s, "'y_z'"));
    assert_true(log_has(s, "omtpd user rename OLD NEW"));

    /* rename refuses a taken id, and an unknown one */
    const char *taken[] = {"user", "rename", "y_z", "z", NULL};
    assert_int_equal(h_admin(s, NULL, 0, taken), 2);
    const char *unknown[] = {"user", "rename", "nobody", "nobody2", NULL};
    assert_int_equal(h_admin(s, NULL, 0, unknown), 2);
    const char *badnew[] = {"user", "rename", "y_z", "y_zz", NULL};
    assert_int_equal(h_admin(s, NULL, 0, badnew), 2);
    char out[512];
    const char *r1[] = {"user", "rename", "y_z", "yz", NULL};
    assert_int_equal(h_admin(s, out, sizeof out, r1), 0);
    assert_non_null(strstr(out, "renamed y_z to yz"));
    assert_non_null(strstr(out, "1 shared session id(s) split"));
    /* one bad id left: still refused */
    assert_int_not_equal(h_server_try_restart(s), -1);
    const char *r2[] = {"user", "rename", "x_y", "xy", NULL};
    assert_int_equal(h_admin(s, NULL, 0, r2), 0);
    assert_int_equal(h_server_try_restart(s), -1);

    /* while it runs, rename refuses */
    const char *r3[] = {"user", "rename", "xy", "xy2", NULL};
    assert_int_equal(h_admin(s, NULL, 0, r3), 1);
    assert_true(log_has(s, "Stop every omtpd"));

    omtp_sync *x = login_pw(s, "x", "pw");
    omtp_sync *yz = login_pw(s, "yz", "pw");
    omtp_sync *xy = login_pw(s, "xy", "pw");
    omtp_sync *z = login_pw(s, "z", "pw");
    uint32_t n;
    char last[128], from[OMTP_ID_MAX + 1];
    /* x's private message is in x/yz's own session, readable by them only */
    assert_int_equal(history(yz, "SC_x_yz", &n, last, sizeof last, from), 0);
    assert_int_equal(n, 1);
    assert_string_equal(last, "for y_z only");
    assert_string_equal(from, "x");
    assert_int_equal(history(x, "SC_x_yz", &n, last, sizeof last, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(history(z, "SC_x_yz", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(history(xy, "SC_x_yz", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    /* xy/z's conversation is theirs */
    assert_int_equal(history(z, "SC_xy_z", &n, last, sizeof last, from), 0);
    assert_int_equal(n, 1);
    assert_string_equal(last, "x_y writes here");
    assert_string_equal(from, "xy");
    assert_int_equal(history(x, "SC_xy_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(history(yz, "SC_xy_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    /* the shared id is gone for everyone */
    assert_int_equal(history(z, "SC_x_y_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    assert_int_equal(history(x, "SC_x_y_z", &n, NULL, 0, NULL), OMTP_EC_HISTORYMSG_DENY);
    /* both conversations go on where they were */
    int64_t seq = 0;
    assert_int_equal(send_to(x, "yz", "again", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(send_to(xy, "z", "again", &seq), 0);
    assert_int_equal(seq, 2);

    omtp_sync_close(x);
    omtp_sync_close(yz);
    omtp_sync_close(xy);
    omtp_sync_close(z);
    h_server_stop_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_omtp_entry_points, h_teardown),
        cmocka_unit_test_teardown(test_http_entry_points, h_teardown),
        cmocka_unit_test_teardown(test_old_store_rename, h_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
