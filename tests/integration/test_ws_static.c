/*
 * test_ws_static.c - the web app's files served by omtpd's WebSocket
 * listener (web_root; docs/websocket.md "Static files"), over real HTTP:
 * Content-Type by extension, caching (hashed /assets/ immutable, the rest
 * revalidated), ETag and 304, nosniff, "/" and app routes -> index.html,
 * HEAD, no directory listing, and every path-traversal attempt refused
 * (.., %2e%2e, encoded slashes, NUL, backslash, a symlink out of the root).
 */
#include "h_ws.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64], outside[64];

static void put(const char *dir, const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static h_server *start(int *port)
{
    snprintf(root, sizeof(root), "/tmp/omtp-web-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(outside, sizeof(outside), "/tmp/omtp-secret-XXXXXX");
    assert_non_null(mkdtemp(outside));
    char p[512];
    snprintf(p, sizeof(p), "%s/assets", root);
    assert_int_equal(mkdir(p, 0755), 0);
    put(root, "index.html", "<!doctype html><title>omtp</title>");
    put(root, "assets/index-4f2a9c.js", "console.log('app')");
    put(root, "assets/index-77ab.css", "body{}");
    put(root, "logo.svg", "<svg/>");
    put(root, "manifest.json", "{}");
    put(root, "notes.xyz", "?");
    put(outside, "secret.txt", "TOP SECRET");
    char target[512];
    snprintf(target, sizeof(target), "%s/secret.txt", outside);
    snprintf(p, sizeof(p), "%s/leak.txt", root);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof(p), "%s/leakdir", root);
    assert_int_equal(symlink(outside, p), 0);
    char conf[256];
    snprintf(conf, sizeof(conf), "web_root = %s\n", root);
    return h_ws_server_start(conf, port);
}

static void finish(h_server *s)
{
    h_server_stop_free(s);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, outside);
    assert_int_equal(system(cmd), 0);
}

static int get(int port, const char *path, const char *extra, char *out, size_t outlen)
{
    char req[1024];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port,
             extra ? extra : "");
    return h_ws_http(port, req, out, outlen);
}

/* The value of header `name` in the answer (into v). */
static void header(const char *ans, const char *name, char *v, size_t vlen)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *h = strstr(ans, key);
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

static void test_types_and_caching(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port);
    char out[8192], v[256];
    static const struct {
        const char *path, *type, *cache;
    } cases[] = {
        {"/", "text/html; charset=utf-8", "no-cache"},
        {"/index.html", "text/html; charset=utf-8", "no-cache"},
        {"/assets/index-4f2a9c.js", "text/javascript; charset=utf-8",
         "public, max-age=31536000, immutable"},
        {"/assets/index-77ab.css", "text/css; charset=utf-8",
         "public, max-age=31536000, immutable"},
        {"/logo.svg", "image/svg+xml", "no-cache"},
        {"/manifest.json", "application/json", "no-cache"},
        {"/notes.xyz", "application/octet-stream", "no-cache"},
        {"/index.html?v=2", "text/html; charset=utf-8", "no-cache"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(get(port, cases[i].path, NULL, out, sizeof(out)), 200);
        header(out, "Content-Type", v, sizeof(v));
        assert_string_equal(v, cases[i].type);
        header(out, "Cache-Control", v, sizeof(v));
        assert_string_equal(v, cases[i].cache);
        header(out, "X-Content-Type-Options", v, sizeof(v));
        assert_string_equal(v, "nosniff");
    }
    assert_int_equal(get(port, "/assets/index-4f2a9c.js", NULL, out, sizeof(out)), 200);
    assert_string_equal(body(out), "console.log('app')");
    header(out, "Content-Length", v, sizeof(v));
    assert_string_equal(v, "18");

    /* ETag: the same file again is 304 without a body */
    char etag[128], inm[200];
    header(out, "ETag", etag, sizeof(etag));
    assert_true(strlen(etag) > 2);
    snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", etag);
    assert_int_equal(get(port, "/assets/index-4f2a9c.js", inm, out, sizeof(out)), 304);
    assert_string_equal(body(out), "");
    assert_int_equal(
        get(port, "/assets/index-4f2a9c.js", "If-None-Match: \"other\"\r\n", out, sizeof(out)),
        200);

    /* HEAD: the head only */
    char req[256];
    snprintf(req, sizeof(req), "HEAD /index.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
    assert_int_equal(h_ws_http(port, req, out, sizeof(out)), 200);
    assert_string_equal(body(out), "");
    header(out, "Content-Length", v, sizeof(v));
    assert_string_equal(v, "34");
    finish(s);
}

static void test_spa_fallback_and_404(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port);
    char out[8192], v[256];
    /* the app's routes (no extension) are index.html */
    assert_int_equal(get(port, "/chat/alice", NULL, out, sizeof(out)), 200);
    assert_string_equal(body(out), "<!doctype html><title>omtp</title>");
    header(out, "Cache-Control", v, sizeof(v));
    assert_string_equal(v, "no-cache");
    /* a directory is no listing: the app */
    assert_int_equal(get(port, "/assets", NULL, out, sizeof(out)), 200);
    assert_string_equal(body(out), "<!doctype html><title>omtp</title>");
    /* a missing file is 404 */
    assert_int_equal(get(port, "/assets/missing-123.js", NULL, out, sizeof(out)), 404);
    assert_int_equal(get(port, "/favicon.ico", NULL, out, sizeof(out)), 404);
    finish(s);
}

static void test_traversal_refused(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port);
    char out[8192];
    char rel[256];
    /* the secret's path relative to the root: ../omtp-secret-XXXXXX/secret.txt */
    snprintf(rel, sizeof(rel), "..%s/secret.txt", strrchr(outside, '/'));
    const char *attempts[] = {
        "/../../../../etc/passwd",
        "/assets/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/assets/..%2f..%2f..%2fetc%2fpasswd",
        "/..%5c..%5cetc%5cpasswd",
        "/index.html%00.js",
        "/leak.txt",
        "/leakdir/secret.txt",
        "//etc/passwd",
        "/./index.html/../../etc/passwd",
    };
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        int st2 = get(port, attempts[i], NULL, out, sizeof(out));
        if (st2 != 404 && st2 != 400)
            fail_msg("%s answered %d", attempts[i], st2);
        assert_null(strstr(out, "root:"));
        assert_null(strstr(out, "TOP SECRET"));
    }
    char path[300];
    snprintf(path, sizeof(path), "/%s", rel);
    assert_int_equal(get(port, path, NULL, out, sizeof(out)), 404);
    assert_null(strstr(out, "TOP SECRET"));
    finish(s);
}

/* A file bigger than the output cap (out_buf_cap) goes out piece by piece
 * as the client reads, not queued whole. */
static void test_large_file(void **st)
{
    (void)st;
    int port;
    h_server *s = start(&port);
    size_t size = 3 * 1024 * 1024 + 7;
    char p[512];
    snprintf(p, sizeof(p), "%s/assets/big-1.js", root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    h_server_stop(s);
    h_server_free(s);
    char conf[256];
    snprintf(conf, sizeof(conf), "web_root = %s\nout_buf_cap = 1048576\n", root);
    s = h_ws_server_start(conf, &port);
    size_t cap = size + 4096;
    char *out = malloc(cap);
    assert_int_equal(get(port, "/assets/big-1.js", NULL, out, cap), 200);
    const char *b = body(out);
    assert_int_equal(strlen(b), size);
    for (size_t i = 0; i < size; i += 4099)
        assert_int_equal(b[i], 'a' + (int)(i % 26));
    free(out);
    finish(s);
}

static void test_no_web_root_is_404(void **st)
{
    (void)st;
    int port;
    h_server *s = h_ws_server_start(NULL, &port);
    char out[4096];
    assert_int_equal(get(port, "/", NULL, out, sizeof(out)), 404);
    assert_non_null(strstr(out, "web_root"));
    h_server_stop_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_types_and_caching, h_teardown),
        cmocka_unit_test_teardown(test_spa_fallback_and_404, h_teardown),
        cmocka_unit_test_teardown(test_traversal_refused, h_teardown),
        cmocka_unit_test_teardown(test_large_file, h_teardown),
        cmocka_unit_test_teardown(test_no_web_root_is_404, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
