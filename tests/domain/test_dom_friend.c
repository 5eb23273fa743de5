/*
 * test_dom_friend.c - domain/friend.h on a real core (dom_fixture.h):
 * mutual friendship, the rulings (re-add updates, delete of a non-friend
 * succeeds, unknown users refused, the whole request or nothing), sync, and
 * that only a logged-in user changes friendships.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "dom_fixture.h"
#include "domain/friend.h"

typedef struct got {
    bool done;
    omtp_dom_outcome res;
    bool changed;
    uint32_t n;
    char first[OMTP_ID_MAX + 1];
    char remark[64];
} got;

static void on_done(void *arg, const omtp_dom_outcome *res, omtp_dom_friend_out *out)
{
    got *g = arg;
    g->done = true;
    g->res = *res;
    g->changed = out->changed;
    g->n = out->friends.n;
    if (out->friends.n) {
        snprintf(g->first, sizeof(g->first), "%s", out->friends.items[0].friendId.data);
        snprintf(g->remark, sizeof(g->remark), "%s",
                 out->friends.items[0].remark.data ? out->friends.items[0].remark.data : "");
    }
}

static int setup(void **st)
{
    static const char *const users[] = {"alice", "bob", "carol", NULL};
    *st = dom_start(users);
    return *st ? 0 : -1;
}

static int teardown(void **st)
{
    dom_stop(*st);
    return 0;
}

static omtp_dom_caller as(const char *user)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = user};
    return c;
}

/* friends = (id, remark) pairs, NULL-terminated */
static got change(dom_fixture *f, bool add, const char *user, const char *const *pairs)
{
    omtp_FriendInfo items[4];
    uint32_t n = 0;
    memset(items, 0, sizeof(items));
    for (; pairs[2 * n]; n++) {
        items[n].friendId.data = (char *)pairs[2 * n];
        items[n].friendId.len = (uint32_t)strlen(pairs[2 * n]);
        items[n].remark.data = (char *)pairs[2 * n + 1];
        items[n].remark.len = (uint32_t)strlen(pairs[2 * n + 1]);
    }
    omtp_FriendInfo_list l = {.items = items, .n = n};
    omtp_dom_caller who = as(user);
    got g = {0};
    if (add)
        omtp_dom_friend_add(&f->srv, &who, &l, on_done, &g);
    else
        omtp_dom_friend_del(&f->srv, &who, &l, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static got sync_of(dom_fixture *f, const char *user)
{
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_friend_sync(&f->srv, &who, 0, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static void test_mutual_and_rulings(void **st)
{
    dom_fixture *f = *st;
    static const char *const bob[] = {"bob", "Bobby", NULL};
    got g = change(f, true, "alice", bob);
    assert_int_equal(g.res.code, 0);
    g = sync_of(f, "bob"); /* mutual */
    assert_true(g.changed);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.first, "alice");
    static const char *const bob2[] = {"bob", "Bob", NULL};
    assert_int_equal(change(f, true, "alice", bob2).res.code, 0); /* re-add: the remark */
    g = sync_of(f, "alice");
    assert_string_equal(g.remark, "Bob");

    /* an unknown user refuses the whole request */
    static const char *const mixed[] = {"carol", "", "ghost", "", NULL};
    g = change(f, true, "alice", mixed);
    assert_int_equal(g.res.code, OMTP_EC_USER_RELATION_INVALID);
    assert_int_equal(sync_of(f, "carol").n, 0);
    static const char *const self[] = {"alice", "", NULL};
    assert_int_equal(change(f, true, "alice", self).res.code, OMTP_EC_USER_RELATION_INVALID);

    /* delete, and a retried delete succeeds */
    static const char *const alice[] = {"alice", "", NULL};
    assert_int_equal(change(f, false, "bob", alice).res.code, 0);
    assert_int_equal(sync_of(f, "alice").n, 0);
    assert_int_equal(change(f, false, "bob", alice).res.code, 0);
}

static void test_only_users(void **st)
{
    dom_fixture *f = *st;
    omtp_dom_caller api = {.role = OMTP_DOM_API};
    got g = {0};
    omtp_dom_friend_sync(&f->srv, &api, 0, on_done, &g);
    assert_true(g.done);
    assert_string_equal(g.res.reason, "no_privilege");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mutual_and_rulings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_users, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
