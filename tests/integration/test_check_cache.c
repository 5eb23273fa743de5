/*
 * test_check_cache.c - the send checks stay true when they come from
 * memory (domain/check_cache.h), against a real omtpd over TCP and HTTP:
 * every change a user could have seen is honoured by the very next send --
 * unfriending under friends_only, a member removed from a group, a group
 * dismissed, a user deleted (and created again) through the HTTP API. Each
 * check is warmed first (two sends that pass), so a stale cached answer
 * would let the next send through. /metrics reports the caches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "group_common.h"
#include "h_http.h"

#define KEY "check-cache-key"

typedef struct srv {
    h_server *s;
    int http;
    char dir[64], port_path[128];
} srv;

/* omtpd with the HTTP API, `conf` lines, users p0..p3 (password G_PW). */
static void start(srv *v, const char *conf)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->dir, sizeof(v->dir), "/tmp/omtp-cc-XXXXXX");
    assert_non_null(mkdtemp(v->dir));
    snprintf(v->port_path, sizeof(v->port_path), "%s/http.port", v->dir);
    char text[512];
    snprintf(text, sizeof(text),
             "%s\nhttp_listen = 127.0.0.1:0\nhttp_port_file = %s\napi_keys = " KEY "\n",
             conf ? conf : "", v->port_path);
    v->s = g_start(text, "p", 4);
    v->http = h_http_port(v->port_path);
}

static void stop(srv *v)
{
    g_stop(v->s);
    unlink(v->port_path);
    rmdir(v->dir);
}

static int f_change(omtp_sync *c, int type, const char *friend)
{
    omtp_FriendAddReq q;
    omtp_msg_init(&omtp_FriendAddReq_desc, &q);
    q.friends.items = calloc(1, sizeof(omtp_FriendInfo));
    assert_non_null(q.friends.items);
    omtp_msg_init(&omtp_FriendInfo_desc, &q.friends.items[0]);
    tars_str_set(&q.friends.items[0].friendId, friend);
    q.friends.n = 1;
    int code = g_code(c, type, &omtp_FriendAddReq_desc, &q);
    omtp_msg_free(&omtp_FriendAddReq_desc, &q);
    return code;
}

/* friends_only: unfriending, by either side, refuses the next message at
 * once; befriending again lets it through at once. */
static void test_unfriend_then_send_is_refused(void **st)
{
    (void)st;
    srv v;
    start(&v, "friends_only = true");
    omtp_sync *a = g_login(v.s, "p0", DEVICE_LINUX);
    omtp_sync *b = g_login(v.s, "p1", DEVICE_LINUX);
    assert_int_equal(chat_send(a, "p1", "before", NULL), OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(f_change(a, PT_FRIEND_ADD, "p1"), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(chat_send(a, "p1", "hi", NULL), 0);
        assert_int_equal(chat_send(a, "p1", "hi again", NULL), 0);
        assert_int_equal(chat_send(b, "p0", "hello", NULL), 0);
        /* the other side ends it */
        assert_int_equal(f_change(b, PT_FRIEND_DEL, "p0"), 0);
        assert_int_equal(chat_send(a, "p1", "still there?", NULL), OMTP_EC_USER_RELATION_INVALID);
        assert_int_equal(chat_send(b, "p0", "bye", NULL), OMTP_EC_USER_RELATION_INVALID);
        assert_int_equal(f_change(a, PT_FRIEND_ADD, "p1"), 0);
    }
    omtp_sync_close(a);
    omtp_sync_close(b);
    stop(&v);
}

/* A member removed from a group cannot send to it at once; a dismissed
 * group refuses everyone at once; a member added can send at once. */
static void test_removed_member_send_is_refused(void **st)
{
    (void)st;
    srv v;
    start(&v, NULL);
    omtp_sync *a = g_login(v.s, "p0", DEVICE_LINUX);
    omtp_sync *b = g_login(v.s, "p1", DEVICE_LINUX);
    omtp_sync *c = g_login(v.s, "p2", DEVICE_LINUX);
    omtp_sync *d = g_login(v.s, "p3", DEVICE_LINUX);
    char gid[160];
    tars_str_list ids = g_ids("p1", "p2", NULL);
    assert_int_equal(g_create(a, "team", NULL, 0, &ids, gid), 0);
    g_ids_free(&ids);
    assert_int_equal(g_send(b, gid, "one", NULL), 0);
    assert_int_equal(g_send(b, gid, "two", NULL), 0);
    assert_int_equal(g_send(d, gid, "not yet", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);

    ids = g_ids("p1", NULL);
    assert_int_equal(g_quit(a, gid, "p0", &ids), 0); /* the creator removes p1 */
    g_ids_free(&ids);
    assert_int_equal(g_send(b, gid, "three", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_int_equal(g_send(c, gid, "p2 still in", NULL), 0);

    ids = g_ids("p3", NULL);
    assert_int_equal(g_join(a, gid, &ids), 0);
    g_ids_free(&ids);
    assert_int_equal(g_send(d, gid, "now in", NULL), 0);

    /* p3 leaves by itself */
    assert_int_equal(g_quit(d, gid, "p3", NULL), 0);
    assert_int_equal(g_send(d, gid, "gone", NULL), OMTP_EC_GROUP_NO_PRIVILEGE);

    assert_int_equal(g_send(c, gid, "last", NULL), 0);
    assert_int_equal(g_dismiss(a, gid, "p0"), 0);
    assert_int_equal(g_send(c, gid, "after the end", NULL), OMTP_EC_GROUP_NOT_EXIST);
    assert_int_equal(g_send(a, gid, "after the end", NULL), OMTP_EC_GROUP_NOT_EXIST);
    omtp_sync_close(a);
    omtp_sync_close(b);
    omtp_sync_close(c);
    omtp_sync_close(d);
    stop(&v);
}

/* A user deleted through the HTTP API cannot be written to at once (PARAM);
 * created again through the API, at once again. */
static void test_deleted_user_send_is_refused(void **st)
{
    (void)st;
    srv v;
    start(&v, NULL);
    omtp_sync *a = g_login(v.s, "p0", DEVICE_LINUX);
    assert_int_equal(chat_send(a, "p1", "one", NULL), 0);
    assert_int_equal(chat_send(a, "p1", "two", NULL), 0);
    assert_int_equal(chat_send(a, "nobody", "x", NULL), OMTP_EC_PARAM);
    assert_int_equal(chat_send(a, "nobody", "x", NULL), OMTP_EC_PARAM);

    char out[512];
    assert_int_equal(h_http_call(v.http, "DELETE", "/v1/users/p1", KEY, NULL, out, sizeof(out)),
                     200);
    assert_int_equal(chat_send(a, "p1", "three", NULL), OMTP_EC_PARAM);

    assert_int_equal(h_http_call(v.http, "POST", "/v1/users", KEY,
                                 "{\"userId\":\"nobody\",\"password\":\"pw\"}", out, sizeof(out)),
                     201);
    assert_int_equal(chat_send(a, "nobody", "welcome", NULL), 0);
    omtp_sync_close(a);
    stop(&v);
}

/* /metrics has the caches' sizes and counters, per cache. */
static void test_metrics_report_the_caches(void **st)
{
    (void)st;
    srv v;
    start(&v, NULL);
    char *text = h_metrics_text(v.http);
    static const char *const names[] = {"entries", "bytes", "hits_total", "misses_total"};
    static const char *const caches[] = {"users", "friends", "groups"};
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 3; k++) {
            char line[128];
            snprintf(line, sizeof(line), "omtp_check_cache_%s{cache=\"%s\"} ", names[i], caches[k]);
            if (!strstr(text, line))
                fail_msg("/metrics lacks %s", line);
        }
    free(text);
    stop(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unfriend_then_send_is_refused, h_teardown),
        cmocka_unit_test_teardown(test_removed_member_send_is_refused, h_teardown),
        cmocka_unit_test_teardown(test_deleted_user_send_is_refused, h_teardown),
        cmocka_unit_test_teardown(test_metrics_report_the_caches, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
