/*
 * test_filestore_contract.c - the file store contract (store/filestore.h),
 * run against both backends: the local store in a temporary directory and
 * the S3 store against a real local S3-compatible server (tests/s3,
 * s3rver with a SigV4 check; tests/support/h_s3.h).
 *
 * Contract: put/commit names the object by its SHA-256; get (whole and
 * ranged) streams the same bytes in pieces <= OMTP_FS_CHUNK; stat; delete;
 * identical content stored once; abort leaves nothing; a zero-byte object;
 * a sink that stops; several threads at once. S3 only: a 20 MiB object goes
 * multipart (3 parts of 8+8+4 MiB, counted in the server's request log), a
 * small one is one PUT to its name; a wrong secret or access key, or a
 * missing bucket, refuses to open with the S3 code and the setting to check;
 * the credentials may come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY;
 * the sweep removes stale tmp/ objects.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "h_s3.h"
#include "proto/omtp_errors.h"
#include "store/filestore.h"
#include "store/s3_client.h"

#define MIB (1024u * 1024u)

typedef struct fx {
    int s3; /* 0 local, 1 S3 */
    char dir[256];
    omtp_filestore *fs;
} fx;

static h_s3 *g_s3; /* one server for the whole run */

static void sha_hex(const void *data, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned dn = 0;
    EVP_Digest(data, n, d, &dn, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void fill(unsigned char *b, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
}

static omtp_filestore_config cfg_for(fx *f)
{
    omtp_filestore_config c;
    memset(&c, 0, sizeof c);
    c.data_dir = f->dir;
    if (f->s3) {
        c.s3_endpoint = g_s3->endpoint;
        c.s3_region = "us-east-1";
        c.s3_access_key = g_s3->access_key;
        c.s3_secret_key = g_s3->secret_key;
    }
    return c;
}

static int fx_setup(void **state, int s3)
{
    fx *f = calloc(1, sizeof *f);
    f->s3 = s3;
    snprintf(f->dir, sizeof f->dir, "/tmp/omtp-fsc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    omtp_filestore_config c = cfg_for(f);
    char why[512] = "", spec[80];
    snprintf(spec, sizeof spec, "s3://%s", s3 ? g_s3->bucket : "");
    int rc = omtp_filestore_open(s3 ? spec : "local", &c, &f->fs, why, sizeof why);
    if (rc != 0)
        fail_msg("open %s: %s", s3 ? spec : "local", why);
    *state = f;
    return 0;
}
static int setup_local(void **state)
{
    return fx_setup(state, 0);
}
static int setup_s3(void **state)
{
    return fx_setup(state, 1);
}
static int fx_teardown(void **state)
{
    fx *f = *state;
    omtp_filestore_close(f->fs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* put `n` bytes in writes of `step`, commit; the sha in out */
static int put_bytes(omtp_filestore *fs, const void *data, size_t n, size_t step, char out[65])
{
    omtp_fs_put *p = NULL;
    int rc = omtp_fs_put_begin(fs, n, &p);
    if (rc != 0)
        return rc;
    for (size_t o = 0; o < n; o += step) {
        size_t k = n - o < step ? n - o : step;
        rc = omtp_fs_put_write(p, (const char *)data + o, k);
        if (rc != 0) {
            omtp_fs_put_abort(p);
            return rc;
        }
    }
    uint64_t size = 0;
    rc = omtp_fs_put_commit(p, out, &size);
    if (rc == 0 || rc == OMTP_FS_EXISTED)
        assert_int_equal(size, n);
    return rc == OMTP_FS_EXISTED ? 0 : rc;
}

typedef struct sinkbuf {
    unsigned char *b;
    size_t n, cap, max_piece;
    int calls, stop_after;
} sinkbuf;

static int to_buf(void *arg, const void *data, size_t n)
{
    sinkbuf *s = arg;
    if (n > s->max_piece)
        s->max_piece = n;
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->b = realloc(s->b, s->cap);
    }
    memcpy(s->b + s->n, data, n);
    s->n += n;
    s->calls++;
    if (s->stop_after && s->calls >= s->stop_after)
        return 42;
    return 0;
}

static void t_roundtrip(void **state)
{
    fx *f = *state;
    const char *text = "hello, file store";
    char sha[65], want[65];
    sha_hex(text, strlen(text), want);
    assert_int_equal(put_bytes(f->fs, text, strlen(text), 5, sha), 0);
    assert_string_equal(sha, want);
    uint64_t size = 0;
    assert_int_equal(omtp_fs_stat(f->fs, sha, &size), 0);
    assert_int_equal(size, strlen(text));
    sinkbuf s = {0};
    assert_int_equal(omtp_fs_get(f->fs, sha, 0, UINT64_MAX, to_buf, &s), 0);
    assert_int_equal(s.n, strlen(text));
    assert_memory_equal(s.b, text, s.n);
    s.n = 0;
    assert_int_equal(omtp_fs_get(f->fs, sha, 7, 4, to_buf, &s), 0); /* "file" */
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.b, "file", 4);
    s.n = 0;
    assert_int_equal(omtp_fs_get(f->fs, sha, 12, UINT64_MAX, to_buf, &s), 0); /* "store" */
    assert_int_equal(s.n, 5);
    assert_memory_equal(s.b, "store", 5);
    free(s.b);
    if (f->s3) /* smaller than a part: one signed PUT straight to its name */
        assert_true(h_s3_count(g_s3, "PUT", sha + 2, 200) >= 1);
}

static void t_identical_once(void **state)
{
    fx *f = *state;
    char text[64], a[65], b[65];
    snprintf(text, sizeof text, "same bytes %d %d", f->s3, (int)getpid());
    int puts_before = f->s3 ? h_s3_count(g_s3, "PUT", "/sha256/", 0) : 0;
    assert_int_equal(put_bytes(f->fs, text, strlen(text), 64, a), 0);
    /* the second says it found the first */
    omtp_fs_put *p = NULL;
    assert_int_equal(omtp_fs_put_begin(f->fs, 0, &p), 0);
    assert_int_equal(omtp_fs_put_write(p, text, 3), 0);
    assert_int_equal(omtp_fs_put_write(p, text + 3, strlen(text) - 3), 0);
    assert_int_equal(omtp_fs_put_commit(p, b, NULL), OMTP_FS_EXISTED);
    assert_string_equal(a, b);
    if (f->s3) /* the second found it by HEAD and sent nothing */
        assert_int_equal(h_s3_count(g_s3, "PUT", "/sha256/", 0) - puts_before, 1);
    /* one object: one delete removes it */
    assert_int_equal(omtp_fs_delete(f->fs, a), 0);
    assert_int_equal(omtp_fs_stat(f->fs, a, NULL), OMTP_ENOTFOUND);
}

static void t_zero_bytes(void **state)
{
    fx *f = *state;
    char sha[65];
    assert_int_equal(put_bytes(f->fs, "", 0, 1, sha), 0);
    assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    uint64_t size = 99;
    assert_int_equal(omtp_fs_stat(f->fs, sha, &size), 0);
    assert_int_equal(size, 0);
    sinkbuf s = {0};
    assert_int_equal(omtp_fs_get(f->fs, sha, 0, UINT64_MAX, to_buf, &s), 0);
    assert_int_equal(s.n, 0);
    free(s.b);
}

static int tmp_entries(fx *f)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "find '%s/files/tmp' -type f 2>/dev/null | wc -l", f->dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void t_abort_leaves_nothing(void **state)
{
    fx *f = *state;
    size_t n = 9 * MIB; /* past one S3 part: a multipart upload is under way */
    unsigned char *b = calloc(1, n);
    fill(b, n, 7);
    char want[65];
    sha_hex(b, n, want);
    int aborts = f->s3 ? h_s3_count(g_s3, "DELETE", "uploadId=", 204) : 0;
    omtp_fs_put *p = NULL;
    assert_int_equal(omtp_fs_put_begin(f->fs, n, &p), 0);
    for (size_t o = 0; o < n; o += 256 * 1024)
        assert_int_equal(omtp_fs_put_write(p, b + o, 256 * 1024 < n - o ? 256 * 1024 : n - o), 0);
    if (f->s3)
        assert_int_equal(h_s3_uploads_pending(g_s3), 1);
    omtp_fs_put_abort(p);
    assert_int_equal(omtp_fs_stat(f->fs, want, NULL), OMTP_ENOTFOUND);
    if (f->s3) {
        /* the service logs a request after answering it: wait (bounded) */
        for (int t = 0; t < 200 && h_s3_count(g_s3, "DELETE", "uploadId=", 204) == aborts; t++)
            usleep(10000);
        assert_int_equal(h_s3_count(g_s3, "DELETE", "uploadId=", 204) - aborts, 1);
        assert_int_equal(h_s3_uploads_pending(g_s3), 0);
        assert_int_equal(h_s3_list(g_s3, "tmp/"), 0);
    }
    assert_int_equal(tmp_entries(f), 0); /* nothing spooled or half-written stays */
    free(b);
}

static void t_large_multipart(void **state)
{
    fx *f = *state;
    size_t n = 20 * MIB;
    unsigned char *b = calloc(1, n);
    fill(b, n, 20);
    char want[65], sha[65];
    sha_hex(b, n, want);
    int parts = f->s3 ? h_s3_count(g_s3, "PUT", "partNumber=", 200) : 0;
    int inits = f->s3 ? h_s3_count(g_s3, "POST", "?uploads", 200) : 0;
    assert_int_equal(put_bytes(f->fs, b, n, 64 * 1024, sha), 0);
    assert_string_equal(sha, want);
    if (f->s3) {
        assert_int_equal(h_s3_count(g_s3, "PUT", "partNumber=", 200) - parts, 3); /* 8+8+4 */
        assert_int_equal(h_s3_count(g_s3, "POST", "?uploads", 200) - inits, 1);
        assert_int_equal(h_s3_uploads_pending(g_s3), 0);
        assert_int_equal(h_s3_list(g_s3, "tmp/"), 0); /* copied to its name, deleted */
        char key[80];
        snprintf(key, sizeof key, "sha256/%.2s/", sha);
        assert_true(h_s3_list(g_s3, key) >= 1);
    }
    uint64_t size = 0;
    assert_int_equal(omtp_fs_stat(f->fs, sha, &size), 0);
    assert_int_equal(size, n);
    sinkbuf s = {0};
    assert_int_equal(omtp_fs_get(f->fs, sha, 0, UINT64_MAX, to_buf, &s), 0);
    assert_int_equal(s.n, n);
    assert_memory_equal(s.b, b, n);
    assert_true(s.max_piece <= OMTP_FS_CHUNK);
    s.n = 0;
    /* a range across the first part boundary */
    assert_int_equal(omtp_fs_get(f->fs, sha, 8 * MIB - 1000, 5000, to_buf, &s), 0);
    assert_int_equal(s.n, 5000);
    assert_memory_equal(s.b, b + 8 * MIB - 1000, 5000);
    free(s.b);
    assert_int_equal(omtp_fs_delete(f->fs, sha), 0);
    free(b);
}

static void t_delete_and_missing(void **state)
{
    fx *f = *state;
    char sha[65];
    assert_int_equal(put_bytes(f->fs, "to be deleted", 13, 13, sha), 0);
    assert_int_equal(omtp_fs_delete(f->fs, sha), 0);
    assert_int_equal(omtp_fs_stat(f->fs, sha, NULL), OMTP_ENOTFOUND);
    assert_int_equal(omtp_fs_delete(f->fs, sha), OMTP_ENOTFOUND);
    sinkbuf s = {0};
    assert_int_equal(omtp_fs_get(f->fs, sha, 0, UINT64_MAX, to_buf, &s), OMTP_ENOTFOUND);
    assert_int_equal(s.n, 0);
    free(s.b);
}

static void t_sink_stops(void **state)
{
    fx *f = *state;
    size_t n = 3 * MIB;
    unsigned char *b = calloc(1, n);
    fill(b, n, 3);
    char sha[65];
    assert_int_equal(put_bytes(f->fs, b, n, MIB, sha), 0);
    sinkbuf s = {.stop_after = 1};
    assert_int_equal(omtp_fs_get(f->fs, sha, 0, UINT64_MAX, to_buf, &s), 42);
    assert_int_equal(s.calls, 1);
    free(s.b);
    free(b);
}

/* pulled reads (an HTTP response callback's way): the same bytes; on S3 one
   GET for the whole range however small the pieces */
static void t_reader(void **state)
{
    fx *f = *state;
    size_t n = 5 * MIB + 123;
    unsigned char *b = calloc(1, n);
    fill(b, n, 55);
    char sha[65];
    assert_int_equal(put_bytes(f->fs, b, n, MIB, sha), 0);
    int gets = f->s3 ? h_s3_count(g_s3, "GET", "/sha256/", 0) : 0;
    omtp_fs_reader *r = NULL;
    assert_int_equal(omtp_fs_reader_open(f->fs, sha, 0, UINT64_MAX, &r), 0);
    unsigned char *got = calloc(1, n);
    size_t at = 0;
    ssize_t k;
    while ((k = omtp_fs_reader_read(r, got + at, n - at < 65536 ? n - at : 65536)) > 0)
        at += (size_t)k;
    assert_int_equal(k, 0);
    omtp_fs_reader_close(r);
    assert_int_equal(at, n);
    assert_memory_equal(got, b, n);
    if (f->s3)
        assert_int_equal(h_s3_count(g_s3, "GET", "/sha256/", 0) - gets, 1);
    /* a range */
    assert_int_equal(omtp_fs_reader_open(f->fs, sha, 4 * MIB, 5000, &r), 0);
    at = 0;
    while ((k = omtp_fs_reader_read(r, got + at, 700)) > 0)
        at += (size_t)k;
    assert_int_equal(k, 0);
    omtp_fs_reader_close(r);
    assert_int_equal(at, 5000);
    assert_memory_equal(got, b + 4 * MIB, 5000);
    /* a reader that stops early (the client went away), then more work */
    assert_int_equal(omtp_fs_reader_open(f->fs, sha, 0, UINT64_MAX, &r), 0);
    assert_true(omtp_fs_reader_read(r, got, 1000) > 0);
    omtp_fs_reader_close(r);
    uint64_t size = 0;
    assert_int_equal(omtp_fs_stat(f->fs, sha, &size), 0);
    assert_int_equal(size, n);
    /* a missing object is said at open */
    char none[65];
    memset(none, 'a', 64);
    none[64] = 0;
    assert_int_equal(omtp_fs_reader_open(f->fs, none, 0, UINT64_MAX, &r), OMTP_ENOTFOUND);
    assert_null(r);
    free(got);
    free(b);
}

typedef struct worker {
    omtp_filestore *fs;
    int id, ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    size_t n = MIB + (size_t)w->id * 1000;
    unsigned char *b = calloc(1, n);
    fill(b, n, 100 + (uint32_t)w->id);
    char sha[65], want[65];
    sha_hex(b, n, want);
    omtp_fs_put *p = NULL;
    int rc = omtp_fs_put_begin(w->fs, n, &p);
    for (size_t o = 0; rc == 0 && o < n; o += 100000)
        rc = omtp_fs_put_write(p, b + o, n - o < 100000 ? n - o : 100000);
    if (rc == 0) {
        rc = omtp_fs_put_commit(p, sha, NULL);
        rc = rc == OMTP_FS_EXISTED ? 0 : rc;
    } else if (p)
        omtp_fs_put_abort(p);
    sinkbuf s = {0};
    if (rc == 0)
        rc = omtp_fs_get(w->fs, sha, 0, UINT64_MAX, to_buf, &s);
    w->ok = rc == 0 && strcmp(sha, want) == 0 && s.n == n && memcmp(s.b, b, n) == 0;
    free(s.b);
    free(b);
    return NULL;
}

static void t_threads(void **state)
{
    fx *f = *state;
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){f->fs, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
}

/* ---- S3 only */

static int open_with(const char *bucket, const char *ak, const char *sk, char *why, size_t wl)
{
    char dir[] = "/tmp/omtp-fsc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    omtp_filestore_config c;
    memset(&c, 0, sizeof c);
    c.data_dir = dir;
    c.s3_endpoint = g_s3->endpoint;
    c.s3_access_key = ak;
    c.s3_secret_key = sk;
    char spec[80];
    snprintf(spec, sizeof spec, "s3://%s", bucket);
    omtp_filestore *fs = NULL;
    int rc = omtp_filestore_open(spec, &c, &fs, why, wl);
    omtp_filestore_close(fs);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}

static void t_s3_wrong_credentials(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(open_with(g_s3->bucket, g_s3->access_key, "not-the-secret", why, sizeof why),
                     OMTP_EINVAL);
    assert_non_null(strstr(why, "403 SignatureDoesNotMatch"));
    assert_non_null(strstr(why, "check s3_secret_key"));
    assert_null(strstr(why, "not-the-secret")); /* never shown */
    assert_int_equal(open_with(g_s3->bucket, "NOSUCHKEY", g_s3->secret_key, why, sizeof why),
                     OMTP_EINVAL);
    assert_non_null(strstr(why, "InvalidAccessKeyId"));
    assert_non_null(strstr(why, "check s3_access_key"));
    assert_int_equal(
        open_with("no-such-bucket", g_s3->access_key, g_s3->secret_key, why, sizeof why),
        OMTP_EINVAL);
    assert_non_null(strstr(why, "NoSuchBucket"));
    assert_int_equal(open_with("Bad_Bucket", g_s3->access_key, g_s3->secret_key, why, sizeof why),
                     OMTP_EINVAL);
    assert_non_null(strstr(why, "bucket name"));
}

static void t_s3_env_credentials(void **state)
{
    (void)state;
    char why[512] = "";
    assert_int_equal(open_with(g_s3->bucket, "", "", why, sizeof why), OMTP_EINVAL);
    assert_non_null(strstr(why, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", g_s3->access_key, 1);
    setenv("AWS_SECRET_ACCESS_KEY", g_s3->secret_key, 1);
    int rc = open_with(g_s3->bucket, NULL, NULL, why, sizeof why);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    if (rc != 0)
        fail_msg("open with the environment's credentials: %s", why);
}

static void t_s3_sweep_tmp(void **state)
{
    fx *f = *state;
    /* a crash's leftover: an object under tmp/ */
    s3_client_config cc = {.endpoint = g_s3->endpoint,
                           .bucket = g_s3->bucket,
                           .access_key = g_s3->access_key,
                           .secret_key = g_s3->secret_key,
                           .path_style = -1};
    s3_client *c = NULL;
    char why[512];
    assert_int_equal(s3_client_new(&cc, &c, why, sizeof why), 0);
    s3_req rq = {
        .method = "PUT", .key = "tmp/0123456789abcdef", .body = "x", .body_len = 1, .body_fd = -1};
    s3_resp resp;
    if (s3_do(c, &rq, &resp, why, sizeof why) != 0)
        fail_msg("%s", why);
    s3_resp_free(&resp);
    s3_client_free(c);
    assert_int_equal(h_s3_list(g_s3, "tmp/"), 1);
    assert_int_equal(omtp_fs_sweep_tmp(f->fs, 3600), 0); /* young: kept */
    assert_int_equal(omtp_fs_sweep_tmp(f->fs, 0), 1);
    assert_int_equal(h_s3_list(g_s3, "tmp/"), 0);
}

static void t_s3_unreachable(void **state)
{
    (void)state;
    /* a service that is down at start: omtpd starts (it may come back), and
       every call fails with a reason instead of hanging */
    char dir[] = "/tmp/omtp-fsc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    omtp_filestore_config c;
    memset(&c, 0, sizeof c);
    c.data_dir = dir;
    c.s3_endpoint = "http://127.0.0.1:1";
    c.s3_access_key = "a";
    c.s3_secret_key = "b";
    omtp_filestore *fs = NULL;
    char why[256];
    assert_int_equal(omtp_filestore_open("s3://somebucket", &c, &fs, why, sizeof why), 0);
    char sha[65];
    assert_int_equal(put_bytes(fs, "abc", 3, 3, sha), OMTP_EIO);
    assert_int_equal(omtp_fs_stat(fs, sha, NULL), OMTP_EIO);
    omtp_filestore_close(fs);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* where requests go: AWS virtual-hosted by default, path style with an
   endpoint, and settings that cannot work refused with what to write */
static void t_s3_addressing(void **state)
{
    (void)state;
    struct {
        const char *endpoint, *region, *bucket;
        int path_style;
        const char *base; /* NULL = refused, why contains `err` */
        const char *err;
    } cases[] = {
        {NULL, "eu-west-1", "acme-files", -1, "https://acme-files.s3.eu-west-1.amazonaws.com",
         NULL},
        {"", NULL, "acme-files", -1, "https://acme-files.s3.us-east-1.amazonaws.com", NULL},
        {"http://127.0.0.1:9000", NULL, "omtp", -1, "http://127.0.0.1:9000/omtp", NULL},
        {"https://minio.example:9000/", NULL, "omtp", -1, "https://minio.example:9000/omtp", NULL},
        {"http://s3.local:9000", NULL, "omtp", 0, "http://omtp.s3.local:9000", NULL},
        {NULL, "eu-west-1", "acme-files", 1, "https://s3.eu-west-1.amazonaws.com/acme-files", NULL},
        {NULL, "eu-west-1", "files.acme.com", 0, NULL, "s3_path_style = true"},
        {"ftp://x", NULL, "omtp", -1, NULL, "http:// or https://"},
        {"http://host/some/path", NULL, "omtp", -1, NULL, "only scheme, host and port"},
        {NULL, "EU WEST", "omtp", -1, NULL, "s3_region"},
        {NULL, NULL, "ab", -1, NULL, "bucket name"},
        {NULL, NULL, "-omtp", -1, NULL, "bucket name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s3_client_config cc = {.endpoint = cases[i].endpoint,
                               .region = cases[i].region,
                               .bucket = cases[i].bucket,
                               .access_key = "a",
                               .secret_key = "b",
                               .path_style = cases[i].path_style};
        s3_client *c = NULL;
        char why[512] = "";
        int rc = s3_client_new(&cc, &c, why, sizeof why);
        if (cases[i].base) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, why);
            assert_string_equal(s3_client_base(c), cases[i].base);
            s3_client_free(c);
        } else {
            assert_int_equal(rc, OMTP_EINVAL);
            if (!strstr(why, cases[i].err))
                fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].err);
        }
    }
    /* CopyObject copies at most 5 GiB: a larger max_file_size is refused */
    {
        char dir[] = "/tmp/omtp-fsc-XXXXXX";
        assert_non_null(mkdtemp(dir));
        omtp_filestore_config fc;
        memset(&fc, 0, sizeof fc);
        fc.data_dir = dir;
        fc.s3_endpoint = g_s3->endpoint;
        fc.s3_access_key = g_s3->access_key;
        fc.s3_secret_key = g_s3->secret_key;
        fc.max_file_size = 6ull * 1024 * 1024 * 1024;
        omtp_filestore *fs = NULL;
        char w[512];
        assert_int_equal(omtp_filestore_open("s3://omtp-files", &fc, &fs, w, sizeof w),
                         OMTP_EINVAL);
        assert_non_null(strstr(w, "max_file_size"));
        rmdir(dir);
    }
    s3_client_config nokeys = {.bucket = "omtp", .path_style = -1};
    s3_client *c = NULL;
    char why[512];
    assert_int_equal(s3_client_new(&nokeys, &c, why, sizeof why), OMTP_EINVAL);
    assert_non_null(strstr(why, "s3_access_key"));
}

/* a multipart upload the service fails (a part refused, then the
   completion refused) is aborted: no upload stays open, nothing under tmp/
   or under the content's name */
static void t_s3_failed_multipart_aborted(void **state)
{
    fx *f = *state;
    size_t n = 17 * MIB;
    unsigned char *b = calloc(1, n);
    fill(b, n, 17);
    char sha[65], want[65];
    sha_hex(b, n, want);
    const char *faults[] = {"part", "complete"};
    for (int i = 0; i < 2; i++) {
        int aborts = h_s3_count(g_s3, "DELETE", "uploadId=", 204);
        h_s3_fault(g_s3, faults[i]);
        int rc = put_bytes(f->fs, b, n, MIB, sha);
        h_s3_fault(g_s3, "");
        assert_int_equal(rc, OMTP_EIO);
        /* the service logs a request after answering it: wait (bounded) */
        for (int t = 0; t < 200 && h_s3_count(g_s3, "DELETE", "uploadId=", 204) == aborts; t++)
            usleep(10000);
        assert_int_equal(h_s3_count(g_s3, "DELETE", "uploadId=", 204) - aborts, 1);
        assert_int_equal(h_s3_uploads_pending(g_s3), 0);
        assert_int_equal(h_s3_list(g_s3, "tmp/"), 0);
        assert_int_equal(omtp_fs_stat(f->fs, want, NULL), OMTP_ENOTFOUND);
    }
    /* 500s were tried again before giving up */
    assert_true(h_s3_count(g_s3, "PUT", "partNumber=", 500) >= S3_ATTEMPTS);
    /* and the service back: the same bytes go up */
    assert_int_equal(put_bytes(f->fs, b, n, MIB, sha), 0);
    assert_string_equal(sha, want);
    free(b);
}

/* a service answering UploadPart with an ETag of quotes (each escaped to 6
   bytes in CompleteMultipartUpload's XML, which once ran past its buffer
   and was sent with what lay beyond it) */
static void t_s3_hostile_etag(void **state)
{
    fx *f = *state;
    size_t n = 17 * MIB;
    unsigned char *b = calloc(1, n);
    fill(b, n, 23);
    char sha[65], want[65];
    sha_hex(b, n, want);
    h_s3_fault(g_s3, "etag");
    int rc = put_bytes(f->fs, b, n, MIB, sha);
    h_s3_fault(g_s3, "");
    /* the test service takes the escaped ETags (AWS would answer InvalidPart) */
    assert_int_equal(rc, 0);
    assert_string_equal(sha, want);
    uint64_t size = 0;
    assert_int_equal(omtp_fs_stat(f->fs, want, &size), 0);
    assert_int_equal(size, n);
    assert_int_equal(h_s3_uploads_pending(g_s3), 0);
    free(b);
}

static int group_setup(void **state)
{
    (void)state;
    g_s3 = h_s3_start("omtp-files", "AKIATESTFILES", "secret/with+chars=");
    return 0;
}
static int group_teardown(void **state)
{
    (void)state;
    h_s3_stop(g_s3, 0);
    return 0;
}

#define BOTH(t)                                                                                    \
    cmocka_unit_test_prestate_setup_teardown(t, setup_local, fx_teardown, NULL),                   \
        cmocka_unit_test_prestate_setup_teardown(t, setup_s3, fx_teardown, NULL)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(t_roundtrip),
        BOTH(t_identical_once),
        BOTH(t_zero_bytes),
        BOTH(t_abort_leaves_nothing),
        BOTH(t_large_multipart),
        BOTH(t_delete_and_missing),
        BOTH(t_sink_stops),
        BOTH(t_threads),
        BOTH(t_reader),
        cmocka_unit_test(t_s3_wrong_credentials),
        cmocka_unit_test(t_s3_env_credentials),
        cmocka_unit_test_setup_teardown(t_s3_sweep_tmp, setup_s3, fx_teardown),
        cmocka_unit_test_setup_teardown(t_s3_failed_multipart_aborted, setup_s3, fx_teardown),
        cmocka_unit_test_setup_teardown(t_s3_hostile_etag, setup_s3, fx_teardown),
        cmocka_unit_test(t_s3_unreachable),
        cmocka_unit_test(t_s3_addressing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
