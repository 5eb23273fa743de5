/*
 * test_attack_conns.c - connections that never log in cannot take the
 * server's descriptors (attack campaign: "22,000 idle connections, 4 of 54
 * real users logged in within 28 s").
 *
 *   - per-address cap: with max_conns_per_ip = 5, a sixth connection from
 *     127.0.0.2 that has not logged in is refused (error frame naming the
 *     setting, close) while 127.0.0.3 still gets its five; logging in frees
 *     the address's slot;
 *   - descriptor exhaustion: omtpd runs with an open-files limit of 200
 *     (a /bin/sh wrapper does `ulimit -n 200`); 400 idle connections that
 *     never log in are opened, interleaved with real users: every user
 *     connects and logs in at once, the oldest idle connections are the
 *     ones closed, logged-in users are never shed, the server stays within
 *     its descriptors;
 *   - the open-files limit lowered under the running server (prlimit to
 *     120): accept fails with EMFILE, the listener does not spin (the
 *     server's CPU stays near zero), idle connections are shed, a real
 *     user gets in.
 *
 * The per-address cap is raised in the second test (all its connections
 * come from 127.0.0.1). Each wait is bounded; client side, at most ~420
 * sockets.
 */
#include "../integration/hostile_common.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

static hx_conn *connect_from(h_server *s, const char *ip)
{
    int fd = h_raw_connect_from(s, ip);
    if (fd < 0)
        fail_msg("connect from %s: %s", ip, strerror(errno));
    hx_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = fd;
    return c;
}

/* Whether the server closed c within timeout_ms (without reading replies). */
static bool closed_within(hx_conn *c, int timeout_ms)
{
    return hx_wait_closed(c, timeout_ms);
}

static void test_per_ip_cap(void **st)
{
    (void)st;
    h_server *s = h_server_start("max_conns_per_ip = 5\n"
                                 "prelogin_timeout_s = 30\n"
                                 "login_fail_delay_ms = 0\n"
                                 "log_level = warn\n",
                                 NULL);
    h_user_add(s, "p0", "pw");
    hx_conn *a[5], *b[5];
    for (int i = 0; i < 5; i++) {
        a[i] = connect_from(s, "127.0.0.2");
        hx_ping_ok(a[i]);
    }
    /* the sixth from the same address: refused with a reason */
    hx_conn *extra = connect_from(s, "127.0.0.2");
    uint8_t *body;
    size_t n;
    assert_int_equal(hx_read_frame(extra, 5000, &body, &n), 0);
    hx_reply r;
    hx_parse(body, n, &r);
    free(body);
    assert_int_equal(r.code, OMTP_EC_SERVER_REFUSED);
    assert_non_null(strstr(r.desc, "max_conns_per_ip"));
    hx_reply_free(&r);
    assert_true(closed_within(extra, 5000));
    hx_close(extra);
    /* another address is not affected */
    for (int i = 0; i < 5; i++) {
        b[i] = connect_from(s, "127.0.0.3");
        hx_ping_ok(b[i]);
    }
    /* one of 127.0.0.2's logs in: it no longer counts, a new one gets in */
    assert_int_equal(hx_login_code(a[0], "p0", "pw", DEVICE_IOS), 0);
    hx_conn *again = connect_from(s, "127.0.0.2");
    hx_ping_ok(again);
    hx_close(again);
    for (int i = 0; i < 5; i++) {
        hx_ping_ok(a[i]); /* nobody was shed */
        hx_close(a[i]);
        hx_close(b[i]);
    }
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "max_conns_per_ip"));
    free(log);
    h_server_stop_free(s);
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static char saved_omtpd[512]; /* $OMTPD while a test points it at a wrapper */

/* Teardown: $OMTPD back to the real binary, whatever the test did. */
static int restore_omtpd(void **st)
{
    int rc = h_teardown(st);
    if (saved_omtpd[0])
        setenv("OMTPD", saved_omtpd, 1);
    saved_omtpd[0] = 0;
    return rc;
}

static void test_descriptor_exhaustion(void **st)
{
    (void)st;
    /* omtpd behind `ulimit -n 200` (soft and hard: omtpd raises soft to hard) */
    const char *real = getenv("OMTPD");
    assert_non_null(real);
    snprintf(saved_omtpd, sizeof(saved_omtpd), "%s", real);
    const char *saved = saved_omtpd;
    char dir[] = "/tmp/omtp-nofile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char wrapper[128];
    snprintf(wrapper, sizeof(wrapper), "%s/omtpd", dir);
    FILE *f = fopen(wrapper, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\nulimit -n 200 || exit 99\nexec '%s' \"$@\"\n", saved);
    fclose(f);
    chmod(wrapper, 0755);
    setenv("OMTPD", wrapper, 1);
    h_server *s = h_server_start("max_conns_per_ip = 100000\n"
                                 "prelogin_timeout_s = 60\n"
                                 "login_fail_delay_ms = 0\n"
                                 "log_level = warn\n",
                                 NULL);
    enum { USERS = 5, IDLE = 400 };
    char user[USERS][16];
    for (int u = 0; u < USERS; u++) {
        snprintf(user[u], sizeof(user[u]), "real%d", u);
        h_user_add(s, user[u], "pw");
    }
    hx_conn **idle = calloc(IDLE, sizeof(*idle));
    hx_conn *in[USERS];
    int opened = 0;
    for (int u = 0; u < USERS; u++) {
        /* a wave of idle connections that never log in ... */
        for (int k = 0; k < IDLE / USERS; k++)
            idle[opened++] = hx_connect(s);
        /* ... then a real user: connects and logs in at once */
        int64_t t0 = h_now_ms();
        in[u] = hx_connect(s);
        assert_int_equal(hx_login_code(in[u], user[u], "pw", DEVICE_IOS), 0);
        fprintf(stderr, "user %d logged in after %d idle connections in %lld ms\n", u, opened,
                (long long)(h_now_ms() - t0));
    }
    /* logged-in users were never shed */
    for (int u = 0; u < USERS; u++)
        hx_ping_ok(in[u]);
    /* the oldest idle connections are the ones that were closed */
    assert_true(closed_within(idle[0], 3000));
    assert_true(closed_within(idle[1], 3000));
    int fds = count_fds(s->pid);
    fprintf(stderr, "omtpd holds %d descriptors (limit 200)\n", fds);
    assert_true(fds > 0 && fds <= 200);
    assert_true(h_server_alive(s));
    for (int i = 0; i < opened; i++)
        hx_close(idle[i]);
    free(idle);
    for (int u = 0; u < USERS; u++)
        hx_close(in[u]);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "descriptor budget"));
    free(log);
    h_server_stop_free(s);
    unlink(wrapper);
    rmdir(dir);
}

/* CPU time (utime + stime, clock ticks) of pid so far. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    assert_non_null(p);
    long ut = 0, stt = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &stt), 2);
    return ut + stt;
}

/* Connects and logs in; false if the server closed the connection first. */
static bool try_login(h_server *s, const char *user, hx_conn **out)
{
    hx_conn *c = hx_connect(s);
    omtp_LoginReq lr;
    omtp_msg_init(&omtp_LoginReq_desc, &lr);
    tars_str_set(&lr.clientId, user);
    tars_str_set(&lr.userName, user);
    tars_str_set(&lr.password, "pw");
    tars_str_set(&lr.deviceId, "hx-dev");
    lr.deviceType = DEVICE_IOS;
    hx_reply r;
    int rc = hx_call_struct(c, PT_LOGIN, "try-login", &omtp_LoginReq_desc, &lr, &r);
    omtp_msg_free(&omtp_LoginReq_desc, &lr);
    bool ok = rc == 0 && r.type == PT_LOGIN && r.code == 0;
    if (rc == 0)
        hx_reply_free(&r);
    if (!ok) {
        hx_close(c);
        return false;
    }
    *out = c;
    return true;
}

/* The open-files limit drops under the server at run time (prlimit): accept
 * fails with EMFILE. The listener does not spin, idle connections are shed,
 * and a real user gets in. */
static void test_emfile_at_run_time(void **st)
{
    (void)st;
    h_server *s = h_server_start("max_conns_per_ip = 100000\n"
                                 "prelogin_timeout_s = 60\n"
                                 "login_fail_delay_ms = 0\n"
                                 "log_level = warn\n",
                                 NULL);
    h_user_add(s, "emf", "pw");
    struct rlimit rl = {.rlim_cur = 120, .rlim_max = 120};
    assert_int_equal(prlimit(s->pid, RLIMIT_NOFILE, &rl, NULL), 0);
    enum { IDLE = 250 };
    hx_conn *idle[IDLE];
    for (int i = 0; i < IDLE; i++)
        idle[i] = hx_connect(s);
    /* a real user gets in (a connection libuv closed while out of
     * descriptors is retried, as a client would) */
    hx_conn *u = NULL;
    int tries = 0;
    while (!u && tries < 20) {
        tries++;
        if (!try_login(s, "emf", &u))
            usleep(100000);
    }
    fprintf(stderr, "logged in after %d attempt(s) with the limit at 120\n", tries);
    assert_non_null(u);
    hx_ping_ok(u);
    /* the listener is not spinning: the server is idle */
    long t0 = cpu_ticks(s->pid);
    usleep(1000000);
    long used = cpu_ticks(s->pid) - t0;
    fprintf(stderr, "omtpd CPU in 1 s after the flood: %ld ticks\n", used);
    assert_true(used < 50);
    assert_true(h_server_alive(s));
    for (int i = 0; i < IDLE; i++)
        hx_close(idle[i]);
    hx_close(u);
    /* the log is read after stop: the rate-limited counts are written then */
    assert_int_equal(h_server_stop(s), 0);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "open-files limit now 120"));
    free(log);
    h_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_per_ip_cap, h_teardown),
        cmocka_unit_test_teardown(test_descriptor_exhaustion, restore_omtpd),
        cmocka_unit_test_teardown(test_emfile_at_run_time, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
