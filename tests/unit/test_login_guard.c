/*
 * test_login_guard.c - the per-account login backoff (login_guard.h) with a
 * fake clock: doubling up to the cap, parallel attempts spaced one backoff
 * apart and refused beyond the cap, known devices and successes, forgetting,
 * and a flood of account names that neither grows memory nor frees the
 * account under attack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/login_guard.h"

#define BASE 250u
#define MAX  8000u

/* A sequential guesser: waits for each answer, fails each time. Returns the
 * wait before its next guess. */
static uint32_t guess(omtp_login_guard *g, const char *user, uint64_t *now)
{
    uint32_t w;
    int v = omtp_login_guard_admit(g, user, 5, "attacker", *now, MAX, &w);
    assert_int_not_equal(v, OMTP_LG_REFUSE);
    *now += w;
    omtp_login_guard_failed(g, user, *now);
    return w;
}

static void test_backoff_doubles_to_cap(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(BASE, MAX);
    assert_non_null(g);
    uint64_t now = 1000000;
    assert_int_equal(guess(g, "alice", &now), 0); /* the first guess is free */
    uint32_t want[] = {250, 500, 1000, 2000, 4000, 8000, 8000, 8000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(guess(g, "alice", &now), want[i]);
    assert_int_equal(omtp_login_guard_failures(g, "alice", now), 9);
    /* another account is not affected */
    uint32_t w;
    assert_int_equal(omtp_login_guard_admit(g, "bob", 5, "x", now, MAX, &w), OMTP_LG_GO);
    assert_int_equal(w, 0);
    /* forgotten after LG_FORGET_MS without a failure */
    assert_int_equal(omtp_login_guard_failures(g, "alice", now + LG_FORGET_MS + 1), 0);
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "y", now + LG_FORGET_MS + 1, MAX, &w),
                     OMTP_LG_GO);
    omtp_login_guard_free(g);
}

/* Many connections at once do not guess faster than one: each attempt
 * reserves the next slot, and attempts whose slot is beyond the cap are
 * refused at once (bounding what waits). */
static void test_parallel_attempts_are_spaced(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(BASE, MAX);
    uint64_t now = 5000;
    for (int i = 0; i < 4; i++) /* 4 failures: backoff 2000 ms */
        guess(g, "alice", &now);
    now += 10000; /* quiet for a while: the slot is free */
    int go = 0, wait = 0, refuse = 0;
    uint32_t last = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t w;
        int v = omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w);
        go += v == OMTP_LG_GO;
        wait += v == OMTP_LG_WAIT;
        refuse += v == OMTP_LG_REFUSE;
        if (v == OMTP_LG_WAIT) {
            assert_true(w > last);
            assert_true(w <= MAX);
            last = w;
        }
    }
    assert_int_equal(go, 1);      /* one now */
    assert_int_equal(wait, 4);    /* then 2000, 4000, 6000, 8000 ms */
    assert_int_equal(refuse, 95); /* the rest: "retry later", unchecked */
    assert_int_equal(last, 8000);
    /* the caller's own limit (half its pre-login timeout) refuses sooner */
    now += 60000;
    uint32_t w;
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, 3000, &w), OMTP_LG_GO);
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, 3000, &w),
                     OMTP_LG_WAIT);
    assert_int_equal(w, 2000);
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, 3000, &w),
                     OMTP_LG_REFUSE);
    assert_int_equal(w, 4000);
    omtp_login_guard_free(g);
}

/* Parallel guesses at an account without failures are spaced too (at least
 * base apart): a thousand connections do not get a thousand free guesses. */
static void test_parallel_first_guesses(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(BASE, MAX);
    uint32_t w;
    int go = 0, wait = 0, refuse = 0;
    for (int i = 0; i < 1000; i++) {
        int v = omtp_login_guard_admit(g, "carol", 5, "attacker", 1000, MAX, &w);
        go += v == OMTP_LG_GO;
        wait += v == OMTP_LG_WAIT;
        refuse += v == OMTP_LG_REFUSE;
    }
    assert_int_equal(go, 1);
    assert_int_equal(wait, (int)(MAX / BASE)); /* 250, 500, ... 8000 ms */
    assert_int_equal(refuse, 1000 - 1 - (int)(MAX / BASE));
    /* the first of them fails: the slots reserved for the others stay taken */
    omtp_login_guard_failed(g, "carol", 1040);
    assert_int_equal(omtp_login_guard_admit(g, "carol", 5, "attacker", 1050, MAX, &w),
                     OMTP_LG_REFUSE);
    omtp_login_guard_free(g);
}

/* The real user is never locked out: a device that logged in before is not
 * delayed while an attacker hammers the account; a success clears it. */
static void test_known_device_passes(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(BASE, MAX);
    uint64_t now = 0;
    omtp_login_guard_succeeded(g, "alice", 5, "alice-laptop", true);
    assert_true(omtp_login_guard_known(g, "alice", 5, "alice-laptop"));
    assert_false(omtp_login_guard_known(g, "alice", 4, "alice-laptop")); /* other type */
    assert_false(omtp_login_guard_known(g, "alice", 5, "alice-phone"));
    assert_false(omtp_login_guard_known(g, "bob", 5, "alice-laptop"));
    assert_false(omtp_login_guard_known(g, "alice", 5, ""));
    for (int i = 0; i < 12; i++)
        guess(g, "alice", &now);
    uint32_t w;
    for (int i = 0; i < 50; i++) { /* the attacker's queue is full... */
        omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w);
    }
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w),
                     OMTP_LG_REFUSE);
    /* ...the laptop goes straight through */
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "alice-laptop", now, MAX, &w),
                     OMTP_LG_GO);
    assert_int_equal(w, 0);
    /* an empty device id is never "known" */
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "", now, MAX, &w), OMTP_LG_REFUSE);
    /* a success of a known device (or a token) does not clear the failures:
     * the guesser would get a fresh ramp at every reconnect of the user */
    omtp_login_guard_succeeded(g, "alice", 5, "alice-laptop", false);
    assert_int_equal(omtp_login_guard_failures(g, "alice", now), 12);
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w),
                     OMTP_LG_REFUSE);
    /* a password success through the backoff clears them */
    omtp_login_guard_succeeded(g, "alice", 3, "alice-mac", true);
    assert_int_equal(omtp_login_guard_failures(g, "alice", now), 0);
    assert_int_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w), OMTP_LG_GO);
    assert_true(omtp_login_guard_known(g, "alice", 3, "alice-mac"));
    omtp_login_guard_free(g);
}

/* A flood of one-guess account names: memory is the fixed table, and the
 * account under a long attack keeps its backoff. */
static void test_name_flood(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(BASE, MAX);
    uint64_t now = 0;
    for (int i = 0; i < 6; i++)
        guess(g, "alice", &now);
    for (int i = 0; i < 200000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "flood%d", i);
        omtp_login_guard_failed(g, name, now + (uint64_t)i / 100);
    }
    now += 2000;
    assert_int_equal(omtp_login_guard_failures(g, "alice", now), 6);
    uint32_t w;
    assert_int_not_equal(omtp_login_guard_admit(g, "alice", 5, "attacker", now, MAX, &w),
                         OMTP_LG_GO);
    /* the table is all there is: 4096 accounts, 65536 devices, < 1 MiB */
    assert_true(omtp_login_guard_size() < 1024 * 1024);
    fprintf(stderr, "login guard: %zu bytes, fixed\n", omtp_login_guard_size());
    omtp_login_guard_free(g);
}

static void test_off(void **st)
{
    (void)st;
    omtp_login_guard *g = omtp_login_guard_new(0, 0);
    uint64_t now = 0;
    for (int i = 0; i < 20; i++)
        assert_int_equal(guess(g, "alice", &now), 0);
    omtp_login_guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_to_cap),
        cmocka_unit_test(test_parallel_attempts_are_spaced),
        cmocka_unit_test(test_parallel_first_guesses),
        cmocka_unit_test(test_known_device_passes),
        cmocka_unit_test(test_name_flood),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
