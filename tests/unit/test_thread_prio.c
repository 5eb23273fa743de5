/*
 * test_thread_prio.c - omtp_thread_background (util/thread_prio.h): the
 * calling thread's nice value goes up once by OMTP_BACKGROUND_NICE, and only
 * that thread's: the event loop (here the main thread) keeps its priority.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/thread_prio.h"

static int my_nice(void)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    return errno ? -100 : n;
}

static int expected(int before)
{
    int n = before + OMTP_BACKGROUND_NICE;
    return n > 19 ? 19 : n;
}

static void *worker(void *arg)
{
    int *out = arg;
    out[0] = my_nice();
    omtp_thread_background();
    out[1] = my_nice();
    omtp_thread_background(); /* a second job on the same pool thread */
    out[2] = my_nice();
    return NULL;
}

static void test_only_the_worker_yields_once(void **state)
{
    (void)state;
    int main_before = my_nice();
    assert_int_not_equal(main_before, -100);
    int seen[3];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker, seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(seen[1], expected(seen[0])); /* lowered */
    assert_int_equal(seen[2], seen[1]);           /* once, not per job */
    assert_int_equal(my_nice(), main_before);     /* the loop's thread keeps its own */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_worker_yields_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
