/*
 * test_group_state.c - the group member cache (epoch rules, expiry, growth)
 * and the id-list helpers, without a server: a bare omtp_server on a loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/group_state.h"
#include "core/idlist.h"

static omtp_members *members_of(int n, const char *prefix)
{
    tars_str_list l = {.items = calloc((size_t)n + 1, sizeof(tars_str)), .n = 0};
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s%d", prefix, i);
        assert_int_equal(tars_str_set(&l.items[l.n++], id), 0);
    }
    omtp_members *m = omtp_members_new(&l);
    assert_non_null(m);
    assert_null(l.items);
    return m;
}

static void test_cache_put_get_invalidate(void **st)
{
    omtp_server s;
    memset(&s, 0, sizeof(s));
    s.loop = uv_default_loop();
    assert_null(omtp_group_cache_get(&s, "GC_a"));
    uint64_t e = omtp_group_cache_epoch(&s);
    omtp_members *m = members_of(3, "u");
    omtp_group_cache_put(&s, "GC_a", m, e);
    omtp_members *got = omtp_group_cache_get(&s, "GC_a");
    assert_ptr_equal(got, m);
    assert_int_equal(m->refs, 3); /* ours, the cache's, got's */
    omtp_members_unref(got);
    assert_null(omtp_group_cache_get(&s, "GC_b"));

    /* a change since the fetch began: the fetched list must not be installed */
    omtp_group_cache_invalidate(&s, "GC_a");
    assert_null(omtp_group_cache_get(&s, "GC_a"));
    assert_int_equal(m->refs, 1);
    omtp_group_cache_put(&s, "GC_a", m, e); /* stale epoch */
    assert_null(omtp_group_cache_get(&s, "GC_a"));
    e = omtp_group_cache_epoch(&s);
    omtp_group_cache_put(&s, "GC_a", m, e);
    got = omtp_group_cache_get(&s, "GC_a");
    assert_ptr_equal(got, m);
    omtp_members_unref(got);

    /* replacing an entry drops the old list's reference */
    omtp_members *m2 = members_of(5, "v");
    omtp_group_cache_put(&s, "GC_a", m2, e);
    assert_int_equal(m->refs, 1);
    got = omtp_group_cache_get(&s, "GC_a");
    assert_ptr_equal(got, m2);
    assert_int_equal(got->ids.n, 5);
    omtp_members_unref(got);
    omtp_members_unref(m);
    omtp_members_unref(m2);
    omtp_groups_close(&s);
    assert_null(s.groups);
    uv_run(s.loop, UV_RUN_NOWAIT);
}

/* The send checks' info (check_cache.h) lives in the same entry: a group
 * that does not exist has info and no members; check_cache_max bounds the
 * entries, least recently used first. */
static void test_cache_info_and_lru(void **st)
{
    (void)st;
    omtp_config cfg;
    omtp_config_defaults(&cfg);
    cfg.check_cache_max = 2;
    omtp_server s;
    memset(&s, 0, sizeof(s));
    s.loop = uv_default_loop();
    s.cfg = &cfg;
    omtp_group_info none = {.exists = false};
    omtp_group_info got;
    uint64_t e = omtp_group_cache_epoch(&s);
    omtp_group_cache_put_info(&s, "GC_none", &none, e);
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_none", &got), 1);
    assert_false(got.exists);
    assert_null(got.members);
    assert_null(omtp_group_cache_get(&s, "GC_none")); /* no members to fan out to */

    omtp_group_info a = {.exists = true, .creator = "u0", .members = members_of(2, "u")};
    omtp_group_cache_put_info(&s, "GC_a", &a, e);
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_a", &got), 1);
    assert_string_equal(got.creator, "u0");
    assert_ptr_equal(got.members, a.members);
    omtp_members_unref(got.members);
    size_t n, bytes;
    omtp_group_cache_stats(&s, &n, &bytes);
    assert_int_equal(n, 2);
    assert_true(bytes > 0);

    /* GC_a was used last: a third group evicts GC_none */
    omtp_members *b = members_of(1, "w");
    omtp_group_cache_put(&s, "GC_b", b, e);
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_none", &got), 0);
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_a", &got), 1);
    omtp_members_unref(got.members);
    /* members without info: the send checks still read the store */
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_b", &got), 0);
    omtp_group_cache_stats(&s, &n, &bytes);
    assert_int_equal(n, 2);

    /* a members-only put after a change elsewhere does not keep older info */
    omtp_group_cache_invalidate(&s, "GC_other");
    e = omtp_group_cache_epoch(&s);
    omtp_members *a2 = members_of(3, "u");
    omtp_group_cache_put(&s, "GC_a", a2, e);
    assert_int_equal(omtp_group_cache_get_info(&s, "GC_a", &got), 0);

    omtp_members_unref(a.members);
    omtp_members_unref(a2);
    omtp_members_unref(b);
    omtp_groups_close(&s);
    uv_run(s.loop, UV_RUN_NOWAIT);
}

static void test_cache_many_groups(void **st)
{
    omtp_server s;
    memset(&s, 0, sizeof(s));
    s.loop = uv_default_loop();
    for (int i = 0; i < 5000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "GC_%d", i);
        omtp_members *m = members_of(i % 7, "u");
        omtp_group_cache_put(&s, id, m, omtp_group_cache_epoch(&s));
        omtp_members_unref(m);
    }
    for (int i = 0; i < 5000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "GC_%d", i);
        omtp_members *m = omtp_group_cache_get(&s, id);
        assert_non_null(m);
        assert_int_equal(m->ids.n, i % 7);
        omtp_members_unref(m);
    }
    omtp_group_cache_invalidate(&s, "GC_17");
    assert_null(omtp_group_cache_get(&s, "GC_17"));
    omtp_members *m = omtp_group_cache_get(&s, "GC_18");
    assert_non_null(m);
    omtp_members_unref(m);
    assert_int_equal(omtp_fanout_pending(&s), 0);
    omtp_groups_close(&s);
    uv_run(s.loop, UV_RUN_NOWAIT);
}

static void test_ids_normalize(void **st)
{
    const char *raw[] = {"carol", "alice", "bob", "alice", "carol"};
    tars_str items[5];
    for (int i = 0; i < 5; i++)
        items[i] = (tars_str){.data = (char *)raw[i], .len = (uint32_t)strlen(raw[i])};
    tars_str_list in = {.items = items, .n = 5};
    tars_str_list out;
    char why[128];
    assert_int_equal(omtp_ids_normalize(&in, "dave", &out, why, sizeof(why)), 0);
    assert_int_equal(out.n, 4);
    assert_string_equal(out.items[0].data, "alice");
    assert_string_equal(out.items[1].data, "bob");
    assert_string_equal(out.items[2].data, "carol");
    assert_string_equal(out.items[3].data, "dave");
    assert_true(omtp_ids_contains(&out, "bob"));
    assert_false(omtp_ids_contains(&out, "bobby"));
    omtp_ids_free(&out);

    items[2].len = 0;
    items[2].data = (char *)"";
    assert_int_equal(omtp_ids_normalize(&in, NULL, &out, why, sizeof(why)), OMTP_EINVAL);
    assert_non_null(strstr(why, "#3"));
    assert_int_equal(out.n, 0);

    assert_int_equal(omtp_ids_normalize(NULL, "me", &out, why, sizeof(why)), 0);
    assert_int_equal(out.n, 1);
    omtp_ids_free(&out);
}

static void test_json_kv(void **st)
{
    char *s = omtp_json_kv("op", "join", "groupId", "GC_\"x", NULL);
    assert_non_null(s);
    assert_string_equal(s, "{\"groupId\":\"GC_\\\"x\",\"op\":\"join\"}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_put_get_invalidate),
        cmocka_unit_test(test_cache_many_groups),
        cmocka_unit_test(test_cache_info_and_lru),
        cmocka_unit_test(test_ids_normalize),
        cmocka_unit_test(test_json_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
