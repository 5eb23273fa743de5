/*
 * test_files_client.c - libomtp's media-message helpers (client/omtp_files.h)
 * without a server: the contentType a served mime type maps to, the
 * content JSON of DESIGN "Media messages" and its parse back, the one-line
 * summaries `omtp chat` and `omtp history` show (control characters of a
 * hostile name neutralised), sizes in words, and the file token of a
 * LoginResp.extraData. The transfers themselves are tested against the real
 * omtpd (tests/scripts/cli_files.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "client/omtp_files.h"
#include "proto/omtp_errors.h"

static void test_content_type(void **state)
{
    (void)state;
    assert_int_equal(omtp_file_content_type("image/jpeg"), 3);
    assert_int_equal(omtp_file_content_type("IMAGE/PNG"), 3);
    assert_int_equal(omtp_file_content_type("audio/ogg"), 2);
    assert_int_equal(omtp_file_content_type("video/mp4"), 6);
    assert_int_equal(omtp_file_content_type("application/pdf"), 7);
    assert_int_equal(omtp_file_content_type("application/x-executable"), 7);
    assert_int_equal(omtp_file_content_type(""), 7);
    assert_int_equal(omtp_file_content_type(NULL), 7);
}

static void test_content_json_round_trip(void **state)
{
    (void)state;
    omtp_file_info f = {.size = 122880, .width = 640, .height = 480};
    strcpy(f.fileId, "0123456789abcdef0123456789abcdef");
    strcpy(f.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    strcpy(f.mime, "image/jpeg");
    strcpy(f.name, "cat \"1\".jpg");
    char *json = NULL;
    assert_int_equal(omtp_file_content_json(&f, &json), 0);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "fileId")), f.fileId);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "cat \"1\".jpg");
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 122880);
    assert_string_equal(json_string_value(json_object_get(j, "mime")), "image/jpeg");
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), f.sha256);
    assert_int_equal(json_integer_value(json_object_get(j, "width")), 640);
    assert_null(json_object_get(j, "durationMs")); /* unknown: left out */
    assert_null(json_object_get(j, "thumbId"));
    json_decref(j);
    omtp_file_info back;
    assert_int_equal(omtp_file_content_parse(json, strlen(json), &back), 0);
    assert_string_equal(back.name, f.name);
    assert_int_equal(back.height, 480);
    free(json);
    assert_int_equal(omtp_file_content_parse("hello", 5, &back), OMTP_EDECODE);
    assert_int_equal(omtp_file_content_parse("{\"name\":\"x\"}", 12, &back), OMTP_EDECODE);
}

static void test_summary(void **state)
{
    (void)state;
    char buf[256];
    const char *img = "{\"fileId\":\"ab\",\"name\":\"cat.jpg\",\"size\":122880,\"mime\":\"image/"
                      "jpeg\",\"width\":640,\"height\":480}";
    assert_true(omtp_file_summary(3, img, strlen(img), buf, sizeof buf));
    assert_string_equal(buf, "[image 640\xc3\x97"
                             "480 cat.jpg 120 KB]");
    const char *doc = "{\"fileId\":\"ab\",\"name\":\"report.pdf\",\"size\":1258291}";
    assert_true(omtp_file_summary(7, doc, strlen(doc), buf, sizeof buf));
    assert_string_equal(buf, "[file report.pdf 1.2 MB]");
    const char *voice =
        "{\"fileId\":\"ab\",\"name\":\"memo.ogg\",\"size\":999,\"durationMs\":72000}";
    assert_true(omtp_file_summary(2, voice, strlen(voice), buf, sizeof buf));
    assert_string_equal(buf, "[voice 1:12 memo.ogg 999 B]");
    /* a name with a terminal escape and a C1 CSI cannot drive the terminal */
    const char *evil = "{\"fileId\":\"ab\",\"name\":\"a\\u001b[2Jb\\u009bc\",\"size\":1}";
    assert_true(omtp_file_summary(7, evil, strlen(evil), buf, sizeof buf));
    assert_string_equal(buf, "[file a?[2Jb?c 1 B]");
    const char *loc = "{\"lat\":48.85,\"lng\":2.35,\"name\":\"Caf\xc3\xa9\"}";
    assert_true(omtp_file_summary(5, loc, strlen(loc), buf, sizeof buf));
    assert_string_equal(buf, "[location Caf\xc3\xa9, 48.85,2.35]");
    assert_false(omtp_file_summary(1, img, strlen(img), buf, sizeof buf)); /* text */
    assert_false(omtp_file_summary(3, "not json", 8, buf, sizeof buf));
    assert_string_equal(buf, "");
    /* a small buffer is cut, never overrun */
    char small[8];
    assert_true(omtp_file_summary(3, img, strlen(img), small, sizeof small));
    assert_true(strlen(small) < sizeof small);
}

static void test_size_text(void **state)
{
    (void)state;
    char b[32];
    omtp_file_size_text(0, b, sizeof b);
    assert_string_equal(b, "0 B");
    omtp_file_size_text(1023, b, sizeof b);
    assert_string_equal(b, "1023 B");
    omtp_file_size_text(1024, b, sizeof b);
    assert_string_equal(b, "1.0 KB");
    omtp_file_size_text(100ull << 20, b, sizeof b);
    assert_string_equal(b, "100 MB");
}

static void test_login_token(void **state)
{
    (void)state;
    char tok[256];
    assert_true(omtp_file_login_token("{\"fileToken\":\"v1.alice.17.ab\"}", tok, sizeof tok));
    assert_string_equal(tok, "v1.alice.17.ab");
    assert_true(omtp_file_login_token("v1.alice.17.ab", tok, sizeof tok));
    assert_string_equal(tok, "v1.alice.17.ab");
    assert_false(omtp_file_login_token("retry in 3 s", tok, sizeof tok));
    assert_false(omtp_file_login_token("", tok, sizeof tok));
    assert_false(omtp_file_login_token(NULL, tok, sizeof tok));
    assert_false(omtp_file_login_token("{\"fileToken\":\"v1.alice.17.ab\"}", tok, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type), cmocka_unit_test(test_content_json_round_trip),
        cmocka_unit_test(test_summary),      cmocka_unit_test(test_size_text),
        cmocka_unit_test(test_login_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
