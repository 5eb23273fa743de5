/*
 * test_attack_http.c - slow HTTP clients cannot silence the HTTP API
 * (attack campaign: "/healthz stops answering with ~1,000 slow connections,
 * no key needed").
 *
 *   - 1,100 connections from 127.0.0.1 each send half a request header and
 *     never finish it: /healthz from 127.0.0.2 still answers 200 (the
 *     per-address cap http_max_conns_per_ip keeps one address from taking
 *     every slot), and the slow connections the server did take are closed
 *     after http_timeout_s (2 s here);
 *   - 1,200 slow connections spread over 40 addresses (under the per-address
 *     cap of 32, above http_max_conns = 256) with a 60 s timeout: /healthz from a
 *     fresh address answers at once (the connection waiting longest for its
 *     request is shut down to make room);
 *   - a client trickling one header byte every 300 ms is closed at
 *     http_timeout_s (2 s) although it is never silent; so is one that
 *     sent its header and trickles its body.
 *
 * Client side: at most ~1,200 sockets; every wait is bounded (seconds).
 */
#include "../integration/hostile_common.h"
#include "h_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/resource.h>

/* A non-blocking TCP connection from src to 127.0.0.1:port; -1 if refused. */
static int tcp_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &s.sin_addr);
    if (bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0)
        fail_msg("bind %s: %s", src, strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Opens a slow client: half a header, never finished. */
static int slow_client(const char *src, int port)
{
    int fd = tcp_from(src, port);
    if (fd >= 0) {
        static const char half[] = "GET /healthz HTTP/1.1\r\nHost: omtp\r\nX-Slow: 1";
        (void)!send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL);
    }
    return fd;
}

/* GET /healthz from src within timeout_ms: true on a 200. */
static bool healthz_from(const char *src, int port, int timeout_ms)
{
    int fd = tcp_from(src, port);
    if (fd < 0)
        return false;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: omtp\r\nConnection: close\r\n\r\n";
    bool ok = false;
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1)) {
        char buf[512];
        size_t got = 0;
        int64_t deadline = h_now_ms() + timeout_ms;
        while (got < 12 && h_now_ms() < deadline) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)(deadline - h_now_ms())) <= 0)
                continue;
            ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        buf[got] = 0;
        ok = got >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
    }
    close(fd);
    return ok;
}

/* Whether the server closed fd (EOF or reset) within timeout_ms. */
static bool server_closed(int fd, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    while (h_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - h_now_ms())) <= 0)
            continue;
        char b[1024];
        ssize_t k = recv(fd, b, sizeof(b), 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
    return false;
}

static h_server *start(const char *conf, char *dir, int *hport)
{
    assert_non_null(mkdtemp(dir));
    static char path[96];
    snprintf(path, sizeof(path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", path, NULL};
    h_server *s = h_server_start(conf, args);
    *hport = h_http_port(path);
    assert_true(*hport > 0);
    return s;
}

static void stop(h_server *s, char *dir)
{
    h_server_stop_free(s);
    char path[96];
    snprintf(path, sizeof(path), "%s/http.port", dir);
    unlink(path);
    rmdir(dir);
}

static void test_one_address_many_slow(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-http-XXXXXX";
    int hport;
    h_server *s = start("http_timeout_s = 2\nlog_level = warn\n", dir, &hport);
    assert_true(healthz_from("127.0.0.2", hport, 3000));
    enum { N = 1100 };
    int *fd = malloc(N * sizeof(int));
    int64_t t0 = h_now_ms();
    for (int i = 0; i < N; i++)
        fd[i] = slow_client("127.0.0.1", hport);
    fprintf(stderr, "%d slow clients opened in %lld ms\n", N, (long long)(h_now_ms() - t0));
    /* another address is served at once */
    t0 = h_now_ms();
    bool ok = false;
    for (int tries = 0; tries < 3 && !ok; tries++)
        ok = healthz_from("127.0.0.2", hport, 2000);
    fprintf(stderr, "/healthz under %d slow connections: %s in %lld ms\n", N, ok ? "200" : "FAILED",
            (long long)(h_now_ms() - t0));
    assert_true(ok);
    /* the slow ones the server took are closed by http_timeout_s (2 s) */
    int open_after = 0;
    for (int i = 0; i < N; i++)
        if (fd[i] >= 0 && !server_closed(fd[i], i < 64 ? 8000 : 100))
            open_after++;
    fprintf(stderr, "slow connections still open after the timeout: %d\n", open_after);
    assert_int_equal(open_after, 0);
    for (int i = 0; i < N; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    free(fd);
    assert_true(healthz_from("127.0.0.1", hport, 3000));
    /* the ones over the address's cap were counted, with their reason */
    double per_ip = h_metric(hport, "omtp_http_conns_shed_total{reason=\"per_ip\"}");
    fprintf(stderr, "shut down over http_max_conns_per_ip: %.0f\n", per_ip);
    assert_true(per_ip >= N - 64);
    stop(s, dir);
}

static void test_many_addresses_slow(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-http-XXXXXX";
    int hport;
    /* a long timeout: what makes room is shedding, not the timeout */
    h_server *s = start("http_timeout_s = 60\nlog_level = warn\n", dir, &hport);
    enum { ADDRS = 40, PER = 30 };
    int fd[ADDRS * PER];
    for (int a = 0; a < ADDRS; a++)
        for (int k = 0; k < PER; k++) {
            char src[32];
            snprintf(src, sizeof(src), "127.0.1.%d", a + 1);
            fd[a * PER + k] = slow_client(src, hport);
        }
    /* a fresh address is answered: the connection waiting longest for its
     * request makes room */
    int64_t t0 = h_now_ms();
    bool ok = false;
    while (!ok && h_now_ms() - t0 < 5000) {
        ok = healthz_from("127.0.2.1", hport, 1000);
        if (!ok)
            usleep(200000);
    }
    fprintf(stderr, "/healthz from a fresh address after %lld ms\n", (long long)(h_now_ms() - t0));
    assert_true(ok);
    for (int i = 0; i < ADDRS * PER; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    stop(s, dir);
}

static void test_header_trickler_deadline(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-http-XXXXXX";
    int hport;
    h_server *s = start("http_timeout_s = 2\nlog_level = warn\n", dir, &hport);
    int fd = tcp_from("127.0.0.4", hport);
    assert_true(fd >= 0);
    /* one header byte every 300 ms: never silent for http_timeout_s */
    static const char hdr[] =
        "GET /healthz HTTP/1.1\r\nHost: omtp\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int64_t t0 = h_now_ms();
    bool closed = false;
    for (size_t i = 0; i < sizeof(hdr) - 1 && !closed && h_now_ms() - t0 < 10000; i++) {
        if (send(fd, hdr + i, 1, MSG_NOSIGNAL) != 1)
            closed = true;
        else
            closed = server_closed(fd, 300);
    }
    int64_t took = h_now_ms() - t0;
    fprintf(stderr, "header trickler closed after %lld ms (http_timeout_s 2)\n", (long long)took);
    assert_true(closed);
    assert_true(took >= 1500 && took < 8000);
    close(fd);
    assert_true(healthz_from("127.0.0.4", hport, 3000));
    stop(s, dir);
}

static void test_body_trickler_deadline(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-http-XXXXXX";
    int hport;
    h_server *s = start("http_timeout_s = 2\napi_keys = k1\nlog_level = warn\n", dir, &hport);
    int fd = tcp_from("127.0.0.5", hport);
    assert_true(fd >= 0);
    /* a whole header announcing 1,000 bytes of body, then a byte every 300 ms */
    static const char hdr[] =
        "POST /v1/notify HTTP/1.1\r\nHost: omtp\r\nAuthorization: Bearer k1\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    assert_int_equal(send(fd, hdr, sizeof(hdr) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(hdr) - 1));
    int64_t t0 = h_now_ms();
    bool closed = false;
    while (!closed && h_now_ms() - t0 < 10000) {
        if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        else
            closed = server_closed(fd, 300);
    }
    int64_t took = h_now_ms() - t0;
    fprintf(stderr, "body trickler closed after %lld ms (http_timeout_s 2)\n", (long long)took);
    assert_true(closed);
    assert_true(took >= 1500 && took < 8000);
    close(fd);
    assert_true(healthz_from("127.0.0.5", hport, 3000));
    stop(s, dir);
}

int main(void)
{
    /* ~1,250 sockets at once: raise the soft open-files limit if needed */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2048) {
        rl.rlim_cur = rl.rlim_max < 2048 ? rl.rlim_max : 2048;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < 1400) {
            fprintf(stderr,
                    "test_attack_http: needs 1,400 open files, the limit is %llu: skipped\n",
                    (unsigned long long)rl.rlim_cur);
            return 77; /* ctest: SKIP_RETURN_CODE */
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_address_many_slow, h_teardown),
        cmocka_unit_test_teardown(test_many_addresses_slow, h_teardown),
        cmocka_unit_test_teardown(test_header_trickler_deadline, h_teardown),
        cmocka_unit_test_teardown(test_body_trickler_deadline, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
