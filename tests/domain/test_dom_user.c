/*
 * test_dom_user.c - domain/user.h and domain/token.h from both of their
 * entry points, against real SQLite stores in a temporary directory: the
 * HTTP API's role (OMTP_DOM_API, a real core and loop: hashing on the thread
 * pool, completion on the loop) and the admin CLI's (OMTP_DOM_ADMIN, no
 * loop: the store opened directly, completion before the call returns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dom_fixture.h"
#include "domain/token.h"
#include "domain/user.h"

typedef dom_fixture fixture;

typedef struct got {
    bool done;
    omtp_dom_outcome res;
    char userId[OMTP_ID_MAX + 1];
    char name[64];
    bool passwordLogin;
    int role;
    char token[OMTP_TOKEN_MAX + 1];
    int64_t expiresAt;
} got;

static void on_user(void *arg, const omtp_dom_outcome *res, omtp_dom_user_out *out)
{
    got *g = arg;
    g->done = true;
    g->res = *res;
    snprintf(g->userId, sizeof(g->userId), "%s", out->userId);
    snprintf(g->name, sizeof(g->name), "%s",
             out->user.info.name.data ? out->user.info.name.data : "");
    g->passwordLogin = out->user.pwHash.len > 0 || out->passwordLogin;
    g->role = out->role;
}

static void on_token(void *arg, const omtp_dom_outcome *res, const omtp_dom_token_out *out)
{
    got *g = arg;
    g->done = true;
    g->res = *res;
    snprintf(g->token, sizeof(g->token), "%s", out->token);
    g->expiresAt = out->expiresAt;
}

static void wait_for(fixture *f, got *g)
{
    assert_true(dom_wait(f, &g->done));
}

static int setup(void **st)
{
    *st = dom_start(NULL);
    return *st ? 0 : -1;
}

static int teardown(void **st)
{
    dom_stop(*st);
    return 0;
}

static const omtp_dom_caller api = {.role = OMTP_DOM_API};

/* The API's role: create (hash on the pool), the same rules on get/delete,
 * tokens only for users that exist, within 366 days. */
static void test_api(void **st)
{
    fixture *f = *st;
    omtp_dom_profile p = {.name = "Alice"};
    got g = {0};
    omtp_dom_user_create(&f->srv, &api, "alice", "pw", OMTP_ROLE_USER, &p, on_user, &g);
    wait_for(f, &g);
    assert_int_equal(g.res.code, 0);
    assert_string_equal(g.name, "Alice");
    assert_true(g.passwordLogin);

    memset(&g, 0, sizeof(g));
    omtp_dom_user_create(&f->srv, &api, "alice", "", OMTP_ROLE_USER, NULL, on_user, &g);
    wait_for(f, &g);
    assert_string_equal(g.res.reason, "user_exists");

    memset(&g, 0, sizeof(g));
    omtp_dom_user_create(&f->srv, &api, "a_b", "pw", OMTP_ROLE_USER, NULL, on_user, &g);
    assert_true(g.done); /* refused before any store work */
    assert_string_equal(g.res.reason, "invalid_field");

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&f->srv, &api, "ghost", 60, on_token, &g);
    wait_for(f, &g);
    assert_string_equal(g.res.reason, "unknown_user");

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&f->srv, &api, "alice", -10, on_token, &g);
    wait_for(f, &g);
    assert_string_equal(g.res.reason, "invalid_field"); /* the API: 1..366 days */

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&f->srv, &api, "alice", 0, on_token, &g);
    wait_for(f, &g);
    assert_int_equal(g.res.code, 0);
    assert_int_equal(omtp_auth_token_verify(f->srv.token_secret, g.token, "alice", time(NULL)), 0);
    assert_true(g.expiresAt >= (int64_t)time(NULL) + OMTP_DOM_TOKEN_TTL_DEFAULT - 5);

    memset(&g, 0, sizeof(g));
    omtp_dom_user_delete(&f->srv, &api, "alice", on_user, &g);
    wait_for(f, &g);
    assert_int_equal(g.res.code, 0);
    memset(&g, 0, sizeof(g));
    omtp_dom_user_get(&f->srv, &api, "alice", on_user, &g);
    wait_for(f, &g);
    assert_string_equal(g.res.reason, "unknown_user");

    /* a logged-in user does not manage accounts */
    omtp_dom_caller bob = {.role = OMTP_DOM_USER, .user = "bob"};
    memset(&g, 0, sizeof(g));
    omtp_dom_user_role(&f->srv, &bob, "bob", OMTP_ROLE_MONITOR, on_user, &g);
    assert_string_equal(g.res.reason, "no_privilege");
}

/* The CLI's role: no loop, the store opened directly; the callback runs
 * before the call returns; the same rules, plus expired tokens for tests. */
static void test_cli(void **st)
{
    fixture *f = *st;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/cli", f->dir);
    omtp_store_config sc = {.data_dir = dir};
    char why[256];
    omtp_db *db = NULL;
    assert_int_equal(omtp_db_open(&sc, &db, why, sizeof(why)), 0);
    omtp_dom_caller cli = {.role = OMTP_DOM_ADMIN, .db = db};
    omtp_server stub;
    memset(&stub, 0, sizeof(stub));
    memset(stub.token_secret, 7, sizeof(stub.token_secret));

    got g = {0};
    omtp_dom_profile p = {.name = "carol"};
    omtp_dom_user_create(NULL, &cli, "carol", "pw", OMTP_ROLE_MONITOR, &p, on_user, &g);
    assert_true(g.done);
    assert_int_equal(g.res.code, 0);
    assert_int_equal(g.role, OMTP_ROLE_MONITOR);

    memset(&g, 0, sizeof(g));
    omtp_dom_user_password(NULL, &cli, "ghost", "pw", on_user, &g);
    assert_true(g.done);
    assert_string_equal(g.res.reason, "unknown_user");

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&stub, &cli, "ghost", 60, on_token, &g);
    assert_true(g.done);
    assert_string_equal(g.res.reason, "unknown_user");

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&stub, &cli, "carol", OMTP_DOM_TOKEN_TTL_MAX + 1, on_token, &g);
    assert_string_equal(g.res.reason, "invalid_field");

    memset(&g, 0, sizeof(g));
    omtp_dom_token_issue(&stub, &cli, "carol", -10, on_token, &g); /* expired, for tests */
    assert_int_equal(g.res.code, 0);
    assert_int_equal(omtp_auth_token_verify(stub.token_secret, g.token, "carol", time(NULL)),
                     OMTP_ETIMEDOUT);

    memset(&g, 0, sizeof(g));
    omtp_dom_user_delete(NULL, &cli, "carol", on_user, &g);
    assert_int_equal(g.res.code, 0);
    memset(&g, 0, sizeof(g));
    omtp_dom_user_delete(NULL, &cli, "carol", on_user, &g);
    assert_string_equal(g.res.reason, "unknown_user");
    omtp_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
