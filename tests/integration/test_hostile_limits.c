/*
 * test_hostile_limits.c - resource limits of a real omtpd under abuse, each
 * checked while another client keeps being served:
 *   - connections up to max_conns (8 here): the next one makes the oldest
 *     idle connection that never logged in close; with all eight logged in
 *     it is refused (error frame "server full", close);
 *   - connections that never log in are closed by the pre-login timeout;
 *   - a client writing max_frame (1 MiB) frames back to back for 3 s: the
 *     server keeps answering another client quickly and its memory stays
 *     bounded; a frame one byte over max_frame closes that client;
 *   - a group member that never reads while 4 MiB of group messages are
 *     pushed to it: closed as a slow reader once out_buf_cap is passed, the
 *     server's VmRSS stays bounded, the others get every message.
 */
#include "hostile_common.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>

static h_server *srv;

static int setup(void **st)
{
    (void)st;
    srv = h_server_start("max_conns = 8\n"
                         "prelogin_timeout_s = 1\n"
                         "max_frame = 1048576\n"
                         "out_buf_cap = 262144\n"
                         "login_fail_delay_ms = 0\n"
                         /* floods on purpose: no request rate limit, no
                          * per-account backoff for the bad logins */
                         "req_rate = 0\n"
                         "login_account_delay_ms = 0\n"
                         "log_level = warn\n",
                         NULL);
    const char *args[] = {"user", "bulk", "l", "4", "--password", "pw", "--cost", "4", NULL};
    assert_int_equal(h_admin(srv, NULL, 0, args), 0);
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

/* Time of a PING round trip on c, in ms. */
static int64_t ping_ms(hx_conn *c)
{
    int64_t t0 = h_now_ms();
    hx_ping_ok(c);
    return h_now_ms() - t0;
}

/* A connection the server serves (a PING answered), retried while closed
 * connections of an earlier step are still counted against max_conns. */
static hx_conn *connect_served(void)
{
    for (int tries = 0; tries < 100; tries++) {
        hx_conn *c = hx_connect(srv);
        if (hx_send(c, PT_PING, 0, "hx-ping", NULL, 0)) {
            hx_reply r;
            if (hx_wait(c, "hx-ping", 1000, &r) == 0) {
                hx_reply_free(&r);
                return c;
            }
        }
        hx_close(c);
        usleep(20000);
    }
    return NULL;
}

static hx_conn *login_served(const char *user, int dev)
{
    hx_conn *c = connect_served();
    assert_non_null(c);
    assert_int_equal(hx_login_code(c, user, "pw", dev), 0);
    return c;
}

static void test_max_conns(void **st)
{
    (void)st;
    hx_conn *user = hx_login(srv, "l0", "pw", DEVICE_IOS);
    hx_conn *idle[7];
    for (int i = 0; i < 7; i++) {
        idle[i] = hx_connect(srv);
        hx_ping_ok(idle[i]); /* accepted and served */
    }
    /* the 9th gets in: the oldest idle connection that never logged in
     * makes room (docs/server-core.md, "Resource guards") */
    hx_conn *extra = connect_served();
    assert_non_null(extra);
    assert_true(hx_wait_closed(idle[0], 3000));
    hx_close(idle[0]);
    for (int i = 1; i < 7; i++)
        hx_ping_ok(idle[i]);
    assert_true(ping_ms(user) < 1000);
    hx_send_ok(user, "l1");
    hx_close(extra);
    for (int i = 1; i < 7; i++)
        hx_close(idle[i]);
    /* eight logged in: nothing to shed, the 9th is refused with a reason */
    hx_conn *in[7];
    const char *users[] = {"l0", "l1", "l1", "l2", "l2", "l3", "l3"};
    const int devs[] = {DEVICE_ANDROID, DEVICE_IOS, DEVICE_ANDROID, DEVICE_IOS,
                        DEVICE_ANDROID, DEVICE_IOS, DEVICE_ANDROID};
    for (int i = 0; i < 7; i++)
        in[i] = login_served(users[i], devs[i]);
    hx_conn *refused = hx_connect(srv);
    uint8_t *body;
    size_t n;
    assert_int_equal(hx_read_frame(refused, 3000, &body, &n), 0);
    hx_reply r;
    hx_parse(body, n, &r);
    free(body);
    assert_int_equal(r.code, OMTP_EC_SERVER_REFUSED);
    assert_non_null(strstr(r.desc, "server full"));
    hx_reply_free(&r);
    assert_true(hx_wait_closed(refused, 3000));
    hx_close(refused);
    hx_ping_ok(user);
    for (int i = 0; i < 7; i++)
        hx_close(in[i]);
    hx_close(user);
    char *log = h_server_log(srv);
    assert_non_null(strstr(log, "max_conns"));
    free(log);
}

static void test_prelogin_timeout(void **st)
{
    (void)st;
    hx_conn *user = login_served("l0", DEVICE_IOS);
    hx_conn *silent = connect_served();
    hx_conn *pinger = connect_served();
    assert_non_null(silent);
    assert_non_null(pinger);
    int64_t t0 = h_now_ms();
    /* the pinger keeps talking but never logs in: closed all the same */
    bool closed = false;
    while (!closed && h_now_ms() - t0 < 5000) {
        if (!hx_send(pinger, PT_PING, 0, "pp", NULL, 0))
            break;
        hx_reply r;
        int rc = hx_wait(pinger, "pp", 300, &r);
        if (rc == 0)
            hx_reply_free(&r);
        else if (rc == OMTP_ECLOSED)
            closed = true;
        usleep(100000);
    }
    assert_true(hx_wait_closed(pinger, 3000));
    assert_true(hx_wait_closed(silent, 3000));
    int64_t took = h_now_ms() - t0;
    assert_true(took >= 500 && took < 4000);
    /* the logged-in user is untouched */
    hx_ping_ok(user);
    hx_close(silent);
    hx_close(pinger);
    hx_close(user);
}

static void test_big_frame_flood(void **st)
{
    (void)st;
    hx_conn *user = login_served("l1", DEVICE_IOS);
    long rss0 = vm_rss_kb(srv->pid);
    /* one frame of exactly max_frame bytes: a PING whose payload is junk
     * (PING has no payload struct: answered, payload ignored) */
    tars_buf f;
    tars_buf_init(&f);
    size_t pl = 1048576 - 64;
    uint8_t *junk = malloc(pl);
    for (size_t i = 0; i < pl; i++)
        junk[i] = (uint8_t)(i * 131);
    for (;;) {
        tars_buf_reset(&f);
        h_raw_frame(&f, PT_PING, 0, "big", junk, pl);
        if (f.len == 1048576)
            break;
        pl += 1048576 - f.len; /* adjust for the varying header size */
        junk = realloc(junk, pl);
        memset(junk, 0x5a, pl);
    }
    free(junk);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        hx_conn *fl = hx_login(srv, "l3", "pw", DEVICE_ANDROID); /* else the pre-login timeout */
        int64_t t0 = h_now_ms();
        while (h_now_ms() - t0 < 3000) {
            if (!hx_write(fl, f.data, f.len))
                _exit(2);
            /* drain the (tiny) replies now and then */
            uint8_t drain[65536];
            while (recv(fl->fd, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
            }
            usleep(1000);
        }
        _exit(0);
    }
    int64_t worst = 0;
    int64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < 3000) {
        int64_t ms = ping_ms(user);
        if (ms > worst)
            worst = ms;
        usleep(50000);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    long rss1 = vm_rss_kb(srv->pid);
    fprintf(stderr, "1 MiB frames for 3 s: worst PING %lld ms, VmRSS %ld -> %ld kB\n",
            (long long)worst, rss0, rss1);
    assert_true(worst < 1000);
    assert_true(rss1 - rss0 < 100 * 1024);
    /* one byte more than max_frame: error frame, close */
    hx_conn *over = hx_connect(srv);
    uint8_t hdr[4] = {0x00, 0x10, 0x00, 0x01};
    assert_true(hx_write(over, hdr, 4));
    uint8_t *body;
    size_t n;
    assert_int_equal(hx_read_frame(over, 3000, &body, &n), 0);
    hx_reply r;
    hx_parse(body, n, &r);
    free(body);
    assert_int_equal(r.type, 0);
    assert_int_equal(r.code, OMTP_EC_PROTOCOL);
    assert_non_null(strstr(r.desc, "frame length"));
    hx_reply_free(&r);
    assert_true(hx_wait_closed(over, 3000));
    hx_close(over);
    hx_send_ok(user, "l0");
    hx_close(user);
    tars_buf_free(&f);
}

/* Reads what is there within timeout_ms; returns the group messages seen. */
static int count_group_pushes(hx_conn *c, int timeout_ms)
{
    int got = 0;
    uint8_t *body;
    size_t n;
    while (hx_read_frame(c, timeout_ms, &body, &n) == 0) {
        hx_reply r;
        hx_parse(body, n, &r);
        free(body);
        if (r.type == PT_MSG_GROUP_CHAT && !(r.flags & OMTP_F_ACK))
            got++;
        hx_reply_free(&r);
    }
    return got;
}

static void test_slow_group_reader(void **st)
{
    (void)st;
    hx_conn *sender = hx_login(srv, "l0", "pw", DEVICE_LINUX);
    hx_conn *reader = hx_login(srv, "l2", "pw", DEVICE_LINUX);
    /* the slow one: a small receive buffer, and it never reads */
    hx_conn *slow = calloc(1, sizeof(*slow));
    slow->fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(slow->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(hx_login_code(slow, "l3", "pw", DEVICE_LINUX), 0);

    omtp_GroupChatCreateReq cr;
    omtp_msg_init(&omtp_GroupChatCreateReq_desc, &cr);
    tars_str_set(&cr.groupInfo.name, "slow");
    cr.memberIds.items = calloc(2, sizeof(tars_str));
    cr.memberIds.n = 2;
    tars_str_set(&cr.memberIds.items[0], "l2");
    tars_str_set(&cr.memberIds.items[1], "l3");
    hx_reply r;
    assert_int_equal(
        hx_call_struct(sender, PT_GROUPCHAT_CREATE, "gc", &omtp_GroupChatCreateReq_desc, &cr, &r),
        0);
    assert_int_equal(r.code, 0);
    omtp_GroupChatCreateResp gr;
    tars_err e;
    assert_int_equal(tars_decode(&omtp_GroupChatCreateResp_desc, &gr, r.payload, r.payload_len, &e),
                     0);
    hx_reply_free(&r);
    omtp_msg_free(&omtp_GroupChatCreateReq_desc, &cr);

    long rss0 = vm_rss_kb(srv->pid);
    enum { MSGS = 512, SIZE = 8192 };
    char *content = malloc(SIZE + 1);
    memset(content, 'c', SIZE);
    content[SIZE] = 0;
    int got = 0;
    tars_buf p;
    tars_buf_init(&p);
    for (int i = 0; i < MSGS; i++) {
        omtp_MsgReq m;
        omtp_msg_init(&omtp_MsgReq_desc, &m);
        tars_str_set(&m.to, gr.groupId.data);
        snprintf(content, 32, "%08d", i);
        content[8] = 'c';
        tars_str_set(&m.content, content);
        hx_payload(&p, &omtp_MsgReq_desc, &m);
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        char id[32];
        snprintf(id, sizeof(id), "g%d", i);
        assert_int_equal(hx_call(sender, PT_MSG_GROUP_CHAT, 0, id, p.data, p.len, &r), 0);
        assert_int_equal(r.code, 0);
        hx_reply_free(&r);
        /* the normal member reads its pushes as they come */
        got += count_group_pushes(reader, 1);
    }
    int64_t t0 = h_now_ms();
    while (got < MSGS && h_now_ms() - t0 < 10000)
        got += count_group_pushes(reader, 200);
    assert_int_equal(got, MSGS);
    long rss1 = vm_rss_kb(srv->pid);
    fprintf(stderr, "%d x %d B group pushes to a non-reader: VmRSS %ld -> %ld kB\n", MSGS, SIZE,
            rss0, rss1);
    assert_true(rss1 - rss0 < 64 * 1024);
    /* the slow one was closed: after its buffered bytes, EOF or reset (a
     * reader that keeps up would see all 4 MiB and no close) */
    assert_true(hx_wait_closed(slow, 5000));
    assert_true(count_group_pushes(slow, 0) == 0);
    hx_close(slow);
    hx_ping_ok(sender);
    hx_send_ok(reader, "l0");
    free(content);
    tars_buf_free(&p);
    omtp_msg_free(&omtp_GroupChatCreateResp_desc, &gr);
    hx_close(sender);
    hx_close(reader);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* Under ASan freed memory sits in a quarantine (256 MiB by default) and
     * counts in VmRSS: keep it small in the server so the RSS bounds measure
     * the server, not the sanitizer. Harmless without ASan. */
    static char asan[1024];
    const char *cur = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=4:thread_local_quarantine_size_kb=64",
             cur ? cur : "", cur && *cur ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_conns),
        cmocka_unit_test(test_prelogin_timeout),
        cmocka_unit_test(test_big_frame_flood),
        cmocka_unit_test(test_slow_group_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
