/*
 * test_config_reload.c - what SIGHUP relies on in config.c and log.c: the
 * diff names exactly the settings that changed and says which are
 * reloadable; copying the reloadable ones leaves every other setting at its
 * running value; log_format parses text|json; a JSON log record of hostile
 * bytes is one valid object with the message's key=value words as fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/config.h"
#include "util/log.h"

struct seen {
    char keys[512];
    int reloadable, restart;
};

static void on_change(void *arg, const char *key, bool reloadable)
{
    struct seen *s = arg;
    strcat(s->keys, key);
    strcat(s->keys, " ");
    if (reloadable)
        s->reloadable++;
    else
        s->restart++;
}

static void test_diff_and_copy(void **state)
{
    (void)state;
    omtp_config run, next;
    char why[256];
    omtp_config_defaults(&run);
    omtp_config_defaults(&next);
    assert_int_equal(omtp_config_diff(&run, &next, on_change, NULL), 0);
    assert_int_equal(omtp_config_set(&next, "api_keys", "ops=k1", why, sizeof why), 0);
    assert_int_equal(omtp_config_set(&next, "req_rate", "7", why, sizeof why), 0);
    assert_int_equal(omtp_config_set(&next, "max_conns", "5", why, sizeof why), 0);
    assert_int_equal(omtp_config_set(&next, "log_format", "json", why, sizeof why), 0);
    struct seen s = {{0}, 0, 0};
    assert_int_equal(omtp_config_diff(&run, &next, on_change, &s), 4);
    assert_string_equal(s.keys, "max_conns req_rate api_keys log_format ");
    assert_int_equal(s.reloadable, 3);
    assert_int_equal(s.restart, 1);
    omtp_config_copy_reloadable(&run, &next);
    assert_string_equal(run.api_keys, "ops=k1");
    assert_int_equal(run.req_rate, 7);
    assert_int_equal(run.log_format, OMTP_LOG_JSON);
    assert_int_equal(run.max_conns, 0); /* needs a restart: running value kept */
    memset(&s, 0, sizeof s);
    assert_int_equal(omtp_config_diff(&run, &next, on_change, &s), 1);
    assert_string_equal(s.keys, "max_conns ");
    assert_true(omtp_config_reloadable("webhook_secret"));
    assert_false(omtp_config_reloadable("listen"));
    assert_false(omtp_config_reloadable("token_secret_hex"));
}

static void test_log_format_setting(void **state)
{
    (void)state;
    omtp_config c;
    char why[256];
    omtp_config_defaults(&c);
    assert_int_equal(c.log_format, OMTP_LOG_TEXT);
    assert_int_not_equal(omtp_config_set(&c, "log_format", "xml", why, sizeof why), 0);
    assert_non_null(strstr(why, "not text or json"));
    assert_int_equal(omtp_config_set_option(&c, "log-format", "JSON", why, sizeof why), 0);
    assert_int_equal(c.log_format, OMTP_LOG_JSON);
}

static void test_json_line(void **state)
{
    (void)state;
    static const char msg[] =
        "http request method=POST path=/v1/\"x\"\\y caller=ops bad=\xff\xe0\x9e"
        " ctl=\x01\x7f end";
    char buf[4096];
    size_t n =
        omtp_log_format_line(buf, sizeof buf, OMTP_LOG_JSON, OMTP_LOG_INFO, msg, sizeof msg - 1);
    assert_true(n > 0 && buf[n - 1] == '\n');
    assert_null(memchr(buf, '\n', n - 1));
    json_error_t je;
    json_t *o = json_loadb(buf, n - 1, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    json_t *f = json_object_get(o, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(f, "path")), "/v1/\"x\"\\y");
    assert_string_equal(json_string_value(json_object_get(f, "caller")), "ops");
    assert_string_equal(json_string_value(json_object_get(f, "bad")),
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(o);
    n = omtp_log_format_line(buf, sizeof buf, OMTP_LOG_TEXT, OMTP_LOG_WARN, "disk full", 9);
    buf[n] = 0;
    assert_non_null(strstr(buf, "Z WARN  disk full\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_and_copy),
        cmocka_unit_test(test_log_format_setting),
        cmocka_unit_test(test_json_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
