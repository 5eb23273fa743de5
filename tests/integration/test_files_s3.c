/*
 * test_files_s3.c - omtpd with file_store = s3://BUCKET (docs/files.md
 * "S3") against a real local S3-compatible server (tests/s3, h_s3.h): a
 * file uploaded through the HTTP API (POST /v1/files, a user's login token)
 * lands in the bucket under sha256/ab/cd.. and downloads byte for byte,
 * whole and by Range; a 10 MiB upload goes multipart and comes back,
 * streamed from one S3 GET -- on the HTTP API and on the public WebSocket
 * listener (ws_listen, docs/files.md "How a download travels"); and
 * omtpd refuses to start with a wrong secret, saying which setting to check.
 * (Two nodes sharing one bucket: tests/scripts/cluster_files_s3.sh.)
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "h_s3.h"
#include "harness.h"

typedef struct membuf {
    unsigned char *b;
    size_t n;
} membuf;

static size_t collect(char *p, size_t sz, size_t nm, void *arg)
{
    membuf *m = arg;
    unsigned char *nb = realloc(m->b, m->n + sz * nm + 1);
    if (!nb)
        return 0;
    memcpy(nb + m->n, p, sz * nm);
    m->b = nb;
    m->n += sz * nm;
    m->b[m->n] = 0;
    return sz * nm;
}

/* One request; returns the status, the body in *out (caller frees). */
static long call(int port, const char *method, const char *path, const char *token,
                 const void *body, size_t blen, const char *range, membuf *out)
{
    CURL *h = curl_easy_init();
    char url[512], auth[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
    hd = curl_slist_append(hd, "Expect:");
    memset(out, 0, sizeof *out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    if (range)
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

static void sha_hex(const void *data, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned dn = 0;
    EVP_Digest(data, n, d, &dn, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* the value of "key":"..." in a flat JSON reply */
static void json_str(const char *json, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    out[0] = 0;
    if (!p)
        return;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < outlen) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
}

static int http_port(const char *path)
{
    int64_t deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline) {
        FILE *f = fopen(path, "r");
        int port = 0;
        if (f) {
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0)
                return port;
        }
        usleep(10000);
    }
    fail_msg("no HTTP port in %s", path);
    return 0;
}

static h_s3 *S3;

/* removes the HTTP port file and its directory (start's mkdtemp) */
static void drop_port_dir(const char *port_path)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s", port_path);
    char *slash = strrchr(dir, '/');
    unlink(port_path);
    if (slash) {
        char ws[160];
        snprintf(ws, sizeof ws, "%.*s/ws.port", (int)(slash - dir), dir);
        unlink(ws);
        *slash = 0;
        rmdir(dir);
    }
}

static h_server *start(const char *secret, char *port_path, size_t pplen)
{
    char conf[1024];
    snprintf(conf, sizeof conf,
             "file_store = s3://%s\ns3_endpoint = %s\ns3_access_key = %s\ns3_secret_key = %s\n",
             S3->bucket, S3->endpoint, S3->access_key, secret);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/omtp-fs3-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(port_path, pplen, "%s/http.port", dir);
    char ws_path[160];
    snprintf(ws_path, sizeof ws_path, "%s/ws.port", dir);
    const char *args[] = {"--http-listen",  "127.0.0.1:0", "--http-port-file",
                          port_path,        "--ws-listen", "127.0.0.1:0",
                          "--ws-port-file", ws_path,       NULL};
    return h_server_start(conf, args);
}

static void t_upload_download(void **state)
{
    (void)state;
    char pp[128], tok[512];
    h_server *s = start(S3->secret_key, pp, sizeof pp);
    int port = http_port(pp);
    h_user_add(s, "alice", "pw-alice");
    h_token(s, "alice", 3600, tok, sizeof tok);

    size_t n = 300 * 1000;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 7 + i / 1000);
    char want[65], got[65], id[128], path[256];
    sha_hex(b, n, want);
    membuf r;
    long code = call(port, "POST", "/v1/files?name=photo.bin", tok, b, n, NULL, &r);
    if (code != 201)
        fail_msg("upload: %ld %s", code, r.b ? (char *)r.b : "");
    json_str((char *)r.b, "sha256", got, sizeof got);
    json_str((char *)r.b, "fileId", id, sizeof id);
    free(r.b);
    assert_string_equal(got, want);
    char logpat[128];
    snprintf(logpat, sizeof logpat, "/sha256/%.2s/%s", want, want + 2);
    assert_int_equal(h_s3_count(S3, "PUT", logpat, 200), 1); /* in the bucket */

    snprintf(path, sizeof path, "/v1/files/%s", id);
    assert_int_equal(call(port, "GET", path, tok, NULL, 0, NULL, &r), 200);
    assert_int_equal(r.n, n);
    assert_memory_equal(r.b, b, n);
    free(r.b);
    assert_int_equal(call(port, "GET", path, tok, NULL, 0, "1000-1999", &r), 206);
    assert_int_equal(r.n, 1000);
    assert_memory_equal(r.b, b + 1000, 1000);
    free(r.b);
    free(b);

    /* 10 MiB: a multipart upload (8 + 2 MiB), back byte for byte */
    n = 10u * 1024 * 1024;
    b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 2654435761u) >> 13);
    sha_hex(b, n, want);
    int parts = h_s3_count(S3, "PUT", "partNumber=", 200);
    code = call(port, "POST", "/v1/files?name=big.bin", tok, b, n, NULL, &r);
    if (code != 201)
        fail_msg("10 MiB upload: %ld %s", code, r.b ? (char *)r.b : "");
    json_str((char *)r.b, "sha256", got, sizeof got);
    json_str((char *)r.b, "fileId", id, sizeof id);
    free(r.b);
    assert_string_equal(got, want);
    assert_int_equal(h_s3_count(S3, "PUT", "partNumber=", 200) - parts, 2);
    assert_int_equal(h_s3_uploads_pending(S3), 0);
    assert_int_equal(h_s3_list(S3, "tmp/"), 0);
    snprintf(path, sizeof path, "/v1/files/%s", id);
    snprintf(logpat, sizeof logpat, "/sha256/%.2s/%s", want, want + 2);
    int gets = h_s3_count(S3, "GET", logpat, 0);
    int64_t t0 = h_now_ms();
    assert_int_equal(call(port, "GET", path, tok, NULL, 0, NULL, &r), 200);
    /* streamed, not crawling: 10 MiB in well under 20 s even on a loaded
       box (a stalled stream reader once served 0.3 MiB/s: 33 s) */
    assert_true(h_now_ms() - t0 < 20000);
    assert_int_equal(r.n, n);
    assert_memory_equal(r.b, b, n);
    free(r.b);
    /* streamed from ONE S3 GET, not one request per piece the HTTP side
       sends */
    assert_int_equal(h_s3_count(S3, "GET", logpat, 0) - gets, 1);
    /* the same on the public WebSocket listener: the whole file from ONE
       S3 GET (it sent one GET per 1 MiB piece: 10), and a range from one */
    char wsp[160];
    snprintf(wsp, sizeof wsp, "%.*s/ws.port", (int)(strrchr(pp, '/') - pp), pp);
    int wport = http_port(wsp);
    gets = h_s3_count(S3, "GET", logpat, 0);
    assert_int_equal(call(wport, "GET", path, tok, NULL, 0, NULL, &r), 200);
    assert_int_equal(r.n, n);
    assert_memory_equal(r.b, b, n);
    free(r.b);
    assert_int_equal(h_s3_count(S3, "GET", logpat, 0) - gets, 1);
    gets = h_s3_count(S3, "GET", logpat, 0);
    assert_int_equal(call(wport, "GET", path, tok, NULL, 0, "1048000-3145727", &r), 206);
    assert_int_equal(r.n, 3145728 - 1048000);
    assert_memory_equal(r.b, b + 1048000, r.n);
    free(r.b);
    assert_int_equal(h_s3_count(S3, "GET", logpat, 0) - gets, 1);
    free(b);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
    drop_port_dir(pp);
}

/* An RGB PNG of w x h whose pixels barely compress (so its size is about
 * 3*w*h bytes). */
static unsigned char *noisy_png(uint32_t w, uint32_t h, size_t *len)
{
    size_t rawlen = (size_t)h * (1 + 3 * (size_t)w);
    unsigned char *raw = calloc(1, rawlen);
    assert_non_null(raw);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < rawlen; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        raw[i] = i % (1 + 3 * (size_t)w) == 0 ? 0 : (unsigned char)x;
    }
    uLongf zl = compressBound(rawlen);
    unsigned char *z = malloc(zl);
    assert_non_null(z);
    assert_int_equal(compress2(z, &zl, raw, rawlen, 1), Z_OK);
    free(raw);
    unsigned char *out = malloc(8 + 25 + 12 + zl + 12);
    assert_non_null(out);
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    size_t o = 8;
    unsigned char ihdr[13];
    uint32_t be = htonl(w);
    memcpy(ihdr, &be, 4);
    be = htonl(h);
    memcpy(ihdr + 4, &be, 4);
    ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    const struct {
        const char *t;
        const unsigned char *d;
        uint32_t n;
    } ch[3] = {{"IHDR", ihdr, 13}, {"IDAT", z, (uint32_t)zl}, {"IEND", NULL, 0}};
    for (int i = 0; i < 3; i++) {
        be = htonl(ch[i].n);
        memcpy(out + o, &be, 4);
        memcpy(out + o + 4, ch[i].t, 4);
        if (ch[i].n)
            memcpy(out + o + 8, ch[i].d, ch[i].n);
        uLong crc = crc32(0, (const Bytef *)out + o + 4, 4 + ch[i].n);
        be = htonl((uint32_t)crc);
        memcpy(out + o + 8 + ch[i].n, &be, 4);
        o += 12 + ch[i].n;
    }
    free(z);
    *len = o;
    return out;
}

/* Images in S3: the size comes from the header's bytes alone (one ranged
 * GET), and the object is never fetched whole into a temporary copy when
 * it is big: a ~20 MiB image gets its width and height, no thumbnail, and
 * no full GET of its key; a small one still gets its thumbnail. */
static void t_big_image_header_only(void **state)
{
    (void)state;
    char pp[128], tok[512];
    h_server *s = start(S3->secret_key, pp, sizeof pp);
    int port = http_port(pp);
    h_user_add(s, "alice", "pw-alice");
    h_token(s, "alice", 3600, tok, sizeof tok);
    size_t n;
    unsigned char *img = noisy_png(2600, 2700, &n);
    assert_true(n > (20u << 20));
    char sha[65], got[65], thumb[80], logpat[128];
    sha_hex(img, n, sha);
    membuf r;
    long code = call(port, "POST", "/v1/files?name=big.png", tok, img, n, NULL, &r);
    if (code != 201)
        fail_msg("upload: %ld %s", code, r.b ? (char *)r.b : "");
    json_str((char *)r.b, "sha256", got, sizeof got);
    json_str((char *)r.b, "thumbId", thumb, sizeof thumb);
    assert_string_equal(got, sha);
    assert_non_null(strstr((char *)r.b, "\"width\":2600"));
    assert_non_null(strstr((char *)r.b, "\"height\":2700"));
    assert_string_equal(thumb, "");
    free(r.b);
    free(img);
    snprintf(logpat, sizeof logpat, "/sha256/%.2s/%s", sha, sha + 2);
    assert_int_equal(h_s3_count(S3, "GET", logpat, 200), 0); /* never fetched whole */
    assert_true(h_s3_count(S3, "GET", logpat, 206) >= 1);    /* its header: a range */
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "not copied here whole"));
    free(log);
    /* a small image still gets its thumbnail */
    img = noisy_png(640, 480, &n);
    code = call(port, "POST", "/v1/files?name=small.png", tok, img, n, NULL, &r);
    assert_int_equal(code, 201);
    json_str((char *)r.b, "thumbId", thumb, sizeof thumb);
    assert_int_equal(strlen(thumb), 64);
    free(r.b);
    free(img);
    assert_int_equal(h_server_stop(s), 0);
    h_server_free(s);
    drop_port_dir(pp);
}

static void t_wrong_secret_refuses_start(void **state)
{
    (void)state;
    char pp[128];
    h_server *s = start(S3->secret_key, pp, sizeof pp);
    assert_int_equal(h_server_stop(s), 0);
    /* the same server with a wrong secret: it says what to fix and exits */
    FILE *f = fopen(s->conf_path, "a");
    assert_non_null(f);
    fprintf(f, "s3_secret_key = wrong-secret\n");
    fclose(f);
    assert_int_not_equal(h_server_try_restart(s), -1);
    char *log = h_server_log(s);
    if (!strstr(log, "SignatureDoesNotMatch") || !strstr(log, "check s3_secret_key"))
        fail_msg("the log does not say what to fix:\n%s", log);
    assert_null(strstr(log, "wrong-secret")); /* secrets are never logged */
    free(log);
    h_server_free(s);
    drop_port_dir(pp);
}

static int setup(void **state)
{
    (void)state;
    S3 = h_s3_start("omtp-files", "AKIAOMTPTEST", "the-secret-key");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    h_s3_stop(S3, 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(t_upload_download, h_teardown),
        cmocka_unit_test_teardown(t_big_image_header_only, h_teardown),
        cmocka_unit_test_teardown(t_wrong_secret_refuses_start, h_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
