/*
 * test_ws_http.c - the WebSocket listener's request decisions
 * (core/ws_http.h) without a server: the RFC 6455 accept key, the path
 * check (every traversal spelling refused), the upgrade rules (400, 403,
 * 405, 426, 431, subprotocol) and the Origin rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ws_http.h"
#include "core/ws_static.h"

static void test_accept_key(void **st)
{
    (void)st;
    char out[32];
    omtp_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_paths(void **st)
{
    (void)st;
    char p[256];
    assert_int_equal(omtp_ws_req_path("/a/b.js?x=1#f", p, sizeof(p)), 0);
    assert_string_equal(p, "/a/b.js");
    assert_int_equal(omtp_ws_req_path("/%41%62c", p, sizeof(p)), 0);
    assert_string_equal(p, "/Abc");
    assert_int_equal(omtp_ws_req_path("/", p, sizeof(p)), 0);
    const char *bad[] = {"a.js",        "/../x",  "/a/..", "/%2e%2e/x", "/%2E%2e%2fx",
                         "/a%2f..%2fb", "/.",     "/./x",  "//x",       "/a\\b",
                         "/a%5cb",      "/a%00b", "/a%",   "/a%zz",     "/a/../b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (omtp_ws_req_path(bad[i], p, sizeof(p)) == 0)
            fail_msg("%s accepted as %s", bad[i], p);
    char longp[600];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = 0;
    assert_int_equal(omtp_ws_req_path(longp, p, sizeof(p)), -1);
}

/* Parses `req` fed in pieces of `chunk` bytes and decides it. */
static int decide(const char *req, size_t chunk, const char *origins, bool secure,
                  omtp_ws_decision *d)
{
    omtp_ws_req *r = malloc(sizeof(*r));
    omtp_ws_req_init(r);
    size_t n = strlen(req);
    for (size_t off = 0; off < n && r->state == OMTP_WS_REQ_MORE; off += chunk)
        omtp_ws_req_feed(r, (const uint8_t *)req + off, n - off < chunk ? n - off : chunk);
    int state = r->state;
    if (state == OMTP_WS_REQ_DONE)
        omtp_ws_req_decide(r, origins, secure, d);
    else
        d->status = r->status;
    free(r);
    return state;
}

#define UPG(extra)                                                                                 \
    "GET /ws HTTP/1.1\r\nHost: chat.example.com:9001\r\nUpgrade: websocket\r\n"                    \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" extra     \
    "\r\n"

static void test_upgrade_rules(void **st)
{
    (void)st;
    omtp_ws_decision d;
    for (size_t chunk = 1; chunk <= 512; chunk *= 8) {
        assert_int_equal(decide(UPG("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: "
                                    "chat, omtp\r\n"),
                                chunk, "", false, &d),
                         OMTP_WS_REQ_DONE);
        assert_int_equal(d.route, OMTP_WS_UPGRADE);
        assert_true(d.offered);
    }
    decide(UPG("Sec-WebSocket-Version: 13\r\n"), 64, "", false, &d); /* no subprotocol */
    assert_int_equal(d.route, OMTP_WS_UPGRADE);
    assert_false(d.offered);
    decide(UPG("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"), 64, "", false, &d);
    assert_int_equal(d.status, 400);
    decide(UPG("Sec-WebSocket-Version: 8\r\n"), 64, "", false, &d);
    assert_int_equal(d.status, 426);
    decide("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 64, "", false, &d);
    assert_int_equal(d.status, 400);
    decide("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
           64, "", false, &d);
    assert_int_equal(d.status, 400);
    decide("DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 64, "", false, &d);
    assert_int_equal(d.status, 405);
    decide("GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n", 64, "", false, &d);
    assert_int_equal(d.route, OMTP_WS_STATIC);
    assert_false(d.head);
    decide("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 64, "", false, &d);
    assert_true(d.head);
    assert_int_equal(decide("\x16\x03\x01 not http\r\n\r\n", 64, "", false, &d), OMTP_WS_REQ_BAD);
    assert_int_equal(d.status, 400);
    /* a head longer than 8 KiB */
    char *big = malloc(10000);
    int n = snprintf(big, 10000, "GET / HTTP/1.1\r\nX-Pad: ");
    memset(big + n, 'p', 9000);
    strcpy(big + n + 9000, "\r\n\r\n");
    assert_int_equal(decide(big, 1000, "", false, &d), OMTP_WS_REQ_BAD);
    assert_int_equal(d.status, 431);
    free(big);
}

struct body_got {
    char buf[256];
    size_t n;
};

static void body_collect(void *arg, const uint8_t *p, size_t n)
{
    struct body_got *g = arg;
    assert_true(g->n + n < sizeof(g->buf));
    memcpy(g->buf + g->n, p, n);
    g->n += n;
}

/* Feeds a whole request (head, then body) in pieces of `chunk`; returns
 * the bytes left over after the body. */
static size_t upload(omtp_ws_req *r, const char *req, size_t chunk, struct body_got *g)
{
    omtp_ws_req_init(r);
    size_t len = strlen(req), off = 0;
    while (off < len && r->state == OMTP_WS_REQ_MORE) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t used = omtp_ws_req_feed(r, (const uint8_t *)req + off, n);
        off += r->state == OMTP_WS_REQ_MORE ? n : used;
    }
    assert_int_equal(r->state, OMTP_WS_REQ_DONE);
    assert_true(r->body);
    while (off < len && !r->body_done) {
        size_t n = len - off < chunk ? len - off : chunk;
        long used = omtp_ws_req_body(r, (const uint8_t *)req + off, n, body_collect, g);
        assert_true(used >= 0);
        off += (size_t)used;
    }
    return len - off;
}

/* POST /v1/files: the head is decided before any body byte, the body comes
 * out de-chunked, and what follows the body is not consumed. */
static void test_api_upload_body(void **st)
{
    (void)st;
    omtp_ws_req *r = malloc(sizeof(*r));
    for (size_t chunk = 1; chunk <= 512; chunk *= 8) {
        struct body_got g = {.n = 0};
        size_t left = upload(r,
                             "POST /v1/files?name=a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: "
                             "Bearer tok\r\nContent-Length: 11\r\n\r\nhello worldEXTRA",
                             chunk, &g);
        assert_true(r->body_done);
        assert_int_equal(g.n, 11);
        assert_memory_equal(g.buf, "hello world", 11);
        assert_int_equal(left, 5);
        assert_string_equal(r->authorization, "Bearer tok");
        omtp_ws_decision d;
        omtp_ws_req_decide(r, "", false, &d);
        assert_int_equal(d.route, OMTP_WS_API);
        assert_false(d.cors);

        memset(&g, 0, sizeof(g));
        left = upload(r,
                      "POST /v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                      chunk, &g);
        assert_true(r->body_done);
        assert_int_equal(g.n, 11);
        assert_memory_equal(g.buf, "hello world", 11);
        assert_int_equal(left, 0);

        memset(&g, 0, sizeof(g)); /* an empty body completes */
        upload(r, "POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", chunk, &g);
        assert_true(r->body_done);
        assert_int_equal(g.n, 0);
    }
    /* a malformed chunk size is an error, not a hang */
    struct body_got g = {.n = 0};
    omtp_ws_req_init(r);
    const char *bad = "POST /v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "zz\r\nhello\r\n";
    size_t used = omtp_ws_req_feed(r, (const uint8_t *)bad, strlen(bad));
    assert_int_equal(r->state, OMTP_WS_REQ_DONE);
    assert_true(
        omtp_ws_req_body(r, (const uint8_t *)bad + used, strlen(bad) - used, body_collect, &g) < 0);
    free(r);
}

/* /v1/: GET goes to the API, OPTIONS from an allowed Origin is a CORS
 * preflight, a foreign Origin is 403, and the static files are untouched. */
static void test_api_routes(void **st)
{
    (void)st;
    omtp_ws_decision d;
    decide("GET /v1/files/abc HTTP/1.1\r\nHost: h:1\r\nRange: bytes=0-1\r\n\r\n", 64, "", false,
           &d);
    assert_int_equal(d.route, OMTP_WS_API);
    decide("OPTIONS /v1/files HTTP/1.1\r\nHost: h:1\r\nOrigin: http://a.example\r\n\r\n", 64,
           "http://a.example", false, &d);
    assert_int_equal(d.route, OMTP_WS_PREFLIGHT);
    assert_true(d.cors);
    decide("POST /v1/files HTTP/1.1\r\nHost: h:1\r\nOrigin: http://evil.example\r\n"
           "Content-Length: 3\r\n\r\nabc",
           64, "http://a.example", false, &d);
    assert_int_equal(d.route, OMTP_WS_REFUSE);
    assert_int_equal(d.status, 403);
    decide("GET /v1/files/x HTTP/1.1\r\nHost: h:1\r\nOrigin: http://h:1\r\n\r\n", 64, "", false,
           &d); /* the listener's own origin */
    assert_int_equal(d.route, OMTP_WS_API);
    decide("POST /v1x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 64, "", false, &d);
    assert_int_equal(d.status, 405); /* not the API: the static rules */
}

static void test_origins(void **st)
{
    (void)st;
    omtp_ws_decision d;
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: http://chat.example.com:9001\r\n"), 64, "",
           false, &d);
    assert_int_equal(d.route, OMTP_WS_UPGRADE);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: https://chat.example.com:9001\r\n"), 64, "",
           false, &d); /* https is another origin than this http listener */
    assert_int_equal(d.status, 403);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: https://chat.example.com:9001\r\n"), 64, "",
           true, &d);
    assert_int_equal(d.route, OMTP_WS_UPGRADE);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n"), 64, "", false, &d);
    assert_int_equal(d.status, 403);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n"), 64,
           "https://app.example, http://evil.example", false, &d);
    assert_int_equal(d.route, OMTP_WS_UPGRADE);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: http://chat.example.com:9001\r\n"), 64,
           "https://app.example", false, &d); /* a list replaces the default */
    assert_int_equal(d.status, 403);
    decide(UPG("Sec-WebSocket-Version: 13\r\nOrigin: http://anything\r\n"), 64, "*", false, &d);
    assert_int_equal(d.route, OMTP_WS_UPGRADE);
}

static void test_content_types(void **st)
{
    (void)st;
    assert_string_equal(omtp_ws_content_type("/a/index.html"), "text/html; charset=utf-8");
    assert_string_equal(omtp_ws_content_type("/x.MJS"), "text/javascript; charset=utf-8");
    assert_string_equal(omtp_ws_content_type("/f.woff2"), "font/woff2");
    assert_string_equal(omtp_ws_content_type("/i.webp"), "image/webp");
    assert_string_equal(omtp_ws_content_type("/a.js.map"), "application/json");
    assert_string_equal(omtp_ws_content_type("/noext"), "application/octet-stream");
    assert_string_equal(omtp_ws_content_type("/dir.d/noext"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),    cmocka_unit_test(test_paths),
        cmocka_unit_test(test_upgrade_rules), cmocka_unit_test(test_origins),
        cmocka_unit_test(test_content_types), cmocka_unit_test(test_api_upload_body),
        cmocka_unit_test(test_api_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
