/*
 * test_files_http.c - how the file endpoints look on HTTP (http/files_http.h),
 * the same on both listeners: Range (206 slices, suffixes, 416, ignored
 * forms), If-None-Match, Content-Disposition (RFC 6266 with a safe ASCII
 * fallback; inline only for images/audio/video, never SVG), query values,
 * the Bearer token (good, forged, expired, not a token) and the statuses
 * of the domain's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "domain/credentials.h"
#include "http/files_http.h"

static void test_range(void **st)
{
    (void)st;
    uint64_t off = 0, len = 0;
    assert_int_equal(omtp_files_http_range("", 100, &off, &len), 0);
    assert_int_equal(omtp_files_http_range("bytes=0-9", 100, &off, &len), 1);
    assert_true(off == 0 && len == 10);
    assert_int_equal(omtp_files_http_range("bytes=90-", 100, &off, &len), 1);
    assert_true(off == 90 && len == 10);
    assert_int_equal(omtp_files_http_range("bytes=90-500", 100, &off, &len), 1);
    assert_true(off == 90 && len == 10);
    assert_int_equal(omtp_files_http_range("bytes=-30", 100, &off, &len), 1);
    assert_true(off == 70 && len == 30);
    assert_int_equal(omtp_files_http_range("bytes=-300", 100, &off, &len), 1);
    assert_true(off == 0 && len == 100);
    assert_int_equal(omtp_files_http_range("bytes=100-", 100, &off, &len), -1);
    assert_int_equal(omtp_files_http_range("bytes=5-4", 100, &off, &len), 0); /* invalid: ignored */
    assert_int_equal(omtp_files_http_range("bytes=0-", 0, &off, &len), -1);
    assert_int_equal(omtp_files_http_range("bytes=-0", 100, &off, &len), -1);
    /* forms this server ignores: the whole file */
    assert_int_equal(omtp_files_http_range("bytes=0-1,5-6", 100, &off, &len), 0);
    assert_int_equal(omtp_files_http_range("items=0-1", 100, &off, &len), 0);
    assert_int_equal(omtp_files_http_range("bytes=a-b", 100, &off, &len), 0);
    assert_int_equal(omtp_files_http_range("bytes=-", 100, &off, &len), 0);
    assert_int_equal(omtp_files_http_range("bytes=99999999999999999999-", 100, &off, &len), 0);
}

static void test_etag_disposition(void **st)
{
    (void)st;
    char e[80], d[1024];
    omtp_files_http_etag("ab12", e, sizeof(e));
    assert_string_equal(e, "\"ab12\"");
    assert_true(omtp_files_http_inm_match("\"ab12\"", e));
    assert_true(omtp_files_http_inm_match("\"x\", \"ab12\"", e));
    assert_true(omtp_files_http_inm_match("*", e));
    assert_false(omtp_files_http_inm_match("\"ab123\"", e));
    assert_false(omtp_files_http_inm_match("", e));
    omtp_files_http_disposition("cat \"1\".jpg", "image/jpeg", d, sizeof(d));
    assert_string_equal(d, "inline; filename=\"cat _1_.jpg\"; filename*=UTF-8''cat%20%221%22.jpg");
    omtp_files_http_disposition("100%.txt", "text/plain", d, sizeof(d));
    assert_string_equal(d, "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt");
    omtp_files_http_disposition("\xE5\xA0\xB1\xE5\x91\x8A.pdf", "application/pdf", d, sizeof(d));
    assert_string_equal(d, "attachment; filename=\"______.pdf\"; "
                           "filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf");
    omtp_files_http_disposition("x.svg", "image/svg+xml", d, sizeof(d));
    assert_non_null(strstr(d, "attachment;"));
    omtp_files_http_disposition("", "text/plain", d, sizeof(d));
    assert_non_null(strstr(d, "filename=\"file\""));
}

/* A thumbnail's type, the same on both listeners: PNG by its signature,
 * JPEG otherwise (also for a short or unreadable head). */
static void test_thumb_mime(void **st)
{
    (void)st;
    const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0};
    assert_string_equal(omtp_files_http_thumb_mime(png, sizeof(png)), "image/png");
    assert_string_equal(omtp_files_http_thumb_mime(jpg, sizeof(jpg)), "image/jpeg");
    assert_string_equal(omtp_files_http_thumb_mime(png, 1), "image/jpeg");
    assert_string_equal(omtp_files_http_thumb_mime(NULL, 0), "image/jpeg");
}

static void test_query(void **st)
{
    (void)st;
    char v[32];
    size_t n;
    assert_true(omtp_files_http_query("name=a%20b+c.txt&mime=x", "name", v, sizeof(v), &n));
    assert_string_equal(v, "a b c.txt");
    assert_true(omtp_files_http_query("a=1&mime=image%2Fpng", "mime", v, sizeof(v), &n));
    assert_string_equal(v, "image/png");
    assert_true(omtp_files_http_query("name=a%00b", "name", v, sizeof(v), &n));
    assert_int_equal(n, 3); /* the NUL is kept: the name check refuses it */
    assert_false(omtp_files_http_query("names=x", "name", v, sizeof(v), &n));
    assert_false(omtp_files_http_query("name=%zz", "name", v, sizeof(v), &n));
    assert_false(omtp_files_http_query("name=%4", "name", v, sizeof(v), &n));
    assert_false(omtp_files_http_query("name=0123456789012345678901234567890123456789", "name", v,
                                       sizeof(v), &n));
    /* present but malformed or too long: told apart from absent (the WS
     * listener refused nothing and stored such an upload as "file") */
    assert_int_equal(n, SIZE_MAX);
    n = 0;
    assert_false(omtp_files_http_query("a=1&name=%zz", "name", v, sizeof(v), &n));
    assert_int_equal(n, SIZE_MAX);
    n = 0;
    assert_false(omtp_files_http_query("a=1&names=x", "name", v, sizeof(v), &n));
    assert_int_equal(n, 0);
}

static void test_bearer(void **st)
{
    (void)st;
    uint8_t secret[32] = {7};
    int64_t now = (int64_t)time(NULL);
    char tok[OMTP_TOKEN_MAX + 1], auth[400], user[OMTP_ID_MAX + 1], why[160];
    /* user ids may hold dots: the id is what lies before the expiry */
    assert_int_equal(omtp_auth_token_issue(secret, "al.ice", now + 100, tok, sizeof(tok)), 0);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    assert_int_equal(omtp_files_http_bearer(secret, auth, user, sizeof(user), why, sizeof(why)), 0);
    assert_string_equal(user, "al.ice");
    uint8_t other[32] = {8};
    assert_int_equal(omtp_files_http_bearer(other, auth, user, sizeof(user), why, sizeof(why)), -1);
    assert_string_equal(user, "");
    assert_int_equal(omtp_auth_token_issue(secret, "alice", now - 10, tok, sizeof(tok)), 0);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    assert_int_equal(omtp_files_http_bearer(secret, auth, user, sizeof(user), why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "expired"));
    assert_int_equal(omtp_files_http_bearer(secret, "", user, sizeof(user), why, sizeof(why)), -1);
    snprintf(auth, sizeof(auth), "Basic %s", tok);
    assert_int_equal(omtp_files_http_bearer(secret, auth, user, sizeof(user), why, sizeof(why)),
                     -1);
    assert_int_equal(
        omtp_files_http_bearer(secret, "Bearer pw-alice", user, sizeof(user), why, sizeof(why)),
        -1);
    assert_int_equal(omtp_files_http_status("unknown_file"), 404);
    assert_int_equal(omtp_files_http_status("too_large"), 413);
    assert_int_equal(omtp_files_http_status("rate_limited"), 429);
    assert_int_equal(omtp_files_http_status("storage_full"), 507);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),  cmocka_unit_test(test_etag_disposition),
        cmocka_unit_test(test_query),  cmocka_unit_test(test_thumb_mime),
        cmocka_unit_test(test_bearer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
