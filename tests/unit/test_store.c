/*
 * test_store.c - the storage contract of store.h, backend-agnostic.
 *
 * omtp_store_suite() runs every test against the backend a config selects:
 * SQLite in a fresh temporary directory always, and PostgreSQL as well when
 * OMTP_TEST_PG_URI is set. Tests never assume an empty database: each test
 * makes its ids unique with a per-test prefix, so the suite can run against
 * a shared server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/omtp_proto.h"
#include "store/store.h"

static omtp_store_config g_cfg;
static unsigned g_serial;
static char g_run[24];

typedef struct fx {
    omtp_db *db;
    char p[48]; /* unique prefix of this test's ids */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    char why[256];
    if (omtp_db_open(&g_cfg, &f->db, why, sizeof(why)) != 0) {
        fprintf(stderr, "open: %s\n", why);
        free(f);
        return -1;
    }
    snprintf(f->p, sizeof(f->p), "%s%u", g_run, ++g_serial);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    omtp_db_close(f->db);
    free(f);
    return 0;
}

/* An id unique to the test: "<prefix>_<name>"; rotating static buffers. */
static const char *id(fx *f, const char *name)
{
    static char bufs[16][OMTP_ID_MAX];
    static int k;
    char *b = bufs[k++ % 16];
    snprintf(b, OMTP_ID_MAX, "%s_%s", f->p, name);
    return b;
}

static void strs_set(tars_str_list *l, int n, const char *const *v)
{
    l->items = calloc((size_t)n + 1, sizeof(tars_str));
    l->n = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        tars_str_clear(&l->items[i]);
        assert_int_equal(tars_str_set(&l->items[i], v[i]), 0);
    }
}

__attribute__((unused)) static bool strs_has(const tars_str_list *l, const char *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (tars_str_eq(&l->items[i], s))
            return true;
    return false;
}

/* ---------------------------------------------------------- meta, users */

static void test_meta(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    tars_str v;
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), OMTP_ENOTFOUND);
    assert_int_equal(v.len, 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "k"), "one"), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), 0);
    assert_string_equal(v.data, "one");
    tars_str_clear(&v);
    assert_int_equal(omtp_db_meta_set(db, id(f, "k"), "two"), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "k"), &v), 0);
    assert_string_equal(v.data, "two");
    assert_int_equal(v.len, 3);
    tars_str_clear(&v);
}

static void mk_user(fx *f, const char *name, const char *pw)
{
    omtp_user_rec u;
    omtp_user_rec_init(&u);
    tars_str_set(&u.userId, id(f, name));
    tars_str_set(&u.pwHash, pw);
    tars_str_set(&u.info.name, name);
    assert_int_equal(omtp_db_user_create(f->db, &u), 0);
    omtp_user_rec_free(&u);
}

static void test_users(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    omtp_user_rec u, got;
    omtp_user_rec_init(&u);
    omtp_user_rec_init(&got);
    tars_str_set(&u.userId, id(f, "alice"));
    tars_str_set(&u.pwHash, "$kdf$alice");
    tars_str_set(&u.info.name, "Alice");
    tars_str_set(&u.info.avator, "http://a/x.png");
    tars_str_set(&u.info.mobile, "123");
    u.info.birthday = 19900101;
    assert_int_equal(omtp_db_user_create(db, &u), 0);
    assert_int_equal(omtp_db_user_create(db, &u), OMTP_EEXIST);

    assert_int_equal(omtp_db_user_get(db, id(f, "nobody"), &got), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "alice"), &got), 0);
    assert_string_equal(got.userId.data, id(f, "alice"));
    assert_string_equal(got.info.userId.data, id(f, "alice"));
    assert_string_equal(got.pwHash.data, "$kdf$alice");
    assert_int_equal(got.role, OMTP_ROLE_USER);
    assert_string_equal(got.info.name.data, "Alice");
    assert_string_equal(got.info.avator.data, "http://a/x.png");
    assert_string_equal(got.info.mobile.data, "123");
    assert_int_equal(got.info.birthday, 19900101);
    assert_true(got.createdMs > 1600000000000LL);
    omtp_user_rec_free(&got);

    assert_int_equal(omtp_db_user_set_password(db, id(f, "alice"), "$kdf$new"), 0);
    assert_int_equal(omtp_db_user_set_password(db, id(f, "nobody"), "x"), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_set_role(db, id(f, "alice"), OMTP_ROLE_MONITOR), 0);
    assert_int_equal(omtp_db_user_set_role(db, id(f, "nobody"), 1), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "alice"), &got), 0);
    assert_string_equal(got.pwHash.data, "$kdf$new");
    assert_int_equal(got.role, OMTP_ROLE_MONITOR);
    omtp_user_rec_free(&got);

    mk_user(f, "bob", "");
    omtp_user_rec_list l = {0};
    assert_int_equal(omtp_db_user_list(db, &l), 0);
    int seen = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        if (tars_str_eq(&l.items[i].userId, id(f, "alice")) ||
            tars_str_eq(&l.items[i].userId, id(f, "bob")))
            seen++;
        if (i)
            assert_true(strcmp(l.items[i - 1].userId.data, l.items[i].userId.data) < 0);
    }
    assert_int_equal(seen, 2);
    omtp_user_rec_list_free(&l);

    assert_int_equal(omtp_db_user_delete(db, id(f, "bob")), 0);
    assert_int_equal(omtp_db_user_delete(db, id(f, "bob")), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_user_get(db, id(f, "bob"), &got), OMTP_ENOTFOUND);
    omtp_user_rec_free(&u);
}

static void test_user_info(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    mk_user(f, "a", "");
    mk_user(f, "b", "");
    omtp_UserInfo info;
    tars_init(&omtp_UserInfo_desc, &info);
    tars_str_set(&info.userId, id(f, "b"));
    tars_str_set(&info.name, "Bee");
    tars_str_set(&info.avator, "av");
    tars_str_set(&info.mobile, "555");
    info.birthday = 7;
    assert_int_equal(omtp_db_user_info_update(db, &info), 0);
    tars_str_set(&info.userId, id(f, "ghost"));
    assert_int_equal(omtp_db_user_info_update(db, &info), OMTP_ENOTFOUND);
    tars_free(&omtp_UserInfo_desc, &info);

    const char *ids[] = {id(f, "b"), id(f, "ghost"), id(f, "a")};
    tars_str_list want = {0};
    strs_set(&want, 3, ids);
    omtp_UserInfo_list out = {0};
    assert_int_equal(omtp_db_user_info_get(db, &want, &out), 0);
    assert_int_equal(out.n, 2); /* unknown ids are left out, order kept */
    assert_string_equal(out.items[0].userId.data, id(f, "b"));
    assert_string_equal(out.items[0].name.data, "Bee");
    assert_string_equal(out.items[0].avator.data, "av");
    assert_string_equal(out.items[0].mobile.data, "555");
    assert_int_equal(out.items[0].birthday, 7);
    assert_string_equal(out.items[1].userId.data, id(f, "a"));
    assert_string_equal(out.items[1].name.data, "a");
    omtp_list_free(&omtp_UserInfo_desc, &out);
    omtp_str_list_free(&want);
}

/* Transactions: a rolled-back savepoint undoes only its own writes. */
static void test_transactions(void **state)
{
    fx *f = *state;
    omtp_db *db = f->db;
    tars_str v;
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "keep"), "1"), 0);
    assert_int_equal(omtp_db_release(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "drop"), "1"), 0);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "keep"), &v), 0);
    tars_str_clear(&v);
    assert_int_equal(omtp_db_meta_get(db, id(f, "drop"), &v), OMTP_ENOTFOUND);
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_meta_set(db, id(f, "gone"), "1"), 0);
    assert_int_equal(omtp_db_rollback(db), 0);
    assert_int_equal(omtp_db_meta_get(db, id(f, "gone"), &v), OMTP_ENOTFOUND);
    tars_str_clear(&v);
}

/* ------------------------------------------------------------- the suite */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int omtp_store_suite(const char *name, const omtp_store_config *cfg)
{
    const struct CMUnitTest tests[] = {
        T(test_meta),
        T(test_users),
        T(test_user_info),
        T(test_transactions),
    };
    g_cfg = *cfg;
    return _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}

int main(void)
{
    snprintf(g_run, sizeof(g_run), "t%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
    char dir[] = "/tmp/omtp-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/data/nested", dir); /* created by open */
    omtp_store_config cfg = {.data_dir = sub, .synchronous = 1};
    int fails = omtp_store_suite("store_sqlite", &cfg);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fails++;
    const char *pg = getenv("OMTP_TEST_PG_URI");
    if (pg && pg[0]) {
        omtp_store_config pcfg = {.uri = pg};
        fails += omtp_store_suite("store_postgresql", &pcfg);
    }
    return fails ? 1 : 0;
}
