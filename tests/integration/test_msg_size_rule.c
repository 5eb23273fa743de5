/*
 * test_msg_size_rule.c - one content-size rule for every message and every
 * entry point (docs/protocol.md, "Server behaviour"): 1..max_content bytes,
 * max_content = 0 being lowered at start-up to what fits one reply frame
 * (about 1 MiB with the default max_frame). A group message sent over
 * OMTP and one posted to the HTTP API (/v1/messages) get the same answer, as
 * does a single chat: both go through the domain (domain/msg.h).
 *
 * Before the domain layer the copies disagreed: with max_content = 0 an
 * OMTP group message was still capped at 64 KiB and the HTTP API refused
 * every non-empty content (400); with a limit, they agreed.
 *
 * Real omtpd over TCP (OMTP) and HTTP (libcurl via h_http_call).
 */
#include "group_common.h"
#include "h_http.h"

#include <stdlib.h>
#include <unistd.h>

#define BIG (80 * 1024) /* above the old 64 KiB group cap, below max_frame */

typedef struct env {
    char dir[64];
    h_server *s;
    int hport;
    omtp_sync *a, *b;
    char gid[160];
} env;

/* omtpd with `limit` as max_content, the HTTP API on, users sz0 and sz1, a
 * group of both (created by sz0) and both logged in. */
static void env_start(env *e, unsigned limit)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/omtp-size-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    char port_path[128], conf[256];
    snprintf(port_path, sizeof port_path, "%s/http.port", e->dir);
    snprintf(conf, sizeof conf,
             "log_level = warn\nlogin_fail_delay_ms = 0\nmax_content = %u\napi_keys = sizekey\n",
             limit);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", port_path, NULL};
    e->s = h_server_start(conf, args);
    e->hport = h_http_port(port_path);
    const char *bulk[] = {"user", "bulk", "sz", "2", "--password", G_PW, "--cost", "4", NULL};
    assert_int_equal(h_admin(e->s, NULL, 0, bulk), 0);
    e->a = g_login(e->s, "sz0", 1);
    e->b = g_login(e->s, "sz1", 1);
    tars_str_list m = g_ids("sz1", NULL);
    assert_int_equal(g_create(e->a, "sizes", NULL, 0, &m, e->gid), 0);
    g_ids_free(&m);
}

static void env_stop(env *e)
{
    omtp_sync_close(e->a);
    omtp_sync_close(e->b);
    g_stop(e->s);
    char path[128];
    snprintf(path, sizeof path, "%s/http.port", e->dir);
    unlink(path);
    rmdir(e->dir);
}

static char *content_of(size_t n)
{
    char *c = malloc(n + 1);
    assert_non_null(c);
    memset(c, 'x', n);
    c[n] = 0;
    return c;
}

/* An OMTP send of n bytes from sz0 (group or single); returns the ack code. */
static int omtp_send(env *e, int type, const char *to, size_t n)
{
    char *c = content_of(n);
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_send_msg(e->a, type, to, c, NULL, 0, &ack), 0);
    int code = ack.code;
    if (code == 0)
        assert_true(ack.seqId > 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    free(c);
    return code;
}

/* POST /v1/messages of n bytes from sz0; returns the HTTP status. */
static long http_send(env *e, const char *type, const char *to, size_t n)
{
    char *c = content_of(n);
    size_t len = n + 256;
    char *body = malloc(len);
    assert_non_null(body);
    snprintf(body, len, "{\"from\":\"sz0\",\"to\":\"%s\",\"type\":\"%s\",\"content\":\"%s\"}", to,
             type, c);
    char out[512];
    long status = h_http_call(e->hport, "POST", "/v1/messages", "sizekey", body, out, sizeof out);
    if (status != 201)
        print_message("HTTP %ld: %s\n", status, out);
    free(body);
    free(c);
    return status;
}

/* The push sz1 gets for a group message carries the whole content. */
static void expect_group_push(env *e, size_t n)
{
    omtp_packet p;
    assert_int_equal(chat_next_push(e->b, PT_MSG_GROUP_CHAT, 10000, &p), 0);
    const omtp_MsgReq *m = p.body;
    assert_non_null(m);
    assert_int_equal(m->content.len, n);
    omtp_packet_free(&p);
}

/* max_content = 0: the frame's limit (~1 MiB), from OMTP and from HTTP alike. */
static void test_unlimited_group_from_omtp_and_http(void **st)
{
    (void)st;
    env e;
    env_start(&e, 0);
    assert_int_equal(omtp_send(&e, PT_MSG_GROUP_CHAT, e.gid, BIG), OMTP_EC_SUCCESS);
    expect_group_push(&e, BIG);
    assert_int_equal(http_send(&e, "group", e.gid, BIG), 201);
    expect_group_push(&e, BIG);
    /* a single chat follows the same rule */
    assert_int_equal(omtp_send(&e, PT_MSG_SINGLE_CHAT, "sz1", BIG), OMTP_EC_SUCCESS);
    assert_int_equal(http_send(&e, "single", "sz1", BIG), 201);
    /* empty is still refused everywhere */
    assert_int_equal(omtp_send(&e, PT_MSG_GROUP_CHAT, e.gid, 0), OMTP_EC_MSG_TOO_SHORT);
    assert_int_equal(http_send(&e, "group", e.gid, 0), 400);
    env_stop(&e);
}

/* max_content = 100: 100 bytes pass and 101 are refused, from both sides. */
static void test_limit_same_from_omtp_and_http(void **st)
{
    (void)st;
    env e;
    env_start(&e, 100);
    assert_int_equal(omtp_send(&e, PT_MSG_GROUP_CHAT, e.gid, 100), OMTP_EC_SUCCESS);
    assert_int_equal(http_send(&e, "group", e.gid, 100), 201);
    assert_int_equal(omtp_send(&e, PT_MSG_GROUP_CHAT, e.gid, 101), OMTP_EC_MSG_TOO_LONG);
    assert_int_equal(http_send(&e, "group", e.gid, 101), 400);
    assert_int_equal(omtp_send(&e, PT_MSG_SINGLE_CHAT, "sz1", 101), OMTP_EC_MSG_TOO_LONG);
    assert_int_equal(http_send(&e, "single", "sz1", 101), 400);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited_group_from_omtp_and_http),
        cmocka_unit_test(test_limit_same_from_omtp_and_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
