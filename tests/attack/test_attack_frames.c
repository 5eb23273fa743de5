/*
 * test_attack_frames.c - memory held by frames that never finish (attack
 * campaign: "announce 1 MiB before login and trickle it", "trickle 1 byte/s
 * into a frame after login").
 *
 *   - before login, a frame announced above max_prelogin_frame (16 KiB) is
 *     refused on its header: an error frame naming the limit, then close;
 *     200 such connections do not grow the server's VmRSS;
 *   - many connections that never log in, each holding a partial frame:
 *     the bytes held stay under max_pending_bytes (omtp_pending_frame_bytes)
 *     and the OLDEST are closed first; a real user still logs in and sends;
 *   - a logged-in client trickling one byte every 250 ms into a frame is
 *     closed at frame_timeout_s (2 s here), although keepalive_s is 30 s; a
 *     client pinging at the same pace is untouched;
 *   - two logged-in clients whose partial frames together pass
 *     max_pending_bytes: the larger frame is refused (error frame, close),
 *     the other completes and is answered.
 *
 * Each test starts its own server; every wait is bounded (seconds).
 */
#include "../integration/hostile_common.h"
#include "h_http.h"

#include <fcntl.h>

static long vm_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* A frame header announcing `len` bytes, then `body` bytes of junk. */
static bool send_partial(hx_conn *c, uint32_t len, size_t body)
{
    uint8_t *b = malloc(4 + body);
    assert_non_null(b);
    b[0] = (uint8_t)(len >> 24);
    b[1] = (uint8_t)(len >> 16);
    b[2] = (uint8_t)(len >> 8);
    b[3] = (uint8_t)len;
    memset(b + 4, 0x5a, body);
    bool ok = hx_write(c, b, 4 + body);
    free(b);
    return ok;
}

/* The error frame the server sent before closing: its code and words. */
static void expect_error_then_close(hx_conn *c, int code, const char *words)
{
    uint8_t *body;
    size_t n;
    assert_int_equal(hx_read_frame(c, 5000, &body, &n), 0);
    hx_reply r;
    hx_parse(body, n, &r);
    free(body);
    assert_int_equal(r.type, 0);
    assert_int_equal(r.code, code);
    if (!strstr(r.desc, words))
        fail_msg("error frame \"%s\" does not say \"%s\"", r.desc, words);
    hx_reply_free(&r);
    assert_true(hx_wait_closed(c, 5000));
}

static void test_prelogin_oversized_announce(void **st)
{
    (void)st;
    h_server *s = h_server_start("max_conns_per_ip = 1000\n"
                                 "prelogin_timeout_s = 30\n"
                                 "log_level = warn\n",
                                 NULL);
    long rss0 = vm_rss_kb(s->pid);
    enum { N = 200 };
    hx_conn *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = hx_connect(s);
        /* 1 MiB announced (max_frame allows it after login), 1000 bytes sent */
        assert_true(send_partial(c[i], 1u << 20, 1000));
    }
    for (int i = 0; i < N; i++) {
        expect_error_then_close(c[i], OMTP_EC_PROTOCOL, "max_prelogin_frame");
        hx_close(c[i]);
    }
    long rss1 = vm_rss_kb(s->pid);
    fprintf(stderr, "%d x 1 MiB announced before login: VmRSS %ld -> %ld kB\n", N, rss0, rss1);
    assert_true(rss1 - rss0 < 8 * 1024);
    /* the server serves a real user all the same */
    h_user_add(s, "u0", "pw");
    hx_conn *u = hx_login(s, "u0", "pw", DEVICE_IOS);
    hx_ping_ok(u);
    hx_close(u);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "max_prelogin_frame"));
    free(log);
    h_server_stop_free(s);
}

static void test_prelogin_tricklers_capped(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-attack-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char hport_path[64];
    snprintf(hport_path, sizeof(hport_path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", hport_path, NULL};
    h_server *s = h_server_start("max_conns_per_ip = 1000\n"
                                 "max_pending_bytes = 1048576\n"
                                 "prelogin_timeout_s = 60\n"
                                 "frame_timeout_s = 60\n"
                                 "log_level = warn\n",
                                 args);
    int hport = h_http_port(hport_path);
    h_user_add(s, "u0", "pw");
    /* 150 connections, each 12,000 bytes into a 16,000-byte frame: ~16 KiB
     * held each, 2.4 MiB together -- over the 1 MiB cap */
    enum { N = 150 };
    hx_conn *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = hx_connect(s);
        assert_true(send_partial(c[i], 16000, 12000));
        usleep(2000); /* in order: the first ones are the oldest */
    }
    /* the server has read everything once the newest shows up in the gauge */
    double pending = -1;
    for (int tries = 0; tries < 50; tries++) {
        usleep(100000);
        pending = h_metric(hport, "omtp_pending_frame_bytes");
        if (h_metric(hport, "omtp_conns_shed_total{reason=\"pending_memory\"}") > 0)
            break;
    }
    fprintf(stderr, "pending frame bytes %.0f (cap 1048576)\n", pending);
    assert_true(pending > 0 && pending <= 1048576);
    assert_true(h_metric(hport, "omtp_conns_shed_total{reason=\"pending_memory\"}") >= 50);
    /* the oldest were closed, with a reason */
    expect_error_then_close(c[0], OMTP_EC_SERVER_REFUSED, "memory for partial frames");
    assert_true(hx_wait_closed(c[1], 3000));
    /* the newest still hold their frame: not closed */
    struct pollfd p = {.fd = c[N - 1]->fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 300), 0);
    /* a real user logs in and sends */
    hx_conn *u = hx_login(s, "u0", "pw", DEVICE_IOS);
    hx_ping_ok(u);
    hx_close(u);
    for (int i = 0; i < N; i++)
        hx_close(c[i]);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "max_pending_bytes"));
    free(log);
    h_server_stop_free(s);
    unlink(hport_path);
    rmdir(dir);
}

static void test_logged_in_trickler_deadline(void **st)
{
    (void)st;
    h_server *s = h_server_start("frame_timeout_s = 2\n"
                                 "keepalive_s = 30\n"
                                 "log_level = warn\n",
                                 NULL);
    h_user_add(s, "t0", "pw");
    h_user_add(s, "t1", "pw");
    hx_conn *tr = hx_login(s, "t0", "pw", DEVICE_IOS);
    hx_conn *pinger = hx_login(s, "t1", "pw", DEVICE_IOS);
    /* a 100-byte frame announced, then one byte every 250 ms */
    assert_true(send_partial(tr, 100, 0));
    int64_t t0 = h_now_ms();
    bool closed = false;
    while (!closed && h_now_ms() - t0 < 10000) {
        uint8_t b = 0x5a;
        struct pollfd p = {.fd = tr->fd, .events = POLLIN};
        if (poll(&p, 1, 250) > 0)
            closed = true; /* the error frame (or the close) arrived */
        else if (send(tr->fd, &b, 1, MSG_NOSIGNAL) != 1)
            closed = true;
        if (!hx_send(pinger, PT_PING, 0, "pp", NULL, 0))
            fail_msg("the pinging client was closed");
    }
    int64_t took = h_now_ms() - t0;
    fprintf(stderr, "trickler closed after %lld ms (frame_timeout_s 2, keepalive_s 30)\n",
            (long long)took);
    assert_true(closed);
    assert_true(took >= 1500 && took < 8000);
    expect_error_then_close(tr, OMTP_EC_SERVER_REFUSED, "frame_timeout_s");
    hx_close(tr);
    /* the pinger was served throughout and still is */
    hx_ping_ok(pinger);
    hx_close(pinger);
    h_server_stop_free(s);
}

/* A PING frame of exactly `len` bytes (PING's payload is ignored). */
static void ping_frame(tars_buf *f, size_t len)
{
    size_t pl = len - 64;
    for (;;) {
        uint8_t *junk = calloc(1, pl);
        assert_non_null(junk);
        tars_buf_reset(f);
        h_raw_frame(f, PT_PING, 0, "big-ping", junk, pl);
        free(junk);
        if (f->len == len)
            return;
        pl += len - f->len; /* the header's size varies with the payload's */
    }
}

static void test_logged_in_largest_partial_refused(void **st)
{
    (void)st;
    h_server *s = h_server_start("max_pending_bytes = 1048576\n"
                                 "frame_timeout_s = 60\n"
                                 "log_level = warn\n",
                                 NULL);
    h_user_add(s, "big0", "pw");
    h_user_add(s, "big1", "pw");
    hx_conn *a = hx_login(s, "big0", "pw", DEVICE_IOS);
    hx_conn *b = hx_login(s, "big1", "pw", DEVICE_IOS);
    tars_buf fa, fb;
    tars_buf_init(&fa);
    tars_buf_init(&fb);
    ping_frame(&fa, 400000);
    ping_frame(&fb, 1000000);
    /* a: 300,000 bytes of its 400,000; then b: 900,000 of 1,000,000. Both
     * together hold more than 1 MiB: b, the largest, is refused */
    assert_true(hx_write(a, fa.data, 300000));
    usleep(200000);
    hx_write(b, fb.data, 900000); /* may fail once the server closed b */
    expect_error_then_close(b, OMTP_EC_SERVER_REFUSED, "memory for partial frames");
    /* a finishes its frame and is answered */
    assert_true(hx_write(a, fa.data + 300000, fa.len - 300000));
    hx_reply r;
    assert_int_equal(hx_wait(a, "big-ping", 5000, &r), 0);
    assert_int_equal(r.type, PT_PING);
    hx_reply_free(&r);
    hx_ping_ok(a);
    hx_close(a);
    hx_close(b);
    tars_buf_free(&fa);
    tars_buf_free(&fb);
    h_server_stop_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_prelogin_oversized_announce, h_teardown),
        cmocka_unit_test_teardown(test_prelogin_tricklers_capped, h_teardown),
        cmocka_unit_test_teardown(test_logged_in_trickler_deadline, h_teardown),
        cmocka_unit_test_teardown(test_logged_in_largest_partial_refused, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
