/*
 * test_webhook_worker.c - the webhook worker thread against a real HTTP
 * receiver (tests/support/hook_receiver.c): signing, batching per
 * recipient, retry with backoff, the queue bound, checks and their timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "hook_receiver.h"
#include "proto/omtp_errors.h"
#include "hooks/webhook_worker.h"

#define SECRET "s3cret-for-tests"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct check_res {
    bool called;
    int status;
    long http;
    char body[256];
    uint64_t elapsed_us;
} check_res;

static void on_check(void *arg, int status, long http_status, const char *body, size_t len,
                     uint64_t elapsed_us)
{
    check_res *r = arg;
    r->called = true;
    r->status = status;
    r->http = http_status;
    snprintf(r->body, sizeof r->body, "%.*s", (int)len, body);
    r->elapsed_us = elapsed_us;
}

static void run_until(uv_loop_t *loop, bool *flag, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!*flag && now_ms() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static omtp_hookw *start(uv_loop_t *loop, hook_rx *rx, uint32_t batch_ms, uint32_t queue_max)
{
    char push[128], check[128];
    snprintf(push, sizeof push, "%s/push", hook_rx_url(rx));
    snprintf(check, sizeof check, "%s/check", hook_rx_url(rx));
    omtp_hookw_config cfg = {
        .push_url = push,
        .batch_ms = batch_ms,
        .queue_max = queue_max,
        .retry_min_ms = 100,
        .retry_max_ms = 400,
        .check_url = check,
        .check_timeout_ms = 150,
        .secret = SECRET,
    };
    omtp_hookw *w = NULL;
    assert_int_equal(omtp_hookw_start(loop, &cfg, &w), 0);
    assert_non_null(w);
    return w;
}

/* Each test's setting: a worker on a private loop, posting to a local
 * receiver. */
typedef struct fixture {
    uv_loop_t loop;
    hook_rx *rx;
    omtp_hookw *w; /* NULL once the test stopped it itself */
} fixture;

static void fx_start(fixture *f, uint32_t batch_ms, uint32_t queue_max)
{
    uv_loop_init(&f->loop);
    f->rx = hook_rx_start(0, NULL);
    assert_non_null(f->rx);
    f->w = start(&f->loop, f->rx, batch_ms, queue_max);
}

static void fx_stop(fixture *f)
{
    if (f->w)
        omtp_hookw_stop(f->w);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* lets the async handle close */
    hook_rx_free(f->rx);
    uv_loop_close(&f->loop);
}

static void push_ev(omtp_hookw *w, const char *to, int n)
{
    char ev[128];
    int len = snprintf(ev, sizeof ev, "{\"recipient\":\"%s\",\"n\":%d}", to, n);
    assert_int_equal(omtp_hookw_push(w, to, ev, (size_t)len), 0);
}

/* The body of request i, parsed (caller decrefs), with its signature checked. */
static json_t *req_json(hook_rx *rx, int i, hook_rx_req *q)
{
    assert_true(hook_rx_get(rx, i, q));
    assert_true(hook_rx_verify(SECRET, q->signature, q->body, q->len, 60));
    json_error_t err;
    json_t *j = json_loads(q->body, 0, &err);
    assert_non_null(j);
    return j;
}

static void test_sign_vector(void **st)
{
    (void)st;
    /* printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key */
    char out[128];
    assert_int_equal(omtp_hookw_sign("key", 1700000000, "{\"a\":1}", 7, out, sizeof out), 0);
    assert_true(hook_rx_verify("key", out, "{\"a\":1}", 7, 0));
    assert_false(hook_rx_verify("other", out, "{\"a\":1}", 7, 0));
    assert_false(hook_rx_verify("key", out, "{\"a\":2}", 7, 0));
    assert_int_equal(strncmp(out, "t=1700000000,sha256=", 20), 0);
    assert_string_equal(out + 20,
                        "a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03");
    assert_int_equal(omtp_hookw_sign("key", 1, "x", 1, out, 20), OMTP_EINVAL);
}

static void test_batch_per_recipient(void **st)
{
    (void)st;
    fixture f;
    fx_start(&f, 150, 100);
    push_ev(f.w, "bob", 1);
    push_ev(f.w, "carol", 1);
    push_ev(f.w, "bob", 2);
    push_ev(f.w, "bob", 3);
    assert_true(hook_rx_wait(f.rx, 2, 5000));
    /* nothing else comes: one POST per recipient */
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    assert_int_equal(hook_rx_count(f.rx), 2);
    int seen_bob = 0, seen_carol = 0;
    for (int i = 0; i < 2; i++) {
        hook_rx_req q;
        json_t *j = req_json(f.rx, i, &q);
        assert_string_equal(q.path, "/push");
        assert_string_equal(q.event, "offline_push");
        assert_true(json_is_array(j));
        const char *to = json_string_value(json_object_get(json_array_get(j, 0), "recipient"));
        if (strcmp(to, "bob") == 0) {
            seen_bob++;
            assert_int_equal(json_array_size(j), 3);
            for (int k = 0; k < 3; k++)
                assert_int_equal(json_integer_value(json_object_get(json_array_get(j, k), "n")),
                                 k + 1);
        } else {
            seen_carol++;
            assert_string_equal(to, "carol");
            assert_int_equal(json_array_size(j), 1);
        }
        json_decref(j);
        free(q.body);
    }
    assert_int_equal(seen_bob, 1);
    assert_int_equal(seen_carol, 1);
    omtp_hookw_stats s;
    omtp_hookw_stats_get(f.w, &s);
    assert_int_equal(s.events_delivered, 4);
    assert_int_equal(s.posts_ok, 2);
    assert_int_equal(s.events_dropped, 0);
    fx_stop(&f);
}

static void test_retry_when_down(void **st)
{
    (void)st;
    fixture f;
    fx_start(&f, 10, 100);
    hook_rx_stop(f.rx); /* the backend is down */
    push_ev(f.w, "bob", 1);
    struct timespec ts = {0, 400000000};
    nanosleep(&ts, NULL);
    omtp_hookw_stats s;
    omtp_hookw_stats_get(f.w, &s);
    assert_true(s.posts_failed >= 1);
    assert_int_equal(s.events_delivered, 0);
    assert_int_equal(s.events_waiting, 1);
    push_ev(f.w, "bob", 2); /* joins the waiting batch, in order */
    assert_int_equal(hook_rx_restart(f.rx), 0);
    assert_true(hook_rx_wait(f.rx, 1, 5000));
    hook_rx_req q;
    json_t *j = req_json(f.rx, 0, &q);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "n")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "n")), 2);
    json_decref(j);
    free(q.body);
    /* a 5xx answer is retried as well */
    hook_rx_respond(f.rx, 503, 0, NULL);
    push_ev(f.w, "dave", 1);
    assert_true(hook_rx_wait(f.rx, 3, 5000)); /* refused once, then once more */
    hook_rx_respond(f.rx, 204, 0, NULL);
    int64_t end = now_ms() + 5000;
    do {
        omtp_hookw_stats_get(f.w, &s);
    } while (s.events_delivered < 3 && now_ms() < end);
    assert_int_equal(s.events_delivered, 3);
    assert_int_equal(s.events_waiting, 0);
    fx_stop(&f);
}

static void test_bound_drops_oldest(void **st)
{
    (void)st;
    fixture f;
    fx_start(&f, 10, 5);
    hook_rx_stop(f.rx);
    for (int i = 1; i <= 20; i++)
        push_ev(f.w, "bob", i);
    omtp_hookw_stats s;
    int64_t end = now_ms() + 3000;
    do {
        omtp_hookw_stats_get(f.w, &s);
    } while (s.events_dropped < 15 && now_ms() < end);
    assert_int_equal(s.events_dropped, 15);
    assert_int_equal(hook_rx_restart(f.rx), 0);
    end = now_ms() + 5000;
    do {
        omtp_hookw_stats_get(f.w, &s);
    } while (s.events_delivered < 5 && now_ms() < end);
    assert_int_equal(s.events_delivered, 5);
    /* the newest five survived, in order */
    int got = 0, want = 16;
    for (int i = 0; i < hook_rx_count(f.rx); i++) {
        hook_rx_req q;
        json_t *j = req_json(f.rx, i, &q);
        for (size_t k = 0; k < json_array_size(j); k++, got++)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(j, k), "n")),
                             want++);
        json_decref(j);
        free(q.body);
    }
    assert_int_equal(got, 5);
    fx_stop(&f);
}

static void test_check_answer_and_timeout(void **st)
{
    (void)st;
    fixture f;
    fx_start(&f, 10, 100);

    hook_rx_respond(f.rx, 200, 0, "{\"allow\":false}");
    check_res r = {0};
    assert_int_equal(omtp_hookw_check(f.w, "{\"x\":1}", 7, on_check, &r), 0);
    assert_false(r.called); /* never from inside the call */
    run_until(&f.loop, &r.called, 5000);
    assert_true(r.called);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.http, 200);
    assert_string_equal(r.body, "{\"allow\":false}");
    hook_rx_req q;
    assert_true(hook_rx_get(f.rx, 0, &q));
    assert_string_equal(q.path, "/check");
    assert_string_equal(q.event, "before_send");
    assert_string_equal(q.body, "{\"x\":1}");
    assert_true(hook_rx_verify(SECRET, q.signature, q.body, q.len, 60));
    free(q.body);

    /* slower than the 150 ms timeout */
    hook_rx_respond(f.rx, 200, 600, "{}");
    check_res t = {0};
    int64_t t0 = now_ms();
    assert_int_equal(omtp_hookw_check(f.w, "{}", 2, on_check, &t), 0);
    run_until(&f.loop, &t.called, 5000);
    assert_true(t.called);
    assert_int_equal(t.status, OMTP_ETIMEDOUT);
    assert_true(now_ms() - t0 < 550);
    assert_true(t.elapsed_us >= 140000);

    /* backend down: a transport error, fast */
    hook_rx_stop(f.rx);
    check_res d = {0};
    assert_int_equal(omtp_hookw_check(f.w, "{}", 2, on_check, &d), 0);
    run_until(&f.loop, &d.called, 5000);
    assert_int_equal(d.status, OMTP_EIO);

    /* stop answers a check still in flight */
    assert_int_equal(hook_rx_restart(f.rx), 0);
    hook_rx_respond(f.rx, 200, 800, "{}");
    check_res p = {0};
    assert_int_equal(omtp_hookw_check(f.w, "{}", 2, on_check, &p), 0);
    omtp_hookw_stop(f.w);
    f.w = NULL;
    assert_true(p.called);
    assert_int_equal(p.status, OMTP_ECLOSED);
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vector),
        cmocka_unit_test(test_batch_per_recipient),
        cmocka_unit_test(test_retry_when_down),
        cmocka_unit_test(test_bound_drops_oldest),
        cmocka_unit_test(test_check_answer_and_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
