/*
 * test_session_ids.c - the id alphabet and session id spelling
 * (proto/omtp_session.h, DESIGN "Ids never contain the session separator").
 *
 * The attack this guards against: users x + y_z and x_y + z would share
 * SC_x_y_z. Ids with '_' (or '/', controls, NUL, spaces, non-ASCII) are not
 * ids, so no two pairs of users ever spell the same session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/omtp_errors.h"
#include "proto/omtp_session.h"

static void test_alphabet(void **st)
{
    (void)st;
    const char *good[] = {"a",   "Z",        "0", "alice", "john.smith", "x-y", "me@example.org",
                          "a+b", "A.b-C@d+9"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(omtp_id_valid(good[i]));
    const char *bad[] = {"",      "y_z", "_",   "a/b",  "a b",  "a\tb", "a\nb", "caf\xc3\xa9",
                         "a\x7f", "%00", "a:b", "a\\b", "a\"b", "a'b",  "a*b",  "a#b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(omtp_id_valid(bad[i]));
    assert_false(omtp_id_valid(NULL));
    /* a NUL inside a length-delimited id (wire strings) */
    assert_false(omtp_id_valid_n("ab\0c", 4));
    assert_true(omtp_id_valid_n("abc", 3));
    assert_false(omtp_id_valid_n("abc", 0));
    /* length: 1..128 bytes */
    char id[OMTP_ID_MAX + 2];
    memset(id, 'a', sizeof id);
    id[OMTP_ID_MAX] = 0;
    assert_true(omtp_id_valid(id));
    id[OMTP_ID_MAX] = 'a';
    id[OMTP_ID_MAX + 1] = 0;
    assert_false(omtp_id_valid(id));
    assert_false(omtp_id_valid_n(id, OMTP_ID_MAX + 1));
}

static void test_single_is_unambiguous(void **st)
{
    (void)st;
    char a[OMTP_SESSION_ID_MAX], b[OMTP_SESSION_ID_MAX];
    /* the attack pairs cannot be spelled at all */
    assert_int_equal(omtp_session_single("x", "y_z", a, sizeof a), OMTP_EINVAL);
    assert_string_equal(a, "");
    assert_int_equal(omtp_session_single("x_y", "z", b, sizeof b), OMTP_EINVAL);
    /* valid ids: byte order, either argument order */
    assert_int_equal(omtp_session_single("zoe", "john", a, sizeof a), 0);
    assert_string_equal(a, "SC_john_zoe");
    assert_int_equal(omtp_session_single("john", "zoe", b, sizeof b), 0);
    assert_string_equal(a, b);
    assert_int_equal(omtp_session_single("B", "a", a, sizeof a), 0);
    assert_string_equal(a, "SC_B_a");
    /* too small a buffer is an error, not a truncated id */
    char small[8];
    assert_int_equal(omtp_session_single("alice", "bob", small, sizeof small), OMTP_EINVAL);
    assert_string_equal(small, "");
    /* the longest ids fit OMTP_SESSION_ID_MAX */
    char l1[OMTP_ID_MAX + 1], l2[OMTP_ID_MAX + 1];
    memset(l1, 'a', OMTP_ID_MAX);
    memset(l2, 'b', OMTP_ID_MAX);
    l1[OMTP_ID_MAX] = l2[OMTP_ID_MAX] = 0;
    assert_int_equal(omtp_session_single(l1, l2, a, sizeof a), 0);
    assert_int_equal(strlen(a), 3 + 2 * OMTP_ID_MAX + 1);
}

static void test_biz(void **st)
{
    (void)st;
    char a[OMTP_SESSION_ID_MAX];
    assert_int_equal(omtp_session_biz("crm", "john", a, sizeof a), 0);
    assert_string_equal(a, "BM_crm_john");
    /* BM_<app>_<user>: neither side may carry the separator */
    assert_int_equal(omtp_session_biz("crm_john", "x", a, sizeof a), OMTP_EINVAL);
    assert_int_equal(omtp_session_biz("crm", "john_x", a, sizeof a), OMTP_EINVAL);
}

static void test_peer_and_names(void **st)
{
    (void)st;
    char p[OMTP_ID_MAX + 1];
    assert_true(omtp_session_peer("SC_john_zoe", "john", p, sizeof p));
    assert_string_equal(p, "zoe");
    assert_true(omtp_session_peer("SC_john_zoe", "zoe", p, sizeof p));
    assert_string_equal(p, "john");
    /* the old string match: user john "in" SC_john_smith_zoe -- not any more */
    assert_false(omtp_session_peer("SC_john_smith_zoe", "john", p, sizeof p));
    assert_false(omtp_session_peer("SC_john_smith_zoe", "zoe", p, sizeof p));
    assert_false(omtp_session_names("SC_john_smith_zoe", "john"));
    assert_false(omtp_session_names("SC_x_y_z", "z"));
    assert_false(omtp_session_names("SC_x_y_z", "x"));
    /* not canonical (wrong order), or not a single chat */
    assert_false(omtp_session_peer("SC_zoe_john", "john", p, sizeof p));
    assert_false(omtp_session_peer("GC_john_zoe", "john", p, sizeof p));
    assert_false(omtp_session_peer("SC_john_john", "john", p, sizeof p) && strcmp(p, "john") != 0);
    assert_true(omtp_session_names("SC_john_zoe", "zoe"));
    assert_true(omtp_session_names("BM_crm_zoe", "zoe"));
    assert_false(omtp_session_names("BM_crm_zoe", "crm"));
    assert_false(omtp_session_names("BM_crm_x_zoe", "zoe"));
    assert_false(omtp_session_names("SC_a_b", ""));
    assert_true(omtp_session_is_group("GC_1"));
    assert_false(omtp_session_is_group("SC_a_b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alphabet),
        cmocka_unit_test(test_single_is_unambiguous),
        cmocka_unit_test(test_biz),
        cmocka_unit_test(test_peer_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
