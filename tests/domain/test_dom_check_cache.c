/*
 * test_dom_check_cache.c - the send checks' caches (domain/check_cache.h)
 * against a real omtpd core (SQLite in a temporary directory, a real loop):
 * a miss reads the store once and the next query is answered from memory;
 * every change a user could have seen (user create/delete, friend del,
 * member removal, dismissal, creator change) makes the next query answer
 * the new truth; concurrent misses share one read; the bound evicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/idlist.h"
#include "dom_fixture.h"
#include "domain/check_cache.h"
#include "domain/friend.h"
#include "domain/group.h"
#include "domain/user.h"

typedef dom_fixture fixture;

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

static int setup(void **st)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", NULL};
    fixture *f = dom_start(users);
    assert_non_null(f);
    f->cfg.check_cache_user_ttl_ms = 3600 * 1000; /* no expiry on a loaded box */
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    dom_stop(*st);
    return 0;
}

/* ------------------------------------------------------------- queries */

typedef struct bres {
    bool done;
    int calls, status;
    bool yes;
} bres;

static void on_bool(void *arg, int status, bool yes)
{
    bres *r = arg;
    r->calls++;
    r->status = status;
    r->yes = yes;
    r->done = true;
}

/* 1 = answered from memory, 0 = waited for a store read; *yes the answer. */
static int user_exists(fixture *f, const char *id, bool *yes)
{
    bres r = {0};
    int rc = omtp_cc_user_exists(&f->srv, id, yes, on_bool, &r);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0) {
        assert_true(dom_wait(f, &r.done));
        assert_int_equal(r.status, 0);
        assert_int_equal(r.calls, 1);
        *yes = r.yes;
    }
    return rc;
}

static int friends(fixture *f, const char *a, const char *b, bool *yes)
{
    bres r = {0};
    int rc = omtp_cc_friends(&f->srv, a, b, yes, on_bool, &r);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0) {
        assert_true(dom_wait(f, &r.done));
        assert_int_equal(r.status, 0);
        *yes = r.yes;
    }
    return rc;
}

typedef struct gres {
    bool done;
    int status;
    omtp_cc_group g;
} gres;

static void on_group(void *arg, int status, const omtp_cc_group *g)
{
    gres *r = arg;
    r->status = status;
    r->g = *g;
    if (g->members)
        omtp_members_ref(g->members); /* kept past the call */
    r->done = true;
}

/* The group's state in *out (the caller unrefs out->members). */
static int group(fixture *f, const char *gid, omtp_cc_group *out)
{
    gres r = {0};
    memset(out, 0, sizeof(*out));
    int rc = omtp_cc_group_get(&f->srv, gid, out, on_group, &r);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0) {
        assert_true(dom_wait(f, &r.done));
        assert_int_equal(r.status, 0);
        *out = r.g;
    }
    return rc;
}

static omtp_cc_stats stats(fixture *f, int kind)
{
    omtp_cc_stats st[OMTP_CC_N];
    omtp_cc_stats_get(&f->srv, st);
    return st[kind];
}

/* ------------------------------------------------------ the operations */

typedef struct done_flag {
    bool done;
    int code;
    char groupId[OMTP_ID_MAX + 1];
} done_flag;

static void on_user(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    (void)out;
    done_flag *d = arg;
    d->code = res->code;
    d->done = true;
}

static void on_friend(void *arg, const omtp_dom_outcome *res, omtp_dom_friend_out *out)
{
    (void)out;
    done_flag *d = arg;
    d->code = res->code;
    d->done = true;
}

static void on_group_op(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    done_flag *d = arg;
    d->code = res->code;
    snprintf(d->groupId, sizeof(d->groupId), "%s", out->groupId);
    d->done = true;
}

static void friend_op(fixture *f, bool add, const char *user, const char *other)
{
    omtp_FriendInfo item;
    memset(&item, 0, sizeof(item));
    item.friendId.data = (char *)other;
    item.friendId.len = (uint32_t)strlen(other);
    omtp_FriendInfo_list l = {.items = &item, .n = 1};
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = user};
    done_flag d = {0};
    if (add)
        omtp_dom_friend_add(&f->srv, &who, &l, on_friend, &d);
    else
        omtp_dom_friend_del(&f->srv, &who, &l, on_friend, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
}

static tars_str_list one_id(const char *a)
{
    tars_str_list l = {.items = calloc(1, sizeof(tars_str)), .n = 0};
    assert_non_null(l.items);
    assert_int_equal(tars_str_set(&l.items[l.n++], a), 0);
    return l;
}

/* A group of `creator` with members bob and carol (the API's create). */
static void make_group(fixture *f, const char *gid, const char *creator)
{
    omtp_GroupChatInfo in;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &in);
    assert_int_equal(tars_str_set(&in.groupId, gid), 0);
    assert_int_equal(tars_str_set(&in.name, "team"), 0);
    assert_int_equal(tars_str_set(&in.creatorId, creator), 0);
    tars_str_list ids = {.items = calloc(2, sizeof(tars_str)), .n = 0};
    assert_int_equal(tars_str_set(&ids.items[ids.n++], "bob"), 0);
    assert_int_equal(tars_str_set(&ids.items[ids.n++], "carol"), 0);
    done_flag d = {0};
    omtp_dom_group_create(&f->srv, &api, &in, &ids, on_group_op, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    assert_string_equal(d.groupId, gid);
    omtp_ids_free(&ids);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &in);
}

/* ----------------------------------------------------------------- tests */

/* A miss reads the store once; the next query is answered from memory,
 * for users that exist and for those that do not. */
static void test_user_hit_after_miss(void **st)
{
    fixture *f = *st;
    bool yes = false;
    assert_int_equal(user_exists(f, "alice", &yes), 0);
    assert_true(yes);
    assert_int_equal(user_exists(f, "alice", &yes), 1);
    assert_true(yes);
    assert_int_equal(user_exists(f, "ghost", &yes), 0);
    assert_false(yes);
    assert_int_equal(user_exists(f, "ghost", &yes), 1);
    assert_false(yes);
    omtp_cc_stats s = stats(f, OMTP_CC_USERS);
    assert_int_equal(s.reads, 2);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.entries, 2);
    assert_true(s.bytes > 0);
}

/* Creating a user through the API replaces a cached "does not exist";
 * deleting one replaces "exists" -- at once, no TTL involved. */
static void test_user_create_delete_invalidate(void **st)
{
    fixture *f = *st;
    f->cfg.check_cache_user_ttl_ms = 3600 * 1000;
    bool yes = true;
    user_exists(f, "erin", &yes);
    assert_false(yes);
    assert_int_equal(user_exists(f, "erin", &yes), 1); /* cached negative */
    done_flag d = {0};
    omtp_dom_user_create(&f->srv, &api, "erin", "", OMTP_ROLE_USER, NULL, on_user, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    assert_int_equal(user_exists(f, "erin", &yes), 0);
    assert_true(yes);
    assert_int_equal(user_exists(f, "erin", &yes), 1);
    assert_true(yes);

    d.done = false;
    omtp_dom_user_delete(&f->srv, &api, "erin", on_user, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    assert_int_equal(user_exists(f, "erin", &yes), 0);
    assert_false(yes);
}

static int create_frank(omtp_db *db, void *arg)
{
    (void)arg;
    omtp_user_rec u;
    omtp_user_rec_init(&u);
    int rc = tars_str_set(&u.userId, "frank");
    if (rc == 0)
        rc = omtp_db_user_create(db, &u);
    omtp_user_rec_free(&u);
    return rc;
}

static int noop(omtp_db *db, void *arg)
{
    (void)db;
    (void)arg;
    return 0;
}

/* A user created behind the server's back (what `omtpd user add` in another
 * process does) is seen once check_cache_user_ttl_ms passed. */
static void test_user_ttl_bounds_admin_changes(void **st)
{
    fixture *f = *st;
    f->cfg.check_cache_user_ttl_ms = 50;
    bool yes = true;
    user_exists(f, "frank", &yes);
    assert_false(yes);
    assert_int_equal(dom_on_db(f, create_frank, NULL), 0); /* no invalidation */
    usleep(80 * 1000);
    assert_int_equal(user_exists(f, "frank", &yes), 0);
    assert_true(yes);

    /* past half its TTL an entry in use is renewed in the background: the
     * query is still answered at once */
    f->cfg.check_cache_user_ttl_ms = 2000;
    assert_int_equal(user_exists(f, "alice", &yes), 0);
    uint64_t reads = stats(f, OMTP_CC_USERS).reads;
    usleep(1100 * 1000);
    assert_int_equal(user_exists(f, "alice", &yes), 1);
    assert_true(yes);
    assert_int_equal(stats(f, OMTP_CC_USERS).reads, reads + 1);
    assert_int_equal(dom_on_db(f, noop, NULL), 0); /* the renewal completed (store order) */
    assert_int_equal(user_exists(f, "alice", &yes), 1);
    assert_int_equal(stats(f, OMTP_CC_USERS).reads, reads + 1); /* fresh again */

    f->cfg.check_cache_user_ttl_ms = 0; /* users not cached at all */
    assert_int_equal(user_exists(f, "frank", &yes), 0);
    assert_int_equal(user_exists(f, "frank", &yes), 0);
}

/* A friend pair: add and del invalidate both directions. */
static void test_friends_invalidate(void **st)
{
    fixture *f = *st;
    bool yes = true;
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_false(yes);
    assert_int_equal(friends(f, "bob", "alice", &yes), 0);
    assert_false(yes);
    friend_op(f, true, "alice", "bob");
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_true(yes);
    assert_int_equal(friends(f, "bob", "alice", &yes), 0);
    assert_true(yes);
    assert_int_equal(friends(f, "alice", "bob", &yes), 1);
    assert_true(yes);
    assert_int_equal(friends(f, "bob", "alice", &yes), 1);
    assert_true(yes);
    friend_op(f, false, "bob", "alice"); /* the other side ends it */
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_false(yes);
    assert_int_equal(friends(f, "bob", "alice", &yes), 0);
    assert_false(yes);
}

/* One entry per group: exists, creator, members; a member removal, a
 * creator change and a dismissal are seen by the next query. */
static void test_group_invalidate(void **st)
{
    fixture *f = *st;
    omtp_cc_group g;
    assert_int_equal(group(f, "GC_x", &g), 0);
    assert_false(g.exists);
    assert_null(g.members);
    assert_int_equal(group(f, "GC_x", &g), 1); /* a negative entry */
    assert_false(g.exists);

    make_group(f, "GC_x", "alice"); /* creation replaces it */
    assert_int_equal(group(f, "GC_x", &g), 0);
    assert_true(g.exists);
    assert_false(g.dismissed);
    assert_string_equal(g.creator, "alice");
    assert_true(omtp_cc_is_member(g.members, "bob"));
    assert_true(omtp_cc_is_member(g.members, "alice"));
    assert_false(omtp_cc_is_member(g.members, "dave"));
    omtp_members_unref(g.members);
    assert_int_equal(group(f, "GC_x", &g), 1);
    assert_true(omtp_cc_is_member(g.members, "bob"));
    omtp_members_unref(g.members);

    /* bob removed by the administrator */
    tars_str_list ids = one_id("bob");
    done_flag d = {0};
    omtp_dom_group_quit(&f->srv, &api, "GC_x", &ids, on_group_op, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    omtp_ids_free(&ids);
    group(f, "GC_x", &g);
    assert_true(g.exists);
    assert_false(omtp_cc_is_member(g.members, "bob"));
    assert_true(omtp_cc_is_member(g.members, "carol"));
    omtp_members_unref(g.members);

    /* the creator changes to carol */
    d.done = false;
    omtp_dom_group_set_creator(&f->srv, &api, "GC_x", "carol", on_group_op, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    group(f, "GC_x", &g);
    assert_string_equal(g.creator, "carol");
    omtp_members_unref(g.members);

    /* dismissed */
    d.done = false;
    omtp_dom_group_dismiss(&f->srv, &api, "GC_x", on_group_op, &d);
    assert_true(dom_wait(f, &d.done));
    assert_int_equal(d.code, 0);
    group(f, "GC_x", &g);
    assert_true(!g.exists || g.dismissed);
    assert_null(g.members);
}

/* Three queries for the same key before the store answers: one read, three
 * answers; a query after an invalidation does not join the older read. */
static void test_concurrent_misses_share_one_read(void **st)
{
    fixture *f = *st;
    bres r[4] = {{0}};
    bool yes;
    for (int i = 0; i < 3; i++)
        assert_int_equal(omtp_cc_user_exists(&f->srv, "bob", &yes, on_bool, &r[i]), 0);
    omtp_cc_stats s = stats(f, OMTP_CC_USERS);
    assert_int_equal(s.reads, 1);
    assert_int_equal(s.joined, 2);
    omtp_cc_invalidate_user(&f->srv, "bob");
    assert_int_equal(omtp_cc_user_exists(&f->srv, "bob", &yes, on_bool, &r[3]), 0);
    assert_int_equal(stats(f, OMTP_CC_USERS).reads, 2);
    for (int i = 0; i < 4; i++) {
        assert_true(dom_wait(f, &r[i].done));
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, 0);
        assert_true(r[i].yes);
    }
    assert_int_equal(user_exists(f, "bob", &yes), 1); /* the newer read was kept */

    /* groups too */
    make_group(f, "GC_y", "alice");
    gres g[3] = {{0}};
    omtp_cc_group out;
    for (int i = 0; i < 3; i++)
        assert_int_equal(omtp_cc_group_get(&f->srv, "GC_y", &out, on_group, &g[i]), 0);
    assert_int_equal(stats(f, OMTP_CC_GROUPS).reads, 1);
    for (int i = 0; i < 3; i++) {
        assert_true(dom_wait(f, &g[i].done));
        assert_true(g[i].g.exists);
        assert_true(omtp_cc_is_member(g[i].g.members, "carol"));
        omtp_members_unref(g[i].g.members);
    }
}

/* check_cache_max bounds each cache; the least recently used goes first. */
static void test_eviction_under_the_bound(void **st)
{
    fixture *f = *st;
    f->cfg.check_cache_max = 2;
    bool yes;
    user_exists(f, "alice", &yes);
    user_exists(f, "bob", &yes);
    assert_int_equal(user_exists(f, "alice", &yes), 1); /* alice is now the most recent */
    user_exists(f, "carol", &yes);                      /* evicts bob */
    omtp_cc_stats s = stats(f, OMTP_CC_USERS);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(user_exists(f, "alice", &yes), 1);
    assert_int_equal(user_exists(f, "carol", &yes), 1);
    assert_int_equal(user_exists(f, "bob", &yes), 0);

    make_group(f, "GC_1", "alice");
    make_group(f, "GC_2", "alice");
    make_group(f, "GC_3", "alice");
    omtp_cc_group g;
    for (int i = 0; i < 3; i++) {
        char gid[8];
        snprintf(gid, sizeof(gid), "GC_%d", i + 1);
        group(f, gid, &g);
        omtp_members_unref(g.members);
    }
    assert_true(stats(f, OMTP_CC_GROUPS).entries <= 2);

    f->cfg.check_cache_max = 0; /* off: every query reads */
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
}

/* With redis_url set other nodes change users and friendships without
 * telling this one: those answers are never kept (groups are: the cluster
 * announces every group change). */
static void test_cluster_keeps_no_users_or_friends(void **st)
{
    fixture *f = *st;
    snprintf(f->cfg.redis_url, sizeof(f->cfg.redis_url), "redis://127.0.0.1:1");
    bool yes;
    assert_int_equal(user_exists(f, "alice", &yes), 0);
    assert_int_equal(user_exists(f, "alice", &yes), 0);
    assert_true(yes);
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_int_equal(friends(f, "alice", "bob", &yes), 0);
    assert_int_equal(stats(f, OMTP_CC_USERS).entries, 0);
    assert_int_equal(stats(f, OMTP_CC_FRIENDS).entries, 0);
    make_group(f, "GC_c", "alice");
    omtp_cc_group g;
    assert_int_equal(group(f, "GC_c", &g), 0);
    omtp_members_unref(g.members);
    assert_int_equal(group(f, "GC_c", &g), 1);
    omtp_members_unref(g.members);
    f->cfg.redis_url[0] = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_hit_after_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_create_delete_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_ttl_bounds_admin_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_friends_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_misses_share_one_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_under_the_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_keeps_no_users_or_friends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
