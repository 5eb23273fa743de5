/*
 * test_cluster_host.c - the cluster library (omtp_cluster) runs beside any
 * host: two clusters in one process, each with a fake host (no omtpd, no
 * server code), talking through a real Redis.
 *
 * Needs OMTP_TEST_REDIS (redis://HOST:PORT). Without it the test
 * re-executes itself under tests/scripts/pg_redis_env.sh (private
 * redis-server; OMTP_SRC, set by ctest, locates the script); if no
 * redis-server is installed it is SKIPPED (exit 77), under CI a failure.
 *
 * What it checks, through the host interface only (cluster/cluster_host.h):
 * a malformed redis_url is refused with a message naming it; a push for a
 * user logged in on the other node reaches that node's host.deliver with
 * the same bytes, and the pushing side holds the frame's owner only while
 * routing (hold/release balanced); a group change reaches the other host's
 * group_changed and is acked (done runs); a kick order for a replaced
 * device reaches host.kick; stop frees everything (ASan run: no leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/cluster.h"

static const char *redis_url;

typedef struct fake_dev {
    char userId[32];
    int deviceType;
    char deviceId[32];
    int64_t loginMs;
} fake_dev;

typedef struct fake_host {
    const char *name;
    int holds; /* owners held now */
    int max_holds;
    int delivered;
    char last_user[32];
    char last_payload[64];
    int groups_changed;
    char last_group[32];
    int kicks;
    char kick_by[32];
    fake_dev *devs[4];
    int ndevs;
} fake_host;

static void f_describe(void *host, void *dev, omtp_cluster_device *out)
{
    (void)host;
    fake_dev *d = dev;
    out->userId = d->userId;
    out->deviceType = d->deviceType;
    out->deviceId = d->deviceId;
    out->loginMs = d->loginMs;
    out->background = false;
}

static bool f_same_type_online(void *host, void *dev)
{
    (void)host;
    (void)dev;
    return false;
}

static uint32_t f_deliver(void *host, const char *const *users, uint32_t n,
                          const omtp_cluster_frame *f)
{
    fake_host *h = host;
    h->delivered += (int)n;
    if (n)
        snprintf(h->last_user, sizeof(h->last_user), "%s", users[0]);
    snprintf(h->last_payload, sizeof(h->last_payload), "%.*s", (int)f->len,
             (const char *)f->payload);
    return n;
}

static uint32_t f_kick(void *host, const omtp_cluster_kick_order *k)
{
    fake_host *h = host;
    h->kicks++;
    snprintf(h->kick_by, sizeof(h->kick_by), "%s", k->byId);
    return 1;
}

static void f_resync(void *host, void *dev, const char *why)
{
    (void)host;
    (void)dev;
    (void)why;
}

static void f_group_changed(void *host, const char *groupId)
{
    fake_host *h = host;
    h->groups_changed++;
    snprintf(h->last_group, sizeof(h->last_group), "%s", groupId ? groupId : "*");
}

static void f_monitors_each(void *host, void (*fn)(void *arg, const char *sid, const char *user),
                            void *arg)
{
    (void)host;
    (void)fn;
    (void)arg;
}

static void f_monitor_deliver(void *host, const char *sid, const omtp_cluster_frame *f,
                              const char *const *users, uint32_t n)
{
    (void)host;
    (void)sid;
    (void)f;
    (void)users;
    (void)n;
}

static void f_hold(void *host, void *owner)
{
    fake_host *h = host;
    assert_non_null(owner);
    if (++h->holds > h->max_holds)
        h->max_holds = h->holds;
}

static void f_release(void *host, void *owner)
{
    fake_host *h = host;
    assert_non_null(owner);
    h->holds--;
}

static omtp_cluster_options options(uv_loop_t *loop, fake_host *h, const char *url,
                                    const char *node)
{
    omtp_cluster_options o = {
        .redis_url = url,
        .node_id = node,
        .port = 1,
        .loop = loop,
        .host = {.host = h,
                 .describe = f_describe,
                 .same_type_online = f_same_type_online,
                 .deliver = f_deliver,
                 .kick = f_kick,
                 .resync = f_resync,
                 .group_changed = f_group_changed,
                 .monitors_each = f_monitors_each,
                 .monitor_deliver = f_monitor_deliver,
                 .hold = f_hold,
                 .release = f_release},
    };
    return o;
}

/* Runs the loop until *flag is non-zero or ~10 s passed. */
static bool run_until(uv_loop_t *loop, const int *flag)
{
    for (int i = 0; i < 1000 && !*flag; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    return *flag != 0;
}

static bool both_up(uv_loop_t *loop, omtp_cluster *a, omtp_cluster *b)
{
    for (int i = 0; i < 1000; i++) {
        omtp_cluster_stats sa, sb;
        omtp_cluster_get_stats(a, &sa);
        omtp_cluster_get_stats(b, &sb);
        if (sa.up && sb.up)
            return true;
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    return false;
}

static void test_bad_url(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_host h = {.name = "x"};
    omtp_cluster *cl = (omtp_cluster *)&h;
    char why[256] = "";
    omtp_cluster_options o = options(&loop, &h, "http://nope", "x");
    assert_int_equal(omtp_cluster_start(&o, &cl, why, sizeof(why)), OMTP_EINVAL);
    assert_null(cl);
    assert_non_null(strstr(why, "redis_url"));
    o = options(&loop, &h, "", "x"); /* single node: no cluster, no error */
    assert_int_equal(omtp_cluster_start(&o, &cl, why, sizeof(why)), 0);
    assert_null(cl);
    /* every call is a no-op without a cluster */
    omtp_cluster_frame f = {.type = 1, .payload = (const uint8_t *)"p", .len = 1, .owner = &h};
    assert_int_equal(omtp_cluster_push_user(NULL, "u", &f), 0);
    omtp_cluster_login(NULL, &h);
    omtp_cluster_logout(NULL, &h);
    assert_string_equal(omtp_cluster_node_id(NULL), "");
    assert_int_equal(h.holds, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int done_count;
static void on_done(void *arg)
{
    (void)arg;
    done_count++;
}

static void test_two_nodes(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake_host ha = {.name = "A"}, hb = {.name = "B"};
    char why[256], na[64], nb[64];
    snprintf(na, sizeof(na), "hostA-%d", (int)getpid());
    snprintf(nb, sizeof(nb), "hostB-%d", (int)getpid());
    omtp_cluster *a, *b;
    omtp_cluster_options oa = options(&loop, &ha, redis_url, na);
    omtp_cluster_options ob = options(&loop, &hb, redis_url, nb);
    assert_int_equal(omtp_cluster_start(&oa, &a, why, sizeof(why)), 0);
    assert_int_equal(omtp_cluster_start(&ob, &b, why, sizeof(why)), 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(omtp_cluster_node_id(a), na);
    assert_true(both_up(&loop, a, b));

    /* a device of u1 logs in on B; A pushes to u1 until B's host has it
     * (the login's presence entry lands asynchronously) */
    fake_dev d1 = {.deviceType = 1, .loginMs = 1000};
    snprintf(d1.userId, sizeof(d1.userId), "u1-%d", (int)getpid());
    snprintf(d1.deviceId, sizeof(d1.deviceId), "phone-1");
    omtp_cluster_login(b, &d1);
    static const char payload[] = "hello-from-A";
    int owner_obj;
    for (int i = 0; i < 100 && !hb.delivered; i++) {
        omtp_cluster_frame f = {.type = 42,
                                .flags = 0,
                                .packId = "pk",
                                .payload = (const uint8_t *)payload,
                                .len = sizeof(payload) - 1,
                                .owner = &owner_obj};
        omtp_cluster_push_user(a, d1.userId, &f);
        omtp_cluster_push_user(a, d1.userId, &f); /* same owner, same user: one target */
        for (int k = 0; k < 10 && !hb.delivered; k++) {
            uv_run(&loop, UV_RUN_NOWAIT);
            usleep(10000);
        }
    }
    assert_int_equal(hb.delivered, 1);
    assert_string_equal(hb.last_user, d1.userId);
    assert_string_equal(hb.last_payload, payload);
    assert_int_equal(ha.delivered, 0); /* not back to the sender */
    assert_true(ha.max_holds >= 1);    /* the owner was held while routing */
    for (int k = 0; k < 100 && ha.holds; k++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(ha.holds, 0); /* and released */

    /* a group change on A: B drops that group, A hears B's ack */
    done_count = 0;
    omtp_cluster_group_changed(a, "g-42", on_done, NULL);
    assert_true(run_until(&loop, &done_count));
    assert_int_equal(hb.groups_changed, 1);
    assert_string_equal(hb.last_group, "g-42");
    assert_int_equal(ha.groups_changed, 0);

    /* the same device type logs in on A: B is told to kick its device */
    fake_dev d2 = {.deviceType = 1, .loginMs = 2000};
    snprintf(d2.userId, sizeof(d2.userId), "%s", d1.userId);
    snprintf(d2.deviceId, sizeof(d2.deviceId), "phone-2");
    omtp_cluster_login(a, &d2);
    assert_true(run_until(&loop, &hb.kicks));
    assert_string_equal(hb.kick_by, "phone-2");
    omtp_cluster_logout(b, &d1);
    omtp_cluster_logout(a, &d2);

    omtp_cluster_stop(a);
    omtp_cluster_stop(b);
    /* both free themselves once Redis and their handles let go */
    for (int i = 0; i < 500 && uv_run(&loop, UV_RUN_NOWAIT); i++)
        usleep(10000);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    redis_url = getenv("OMTP_TEST_REDIS");
    if (!redis_url || !redis_url[0]) {
        const char *src = getenv("OMTP_SRC");
        char script[1024];
        snprintf(script, sizeof(script), "%s/tests/scripts/pg_redis_env.sh", src ? src : ".");
        bool have_redis = system("command -v redis-server >/dev/null 2>&1") == 0;
        if (src && have_redis && access(script, R_OK) == 0) {
            setenv("OMTP_ENV_NO_PG", "1", 1);
            execl("/bin/bash", "bash", script, "--", argv[0], (char *)NULL);
        }
        if (getenv("CI")) {
            fprintf(stderr, "FAIL: no redis-server to test against (CI must have one)\n");
            return 1;
        }
        fprintf(stderr, "SKIPPED: set OMTP_TEST_REDIS or install redis-server (scripts/deps.sh)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_two_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
