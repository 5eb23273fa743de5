/*
 * harness.c - the integration-test harness (see harness.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 16

static h_server *live[MAX_SERVERS];

int64_t h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *h_server_log(h_server *s)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

void h_server_dump_log(h_server *s)
{
    char *l = h_server_log(s);
    fprintf(stderr, "----- omtpd log (%s) -----\n%s----- end of omtpd log -----\n", s->log_path, l);
    free(l);
}

static void die(h_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void die(h_server *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s)
        h_server_dump_log(s);
    fail_msg("harness: %s", msg);
}

/* Starts omtpd; returns -1 once it listens, or, if may_exit, its exit code
 * when it exited during start-up (else that fails the test). */
static int spawn_ex(h_server *s, int listen_port, bool may_exit)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", listen_port);
    unlink(s->port_path);
    const char *argv[64];
    int n = 0;
    argv[n++] = s->bin;
    argv[n++] = "--config";
    argv[n++] = s->conf_path;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--port-file";
    argv[n++] = s->port_path;
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    for (int i = 0; i < s->nargs && n < 62; i++)
        argv[n++] = s->args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        die(s, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(s->bin, (char *const *)argv);
        fprintf(stderr, "harness: exec %s: %s\n", s->bin, strerror(errno));
        _exit(127);
    }
    s->pid = pid;
    /* wait for the port file (the server listens once it exists) */
    int64_t deadline = h_now_ms() + 30000;
    for (;;) {
        FILE *f = fopen(s->port_path, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1 && port > 0;
            fclose(f);
            if (ok) {
                s->port = port;
                return -1;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            s->status = st;
            if (may_exit)
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            die(s, "omtpd exited during start-up (status %d)",
                WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        if (h_now_ms() > deadline)
            die(s, "omtpd did not write its port file within 30 s");
        sleep_ms(10);
    }
}

static void spawn(h_server *s, int listen_port)
{
    spawn_ex(s, listen_port, false);
}

int h_server_try_restart(h_server *s)
{
    if (s->pid)
        die(s, "restart of a running server");
    return spawn_ex(s, 0, true);
}

h_server *h_server_start(const char *conf, const char *const *args)
{
    signal(SIGPIPE, SIG_IGN);
    h_server *s = calloc(1, sizeof(*s));
    s->bin = getenv("OMTPD");
    if (!s->bin || !*s->bin)
        s->bin = "build/omtpd";
    snprintf(s->dir, sizeof(s->dir), "/tmp/omtp-test-XXXXXX");
    if (!mkdtemp(s->dir))
        die(NULL, "mkdtemp: %s", strerror(errno));
    snprintf(s->data_dir, sizeof(s->data_dir), "%s/data", s->dir);
    snprintf(s->conf_path, sizeof(s->conf_path), "%s/omtpd.conf", s->dir);
    snprintf(s->log_path, sizeof(s->log_path), "%s/omtpd.log", s->dir);
    snprintf(s->port_path, sizeof(s->port_path), "%s/port", s->dir);
    mkdir(s->data_dir, 0755);
    FILE *f = fopen(s->conf_path, "w");
    if (!f)
        die(NULL, "cannot write %s", s->conf_path);
    fputs("# written by the test harness\n", f);
    if (conf)
        fputs(conf, f);
    /* a fixture parameter: the same test on another path (tests/
     * CMakeLists.txt runs some tests again with H_EXTRA_CONF =
     * "message_log = false"); last, so it wins over the test's own lines */
    const char *extra = getenv("H_EXTRA_CONF");
    if (extra && *extra)
        fprintf(f, "\n%s\n", extra);
    fclose(f);
    for (int i = 0; args && args[i] && s->nargs < 32; i++)
        s->args[s->nargs++] = strdup(args[i]);
    for (int i = 0; i < MAX_SERVERS; i++)
        if (!live[i]) {
            live[i] = s;
            break;
        }
    spawn(s, 0);
    return s;
}

void h_server_restart(h_server *s)
{
    if (s->pid)
        die(s, "restart of a running server");
    spawn(s, 0);
}

void h_server_restart_same_port(h_server *s)
{
    if (s->pid)
        die(s, "restart of a running server");
    int port = s->port;
    spawn(s, port);
    if (s->port != port)
        die(s, "omtpd restarted on port %d instead of %d", s->port, port);
}

bool h_server_alive(h_server *s)
{
    if (!s->pid)
        return false;
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->pid = 0;
        s->status = st;
        return false;
    }
    return true;
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int h_server_stop(h_server *s)
{
    if (!s->pid)
        return exit_code(s->status);
    kill(s->pid, SIGTERM);
    int64_t deadline = h_now_ms() + 20000;
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            s->status = st;
            return exit_code(st);
        }
        if (h_now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            s->status = st;
            fprintf(stderr, "harness: omtpd ignored SIGTERM for 20 s, killed\n");
            return exit_code(st);
        }
        sleep_ms(5);
    }
}

void h_server_kill9(h_server *s)
{
    if (!s->pid)
        return;
    kill(s->pid, SIGKILL);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    s->status = st;
}

static void rm_rf(const char *dir)
{
    pid_t p = fork();
    if (p == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
}

static void forget(h_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (live[i] == s)
            live[i] = NULL;
}

void h_server_free(h_server *s)
{
    if (!s)
        return;
    if (s->pid)
        h_server_stop(s);
    /* ctest shows output only for failing tests: the log explains them */
    if (!getenv("H_QUIET"))
        h_server_dump_log(s);
    forget(s);
    rm_rf(s->dir);
    for (int i = 0; i < s->nargs; i++)
        free(s->args[i]);
    free(s);
}

void h_server_stop_free(h_server *s)
{
    if (!s)
        return;
    int rc = h_server_stop(s);
    if (rc != 0)
        h_server_dump_log(s);
    assert_int_equal(rc, 0);
    h_server_free(s);
}

int h_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_SERVERS; i++) {
        h_server *s = live[i];
        if (!s)
            continue;
        fprintf(stderr, "harness: test ended with omtpd still registered; its log:\n");
        h_server_kill9(s);
        h_server_dump_log(s);
        live[i] = NULL;
        /* keep the directory for post-mortem */
        fprintf(stderr, "harness: data left in %s\n", s->dir);
        for (int k = 0; k < s->nargs; k++)
            free(s->args[k]);
        free(s);
    }
    return 0;
}

static int admin_exec(h_server *s, char *out, size_t outlen, const char *const *args);

/* Admin commands never create a store (only the server or `omtpd init` do):
 * `user add` / `user bulk` on a fresh directory run `omtpd init` first, as a
 * user would. init does nothing on an existing store. */
int h_admin(h_server *s, char *out, size_t outlen, const char *const *args)
{
    if (args[0] && args[1] && !strcmp(args[0], "user") &&
        (!strcmp(args[1], "add") || !strcmp(args[1], "bulk"))) {
        const char *init[] = {"init", NULL};
        int rc = admin_exec(s, NULL, 0, init);
        if (rc != 0)
            return rc;
    }
    return admin_exec(s, out, outlen, args);
}

static int admin_exec(h_server *s, char *out, size_t outlen, const char *const *args)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = s->bin;
    for (int i = 0; args[i] && n < 40; i++)
        argv[n++] = args[i];
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--config";
    argv[n++] = s->conf_path;
    argv[n] = NULL;
    int pfd[2];
    if (pipe(pfd))
        die(s, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execv(s->bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t got = 0;
    char tmp[4096];
    ssize_t r;
    while ((r = read(pfd[0], tmp, sizeof(tmp))) > 0) {
        if (out && got + 1 < outlen) {
            size_t k = (size_t)r < outlen - 1 - got ? (size_t)r : outlen - 1 - got;
            memcpy(out + got, tmp, k);
            got += k;
        }
    }
    if (out && outlen)
        out[got] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return exit_code(st);
}

void h_user_add(h_server *s, const char *user, const char *password)
{
    const char *args[] = {"user", "add", user, "--password", password, NULL};
    int rc = h_admin(s, NULL, 0, args);
    if (rc != 0)
        die(s, "omtpd user add %s failed (exit %d)", user, rc);
}

void h_token(h_server *s, const char *user, long ttl, char *tok, size_t toklen)
{
    char t[32];
    snprintf(t, sizeof(t), "%ld", ttl);
    const char *args[] = {"token", "issue", user, "--ttl", t, NULL};
    int rc = h_admin(s, tok, toklen, args);
    if (rc != 0)
        die(s, "omtpd token issue %s failed (exit %d)", user, rc);
    tok[strcspn(tok, "\r\n")] = 0;
}

omtp_sync *h_connect(h_server *s)
{
    omtp_sync *c = NULL;
    int rc = omtp_sync_connect(&c, "127.0.0.1", s->port, 5000);
    if (rc)
        die(s, "connect to 127.0.0.1:%d: %s", s->port, omtp_strerror(rc));
    return c;
}

omtp_sync *h_login(h_server *s, const char *user, const char *password, int device_type)
{
    omtp_sync *c = h_connect(s);
    int code = -1;
    int rc = omtp_sync_login(c, user, password, device_type, NULL, &code);
    if (rc || code != 0)
        die(s, "login %s: rc %d (%s) code %d", user, rc, omtp_strerror(rc), code);
    return c;
}

int h_raw_connect(h_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        die(s, "raw connect: %s", strerror(errno));
    return fd;
}

int h_raw_connect_from(h_server *s, const char *src_ip)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die(s, "socket: %s", strerror(errno));
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, src_ip, &src.sin_addr);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0)
        die(s, "bind %s: %s", src_ip, strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

ssize_t h_raw_read_until_close(int fd, void *buf, size_t len, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    size_t got = 0;
    for (;;) {
        int left = (int)(deadline - h_now_ms());
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        char tmp[4096];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return (ssize_t)got;
        if (r < 0)
            continue;
        size_t k = (size_t)r < len - got ? (size_t)r : len - got;
        memcpy((char *)buf + got, tmp, k);
        got += k;
    }
}

void h_raw_frame(tars_buf *b, int type, int64_t flags, const char *packId, const void *payload,
                 size_t len)
{
    omtp_OTIMPack pk;
    omtp_msg_init(&omtp_OTIMPack_desc, &pk);
    pk.header.type = (int16_t)type;
    pk.header.version = 1;
    pk.header.flags = flags;
    tars_str_set(&pk.header.packId, packId);
    tars_bytes_set(&pk.payload, payload, len);
    size_t start = b->len;
    static const uint8_t hole[4] = {0};
    tars_buf_put(b, hole, 4);
    tars_encode(b, &omtp_OTIMPack_desc, &pk, true, 0);
    size_t n = b->len - start;
    b->data[start] = (uint8_t)(n >> 24);
    b->data[start + 1] = (uint8_t)(n >> 16);
    b->data[start + 2] = (uint8_t)(n >> 8);
    b->data[start + 3] = (uint8_t)n;
    omtp_msg_free(&omtp_OTIMPack_desc, &pk);
}
