/*
 * test_packid.c - client packIds (UUIDv7): format, strict order within a
 * thread, and no collisions between a process and its forked children (the
 * server deduplicates by (from, packId): a collision would make it answer a
 * different message with the original's ack).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "client/omtp_packid.h"

#define N 200

static void test_format_and_order(void **state)
{
    (void)state;
    char prev[37] = "";
    for (int i = 0; i < 5000; i++) {
        char id[37];
        omtp_packid_new(id);
        assert_int_equal(strlen(id), 36);
        assert_int_equal(id[14], '7');           /* version 7 */
        assert_non_null(strchr("89ab", id[19])); /* RFC variant */
        assert_true(strcmp(id, prev) > 0);       /* strictly increasing */
        memcpy(prev, id, sizeof(prev));
    }
}

static void test_forked_children_do_not_collide(void **state)
{
    (void)state;
    char first[37];
    omtp_packid_new(first); /* seed the generator before forking, as a real client would */

    int fds[2][2];
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pipe(fds[k]), 0);
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            close(fds[k][0]);
            for (int i = 0; i < N; i++) {
                char id[37];
                omtp_packid_new(id);
                if (write(fds[k][1], id, 36) != 36)
                    _exit(1);
            }
            _exit(0);
        }
        close(fds[k][1]);
    }
    char *ids = calloc(3 * N, 37);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        omtp_packid_new(ids + i * 37);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) {
            char *slot = ids + ((k + 1) * N + i) * 37;
            size_t got = 0;
            while (got < 36) {
                ssize_t r = read(fds[k][0], slot + got, 36 - got);
                assert_true(r > 0);
                got += (size_t)r;
            }
        }
        close(fds[k][0]);
        int st;
        assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int a = 0; a < 3 * N; a++)
        for (int b = a + 1; b < 3 * N; b++)
            assert_string_not_equal(ids + a * 37, ids + b * 37);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_order),
        cmocka_unit_test(test_forked_children_do_not_collide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
