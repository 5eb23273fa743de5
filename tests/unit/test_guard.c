/*
 * test_guard.c - the guard's per-address key (guard.h, omtp_guard_source):
 * an IPv4 address as itself, an IPv6 address by its /64 (two hosts of one
 * /64 share a key, another /64 does not), an IPv4-mapped IPv6 address as
 * its IPv4 address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "core/guard.h"

static void key_of(const char *addr, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
    }
    omtp_guard_source(&ss, out, outlen);
}

static void test_ipv4(void **state)
{
    (void)state;
    char k[64];
    key_of("203.0.113.7", k, sizeof(k));
    assert_string_equal(k, "203.0.113.7");
}

static void test_ipv6_by_64(void **state)
{
    (void)state;
    char a[64], b[64], c[64];
    key_of("2001:db8:1:2::1", a, sizeof(a));
    key_of("2001:db8:1:2:ffff:eeee:dddd:cccc", b, sizeof(b));
    key_of("2001:db8:1:3::1", c, sizeof(c));
    assert_string_equal(a, "2001:db8:1:2::/64");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

static void test_v4_mapped(void **state)
{
    (void)state;
    char k[64];
    key_of("::ffff:198.51.100.9", k, sizeof(k));
    assert_string_equal(k, "198.51.100.9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6_by_64),
        cmocka_unit_test(test_v4_mapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
