/*
 * test_store_sqlite.c - what only the SQLite backend has: the file layout,
 * pragmas, schema migrations, and a query plan for every statement (each
 * must be a key lookup or an index range, never a table scan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/sqlite/sq_stmts.h"

typedef struct fx {
    char dir[64];
    char path[128];
    omtp_store_config cfg;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/omtp-sq-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/d/omtp.db", f->dir);
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    f->cfg.data_dir = strdup(sub);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free((char *)f->cfg.data_dir);
    free(f);
    return 0;
}

static omtp_db *open_ok(fx *f)
{
    omtp_db *db = NULL;
    char why[256] = "";
    int rc = omtp_db_open(&f->cfg, &db, why, sizeof(why));
    if (rc)
        fail_msg("open: %s", why);
    return db;
}

static sqlite3 *raw(fx *f)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return h;
}

static int64_t q_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_file_wal_and_version(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f); /* creates the missing directory */
    assert_string_equal(db->ops->backend, "sqlite");
    assert_int_equal(omtp_db_meta_set(db, "k", "v"), 0);
    omtp_db_close(db);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    sqlite3 *h = raw(f);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    int64_t v = q_int(h, "SELECT version FROM schema_version");
    assert_true(v >= 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM schema_version"), 1);
    sqlite3_close(h);

    /* reopening keeps data and does not migrate again */
    db = open_ok(f);
    tars_str out;
    assert_int_equal(omtp_db_meta_get(db, "k", &out), 0);
    assert_string_equal(out.data, "v");
    tars_str_clear(&out);
    omtp_db_close(db);

    /* a database from a newer omtpd is refused with a clear reason */
    h = raw(f);
    assert_int_equal(sqlite3_exec(h, "UPDATE schema_version SET version = 999", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    char why[256] = "";
    assert_int_equal(omtp_db_open(&f->cfg, &db, why, sizeof(why)), OMTP_EDB);
    assert_null(db);
    assert_non_null(strstr(why, "newer"));
}

static void test_sqlite_uri(void **state)
{
    fx *f = *state;
    char uri[160];
    snprintf(uri, sizeof(uri), "sqlite:%s/other.db", f->dir);
    omtp_store_config cfg = {.uri = uri};
    omtp_db *db = NULL;
    char why[256] = "";
    assert_int_equal(omtp_db_open(&cfg, &db, why, sizeof(why)), 0);
    omtp_db_close(db);
    char p[160];
    snprintf(p, sizeof(p), "%s/other.db", f->dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
}

static void test_unwritable_dir(void **state)
{
    (void)state;
    omtp_store_config cfg = {.data_dir = "/proc/omtp-cannot-exist"};
    omtp_db *db = NULL;
    char why[256] = "";
    assert_int_not_equal(omtp_db_open(&cfg, &db, why, sizeof(why)), 0);
    assert_null(db);
    assert_non_null(strstr(why, "/proc/omtp-cannot-exist"));
}

/* Every statement the backend prepares is planned without a table scan
 * (user_list, an admin command, reads the whole table on purpose). */
static void test_query_plans(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    omtp_db_close(db);
    sqlite3 *h = raw(f);
#define SQL_ITEM(id, sql) {#id, sql},
    static const struct {
        const char *id, *sql;
    } stmts[] = {SQ_STMTS(SQL_ITEM)};
#undef SQL_ITEM
    int checked = 0;
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        const char *sql = stmts[i].sql;
        if (strncmp(sql, "BEGIN", 5) == 0 || strncmp(sql, "COMMIT", 6) == 0 ||
            strncmp(sql, "ROLLBACK", 8) == 0 || strncmp(sql, "SAVEPOINT", 9) == 0 ||
            strncmp(sql, "RELEASE", 7) == 0)
            continue;
        char q[2048];
        snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, q, -1, &st, NULL) != SQLITE_OK)
            fail_msg("%s: %s", stmts[i].id, sqlite3_errmsg(h));
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            if (strncmp(detail, "SCAN ", 5) == 0 && strcmp(detail, "SCAN CONSTANT ROW") != 0 &&
                strcmp(stmts[i].id, "SQ_USER_LIST") != 0)
                fail_msg("%s scans: %s", stmts[i].id, detail);
        }
        sqlite3_finalize(st);
        checked++;
    }
    assert_true(checked > 50);
    sqlite3_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_wal_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
