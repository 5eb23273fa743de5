/*
 * test_ratelimit.c - the per-connection token bucket (ratelimit.h) with a
 * fake clock: burst, refill rate, the cap, unlimited, the refusal window and
 * the 32-bit clock wrapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/ratelimit.h"

/* How many of n requests at now_ms get a token. */
static int take_n(omtp_ratelimit *rl, uint32_t rate, uint32_t burst, int n, uint64_t now_ms)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += omtp_ratelimit_take(rl, rate, burst, 0, now_ms) == OMTP_RL_OK;
    return ok;
}

static void test_burst_then_refill(void **state)
{
    (void)state;
    omtp_ratelimit rl;
    uint64_t t = 5000;
    omtp_ratelimit_init(&rl, 10, t);
    assert_int_equal(take_n(&rl, 5, 10, 15, t), 10);      /* the burst, no more */
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 199), 0);  /* 5/s: 0.995 tokens */
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 200), 1);  /* one token per 200 ms */
    assert_int_equal(take_n(&rl, 5, 10, 5, t + 1200), 5); /* 1 s later: 5 more */
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 1200), 0);
    /* fractions add up across refills: 3 x 70 ms = 210 ms = 1.05 tokens */
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 1270), 0);
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 1340), 0);
    assert_int_equal(take_n(&rl, 5, 10, 1, t + 1410), 1);
    /* a long pause fills the bucket to burst, not beyond */
    assert_int_equal(take_n(&rl, 5, 10, 50, t + 3600 * 1000), 10);
}

static void test_fast_rate(void **state)
{
    (void)state;
    omtp_ratelimit rl;
    omtp_ratelimit_init(&rl, 1000000, 0);
    assert_int_equal(take_n(&rl, 1000000, 1000000, 1000, 0), 1000);
    omtp_ratelimit_init(&rl, 100, 0);
    assert_int_equal(take_n(&rl, 5000, 100, 200, 0), 100);
    assert_int_equal(take_n(&rl, 5000, 100, 200, 10), 50); /* 5 per ms */
}

static void test_unlimited(void **state)
{
    (void)state;
    omtp_ratelimit rl;
    omtp_ratelimit_init(&rl, 1, 0);
    assert_int_equal(take_n(&rl, 0, 1, 100000, 0), 100000);
}

static void test_default_burst(void **state)
{
    (void)state;
    assert_int_equal(omtp_ratelimit_burst(20, 0), 40);
    assert_int_equal(omtp_ratelimit_burst(20, 7), 7);
    assert_int_equal(omtp_ratelimit_burst(0, 0), 1);
    assert_int_equal(omtp_ratelimit_burst(OMTP_RL_MAX, 0), OMTP_RL_MAX);
}

static void test_refusal_window(void **state)
{
    (void)state;
    omtp_ratelimit rl;
    uint64_t t = 1000;
    omtp_ratelimit_init(&rl, 2, t);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 2, 3, t), OMTP_RL_OK);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 2, 3, t), OMTP_RL_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(omtp_ratelimit_take(&rl, 1, 2, 3, t + 10), OMTP_RL_REFUSE);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 2, 3, t + 20), OMTP_RL_ABUSE);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 2, 3, t + 30), OMTP_RL_ABUSE);

    /* refusals spread over more than a window never add up to abuse */
    omtp_ratelimit_init(&rl, 1, t);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 1, 3, t), OMTP_RL_OK);
    uint64_t now = t;
    for (int w = 0; w < 5; w++) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(omtp_ratelimit_take(&rl, 1, 1, 3, now), OMTP_RL_REFUSE);
        now += OMTP_RL_WINDOW_MS; /* a new window; the bucket refills to 1 */
        assert_int_equal(omtp_ratelimit_take(&rl, 1, 1, 3, now), OMTP_RL_OK);
    }

    /* refusals_max 0: refused forever, never abuse */
    omtp_ratelimit_init(&rl, 1, t);
    assert_int_equal(omtp_ratelimit_take(&rl, 1, 1, 0, t), OMTP_RL_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(omtp_ratelimit_take(&rl, 1, 1, 0, t), OMTP_RL_REFUSE);
}

static void test_clock_wraps(void **state)
{
    (void)state;
    omtp_ratelimit rl;
    uint64_t t = UINT32_MAX - 100; /* the stamps' low 32 bits wrap during the test */
    omtp_ratelimit_init(&rl, 4, t);
    assert_int_equal(take_n(&rl, 10, 4, 10, t), 4);
    assert_int_equal(take_n(&rl, 10, 4, 10, t + 200), 2); /* 10/s: 2 tokens in 200 ms */
    assert_int_equal(take_n(&rl, 10, 4, 10, t + 300), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill), cmocka_unit_test(test_fast_rate),
        cmocka_unit_test(test_unlimited),         cmocka_unit_test(test_default_burst),
        cmocka_unit_test(test_refusal_window),    cmocka_unit_test(test_clock_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
