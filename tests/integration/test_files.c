/*
 * test_files.c - uploaded files (docs/files.md) against a real omtpd: the
 * HTTP API's POST /v1/files, GET /v1/files/{id} and /thumb, with users'
 * login tokens and an API key; media messages over OMTP referencing them.
 *
 * Each test starts omtpd with the HTTP listener on port 0 and a short
 * http_timeout_s (2 s, for the stalled upload), and checks what a user
 * relies on: the bytes come back exactly, identical uploads are stored once,
 * Range/ETag/Content-Disposition behave, the type is sniffed, limits answer
 * 413/507/401/404 with nothing left on disk, the read rule follows the
 * messages, images get a thumbnail and bombs are never decoded.
 *
 * Disk full is simulated with RLIMIT_FSIZE on omtpd (inherited from this
 * process, SIGXFSZ ignored): writing past it fails with EFBIG, which the
 * file store treats as a full disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <signal.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "client/omtp_sync.h"
#include "h_http.h"
#include "harness.h"

#define KEY "files-test-key"

typedef struct srv {
    h_server *s;
    int port;
    char port_path[400];
    char files[400]; /* data/files */
} srv;

static srv S;

static void start(const char *const *extra)
{
    memset(&S, 0, sizeof(S));
    char dir[] = "/tmp/omtp-files-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(S.port_path, sizeof(S.port_path), "%s/http.port", dir);
    const char *args[32] = {"--http-listen", "127.0.0.1:0", "--http-port-file", S.port_path,
                            "--api-keys",    KEY,           "--http-timeout-s", "2"};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    S.s = h_server_start(NULL, args);
    int64_t deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline && S.port <= 0) {
        FILE *f = fopen(S.port_path, "r");
        if (f) {
            if (fscanf(f, "%d", &S.port) != 1)
                S.port = 0;
            fclose(f);
        }
        if (S.port <= 0)
            usleep(10000);
    }
    assert_true(S.port > 0);
    snprintf(S.files, sizeof(S.files), "%s/files", S.s->data_dir);
}

static void stop(void)
{
    assert_int_equal(h_server_stop(S.s), 0);
    h_server_free(S.s);
    S.s = NULL;
}

/* ------------------------------------------------------------ HTTP client */

typedef struct resp {
    long status;
    char *body;
    size_t len;
    json_t *json;
    char ctype[160], etag[100], crange[100], disp[800], nosniff[40], csp[80], referrer[40];
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    assert_non_null(nb);
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = 0;
    return sz * n;
}

static void hdr(const char *p, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (len > nl + 2 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
        size_t v = len - nl - 2;
        while (v && (p[nl + 2 + v - 1] == '\r' || p[nl + 2 + v - 1] == '\n'))
            v--;
        snprintf(out, outlen, "%.*s", (int)v, p + nl + 2);
    }
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    hdr(p, len, "Content-Type", r->ctype, sizeof(r->ctype));
    hdr(p, len, "ETag", r->etag, sizeof(r->etag));
    hdr(p, len, "Content-Range", r->crange, sizeof(r->crange));
    hdr(p, len, "Content-Disposition", r->disp, sizeof(r->disp));
    hdr(p, len, "X-Content-Type-Options", r->nosniff, sizeof(r->nosniff));
    hdr(p, len, "Content-Security-Policy", r->csp, sizeof(r->csp));
    hdr(p, len, "Referrer-Policy", r->referrer, sizeof(r->referrer));
    return len;
}

static void resp_free(resp *r)
{
    free(r->body);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* One request. body/len: the upload (NULL = none); chunked: no
 * Content-Length. extra: one more header or NULL. */
static void call(resp *r, const char *method, const char *path, const char *auth, const void *body,
                 size_t len, bool chunked, const char *extra)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[1024], ah[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
    struct curl_slist *h = NULL;
    if (auth) {
        snprintf(ah, sizeof(ah), "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, ah);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        r->status = -1; /* connection closed before an answer */
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body && r->ctype[0] && strstr(r->ctype, "json"))
        r->json = json_loads(r->body, 0, NULL);
}

static const char *jstr(const resp *r, const char *k)
{
    json_t *v = r->json ? json_object_get(r->json, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : "";
}

static json_int_t jint(const resp *r, const char *k)
{
    json_t *v = r->json ? json_object_get(r->json, k) : NULL;
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static const char *jerr(const resp *r)
{
    json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    json_t *c = e ? json_object_get(e, "code") : NULL;
    return json_is_string(c) ? json_string_value(c) : "";
}

static void upload(resp *r, const char *auth, const char *name, const void *data, size_t len)
{
    char path[600];
    snprintf(path, sizeof(path), "/v1/files?name=%s", name);
    call(r, "POST", path, auth, data ? data : "", len, false, NULL);
}

static void get(resp *r, const char *auth, const char *fileId, const char *extra)
{
    char path[200];
    snprintf(path, sizeof(path), "/v1/files/%s", fileId);
    call(r, "GET", path, auth, NULL, 0, false, extra);
}

static void sha_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    SHA256(d, n, md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static unsigned char *rnd_bytes(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    assert_non_null(b);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)rand();
    return b;
}

/* Regular files under dir (recursively), "tmp" counted apart. */
static int count_files(const char *dir, bool tmp_only)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1200];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            bool is_tmp = strcmp(e->d_name, "tmp") == 0;
            if (tmp_only ? is_tmp : !is_tmp)
                n += count_files(p, false);
            else if (!tmp_only)
                continue;
        } else if (!tmp_only) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int stored_objects(void)
{
    return count_files(S.files, false);
}

static int tmp_objects(void)
{
    return count_files(S.files, true);
}

static void users(char *ta, char *tb, char *tc)
{
    h_user_add(S.s, "alice", "pw-a");
    h_user_add(S.s, "bob", "pw-b");
    h_user_add(S.s, "carol", "pw-c");
    h_token(S.s, "alice", 3600, ta, 300);
    h_token(S.s, "bob", 3600, tb, 300);
    if (tc)
        h_token(S.s, "carol", 3600, tc, 300);
}

/* A PNG of w x h; pixels only when `real` (else a header over a tiny,
 * broken IDAT: what a decompression bomb's first bytes look like). */
static unsigned char *png(uint32_t w, uint32_t h, bool real, size_t *len)
{
    size_t rawlen = real ? (size_t)h * (1 + 3 * (size_t)w) : 16;
    unsigned char *raw = calloc(1, rawlen);
    assert_non_null(raw);
    for (size_t y = 0; real && y < h; y++)
        for (size_t x = 0; x < 3 * (size_t)w; x++)
            raw[y * (1 + 3 * w) + 1 + x] = (unsigned char)(x + y);
    uLongf zl = compressBound(rawlen);
    unsigned char *z = malloc(zl);
    assert_non_null(z);
    assert_int_equal(compress(z, &zl, raw, rawlen), Z_OK);
    free(raw);
    unsigned char *out = malloc(8 + 25 + 12 + zl + 12);
    assert_non_null(out);
    size_t o = 0;
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    o = 8;
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

/* Sends a media message (contentType ct, content JSON) over OMTP; the
 * MsgAck's code. */
static int send_media(omtp_sync *c, const char *from, const char *to, int ct, const char *content)
{
    omtp_MsgReq m;
    omtp_MsgAck ack;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    char sid[300];
    omtp_session_single(from, to, sid, sizeof(sid));
    assert_int_equal(tars_str_set(&m.sessionId, sid), 0);
    assert_int_equal(tars_str_set(&m.from, from), 0);
    assert_int_equal(tars_str_set(&m.to, to), 0);
    assert_int_equal(tars_str_set(&m.content, content), 0);
    m.contentType = ct;
    m.timestamp = omtp_now_ms();
    int rc = omtp_sync_call(c, PT_MSG_SINGLE_CHAT, &omtp_MsgReq_desc, &m, &omtp_MsgAck_desc, &ack);
    assert_int_equal(rc, 0);
    int code = ack.code;
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return code;
}

static void media_json(char *out, size_t n, const resp *up)
{
    snprintf(out, n, "{\"fileId\":\"%s\",\"name\":\"%s\",\"size\":%lld,\"mime\":\"%s\"}",
             jstr(up, "fileId"), jstr(up, "name"), (long long)jint(up, "size"), jstr(up, "mime"));
}

/* ------------------------------------------------------------------ tests */

static void test_roundtrip_and_stored_once(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t n = 300 * 1024 + 7;
    unsigned char *data = rnd_bytes(n, 1);
    char sha[65];
    sha_hex(data, n, sha);
    resp r, d;
    upload(&r, ta, "photo.bin", data, n);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(&r, "sha256"), sha);
    assert_int_equal(jint(&r, "size"), (json_int_t)n);
    assert_int_equal(strlen(jstr(&r, "fileId")), 32);
    get(&d, ta, jstr(&r, "fileId"), NULL);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.body, data, n);
    assert_string_equal(d.nosniff, "nosniff");
    /* the same safety headers as on ws_listen (files_http.h, one list for
       both listeners): an uploaded page never runs, never leaks the URL */
    assert_string_equal(d.csp, "default-src 'none'; sandbox");
    assert_string_equal(d.referrer, "no-referrer");
    /* the same bytes again (another user): a new fileId, the same object */
    resp r2;
    upload(&r2, tb, "copy.bin", data, n);
    assert_int_equal(r2.status, 201);
    assert_string_not_equal(jstr(&r2, "fileId"), jstr(&r, "fileId"));
    assert_string_equal(jstr(&r2, "sha256"), sha);
    assert_int_equal(stored_objects(), 1);
    char p[1200];
    snprintf(p, sizeof(p), "%s/%.2s/%s", S.files, sha, sha + 2);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)n);
    assert_int_equal(tmp_objects(), 0);
    resp_free(&r), resp_free(&r2), resp_free(&d);
    free(data);
    stop();
}

static void test_range_etag_disposition(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    unsigned char *data = rnd_bytes(10000, 2);
    resp r, d;
    /* a name with quotes, a space, a backslash-free unicode letter */
    upload(&r, ta, "a%20%22b%22%20%C3%BC.txt", data, 10000);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(&r, "name"), "a \"b\" \xc3\xbc.txt");
    const char *id = jstr(&r, "fileId");
    get(&d, ta, id, "Range: bytes=100-199");
    assert_int_equal(d.status, 206);
    assert_int_equal(d.len, 100);
    assert_memory_equal(d.body, data + 100, 100);
    assert_string_equal(d.crange, "bytes 100-199/10000");
    char etag[100];
    snprintf(etag, sizeof(etag), "%s", d.etag);
    assert_true(strlen(etag) == 66);
    /* RFC 6266: an ASCII fallback without the quotes, the exact name encoded */
    assert_non_null(strstr(d.disp, "filename=\"a _b_ __.txt\""));
    assert_non_null(strstr(d.disp, "filename*=UTF-8''a%20%22b%22%20%C3%BC.txt"));
    resp_free(&d);
    get(&d, ta, id, "Range: bytes=-10");
    assert_int_equal(d.status, 206);
    assert_memory_equal(d.body, data + 9990, 10);
    resp_free(&d);
    get(&d, ta, id, "Range: bytes=10000-");
    assert_int_equal(d.status, 416);
    assert_string_equal(d.crange, "bytes */10000");
    resp_free(&d);
    char inm[160];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    get(&d, ta, id, inm);
    assert_int_equal(d.status, 304);
    assert_int_equal(d.len, 0);
    resp_free(&d), resp_free(&r);
    free(data);
    stop();
}

/* The nice values of omtpd's threads (/proc/PID/task/TID/stat, field 19):
 * *lowered = libmicrohttpd's threads ("MHD-worker") at the main thread's
 * nice + 10 (http_nice's default), *loop = the main thread's. */
static void thread_nices(pid_t pid, int *lowered, int *loop)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    *lowered = 0, *loop = -100;
    int nices[65], nn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[400], buf[1024];
        snprintf(p, sizeof(p), "%s/%s/stat", dir, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *s = strrchr(buf, ')'); /* after the command's name */
        int nice = 0, field = 2;
        for (; s && *s && field < 19; s++)
            if (*s == ' ')
                field++;
        if (s && sscanf(s, "%d", &nice) == 1) {
            if (atoi(e->d_name) == (int)pid)
                *loop = nice;
            char comm[64] = "";
            snprintf(p, sizeof(p), "%s/%s/comm", dir, e->d_name);
            if ((f = fopen(p, "r"))) {
                if (!fgets(comm, sizeof(comm), f))
                    comm[0] = 0;
                fclose(f);
            }
            if (!strncmp(comm, "MHD-worker", 10))
                nices[nn < 64 ? nn++ : nn] = nice;
        }
    }
    closedir(d);
    for (int k = 0; k < nn; k++)
        if (nices[k] == *loop + 10)
            (*lowered)++;
}

/* File transfers run on the HTTP API's threads, which yield the CPU to the
 * chat loop (http_nice, default 10; docs/files.md "Speed"): after a
 * download, the thread that served it runs at the loop's nice + 10. */
static void test_http_threads_yield_to_the_loop(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    unsigned char *data = rnd_bytes(300000, 9);
    resp r, d;
    upload(&r, ta, "y.bin", data, 300000);
    assert_int_equal(r.status, 201);
    get(&d, ta, jstr(&r, "fileId"), NULL);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.len, 300000);
    int lowered = 0, loop = 0;
    thread_nices(S.s->pid, &lowered, &loop);
    if (loop > 9) { /* the tests run niced already: no room for +10 */
        resp_free(&r), resp_free(&d), free(data);
        stop();
        skip();
    }
    assert_true(lowered >= 1); /* the thread that served it, at least */
    resp_free(&r), resp_free(&d);
    stop();
    /* http_nice = 0: the threads stay as they are */
    const char *off[] = {"--http-nice", "0", NULL};
    start(off);
    users(ta, tb, NULL);
    upload(&r, ta, "y.bin", data, 300000);
    assert_int_equal(r.status, 201);
    get(&d, ta, jstr(&r, "fileId"), NULL);
    assert_int_equal(d.status, 200);
    thread_nices(S.s->pid, &lowered, &loop);
    assert_int_equal(lowered, 0);
    resp_free(&r), resp_free(&d);
    free(data);
    stop();
}

static void test_names_zero_and_sniffing(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    /* refused names: '/', '..', NUL, control characters, '\' */
    const char *bad[] = {"a/b", "..", "a%00b", "a%01b", "a%5Cb", "%2E%2E", "x%7Fy"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        resp r;
        upload(&r, ta, bad[i], "hello", 5);
        if (r.status != 400)
            fail_msg("name %s: status %ld, want 400", bad[i], r.status);
        assert_string_equal(jerr(&r), "invalid_name");
        resp_free(&r);
    }
    assert_int_equal(stored_objects(), 0);
    /* zero bytes */
    resp r, d;
    upload(&r, ta, "empty.txt", NULL, 0);
    assert_int_equal(r.status, 201);
    assert_int_equal(jint(&r, "size"), 0);
    get(&d, ta, jstr(&r, "fileId"), NULL);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.len, 0);
    resp_free(&r), resp_free(&d);
    /* an ELF executable named .jpg and claimed image/jpeg: served as what it is */
    unsigned char elf[128] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    elf[16] = 2;    /* e_type ET_EXEC */
    elf[18] = 0x3e; /* x86-64 */
    elf[20] = 1;    /* version */
    call(&r, "POST", "/v1/files?name=cat.jpg&mime=image/jpeg", ta, elf, sizeof(elf), false, NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(&r, "mime"), "application/x-executable");
    get(&d, ta, jstr(&r, "fileId"), NULL);
    assert_int_equal(d.status, 200);
    assert_string_equal(d.ctype, "application/x-executable");
    assert_string_equal(d.nosniff, "nosniff");
    assert_non_null(strstr(d.disp, "attachment"));
    resp_free(&r), resp_free(&d);
    stop();
}

static void test_limits_413_and_stall(void **state)
{
    (void)state;
    const char *args[] = {"--max-file-size", "100000", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    unsigned char *data = rnd_bytes(300000, 3);
    resp r;
    upload(&r, ta, "big.bin", data, 300000); /* Content-Length over the limit */
    assert_int_equal(r.status, 413);
    assert_string_equal(jerr(&r), "too_large");
    resp_free(&r);
    /* chunked: the limit is found while streaming */
    call(&r, "POST", "/v1/files?name=big2.bin", ta, data, 150000, true, NULL);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    assert_int_equal(stored_objects(), 0);
    assert_int_equal(tmp_objects(), 0);
    /* exactly at the limit is fine */
    upload(&r, ta, "ok.bin", data, 100000);
    assert_int_equal(r.status, 201);
    resp_free(&r);

    /* a client that stops mid-upload: the partial file goes after
     * http_timeout_s (2 s) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[800];
    int l = snprintf(req, sizeof(req),
                     "POST /v1/files?name=stall.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                     "%s\r\nContent-Length: 90000\r\n\r\n",
                     ta);
    assert_int_equal(write(fd, req, (size_t)l), l);
    assert_int_equal(write(fd, data, 20000), 20000);
    int64_t deadline = h_now_ms() + 5000;
    while (tmp_objects() == 0 && h_now_ms() < deadline)
        usleep(20000);
    assert_int_equal(tmp_objects(), 1); /* streaming: the bytes are on disk */
    deadline = h_now_ms() + 10000;
    while (tmp_objects() != 0 && h_now_ms() < deadline)
        usleep(100000);
    assert_int_equal(tmp_objects(), 0);
    close(fd);
    assert_int_equal(stored_objects(), 1);
    char *log = h_server_log(S.s);
    assert_non_null(strstr(log, "stopped after"));
    free(log);
    /* and /metrics counts what happened */
    assert_true(h_metric(S.port, "omtp_files_refused_total{reason=\"too_large\"}") == 2);
    assert_true(h_metric(S.port, "omtp_files_refused_total{reason=\"aborted\"}") == 1);
    assert_true(h_metric(S.port, "omtp_files_uploaded_total") == 1);
    free(data);
    stop();
}

static void test_tokens_401(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300], old[300];
    users(ta, tb, NULL);
    h_token(S.s, "alice", -10, old, sizeof(old)); /* already expired */
    resp r;
    upload(&r, ta, "x.txt", "x", 1);
    assert_int_equal(r.status, 201);
    char id[40];
    snprintf(id, sizeof(id), "%s", jstr(&r, "fileId"));
    resp_free(&r);
    const char *wrong[] = {old, "nonsense", "v1.alice.9999999999.00", NULL};
    for (int i = 0; i < 4; i++) {
        get(&r, wrong[i], id, NULL);
        assert_int_equal(r.status, 401);
        assert_string_equal(jerr(&r), "unauthorized");
        resp_free(&r);
        upload(&r, wrong[i], "y.txt", "y", 1);
        assert_int_equal(r.status, 401);
        resp_free(&r);
    }
    /* a forged token: alice's with bob's name */
    char forged[300];
    snprintf(forged, sizeof(forged), "v1.bob%s", ta + strlen("v1.alice"));
    get(&r, forged, id, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    get(&r, KEY, id, NULL); /* the business backend reads everything */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    stop();
}

static void test_read_rule_follows_messages(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300], tc[300];
    users(ta, tb, tc);
    resp up, r;
    upload(&up, ta, "secret.pdf", "%PDF-1.4 not really", 19);
    assert_int_equal(up.status, 201);
    const char *id = jstr(&up, "fileId");
    get(&r, tb, id, NULL); /* another user's private file: 404, not 403 */
    assert_int_equal(r.status, 404);
    resp_free(&r);
    get(&r, tb, "0123456789abcdef0123456789abcdef", NULL); /* no such file: the same 404 */
    assert_int_equal(r.status, 404);
    resp_free(&r);

    omtp_sync *a = h_login(S.s, "alice", "pw-a", 5);
    omtp_sync *b = h_login(S.s, "bob", "pw-b", 5);
    char content[600];
    media_json(content, sizeof(content), &up);
    /* bob may not send alice's file (he cannot read it): PARAM */
    assert_int_equal(send_media(b, "bob", "carol", 7, content), OMTP_EC_PARAM);
    /* a media message must be JSON naming a file */
    assert_int_equal(send_media(a, "alice", "bob", 3, "not json"), OMTP_EC_PARAM);
    assert_int_equal(send_media(a, "alice", "bob", 7, "{\"name\":\"x\"}"), OMTP_EC_PARAM);
    assert_int_equal(send_media(a, "alice", "bob", 5, "{\"lat\":95,\"lng\":0}"), OMTP_EC_PARAM);
    assert_int_equal(send_media(a, "alice", "bob", 5, "{\"lat\":52.5,\"lng\":13.4,\"name\":\"B\"}"),
                     OMTP_EC_SUCCESS);
    /* wrong size for the file: PARAM */
    char wrong[700];
    snprintf(wrong, sizeof(wrong), "{\"fileId\":\"%s\",\"size\":1}", id);
    assert_int_equal(send_media(a, "alice", "bob", 7, wrong), OMTP_EC_PARAM);
    get(&r, tb, id, NULL);
    assert_int_equal(r.status, 404); /* refused sends granted nothing */
    resp_free(&r);
    /* alice sends it to bob: bob (a member of the session) may read it */
    assert_int_equal(send_media(a, "alice", "bob", 7, content), OMTP_EC_SUCCESS);
    get(&r, tb, id, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 19);
    resp_free(&r);
    get(&r, tc, id, NULL); /* carol is in no session holding it */
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* bob may forward it now: carol reads it then */
    assert_int_equal(send_media(b, "bob", "carol", 7, content), OMTP_EC_SUCCESS);
    get(&r, tc, id, NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r), resp_free(&up);
    omtp_sync_close(a);
    omtp_sync_close(b);
    stop();
}

static void test_thumbnail_and_bomb(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t len;
    unsigned char *img = png(640, 480, true, &len);
    resp r, t;
    upload(&r, ta, "cat.png", img, len);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(&r, "mime"), "image/png");
    assert_int_equal(jint(&r, "width"), 640);
    assert_int_equal(jint(&r, "height"), 480);
    assert_int_equal(strlen(jstr(&r, "thumbId")), 64);
    char path[200];
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", jstr(&r, "fileId"));
    call(&t, "GET", path, ta, NULL, 0, false, NULL);
    assert_int_equal(t.status, 200);
    assert_string_equal(t.ctype, "image/jpeg");
    assert_true(t.len > 100);
    /* the JPEG's frame header: at most 320 px on the long side (320 x 240) */
    const unsigned char *b = (const unsigned char *)t.body;
    int w = 0, h = 0;
    for (size_t i = 2; i + 9 < t.len; i++)
        if (b[i] == 0xff && (b[i + 1] == 0xc0 || b[i + 1] == 0xc2)) {
            h = b[i + 5] << 8 | b[i + 6];
            w = b[i + 7] << 8 | b[i + 8];
            break;
        }
    assert_int_equal(w, 320);
    assert_int_equal(h, 240);
    resp_free(&r), resp_free(&t);
    free(img);
    /* 30000 x 30000 in the header: refused before decoding, stored as a file */
    img = png(30000, 30000, false, &len);
    int64_t t0 = h_now_ms();
    upload(&r, ta, "bomb.png", img, len);
    assert_int_equal(r.status, 201);
    assert_true(h_now_ms() - t0 < 5000);
    assert_int_equal(jint(&r, "width"), 30000);
    assert_string_equal(jstr(&r, "thumbId"), "");
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", jstr(&r, "fileId"));
    call(&t, "GET", path, ta, NULL, 0, false, NULL);
    assert_int_equal(t.status, 404);
    char *log = h_server_log(S.s);
    assert_non_null(strstr(log, "never decoded"));
    free(log);
    resp_free(&r), resp_free(&t);
    free(img);
    stop();
}

/* A real decompression bomb: a w x h 8-bit grey PNG of zeros, deflated row
 * by row (10000 x 10000 is 100 MB of pixels in ~100 KB). Decodable, so a
 * server that decodes it makes a thumbnail of it. */
static unsigned char *png_bomb(uint32_t w, uint32_t h, size_t *len)
{
    z_stream zs = {0};
    assert_int_equal(deflateInit(&zs, 9), Z_OK);
    size_t cap = (size_t)h * (w + 1) / 500 + (1u << 20);
    unsigned char *z = malloc(cap), *row = calloc(1, (size_t)w + 1);
    assert_non_null(z);
    assert_non_null(row);
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    for (uint32_t y = 0; y < h; y++) {
        zs.next_in = row;
        zs.avail_in = w + 1;
        assert_int_equal(deflate(&zs, y + 1 == h ? Z_FINISH : Z_NO_FLUSH),
                         y + 1 == h ? Z_STREAM_END : Z_OK);
        assert_int_equal(zs.avail_in, 0);
    }
    size_t zl = zs.total_out;
    deflateEnd(&zs);
    free(row);
    unsigned char *out = malloc(8 + 25 + 12 + zl + 12);
    assert_non_null(out);
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    size_t o = 8;
    unsigned char ihdr[13];
    uint32_t be = htonl(w);
    memcpy(ihdr, &be, 4);
    be = htonl(h);
    memcpy(ihdr + 4, &be, 4);
    ihdr[8] = 8, ihdr[9] = 0, ihdr[10] = ihdr[11] = ihdr[12] = 0;
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

/* thumb_max_pixels = 0 turns thumbnails off; it never means "decode
 * anything": a real bomb (10000 x 10000 of zeros, ~100 KB) is stored with
 * its size from the header, no thumbnail, never decoded. And no setting
 * passes the hard ceiling. */
static void test_bomb_thumbs_off(void **state)
{
    (void)state;
    const char *args[] = {"--thumb-max-pixels", "0", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t len;
    unsigned char *img = png_bomb(10000, 10000, &len);
    assert_true(len < 2u << 20);
    resp r, t;
    upload(&r, ta, "bomb.png", img, len);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(&r, "mime"), "image/png");
    assert_int_equal(jint(&r, "width"), 10000);
    assert_int_equal(jint(&r, "height"), 10000);
    assert_string_equal(jstr(&r, "thumbId"), "");
    char path[200];
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", jstr(&r, "fileId"));
    call(&t, "GET", path, ta, NULL, 0, false, NULL);
    assert_int_equal(t.status, 404);
    char *log = h_server_log(S.s);
    assert_non_null(strstr(log, "thumbnails are off"));
    free(log);
    resp_free(&r), resp_free(&t);
    /* a 100000 x 100000 header: the same answer */
    free(img);
    img = png(100000, 100000, false, &len);
    upload(&r, ta, "bomb2.png", img, len);
    assert_int_equal(r.status, 201);
    assert_int_equal(jint(&r, "width"), 100000);
    assert_string_equal(jstr(&r, "thumbId"), "");
    resp_free(&r);
    free(img);
    stop();
    /* above the hard ceiling: omtpd refuses to start, saying why */
    char dir[] = "/tmp/omtp-files-ceil-XXXXXX", cmd[1200], out[4096] = "";
    assert_non_null(mkdtemp(dir));
    const char *bin = getenv("OMTPD") ? getenv("OMTPD") : "omtpd";
    snprintf(cmd, sizeof(cmd),
             "timeout 10 '%s' --data-dir '%s' --listen 127.0.0.1:0 --http-listen '' "
             "--thumb-max-pixels 200000000 2>&1",
             bin, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    int st = pclose(p);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(st, 0);
    if (!strstr(out, "hard ceiling"))
        fail_msg("omtpd did not refuse thumb_max_pixels 200000000:\n%s", out);
}

/* A raw connection to the HTTP listener (blocking, 5 s receive time-out). */
static int raw_http(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Reads until `want` appears or the connection ends / times out. */
static bool raw_read_until(int fd, char *buf, size_t cap, const char *want)
{
    size_t n = 0;
    buf[0] = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = 0;
        if (strstr(buf, want))
            return true;
    }
    return false;
}

/* The quota is asked before the body: an upload over it with a
 * Content-Length is answered 413 at once, without its body being sent,
 * read or stored; one within it still works. */
static void test_quota_before_body(void **state)
{
    (void)state;
    const char *args[] = {"--file-quota-bytes", "1000000", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    int fd = raw_http();
    char req[800], buf[4096];
    int l = snprintf(req, sizeof(req),
                     "POST /v1/files?name=big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                     "%s\r\nContent-Length: 20000000\r\n\r\n",
                     ta);
    assert_int_equal(write(fd, req, (size_t)l), l);
    /* no body byte is sent: the answer comes anyway */
    if (!raw_read_until(fd, buf, sizeof(buf), "quota_exceeded"))
        fail_msg("no 413 quota_exceeded before the body; got: %s", buf);
    assert_non_null(strstr(buf, "HTTP/1.1 413"));
    close(fd);
    assert_int_equal(tmp_objects(), 0);
    assert_int_equal(stored_objects(), 0);
    assert_true(h_metric(S.port, "omtp_files_refused_total{reason=\"quota_exceeded\"}") == 1);
    /* a small one over the quota: refused too (its body drained, not stored) */
    unsigned char *data = rnd_bytes(1500000, 7);
    resp r;
    upload(&r, ta, "over.bin", data, 1500000);
    assert_int_equal(r.status, 413);
    assert_string_equal(jerr(&r), "quota_exceeded");
    resp_free(&r);
    assert_int_equal(stored_objects(), 0);
    /* within it: stored */
    upload(&r, ta, "ok.bin", data, 600000);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    /* now 600000 are taken: 500000 more is over, answered before the body */
    upload(&r, ta, "next.bin", data, 500000);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    assert_int_equal(stored_objects(), 1);
    free(data);
    stop();
}

/* Authenticated transfers do not hold the per-address slots of
 * http_max_conns_per_ip (meant for connections that have not shown
 * credentials): with a cap of 2, two downloads in progress from one address
 * leave room for a third; two idle connections still fill the cap. */
static void test_transfers_free_ip_slots(void **state)
{
    (void)state;
    const char *args[] = {"--http-max-conns-per-ip", "2", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t n = 4u << 20;
    unsigned char *data = rnd_bytes(n, 9);
    resp r;
    upload(&r, ta, "big.bin", data, n);
    assert_int_equal(r.status, 201);
    char id[40], req[800], buf[4096];
    snprintf(id, sizeof(id), "%s", jstr(&r, "fileId"));
    resp_free(&r);
    int dl[2];
    for (int i = 0; i < 2; i++) { /* two downloads, read no further than the head */
        dl[i] = raw_http();
        int l = snprintf(req, sizeof(req),
                         "GET /v1/files/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         "%s\r\n\r\n",
                         id, ta);
        assert_int_equal(write(dl[i], req, (size_t)l), l);
        assert_true(raw_read_until(dl[i], buf, sizeof(buf), "200 OK"));
    }
    /* a third transfer from the same address */
    char path[100];
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    call(&r, "GET", path, ta, NULL, 0, false, "Range: bytes=0-9");
    assert_int_equal(r.status, 206);
    assert_int_equal(r.len, 10);
    resp_free(&r);
    /* connections without credentials still count */
    int idle[2] = {raw_http(), raw_http()};
    usleep(300000);
    call(&r, "GET", "/healthz", NULL, NULL, 0, false, NULL);
    assert_int_equal(r.status, -1);
    resp_free(&r);
    for (int i = 0; i < 2; i++)
        close(dl[i]), close(idle[i]);
    free(data);
    stop();
}

static void test_disk_full_507(void **state)
{
    (void)state;
    /* omtpd inherits the limit: a file past 6 MiB fails with EFBIG */
    struct rlimit old, lim = {6u << 20, 6u << 20};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    start(NULL);
    lim = old; /* this process may raise it back: only omtpd keeps it */
    setrlimit(RLIMIT_FSIZE, &lim);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t n = 10u << 20;
    unsigned char *data = rnd_bytes(n, 4);
    resp r;
    upload(&r, ta, "huge.bin", data, n);
    assert_int_equal(r.status, 507);
    assert_string_equal(jerr(&r), "storage_full");
    resp_free(&r);
    assert_int_equal(stored_objects(), 0);
    assert_int_equal(tmp_objects(), 0);
    /* the server keeps serving messages and small files */
    omtp_sync *a = h_login(S.s, "alice", "pw-a", 5);
    omtp_MsgAck ack;
    assert_int_equal(omtp_sync_chat(a, "bob", "still here", &ack), 0);
    assert_int_equal(ack.code, 0);
    omtp_msg_free(&omtp_MsgAck_desc, &ack);
    omtp_sync_close(a);
    upload(&r, ta, "small.txt", "small", 5);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    free(data);
    stop();
}

static void test_orphans_swept(void **state)
{
    (void)state;
    const char *args[] = {"--file-orphan-s", "1", "--hp-prune-interval-s", "1", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    resp keep, gone, r;
    upload(&keep, ta, "keep.txt", "keep me", 7);
    upload(&gone, ta, "gone.txt", "drop me", 7);
    assert_int_equal(keep.status, 201);
    assert_int_equal(gone.status, 201);
    omtp_sync *a = h_login(S.s, "alice", "pw-a", 5);
    char content[600];
    media_json(content, sizeof(content), &keep);
    assert_int_equal(send_media(a, "alice", "bob", 7, content), OMTP_EC_SUCCESS);
    omtp_sync_close(a);
    int64_t deadline = h_now_ms() + 15000;
    do {
        usleep(200000);
        get(&r, ta, jstr(&gone, "fileId"), NULL);
        long st = r.status;
        resp_free(&r);
        if (st == 404)
            break;
    } while (h_now_ms() < deadline);
    get(&r, ta, jstr(&gone, "fileId"), NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    get(&r, ta, jstr(&keep, "fileId"), NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    deadline = h_now_ms() + 5000;
    while (stored_objects() != 1 && h_now_ms() < deadline)
        usleep(50000);
    assert_int_equal(stored_objects(), 1);
    resp_free(&keep), resp_free(&gone);
    stop();
}

static void test_quota_and_rate(void **state)
{
    (void)state;
    const char *args[] = {"--file-quota-bytes", "100", "--file-upload-rate", "3", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    unsigned char *data = rnd_bytes(200, 5);
    resp r;
    upload(&r, ta, "a.bin", data, 60);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    upload(&r, ta, "b.bin", data + 60, 60); /* 120 > 100 */
    assert_int_equal(r.status, 413);
    assert_string_equal(jerr(&r), "quota_exceeded");
    resp_free(&r);
    /* the refused upload's bytes are gone (removed off the loop) */
    int64_t deadline = h_now_ms() + 5000;
    while (stored_objects() != 1 && h_now_ms() < deadline)
        usleep(20000);
    assert_int_equal(stored_objects(), 1);
    upload(&r, ta, "c.bin", data + 120, 40); /* exactly 100 */
    assert_int_equal(r.status, 201);
    resp_free(&r);
    /* bob: his own quota; the fourth upload within a minute is over the rate */
    for (int i = 0; i < 3; i++) {
        upload(&r, tb, "r.bin", data + i, 1);
        assert_int_equal(r.status, 201);
        resp_free(&r);
    }
    upload(&r, tb, "r.bin", data + 9, 1);
    assert_int_equal(r.status, 429);
    assert_string_equal(jerr(&r), "rate_limited");
    resp_free(&r);
    /* the business backend has neither limit */
    upload(&r, KEY, "api.bin", data, 200);
    assert_int_equal(r.status, 201);
    /* ... and may attach its file to a message on behalf of a user (POST
     * /v1/messages): the recipient reads it then, not before */
    resp g;
    get(&g, tb, jstr(&r, "fileId"), NULL);
    assert_int_equal(g.status, 404);
    resp_free(&g);
    char body[800], content[600];
    media_json(content, sizeof(content), &r);
    json_t *o = json_pack("{s:s,s:s,s:i,s:s}", "from", "alice", "to", "bob", "contentType", 7,
                          "content", content);
    char *js = json_dumps(o, JSON_COMPACT);
    snprintf(body, sizeof(body), "%s", js);
    free(js);
    json_decref(o);
    call(&g, "POST", "/v1/messages", KEY, body, strlen(body), false,
         "Content-Type: application/json");
    assert_int_equal(g.status, 201);
    resp_free(&g);
    get(&g, tb, jstr(&r, "fileId"), NULL);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 200);
    resp_free(&g);
    /* a media message's content must be JSON on this entry point too */
    snprintf(body, sizeof(body),
             "{\"from\":\"alice\",\"to\":\"bob\",\"contentType\":3,\"content\":\"a cat\"}");
    call(&g, "POST", "/v1/messages", KEY, body, strlen(body), false,
         "Content-Type: application/json");
    assert_int_equal(g.status, 400);
    resp_free(&g);
    resp_free(&r);
    free(data);
    stop();
}

/* The same PNG with an ancillary chunk ("teSt", empty) after IHDR: other
 * bytes, the same pixels, so the same thumbnail. */
static unsigned char *png_variant(const unsigned char *img, size_t len, size_t *outlen)
{
    unsigned char *out = malloc(len + 12);
    assert_non_null(out);
    memcpy(out, img, 33); /* the signature and IHDR */
    memcpy(out + 33, "\0\0\0\0teSt", 8);
    uint32_t be = htonl((uint32_t)crc32(0, (const Bytef *)"teSt", 4));
    memcpy(out + 41, &be, 4);
    memcpy(out + 45, img + 33, len - 33);
    *outlen = len + 12;
    return out;
}

/* A refused upload's bytes go, but not a thumbnail another file has too. */
static void test_refused_upload_keeps_shared_thumbnail(void **state)
{
    (void)state;
    const char *args[] = {"--file-quota-bytes", "100", NULL};
    start(args);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    size_t len, vlen;
    unsigned char *img = png(640, 480, true, &len);
    unsigned char *var = png_variant(img, len, &vlen);
    resp r, v, t;
    upload(&r, KEY, "cat.png", img, len); /* the backend: no quota */
    assert_int_equal(r.status, 201);
    assert_int_equal(strlen(jstr(&r, "thumbId")), 64);
    assert_int_equal(stored_objects(), 2);
    upload(&v, tb, "cat2.png", var, vlen); /* bob: over his quota */
    assert_int_equal(v.status, 413);
    assert_string_equal(jerr(&v), "quota_exceeded");
    /* bob's bytes go (off the loop); the thumbnail is the backend's too */
    int64_t deadline = h_now_ms() + 5000;
    while (stored_objects() > 2 && h_now_ms() < deadline)
        usleep(20000);
    usleep(200000);
    assert_int_equal(stored_objects(), 2);
    char path[200];
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", jstr(&r, "fileId"));
    call(&t, "GET", path, KEY, NULL, 0, false, NULL);
    assert_int_equal(t.status, 200);
    resp_free(&r), resp_free(&v), resp_free(&t);
    free(img);
    free(var);
    stop();
}

static void test_login_hands_a_file_token(void **state)
{
    (void)state;
    start(NULL);
    char ta[300], tb[300];
    users(ta, tb, NULL);
    omtp_sync *c = h_connect(S.s);
    int code = -1;
    assert_int_equal(omtp_sync_login(c, "alice", "pw-a", 5, NULL, &code), 0);
    assert_int_equal(code, 0);
    json_t *o = json_loads(omtp_sync_login_desc(c), 0, NULL);
    assert_non_null(o);
    const char *tok = json_string_value(json_object_get(o, "fileToken"));
    assert_non_null(tok);
    assert_true(json_integer_value(json_object_get(o, "expiresAt")) > time(NULL) + 3600);
    resp r;
    upload(&r, tok, "from-login.txt", "hi", 2);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    json_decref(o);
    omtp_sync_close(c);
    stop();
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_roundtrip_and_stored_once, h_teardown),
        cmocka_unit_test_teardown(test_range_etag_disposition, h_teardown),
        cmocka_unit_test_teardown(test_names_zero_and_sniffing, h_teardown),
        cmocka_unit_test_teardown(test_http_threads_yield_to_the_loop, h_teardown),
        cmocka_unit_test_teardown(test_limits_413_and_stall, h_teardown),
        cmocka_unit_test_teardown(test_tokens_401, h_teardown),
        cmocka_unit_test_teardown(test_read_rule_follows_messages, h_teardown),
        cmocka_unit_test_teardown(test_thumbnail_and_bomb, h_teardown),
        cmocka_unit_test_teardown(test_bomb_thumbs_off, h_teardown),
        cmocka_unit_test_teardown(test_quota_before_body, h_teardown),
        cmocka_unit_test_teardown(test_transfers_free_ip_slots, h_teardown),
        cmocka_unit_test_teardown(test_disk_full_507, h_teardown),
        cmocka_unit_test_teardown(test_orphans_swept, h_teardown),
        cmocka_unit_test_teardown(test_quota_and_rate, h_teardown),
        cmocka_unit_test_teardown(test_refused_upload_keeps_shared_thumbnail, h_teardown),
        cmocka_unit_test_teardown(test_login_hands_a_file_token, h_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
