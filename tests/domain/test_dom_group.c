/*
 * test_dom_group.c - the group operations of domain/group.h, called
 * directly against a real omtpd core (SQLite in a temporary directory, a
 * real loop, no client): the rules every entry point shares, and what
 * differs between a logged-in user (OMTP) and the administrator (HTTP API)
 * -- the `role` of the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/idlist.h"
#include "dom_fixture.h"
#include "domain/group.h"

typedef dom_fixture fixture;

typedef struct got {
    bool done;
    omtp_dom_outcome res;
    char groupId[OMTP_ID_MAX + 1];
    uint32_t members;
    int count;
    int32_t memberLimit;
    char creator[OMTP_ID_MAX + 1];
} got;

static void on_done(void *arg, const omtp_dom_outcome *res, omtp_dom_group_out *out)
{
    got *g = arg;
    g->done = true;
    g->res = *res;
    snprintf(g->groupId, sizeof(g->groupId), "%s", out->groupId);
    g->members = out->members.n;
    g->count = out->count;
    g->memberLimit = out->info.memberLimit;
    snprintf(g->creator, sizeof(g->creator), "%s",
             out->info.creatorId.data ? out->info.creatorId.data : "");
}

static void wait_for(fixture *f, got *g)
{
    assert_true(dom_wait(f, &g->done));
}

static int setup(void **st)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", NULL};
    fixture *f = dom_start(users);
    assert_non_null(f);
    /* the limits the tests need; read by the operations at call time */
    f->cfg.group_member_limit = 3;
    f->cfg.group_member_hard_limit = 10;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    dom_stop(*st);
    return 0;
}

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

static omtp_dom_caller user(const char *id)
{
    omtp_dom_caller c = {.role = OMTP_DOM_USER, .user = id};
    return c;
}

static tars_str_list ids_of(const char *a, const char *b)
{
    tars_str_list l = {.items = calloc(2, sizeof(tars_str)), .n = 0};
    assert_non_null(l.items);
    if (a)
        assert_int_equal(tars_str_set(&l.items[l.n++], a), 0);
    if (b)
        assert_int_equal(tars_str_set(&l.items[l.n++], b), 0);
    return l;
}

static void ids_free(tars_str_list *l)
{
    omtp_ids_free(l);
}

/* Creates a group as `who` (creator `creator`, "" = the caller) with
 * members a, b and memberLimit. */
static got create(fixture *f, const omtp_dom_caller *who, const char *creator, const char *a,
                  const char *b, int32_t limit)
{
    omtp_GroupChatInfo in;
    omtp_msg_init(&omtp_GroupChatInfo_desc, &in);
    assert_int_equal(tars_str_set(&in.name, "team"), 0);
    assert_int_equal(tars_str_set(&in.creatorId, creator), 0);
    in.memberLimit = limit;
    tars_str_list ids = ids_of(a, b);
    got g = {0};
    omtp_dom_group_create(&f->srv, who, &in, &ids, on_done, &g);
    wait_for(f, &g);
    ids_free(&ids);
    omtp_msg_free(&omtp_GroupChatInfo_desc, &in);
    return g;
}

static got join(fixture *f, const omtp_dom_caller *who, const char *gid, const char *a)
{
    tars_str_list ids = ids_of(a, NULL);
    got g = {0};
    omtp_dom_group_join(&f->srv, who, gid, &ids, on_done, &g);
    wait_for(f, &g);
    ids_free(&ids);
    return g;
}

static got quit(fixture *f, const omtp_dom_caller *who, const char *gid, const char *a)
{
    tars_str_list ids = ids_of(a, NULL);
    got g = {0};
    omtp_dom_group_quit(&f->srv, who, gid, &ids, on_done, &g);
    wait_for(f, &g);
    ids_free(&ids);
    return g;
}

static got get(fixture *f, const omtp_dom_caller *who, const char *gid)
{
    got g = {0};
    omtp_dom_group_get(&f->srv, who, gid, on_done, &g);
    wait_for(f, &g);
    return g;
}

/* memberLimit: a user up to group_member_limit, the administrator up to
 * group_member_hard_limit; the creator of a user's group is the user. */
static void test_member_limit_by_role(void **st)
{
    fixture *f = *st;
    omtp_dom_caller alice = user("alice");
    got g = create(f, &alice, "", "bob", NULL, 4);
    assert_int_equal(g.res.code, OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_string_equal(g.res.reason, "member_limit");
    assert_non_null(strstr(g.res.desc, "group_member_limit"));

    g = create(f, &alice, "bob", "carol", NULL, 0); /* a user creates for itself only */
    assert_int_equal(g.res.code, OMTP_EC_GROUP_NO_PRIVILEGE);

    g = create(f, &api, "alice", "bob", NULL, 10);
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    assert_int_equal(g.memberLimit, 10);
    assert_string_equal(g.creator, "alice");
    assert_int_equal(g.members, 2);

    g = create(f, &api, "alice", "bob", NULL, 11);
    assert_string_equal(g.res.reason, "invalid_field");
    assert_non_null(strstr(g.res.desc, "group_member_hard_limit"));

    g = create(f, &api, "", "bob", NULL, 0); /* the administrator names the creator */
    assert_string_equal(g.res.reason, "invalid_field");

    g = create(f, &alice, "", "bob", "ghost", 0); /* the same rule for both: users exist */
    assert_int_equal(g.res.code, OMTP_EC_GROUP_USER_NOTEXIST);
    assert_string_equal(g.res.reason, "unknown_user");
}

/* Only members add members -- unless the administrator does; the limit holds
 * for both. */
static void test_join_by_role(void **st)
{
    fixture *f = *st;
    omtp_dom_caller alice = user("alice"), carol = user("carol");
    got g = create(f, &alice, "", "bob", NULL, 0);
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    char gid[OMTP_ID_MAX + 1];
    snprintf(gid, sizeof(gid), "%s", g.groupId);
    assert_true(strncmp(gid, "GC_", 3) == 0);

    g = join(f, &carol, gid, "carol");
    assert_int_equal(g.res.code, OMTP_EC_GROUP_NO_PRIVILEGE);
    assert_string_equal(g.res.reason, "no_privilege");

    g = join(f, &api, gid, "carol");
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    assert_int_equal(g.count, 1);
    assert_int_equal(g.members, 3);

    g = join(f, &api, gid, "dave"); /* 4 > group_member_limit 3 */
    assert_int_equal(g.res.code, OMTP_EC_GROUP_MEMBER_LIMIT);
    assert_string_equal(g.res.reason, "member_limit");
    assert_int_equal(get(f, &api, gid).members, 3);
}

/* Removing: a user's retried quit succeeds, the administrator's removal of a
 * non-member is refused; nobody removes the creator; reading the members is
 * for members, or the administrator. */
static void test_quit_by_role(void **st)
{
    fixture *f = *st;
    omtp_dom_caller alice = user("alice"), bob = user("bob"), dave = user("dave");
    got g = create(f, &alice, "", "bob", "carol", 0);
    char gid[OMTP_ID_MAX + 1];
    snprintf(gid, sizeof(gid), "%s", g.groupId);

    g = quit(f, &bob, gid, "carol");
    assert_string_equal(g.res.reason, "no_privilege"); /* others: the creator only */
    g = quit(f, &bob, gid, NULL);                      /* bob leaves */
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    assert_int_equal(g.members, 2);
    g = quit(f, &alice, gid, "bob"); /* not a member: ignored for a user */
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    g = quit(f, &api, gid, "bob"); /* but exact for the administrator */
    assert_int_equal(g.res.code, OMTP_EC_GROUP_USER_NOTEXIST);
    assert_string_equal(g.res.reason, "not_member");
    g = quit(f, &api, gid, "alice");
    assert_string_equal(g.res.reason, "is_creator");
    g = quit(f, &alice, gid, NULL);
    assert_string_equal(g.res.reason, "is_creator");

    g = get(f, &dave, gid);
    assert_string_equal(g.res.reason, "no_privilege");
    g = get(f, &api, gid);
    assert_int_equal(g.res.code, OMTP_EC_SUCCESS);
    assert_int_equal(g.members, 2);
}

/* Dismissing: the creator or the administrator; afterwards the group is
 * gone for every caller. */
static void test_dismiss_by_role(void **st)
{
    fixture *f = *st;
    omtp_dom_caller alice = user("alice"), bob = user("bob");
    got g = create(f, &alice, "", "bob", NULL, 0);
    char gid[OMTP_ID_MAX + 1];
    snprintf(gid, sizeof(gid), "%s", g.groupId);

    got d = {0};
    omtp_dom_group_dismiss(&f->srv, &bob, gid, on_done, &d);
    wait_for(f, &d);
    assert_string_equal(d.res.reason, "no_privilege");
    memset(&d, 0, sizeof(d));
    omtp_dom_group_dismiss(&f->srv, &api, gid, on_done, &d);
    wait_for(f, &d);
    assert_int_equal(d.res.code, OMTP_EC_SUCCESS);

    g = get(f, &api, gid);
    assert_int_equal(g.res.code, OMTP_EC_GROUP_NOT_EXIST);
    assert_string_equal(g.res.reason, "unknown_group");
    g = join(f, &alice, gid, "carol");
    assert_int_equal(g.res.code, OMTP_EC_GROUP_NOT_EXIST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_member_limit_by_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_by_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quit_by_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dismiss_by_role, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
