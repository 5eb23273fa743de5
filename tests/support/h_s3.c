/*
 * h_s3.c - the local S3 server for tests (h_s3.h).
 */
#include "h_s3.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static void dump_out(h_s3 *s)
{
    FILE *f = fopen(s->out_path, "r");
    char line[512];
    fprintf(stderr, "----- s3server output (%s) -----\n", s->out_path);
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
    fprintf(stderr, "----- end of s3server output -----\n");
}

h_s3 *h_s3_start(const char *bucket, const char *access_key, const char *secret_key)
{
    const char *src = getenv("OMTP_SRC");
    if (!src)
        src = ".";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/s3/prepare.sh'", src);
    if (system(cmd) != 0)
        fail_msg("h_s3: %s failed (node, npm and the npm registry or cache are needed once)", cmd);
    h_s3 *s = calloc(1, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/omtp-s3-XXXXXX");
    if (!mkdtemp(s->dir))
        fail_msg("h_s3: mkdtemp: %s", strerror(errno));
    snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/requests.log", s->dir);
    snprintf(s->out_path, sizeof s->out_path, "%s/s3server.out", s->dir);
    snprintf(s->port_path, sizeof s->port_path, "%s/port", s->dir);
    snprintf(s->fault_path, sizeof s->fault_path, "%s/fault", s->dir);
    snprintf(s->bucket, sizeof s->bucket, "%s", bucket);
    snprintf(s->access_key, sizeof s->access_key, "%s", access_key);
    snprintf(s->secret_key, sizeof s->secret_key, "%s", secret_key);
    mkdir(s->data_dir, 0700);
    char script[600];
    snprintf(script, sizeof script, "%s/tests/s3/s3server.js", src);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("h_s3: fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(s->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("node", "node", script, "--dir", s->data_dir, "--bucket", bucket, "--port-file",
               s->port_path, "--log", s->log_path, "--access-key", access_key, "--secret-key",
               secret_key, "--fault-file", s->fault_path, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 300; i++) { /* 30 s */
        FILE *f = fopen(s->port_path, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok && s->port > 0) {
                snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
                return s;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            dump_out(s);
            fail_msg("h_s3: s3server exited during start-up");
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    dump_out(s);
    fail_msg("h_s3: s3server did not listen within 30 s");
    return NULL;
}

int h_s3_count(h_s3 *s, const char *method, const char *part, int status)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    char line[2048], m[16], url[1800];
    int st, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15s %1799s %d", m, url, &st) != 3)
            continue;
        if (strcmp(m, method) == 0 && strstr(url, part) && (status <= 0 || st == status))
            n++;
    }
    fclose(f);
    return n;
}

int h_s3_uploads_pending(h_s3 *s)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/._S3rver_uploads", s->data_dir, s->bucket);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct {
    char *b;
    size_t n;
} membuf;

static size_t collect(char *p, size_t sz, size_t nm, void *arg)
{
    membuf *m = arg;
    char *nb = realloc(m->b, m->n + sz * nm + 1);
    if (!nb)
        return 0;
    memcpy(nb + m->n, p, sz * nm);
    m->b = nb;
    m->n += sz * nm;
    m->b[m->n] = 0;
    return sz * nm;
}

int h_s3_list(h_s3 *s, const char *prefix)
{
    CURL *h = curl_easy_init();
    char url[512], up[256], enc[200];
    size_t o = 0;
    for (const char *p = prefix; *p && o + 4 < sizeof enc; p++) {
        if (*p == '/')
            o += (size_t)snprintf(enc + o, sizeof enc - o, "%%2F");
        else
            enc[o++] = *p;
    }
    enc[o] = 0;
    snprintf(url, sizeof url, "%s/%s?list-type=2&prefix=%s", s->endpoint, s->bucket, enc);
    snprintf(up, sizeof up, "%s:%s", s->access_key, s->secret_key);
    struct curl_slist *hd =
        curl_slist_append(NULL, "x-amz-content-sha256: "
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    membuf m = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERPWD, up);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    long code = 0;
    int n = -1;
    if (curl_easy_perform(h) == CURLE_OK &&
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200 && m.b) {
        n = 0;
        for (const char *p = m.b; (p = strstr(p, "<Key>")); p += 5)
            n++;
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    free(m.b);
    return n;
}

void h_s3_fault(h_s3 *s, const char *what)
{
    FILE *f = fopen(s->fault_path, "w");
    if (!f)
        fail_msg("h_s3: %s: %s", s->fault_path, strerror(errno));
    fputs(what, f);
    fclose(f);
}

void h_s3_stop(h_s3 *s, int dump)
{
    if (!s)
        return;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        for (int i = 0; i < 100 && waitpid(s->pid, &st, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (waitpid(s->pid, &st, WNOHANG) == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
    }
    if (dump)
        dump_out(s);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "h_s3: could not remove %s\n", s->dir);
    free(s);
}
