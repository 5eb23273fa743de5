/*
 * test_dom_attr.c - domain/attr.h on a real core (dom_fixture.h): user
 * attributes (owner, empty fields, unknown friend, filters), session
 * attributes (the stored-party access check and the JSON size rule), the
 * OMTP user info (merge update, own profile, unknown ids skipped, batch
 * limit), and that only a logged-in user calls them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "dom_fixture.h"
#include "domain/attr.h"
#include "domain/msg.h"

typedef struct got {
    bool done;
    omtp_dom_outcome res;
    uint32_t n;
    char first[OMTP_ID_MAX + 1];  /* infos: userId; attrs: friendId */
    char second[OMTP_ID_MAX + 1]; /* infos: name; attrs: attrName */
    char value[64];               /* attrs: attrValue */
} got;

static void on_done(void *arg, const omtp_dom_outcome *res, omtp_dom_attr_out *out)
{
    got *g = arg;
    g->done = true;
    g->res = *res;
    if (out->infos.n) {
        g->n = out->infos.n;
        snprintf(g->first, sizeof(g->first), "%s", out->infos.items[0].userId.data);
        snprintf(g->second, sizeof(g->second), "%s", out->infos.items[0].name.data);
    } else if (out->attrs.n) {
        g->n = out->attrs.n;
        snprintf(g->first, sizeof(g->first), "%s", out->attrs.items[0].friendId.data);
        snprintf(g->second, sizeof(g->second), "%s", out->attrs.items[0].attrName.data);
        snprintf(g->value, sizeof(g->value), "%.63s", out->attrs.items[0].attrValue.data);
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

static tars_str S(const char *s)
{
    tars_str t = {.data = (char *)s, .len = (uint32_t)strlen(s)};
    return t;
}

static got attr_set(dom_fixture *f, const char *user, const char *owner, const char *friendId,
                    const char *name, const char *value)
{
    omtp_UserAttribute a = {
        .userId = S(owner), .friendId = S(friendId), .attrName = S(name), .attrValue = S(value)};
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_attr_set(&f->srv, &who, &a, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static got attr_get(dom_fixture *f, const char *user, const char *friendId, const char *name)
{
    omtp_UserAttribute a = {.userId = S(""),
                            .friendId = S(friendId ? friendId : ""),
                            .attrName = S(name ? name : ""),
                            .attrValue = S("")};
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_attr_get(&f->srv, &who, friendId ? &a : NULL, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static got sess_set(dom_fixture *f, const char *user, const char *session, const char *name,
                    const char *value)
{
    omtp_SessionAttrSetReq q = {
        .userId = S(""), .sessionId = S(session), .attrName = S(name), .attrValue = S(value)};
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_session_attr_set(&f->srv, &who, &q, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static void test_user_attributes(void **st)
{
    dom_fixture *f = *st;
    assert_int_equal(attr_set(f, "alice", "", "bob", "remark", "Bobby").res.code, 0);
    assert_int_equal(attr_set(f, "alice", "alice", "carol", "remark", "C").res.code, 0);
    /* a friendId need not be a friend, but must be a user */
    got g = attr_set(f, "alice", "", "ghost", "remark", "x");
    assert_int_equal(g.res.code, OMTP_EC_USER_RELATION_INVALID);
    assert_string_equal(g.res.reason, "unknown_user");
    assert_int_equal(attr_set(f, "alice", "", "bob", "", "x").res.code, OMTP_EC_ATTR_FIELD_EMPTY);
    assert_int_equal(attr_set(f, "alice", "", "", "remark", "x").res.code,
                     OMTP_EC_ATTR_FIELD_EMPTY);
    /* private to their owner */
    assert_int_equal(attr_set(f, "alice", "bob", "carol", "remark", "x").res.code,
                     OMTP_EC_MSG_FORBIDDEN);

    g = attr_get(f, "alice", NULL, NULL); /* all, in (friendId, attrName) order */
    assert_int_equal(g.res.code, 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.first, "bob");
    assert_string_equal(g.value, "Bobby");
    g = attr_get(f, "alice", "carol", "");
    assert_int_equal(g.n, 1);
    assert_string_equal(g.value, "C");
    assert_int_equal(attr_get(f, "bob", NULL, NULL).n, 0); /* alice's are hers */
}

static void on_sent(void *arg, const omtp_dom_result *res)
{
    *(int *)arg = res->code + 1;
}

/* a message makes the session hot for both sides (the size rule measures
 * the attribute object hot sessions carry) */
static void send_message(dom_fixture *f, const char *from, const char *to)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.packId = S("p1");
    m.msg.from = S(from);
    m.msg.to = S(to);
    m.msg.content = S("hi");
    omtp_dom_caller who = as(from);
    int sent = 0;
    assert_int_equal(omtp_dom_send_single(&f->srv, &who, &m, on_sent, &sent), 0);
    uv_timer_t t; /* bounded: dom_wait's pattern */
    bool late = false;
    uv_timer_init(&f->loop, &t);
    t.data = &late;
    uv_timer_start(&t, dom_on_timeout, 10000, 0);
    while (!sent && !late)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(sent, OMTP_EC_SUCCESS + 1);
}

static void test_session_attributes(void **st)
{
    dom_fixture *f = *st;
    send_message(f, "alice", "bob");
    char sc[2 * OMTP_ID_MAX + 8], other[2 * OMTP_ID_MAX + 8];
    assert_int_equal(omtp_session_single("alice", "bob", sc, sizeof(sc)), 0);
    assert_int_equal(omtp_session_single("bob", "carol", other, sizeof(other)), 0);
    assert_int_equal(sess_set(f, "alice", sc, "pin", "1").res.code, 0);
    got g = sess_set(f, "alice", other, "pin", "1"); /* not hers */
    assert_int_equal(g.res.code, OMTP_EC_MSG_FORBIDDEN);
    assert_int_equal(sess_set(f, "alice", sc, "", "1").res.code, OMTP_EC_ATTR_FIELD_EMPTY);
    assert_int_equal(sess_set(f, "alice", "", "pin", "1").res.code, OMTP_EC_PARAM);

    /* the attribute object of a session may not grow past the JSON limit;
     * a set that shrinks it is allowed, and makes room again */
    static char big[4001];
    memset(big, 'x', 4000);
    assert_int_equal(sess_set(f, "alice", sc, "a", big).res.code, 0);
    assert_int_equal(sess_set(f, "alice", sc, "b", big).res.code, 0);
    big[1000] = '\0';
    g = sess_set(f, "alice", sc, "c", big);
    assert_int_equal(g.res.code, OMTP_EC_PARAM);
    assert_non_null(strstr(g.res.desc, "at most"));
    assert_int_equal(sess_set(f, "alice", sc, "a", "").res.code, 0);
    assert_int_equal(sess_set(f, "alice", sc, "c", big).res.code, 0);
    /* the limit is per user: bob's object of the same session is his own */
    memset(big, 'y', 4000);
    assert_int_equal(sess_set(f, "bob", sc, "a", big).res.code, 0);

    /* a name or value that is not UTF-8 is answered, never a double free
     * (found by tests/scripts/fuzz_server.sh under ASan) */
    const char *odd[][2] = {{"\xff\xfe", "1"}, {"pin", "\xff"}, {"\xc3", "\xff"}};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        int code = sess_set(f, "alice", sc, odd[i][0], odd[i][1]).res.code;
        assert_true(code == 0 || code == OMTP_EC_PARAM);
    }
    assert_int_equal(sess_set(f, "alice", sc, "pin", "2").res.code, 0); /* still served */
}

static got info_get(dom_fixture *f, const char *user, const char *const *ids)
{
    tars_str items[4];
    uint32_t n = 0;
    for (; ids && ids[n]; n++)
        items[n] = S(ids[n]);
    tars_str_list l = {.items = items, .n = n};
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_userinfo_get(&f->srv, &who, ids ? &l : NULL, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static got info_update(dom_fixture *f, const char *user, const char *owner, const char *name,
                       const char *mobile)
{
    omtp_UserInfo in;
    omtp_msg_init(&omtp_UserInfo_desc, &in);
    in.userId = S(owner);
    in.name = S(name);
    in.mobile = S(mobile);
    omtp_dom_caller who = as(user);
    got g = {0};
    omtp_dom_userinfo_update(&f->srv, &who, &in, on_done, &g);
    assert_true(dom_wait(f, &g.done));
    return g;
}

static void test_user_info(void **st)
{
    dom_fixture *f = *st;
    assert_int_equal(info_update(f, "alice", "", "Alice", "123").res.code, 0);
    assert_int_equal(info_update(f, "alice", "alice", "", "456").res.code, 0); /* merges */
    got g = info_get(f, "alice", NULL); /* no ids: your own */
    assert_int_equal(g.res.code, 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.first, "alice");
    assert_string_equal(g.second, "Alice");
    assert_int_equal(info_update(f, "alice", "bob", "Evil", "").res.code, OMTP_EC_MSG_FORBIDDEN);

    static const char *const ids[] = {"carol", "ghost", "bob", NULL}; /* unknown skipped */
    g = info_get(f, "alice", ids);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.first, "bob"); /* user-id order */

    tars_str many[OMTP_DOM_USERINFO_BATCH + 1];
    for (int i = 0; i <= OMTP_DOM_USERINFO_BATCH; i++)
        many[i] = S("bob");
    tars_str_list l = {.items = many, .n = OMTP_DOM_USERINFO_BATCH + 1};
    omtp_dom_caller who = as("alice");
    got h = {0};
    omtp_dom_userinfo_get(&f->srv, &who, &l, on_done, &h);
    assert_true(h.done); /* refused before the store */
    assert_int_equal(h.res.code, OMTP_EC_PARAM);
}

static void test_only_users(void **st)
{
    dom_fixture *f = *st;
    omtp_dom_caller api = {.role = OMTP_DOM_API};
    got g = {0};
    omtp_dom_attr_get(&f->srv, &api, NULL, on_done, &g);
    assert_true(g.done);
    assert_string_equal(g.res.reason, "no_privilege");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_users, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
