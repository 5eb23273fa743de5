/*
 * test_metrics_types.c - /metrics counts packets by type so that Prometheus
 * can scrape it: one sample per type the protocol defines, and every type it
 * does not define (below the table limit OMTP_PT_MAX, such as 9 or 26, in
 * the extension range 100..127, or above it) adds to type="other". No two
 * samples of omtp_packets_in_total may share a label set (a scraper rejects
 * the whole page), and the unknown types still get their PROTOCOL reply.
 */
#include "hostile_common.h"

#include "h_http.h"

static const int unknown[] = {9, 26, 106, 127, 200};
#define NUNKNOWN (int)(sizeof(unknown) / sizeof(unknown[0]))

/* How many lines of `text` start with `sample` followed by a space. */
static int count_samples(const char *text, const char *sample)
{
    int n = 0;
    size_t len = strlen(sample);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, sample, len) == 0 && line[len] == ' ')
            n++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

static void test_unknown_types_count_as_other(void **st)
{
    (void)st;
    char dir[] = "/tmp/omtp-mt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char port_path[64];
    snprintf(port_path, sizeof(port_path), "%s/http.port", dir);
    const char *args[] = {"--http-listen", "127.0.0.1:0", "--http-port-file", port_path, NULL};
    h_server *srv = h_server_start("login_fail_delay_ms = 0\nlog_level = warn\n", args);
    int hport = h_http_port(port_path);
    h_user_add(srv, "alice", "pw-alice");

    double other0 = h_metric(hport, "omtp_packets_in_total{type=\"other\"}");
    assert_true(other0 >= 0);
    hx_conn *c = hx_login(srv, "alice", "pw-alice", DEVICE_LINUX);
    for (int i = 0; i < NUNKNOWN; i++) {
        char id[32];
        snprintf(id, sizeof(id), "unknown-%d", unknown[i]);
        hx_reply r;
        assert_int_equal(hx_call(c, unknown[i], 0, id, NULL, 0, &r), 0);
        assert_int_equal(r.type, unknown[i]);
        assert_int_equal(r.code, OMTP_EC_PROTOCOL);
        assert_non_null(strstr(r.desc, "unknown packet type"));
        hx_reply_free(&r);
    }
    hx_ping_ok(c);

    char *text = h_metrics_text(hport);
    /* every sample of the family once; the undefined types under "other" */
    assert_int_equal(count_samples(text, "omtp_packets_in_total{type=\"PT_UNKNOWN\"}"), 0);
    assert_int_equal(count_samples(text, "omtp_packets_out_total{type=\"PT_UNKNOWN\"}"), 0);
    assert_int_equal(count_samples(text, "omtp_packets_in_total{type=\"other\"}"), 1);
    assert_int_equal(count_samples(text, "omtp_packets_in_total{type=\"PT_PING\"}"), 1);
    free(text);
    assert_true(h_metric(hport, "omtp_packets_in_total{type=\"other\"}") >= other0 + NUNKNOWN);
    assert_true(h_metric(hport, "omtp_packets_out_total{type=\"other\"}") >= NUNKNOWN);
    assert_true(h_metric(hport, "omtp_packets_in_total{type=\"PT_PING\"}") >= 1);

    hx_close(c);
    assert_true(h_server_alive(srv));
    assert_int_equal(h_server_stop(srv), 0);
    h_server_free(srv);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unknown_types_count_as_other, h_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
