/*
 * test_ws_files.c - the file endpoints on the public WebSocket listener
 * (ws_listen; docs/websocket.md "File endpoints", docs/files.md), over real
 * HTTP on raw sockets: upload and download round trip (sha256, sniffed
 * type, Content-Disposition, nosniff), Range (206, 416), ETag (304), the
 * access_token query parameter, 401 without or with a bad token, 404 for a
 * user who may not read the file, 413 while streaming (with and without
 * Content-Length), a zero-byte file, CORS (preflight, a foreign Origin
 * refused), and a client that sends half a body and stops: the partial is
 * removed after the timeout and the listener keeps serving.
 */
#include "h_http.h"
#include "h_tls.h"
#include "h_ws.h"
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include <zlib.h>

static char atok[256], btok[256];

static h_server *start(int *port, const char *more)
{
    char conf[3072]; /* `more` may be a whole 2 KiB config snippet */
    snprintf(conf, sizeof(conf),
             "max_file_size = 65536\nhttp_timeout_s = 1\nws_allowed_origins = "
             "http://app.example\n%s",
             more ? more : "");
    h_server *s = h_ws_server_start(conf, port);
    h_user_add(s, "alice", "pw-alice");
    h_user_add(s, "bob", "pw-bob");
    h_token(s, "alice", 3600, atok, sizeof(atok));
    h_token(s, "bob", 3600, btok, sizeof(btok));
    return s;
}

static void header(const char *ans, const char *name, char *v, size_t vlen)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *h = strcasestr(ans, key);
    if (!h) {
        v[0] = 0;
        return;
    }
    h += strlen(key);
    size_t n = strcspn(h, "\r");
    snprintf(v, vlen, "%.*s", (int)n, h);
}

static const char *body(const char *ans)
{
    const char *b = strstr(ans, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* The string value of "key" in a flat JSON answer. */
static void json_str(const char *json, const char *key, char *v, size_t vlen)
{
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":\"", key);
    const char *p = strstr(json, k);
    v[0] = 0;
    if (p) {
        p += strlen(k);
        snprintf(v, vlen, "%.*s", (int)strcspn(p, "\""), p);
    }
}

/* POST /v1/files with a body; the answer into out; returns the status. */
static int upload(int port, const char *tok, const char *name, const void *data, size_t n,
                  char *out, size_t outlen)
{
    int fd = h_ws_raw(port);
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/files?name=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s"
                      "Content-Length: %zu\r\nContent-Type: application/octet-stream\r\n\r\n",
                      name, port, tok ? "Authorization: Bearer " : "", tok ? tok : "",
                      tok ? "\r\n" : "", n);
    h_ws_send_all(fd, head, (size_t)hl);
    if (n)
        h_ws_send_all(fd, data, n);
    ssize_t got = h_raw_read_until_close(fd, out, outlen - 1, 10000);
    close(fd);
    out[got > 0 ? got : 0] = 0;
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    return status;
}

static int get(int port, const char *path, const char *extra, char *out, size_t outlen)
{
    char req[2048];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port,
             extra ? extra : "");
    return h_ws_http(port, req, out, outlen);
}

static void bearer(const char *tok, char *out, size_t outlen)
{
    snprintf(out, outlen, "Authorization: Bearer %s\r\n", tok);
}

static void test_round_trip_range_etag(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    static char out[131072];
    char v[512], id[64], sha[80], auth[400], path[640];
    const char *text = "hello, files on the ws listener\n";
    size_t tl = strlen(text);

    assert_int_equal(upload(port, atok, "hello%20%E2%9C%93.txt", text, tl, out, sizeof(out)), 201);
    json_str(body(out), "fileId", id, sizeof(id));
    json_str(body(out), "sha256", sha, sizeof(sha));
    assert_int_equal(strlen(id), 32);
    unsigned char md[32];
    SHA256((const unsigned char *)text, tl, md);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(sha, hex);
    json_str(body(out), "mime", v, sizeof(v));
    assert_string_equal(v, "text/plain"); /* sniffed, whatever the client said */
    json_str(body(out), "name", v, sizeof(v));
    assert_string_equal(v, "hello \xE2\x9C\x93.txt");

    /* the uploader reads it back, byte for byte, with the safe headers */
    bearer(atok, auth, sizeof(auth));
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    assert_string_equal(body(out), text);
    header(out, "X-Content-Type-Options", v, sizeof(v));
    assert_string_equal(v, "nosniff");
    header(out, "Content-Disposition", v, sizeof(v));
    assert_non_null(strstr(v, "filename*=UTF-8''hello%20%E2%9C%93.txt"));
    header(out, "Accept-Ranges", v, sizeof(v));
    assert_string_equal(v, "bytes");

    /* Range: a slice (206) and one past the end (416) */
    char extra[1024];
    snprintf(extra, sizeof(extra), "%sRange: bytes=7-11\r\n", auth);
    assert_int_equal(get(port, path, extra, out, sizeof(out)), 206);
    assert_string_equal(body(out), "files");
    header(out, "Content-Range", v, sizeof(v));
    char want[64];
    snprintf(want, sizeof(want), "bytes 7-11/%zu", tl);
    assert_string_equal(v, want);
    snprintf(extra, sizeof(extra), "%sRange: bytes=-4\r\n", auth);
    assert_int_equal(get(port, path, extra, out, sizeof(out)), 206);
    assert_string_equal(body(out), "ner\n");
    snprintf(extra, sizeof(extra), "%sRange: bytes=5000-\r\n", auth);
    assert_int_equal(get(port, path, extra, out, sizeof(out)), 416);
    header(out, "Content-Range", v, sizeof(v));
    snprintf(want, sizeof(want), "bytes */%zu", tl);
    assert_string_equal(v, want);

    /* ETag: 304 without a body */
    char etag[128];
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    header(out, "ETag", etag, sizeof(etag));
    snprintf(extra, sizeof(extra), "%sIf-None-Match: %s\r\n", auth, etag);
    assert_int_equal(get(port, path, extra, out, sizeof(out)), 304);
    assert_string_equal(body(out), "");

    /* HEAD: the head only */
    char req[2048];
    snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, auth);
    assert_int_equal(h_ws_http(port, req, out, sizeof(out)), 200);
    header(out, "Content-Length", v, sizeof(v));
    assert_int_equal(atoi(v), (int)tl);
    assert_string_equal(body(out), "");

    /* <img src> and <video src> cannot send a header: access_token (RFC 6750 2.3) */
    snprintf(path, sizeof(path), "/v1/files/%s?access_token=%s", id, atok);
    assert_int_equal(get(port, path, NULL, out, sizeof(out)), 200);
    assert_string_equal(body(out), text);

    /* Expect: 100-continue (curl's way for large bodies) gets its interim answer */
    {
        int fd = h_ws_raw(port);
        char hd[1024];
        int hl = snprintf(hd, sizeof(hd),
                          "POST /v1/files?name=e.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                          "%s\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                          atok);
        h_ws_send_all(fd, hd, (size_t)hl);
        char interim[64] = {0};
        assert_true(recv(fd, interim, 25, MSG_WAITALL) == 25);
        assert_string_equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        h_ws_send_all(fd, "hello", 5);
        ssize_t got = h_raw_read_until_close(fd, out, sizeof(out) - 1, 10000);
        close(fd);
        out[got > 0 ? got : 0] = 0;
        assert_non_null(strstr(out, "HTTP/1.1 201"));
    }

    /* a zero-byte file is a file */
    assert_int_equal(upload(port, atok, "empty.bin", "", 0, out, sizeof(out)), 201);
    json_str(body(out), "fileId", id, sizeof(id));
    assert_non_null(strstr(body(out), "\"size\":0"));
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    header(out, "Content-Length", v, sizeof(v));
    assert_string_equal(v, "0");

    /* a binary file larger than one piece of the worker reads */
    static unsigned char big[60000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7 + i / 251);
    assert_int_equal(upload(port, atok, "big.bin", big, sizeof(big), out, sizeof(out)), 201);
    json_str(body(out), "fileId", id, sizeof(id));
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    header(out, "Content-Length", v, sizeof(v));
    assert_int_equal(atoi(v), (int)sizeof(big));
    assert_memory_equal(body(out), big, sizeof(big));
    h_server_stop_free(s);
}

static void test_auth_and_read_rule(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    static char out[16384];
    char id[64], path[256], auth[400];

    /* no token, a forged one, an expired one: 401, nothing stored */
    assert_int_equal(upload(port, NULL, "a.txt", "abc", 3, out, sizeof(out)), 401);
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer"));
    assert_int_equal(upload(port, "v1.alice.99999999999.00", "a.txt", "abc", 3, out, sizeof(out)),
                     401);
    char old[256];
    h_token(s, "alice", -10, old, sizeof(old));
    assert_int_equal(upload(port, old, "a.txt", "abc", 3, out, sizeof(out)), 401);
    assert_non_null(strstr(body(out), "expired"));

    assert_int_equal(upload(port, atok, "private.txt", "alice only", 10, out, sizeof(out)), 201);
    json_str(body(out), "fileId", id, sizeof(id));
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    assert_int_equal(get(port, path, NULL, out, sizeof(out)), 401);
    /* bob shares no session holding it: 404, as for a file that does not exist */
    bearer(btok, auth, sizeof(auth));
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 404);
    assert_null(strstr(out, "alice only"));
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 404);
    assert_int_equal(
        get(port, "/v1/files/00000000000000000000000000000000", auth, out, sizeof(out)), 404);
    assert_int_equal(get(port, "/v1/files/..%2f..%2fetc", auth, out, sizeof(out)), 404);
    h_server_stop_free(s);
}

static void test_too_large(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    static char out[16384];
    static char big[200000];
    memset(big, 'x', sizeof(big));

    /* announced too large: refused before a byte is read */
    assert_int_equal(upload(port, atok, "big.txt", big, sizeof(big), out, sizeof(out)), 413);
    assert_non_null(strstr(body(out), "file is larger than 64 KB"));

    /* chunked (no length): refused while streaming, the client still reads the answer */
    int fd = h_ws_raw(port);
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/files?name=big.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      "%s\r\nTransfer-Encoding: chunked\r\n\r\n",
                      atok);
    h_ws_send_all(fd, head, (size_t)hl);
    for (int i = 0; i < 10; i++) {
        char ch[32];
        int cl = snprintf(ch, sizeof(ch), "%x\r\n", 20000);
        h_ws_send_all(fd, ch, (size_t)cl);
        h_ws_send_all(fd, big, 20000);
        h_ws_send_all(fd, "\r\n", 2);
    }
    h_ws_send_all(fd, "0\r\n\r\n", 5);
    ssize_t got = h_raw_read_until_close(fd, out, sizeof(out) - 1, 10000);
    close(fd);
    out[got > 0 ? got : 0] = 0;
    assert_non_null(strstr(out, "HTTP/1.1 413"));

    /* nothing of either is left in the store's temporary directory */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/files/tmp", s->data_dir);
    for (int i = 0; i < 50; i++) { /* the abort runs on a worker */
        DIR *d = opendir(dir);
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)))
            n += e->d_name[0] != '.';
        if (d)
            closedir(d);
        if (!n)
            break;
        assert_true(i < 49);
        usleep(100000);
    }
    h_server_stop_free(s);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A real RGB PNG of w x h (a gradient) into out; returns its length. */
static size_t make_png(uint32_t w, uint32_t h, unsigned char *out, size_t cap)
{
    size_t rawn = (size_t)(w * 3 + 1) * h;
    unsigned char *raw = calloc(1, rawn);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            unsigned char *px = raw + (size_t)y * (w * 3 + 1) + 1 + x * 3;
            px[0] = (unsigned char)(x / 50 * 30), px[1] = (unsigned char)(y / 50 * 60), px[2] = 99;
        }
    uLongf zn = compressBound(rawn);
    unsigned char *z = malloc(zn);
    assert_int_equal(compress(z, &zn, raw, rawn), Z_OK);
    size_t o = 0;
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    o = 8;
    unsigned char ihdr[13] = {0};
    be32(ihdr, w), be32(ihdr + 4, h);
    ihdr[8] = 8, ihdr[9] = 2;
    const struct {
        const char *type;
        const unsigned char *p;
        size_t n;
    } chunks[] = {{"IHDR", ihdr, 13}, {"IDAT", z, zn}, {"IEND", NULL, 0}};
    for (int k = 0; k < 3; k++) {
        assert_true(o + 12 + chunks[k].n <= cap);
        be32(out + o, (uint32_t)chunks[k].n);
        memcpy(out + o + 4, chunks[k].type, 4);
        if (chunks[k].n)
            memcpy(out + o + 8, chunks[k].p, chunks[k].n);
        uLong crc = crc32(0, out + o + 4, (uInt)(4 + chunks[k].n));
        be32(out + o + 8 + chunks[k].n, (uint32_t)crc);
        o += 12 + chunks[k].n;
    }
    free(raw);
    free(z);
    return o;
}

/* An image gets its size and a thumbnail (<= 320 px), served as what it is. */
static void test_image_thumbnail(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    static unsigned char img[60000];
    static char out[131072];
    char id[64], v[256], auth[400], path[256];
    size_t n = make_png(400, 200, img, sizeof(img));
    assert_int_equal(upload(port, atok, "cat.jpg", img, n, out, sizeof(out)), 201);
    json_str(body(out), "mime", v, sizeof(v));
    assert_string_equal(v, "image/png"); /* named .jpg, sniffed as what it is */
    assert_non_null(strstr(body(out), "\"width\":400"));
    assert_non_null(strstr(body(out), "\"height\":200"));
    json_str(body(out), "fileId", id, sizeof(id));
    json_str(body(out), "thumbId", v, sizeof(v));
    assert_int_equal(strlen(v), 64); /* the thumbnail's sha256, as on the HTTP API */
    bearer(atok, auth, sizeof(auth));
    snprintf(path, sizeof(path), "/v1/files/%s/thumb", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    header(out, "Content-Type", v, sizeof(v));
    assert_string_equal(v, "image/jpeg");
    const unsigned char *b = (const unsigned char *)body(out);
    assert_true(b[0] == 0xFF && b[1] == 0xD8); /* a JPEG */
    header(out, "Content-Disposition", v, sizeof(v));
    assert_non_null(strstr(v, "inline;"));
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 200);
    header(out, "Content-Type", v, sizeof(v));
    assert_string_equal(v, "image/png");
    h_server_stop_free(s);
}

static void test_cors(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    char out[8192], v[256];
    char req[1024];
    snprintf(req, sizeof(req),
             "OPTIONS /v1/files HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
             "Access-Control-Request-Method: POST\r\n"
             "Access-Control-Request-Headers: authorization\r\n\r\n");
    assert_int_equal(h_ws_http(port, req, out, sizeof(out)), 204);
    header(out, "Access-Control-Allow-Origin", v, sizeof(v));
    assert_string_equal(v, "http://app.example");
    header(out, "Access-Control-Allow-Headers", v, sizeof(v));
    assert_non_null(strstr(v, "Authorization"));
    /* another site's page may not use the API */
    snprintf(req, sizeof(req),
             "OPTIONS /v1/files HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n");
    assert_int_equal(h_ws_http(port, req, out, sizeof(out)), 403);
    assert_int_equal(upload(port, atok, "a.txt", "abc", 3, out, sizeof(out)), 201);
    h_server_stop_free(s);
}

static void test_stalled_upload_removed(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, NULL);
    static char out[16384];
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/files/tmp", s->data_dir);

    int fd = h_ws_raw(port);
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/files?name=half.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      "%s\r\nContent-Length: 60000\r\n\r\n",
                      atok);
    h_ws_send_all(fd, head, (size_t)hl);
    static char part[30000];
    memset(part, 'h', sizeof(part));
    h_ws_send_all(fd, part, sizeof(part));
    /* the partial exists while the client is silent ... */
    bool seen = false;
    for (int i = 0; i < 20 && !seen; i++) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            seen |= e->d_name[0] != '.';
        if (d)
            closedir(d);
        if (!seen)
            usleep(25000);
    }
    assert_true(seen);
    /* ... then the connection ends (http_timeout_s = 1) and it is removed */
    assert_true(h_ws_closed_within(fd, 6000));
    close(fd);
    int n = -1;
    for (int i = 0; i < 50 && n; i++) {
        DIR *d = opendir(dir);
        struct dirent *e;
        n = 0;
        while (d && (e = readdir(d)))
            n += e->d_name[0] != '.';
        if (d)
            closedir(d);
        if (n)
            usleep(100000);
    }
    assert_int_equal(n, 0);
    char *log = h_server_log(s);
    assert_non_null(strstr(log, "ended before it completed"));
    free(log);
    /* the listener keeps serving */
    assert_int_equal(upload(port, atok, "after.txt", "still here", 10, out, sizeof(out)), 201);
    h_server_stop_free(s);
}

/* Reads from fd until `want` appears (or 5 s pass / the connection ends). */
static bool read_until(int fd, char *buf, size_t cap, const char *want)
{
    size_t n = 0;
    buf[0] = 0;
    int64_t end = h_now_ms() + 5000;
    while (n + 1 < cap && h_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
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

/* A connection whose receive buffer is small: a download to it stays in
 * progress while the test does not read. */
static int small_rcvbuf_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* A file transfer authenticated with a user's token does not hold one of
 * its address's max_conns_per_ip slots (those are for connections that have
 * not logged in): with a cap of 2, two downloads in progress from one
 * address leave room for a third; two idle connections still fill it. */
static void test_transfers_free_ip_slots(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port, "max_conns_per_ip = 2\nmax_file_size = 16777216\n");
    static char out[16384];
    size_t n = 12u << 20; /* more than the kernel buffers: the transfers stay in progress */
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 9));
    assert_int_equal(upload(port, atok, "big.bin", data, n, out, sizeof(out)), 201);
    char id[40];
    json_str(body(out), "fileId", id, sizeof(id));
    assert_int_equal(strlen(id), 32);
    int dl[2];
    char req[1024], buf[4096];
    for (int i = 0; i < 2; i++) { /* two downloads, read no further than the head */
        dl[i] = small_rcvbuf_conn(port);
        int l = snprintf(req, sizeof(req),
                         "GET /v1/files/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         "%s\r\n\r\n",
                         id, atok);
        h_ws_send_all(dl[i], req, (size_t)l);
        assert_true(read_until(dl[i], buf, sizeof(buf), "200 OK"));
    }
    char path[100], auth[400];
    snprintf(path, sizeof(path), "/v1/files/%s", id);
    bearer(atok, auth, sizeof(auth));
    strncat(auth, "Range: bytes=0-9\r\n", sizeof(auth) - strlen(auth) - 1);
    assert_int_equal(get(port, path, auth, out, sizeof(out)), 206);
    /* connections that have not logged in still count */
    int idle[2] = {h_ws_raw(port), h_ws_raw(port)};
    usleep(300000);
    int third = h_ws_raw(port);
    assert_true(h_ws_closed_within(third, 5000));
    close(third);
    for (int i = 0; i < 2; i++)
        close(dl[i]), close(idle[i]);
    free(data);
    h_server_stop_free(s);
}

/* One HTTP exchange over TLS (wss_listen): the answer until the close. */
static size_t tls_exchange(int port, const void *req, size_t n, char *out, size_t cap)
{
    SSL_CTX *ctx;
    int fd;
    SSL *ssl = h_tls_connect(port, &ctx, &fd);
    assert_int_equal(SSL_write(ssl, req, (int)n), (int)n);
    size_t got = 0;
    int r;
    while (got + 1 < cap && (r = SSL_read(ssl, out + got, (int)(cap - 1 - got))) > 0)
        got += (size_t)r;
    out[got] = 0;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return got;
}

/* The same endpoints on wss_listen: an upload and its download over TLS. */
static void test_wss(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-wssf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost 2>/dev/null",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "wss_listen = 127.0.0.1:0\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\n"
             "wss_port_file = %s/wss-port\n",
             dir, dir, dir);
    int wsp;
    h_server *s = start(&wsp, conf);
    char pf[300];
    snprintf(pf, sizeof(pf), "%s/wss-port", dir);
    int port = h_http_port(pf);
    static unsigned char data[50000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 13 + 5);
    static char req[60000], out[131072];
    int hl = snprintf(req, sizeof(req),
                      "POST /v1/files?name=tls.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      "%s\r\nContent-Length: %zu\r\n\r\n",
                      atok, sizeof(data));
    memcpy(req + hl, data, sizeof(data));
    tls_exchange(port, req, (size_t)hl + sizeof(data), out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 201"));
    char id[64];
    json_str(body(out), "fileId", id, sizeof(id));
    assert_int_equal(strlen(id), 32);
    hl = snprintf(req, sizeof(req),
                  "GET /v1/files/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", id,
                  atok);
    size_t got = tls_exchange(port, req, (size_t)hl, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    const char *b = body(out);
    assert_int_equal(got - (size_t)(b - out), sizeof(data));
    assert_memory_equal(b, data, sizeof(data));
    h_server_stop_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_round_trip_range_etag, h_teardown),
        cmocka_unit_test_teardown(test_auth_and_read_rule, h_teardown),
        cmocka_unit_test_teardown(test_too_large, h_teardown),
        cmocka_unit_test_teardown(test_image_thumbnail, h_teardown),
        cmocka_unit_test_teardown(test_cors, h_teardown),
        cmocka_unit_test_teardown(test_stalled_upload_removed, h_teardown),
        cmocka_unit_test_teardown(test_transfers_free_ip_slots, h_teardown),
        cmocka_unit_test_teardown(test_wss, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
