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
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/maint.h"
#include "store/store.h"
#include "proto/omtp_proto.h"
#include "store/sqlite/sq.h"
#include "store/sqlite/sq_stmts.h"

/* the backend's schema steps (sq_schema.c) */
extern const char *const sq_migrations[];
extern const int sq_migrations_count;

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
 * (user_list, an admin command, reads the whole table on purpose, and the
 * search flush moves the whole of search_pending: this transaction's
 * entries). */
static void test_query_plans(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    omtp_db_close(db);
    sqlite3 *h = raw(f);
    assert_int_equal(sq_search_register(h), SQLITE_OK); /* the searches call omtp_search_has */
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
            /* an FTS5 MATCH ("VIRTUAL TABLE INDEX n:M...") is an index lookup, not a scan */
            bool fts_match = strstr(detail, "VIRTUAL TABLE INDEX") && strstr(detail, ":M");
            if (strncmp(detail, "SCAN ", 5) == 0 && strcmp(detail, "SCAN CONSTANT ROW") != 0 &&
                strcmp(stmts[i].id, "SQ_USER_LIST") != 0 && !fts_match &&
                strncmp(stmts[i].id, "SQ_SEARCH_FLUSH", 15) != 0)
                fail_msg("%s scans: %s", stmts[i].id, detail);
        }
        sqlite3_finalize(st);
        checked++;
    }
    assert_true(checked > 50);
    sqlite3_close(h);
}

/* Appends a single-chat message from -> to with packId pid; returns its seqId. */
static int64_t append(omtp_db *db, const char *from, const char *to, const char *pid,
                      const char *content, bool *dup)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    char sid[128];
    snprintf(sid, sizeof(sid), "SC_%s_%s", strcmp(from, to) < 0 ? from : to,
             strcmp(from, to) < 0 ? to : from);
    tars_str_set(&m.msg.sessionId, sid);
    tars_str_set(&m.msg.from, from);
    tars_str_set(&m.msg.to, to);
    tars_str_set(&m.msg.content, content);
    tars_str_set(&m.packId, pid);
    int rc = omtp_db_msg_append(db, &m, dup);
    if (rc)
        fail_msg("append: %d %s", rc, db->errmsg);
    int64_t seq = m.msg.seqId;
    if (*dup)
        assert_string_equal(m.msg.content.data, content[0] == 'd' ? "orig" : content);
    omtp_msg_rec_free(&m);
    return seq;
}

/* A version-1 database (rowid messages table) is migrated: messages kept,
 * the table is WITHOUT ROWID, a duplicate of an old message is still one. */
static void test_migrate_v1_messages(void **state)
{
    fx *f = *state;
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    mkdir(sub, 0700);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sq_migrations[0], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                                  "INSERT INTO schema_version VALUES (1);"
                                  "INSERT INTO sessions VALUES ('SC_a_b', 1, 2, 1);"
                                  "INSERT INTO members VALUES ('a', 'SC_a_b', 0, 1, 1), "
                                  "('b', 'SC_a_b', 0, 1, 1);"
                                  "INSERT INTO messages VALUES ('SC_a_b', 1, 1, 0, 'P1', 'a', "
                                  "'b', '', 0, 'orig', 0, 1000), ('SC_a_b', 2, 1, 0, 'P2', 'b', "
                                  "'a', '', 0, 'two', 2, 1001);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);

    omtp_db *db = open_ok(f);
    bool dup = false;
    assert_int_equal(append(db, "a", "b", "P1", "dup", &dup), 1);
    assert_true(dup);
    assert_int_equal(append(db, "a", "b", "P3", "three", &dup), 3);
    assert_false(dup);
    omtp_msg_rec m;
    assert_int_equal(omtp_db_msg_get(db, "SC_a_b", 2, &m), 0);
    assert_string_equal(m.msg.content.data, "two");
    assert_int_equal(m.msg.status, 2);
    omtp_msg_rec_free(&m);
    omtp_db_close(db);

    h = raw(f);
    assert_int_equal(q_int(h, "SELECT version FROM schema_version"), sq_migrations_count);
    assert_int_equal(q_int(h, "SELECT count(*) FROM messages"), 3);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_schema WHERE name = 'messages' "
                              "AND sql LIKE '%WITHOUT ROWID%'"),
                     1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_dedup'"),
                     1);
    /* v3: the dedup index leads with the (time-ordered) packId */
    assert_int_equal(q_int(h, "SELECT count(*) FROM pragma_index_info('messages_dedup') "
                              "WHERE seqno = 0 AND name = 'pack_id'"),
                     1);
    sqlite3_close(h);
}

/* A version-7 database (before the search index) is migrated: its stored
 * messages become searchable -- text by content, media by file name --
 * revoked and deleted ones do not, and later edits move the index. */
static void test_migrate_v7_search(void **state)
{
    fx *f = *state;
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    mkdir(sub, 0700);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 7; i++)
        assert_int_equal(sqlite3_exec(h, sq_migrations[i], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                     "INSERT INTO schema_version VALUES (7);"
                     "INSERT INTO sessions VALUES ('SC_a_b', 14, 4, 1, 'a', 'b');"
                     "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "
                     "VALUES ('a', 'SC_a_b', 0, 1, 1), ('b', 'SC_a_b', 0, 1, 1);"
                     "INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "
                     "push_info, content_type, content, status, ts_ms) VALUES "
                     "('SC_a_b', 1, 14, 0, 'P1', 'a', 'b', '', 1, '老消息也能搜到', 0, 1000),"
                     "('SC_a_b', 2, 14, 0, 'P2', 'b', 'a', '', 7, "
                     "'{\"fileId\":\"f\",\"name\":\"旧的合同.pdf\"}', 0, 1001),"
                     "('SC_a_b', 3, 14, 16, 'P3', 'a', 'b', '', 1, '撤回的老消息', 1, 1002),"
                     "('SC_a_b', 4, 14, 0, 'P4', 'b', 'a', '', 1, '删除的老消息', 2, 1003);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);

    omtp_db *db = open_ok(f);
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "老消息", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].msg.seqId, 1);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "b", NULL, "旧的合同", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].msg.seqId, 2);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, "新的内容"), 0);
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "老消息", 0, 20, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "新的内容", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    omtp_msg_rec_list_free(&l);
    omtp_db_close(db);
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT version FROM schema_version"), sq_migrations_count);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_rows"), 2);
    sqlite3_close(h);
}

/* Search entries wait in search_pending inside a transaction and reach
 * the FTS5 index at COMMIT: an append edited, revoked or deleted in the same
 * transaction as it was stored leaves exactly what it should, and the index
 * passes FTS5's integrity check. */
static void test_search_pending(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    bool dup = false;
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(append(db, "a", "b", "Q1", "first draft text", &dup), 1);
    assert_int_equal(append(db, "a", "b", "Q2", "to be revoked soon", &dup), 2);
    assert_int_equal(append(db, "a", "b", "Q3", "to be deleted soon", &dup), 3);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, "final edited text"), 0);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 2, 1, NULL), 0);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 3, 2, NULL), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "draft", 0, 20, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "soon", 0, 20, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "b", NULL, "edited", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    omtp_msg_rec_list_free(&l);
    /* flushed already: an edit now deletes from the FTS5 index itself */
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, "second edit"), 0);
    assert_int_equal(omtp_db_msg_search(db, "b", NULL, "edited", 0, 20, &l), 0);
    assert_int_equal(l.n, 0);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "b", NULL, "second", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    omtp_msg_rec_list_free(&l);
    omtp_db_close(db);
    sqlite3 *h = raw(f);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_pending"), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_rows"), 1);
    assert_int_equal(sqlite3_exec(h,
                                  "INSERT INTO search_fts(search_fts, rank) "
                                  "VALUES ('integrity-check', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
}

/* A version-4 database (per-user high-priority seqs) is migrated to the
 * shared seq: old entries and cursors stay valid, new entries (personal or
 * group) come above every seq a client may hold, old group members see the
 * new group entries. */
static void test_migrate_v4_hp(void **state)
{
    fx *f = *state;
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    mkdir(sub, 0700);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sqlite3_exec(h, sq_migrations[i], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                     "INSERT INTO schema_version VALUES (4);"
                     "INSERT INTO hp_heads VALUES ('a', 2), ('b', 7);"
                     "INSERT INTO hp_queue VALUES ('a', 1, 17, 32, 'x1', x'00', 1), "
                     "('a', 2, 17, 32, 'x2', x'00', 1), ('b', 7, 17, 32, 'y7', x'00', 1);"
                     "INSERT INTO chat_groups VALUES ('GC_g', 'g', '', 'a', '', 500, 1, 1, 0);"
                     "INSERT INTO sessions VALUES ('GC_g', 15, 0, 1);"
                     "INSERT INTO members VALUES ('a', 'GC_g', 0, 1, 1), ('b', 'GC_g', 0, 1, 1);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);

    omtp_db *db = open_ok(f);
    omtp_OTIMPack p;
    tars_init(&omtp_OTIMPack_desc, &p);
    p.header.type = PT_MSG_GROUP_CHAT;
    tars_str_set(&p.header.packId, "g8");
    int64_t seq = 0;
    assert_int_equal(omtp_db_hp_group_append(db, "GC_g", "b", &p, &seq), 0);
    assert_int_equal(seq, 8); /* above the highest per-user head (b: 7) */
    tars_free(&omtp_OTIMPack_desc, &p);
    omtp_hp_rec_list l;
    int64_t last = 0;
    /* a's old cursor (2) gets exactly the new group entry */
    assert_int_equal(omtp_db_hp_list(db, "a", 2, 100, &l, &last), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].pack.header.packId.data, "g8");
    assert_int_equal(last, 8);
    omtp_hp_rec_list_free(&l);
    assert_int_equal(omtp_db_hp_list(db, "a", 0, 100, &l, &last), 0);
    assert_int_equal(l.n, 3);
    omtp_hp_rec_list_free(&l);
    /* b sent it: its view is unchanged, its old cursor is at the head */
    assert_int_equal(omtp_db_hp_list(db, "b", 7, 100, &l, &last), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(last, 8);
    omtp_hp_rec_list_free(&l);
    omtp_db_close(db);
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT count(*) FROM hp_heads"), 1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM hp_group"), 1);
    sqlite3_close(h);
}

/* A version-5 database gets its sessions' parties (v6) from each session's
 * first message: a single chat's two users in byte order, a business
 * session's app and user, none for a group; afterwards a message of other
 * users into a filled session is refused. */
static void test_migrate_v5_parties(void **state)
{
    fx *f = *state;
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    mkdir(sub, 0700);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sqlite3_exec(h, sq_migrations[i], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h,
                     "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                     "INSERT INTO schema_version VALUES (5);"
                     "INSERT INTO sessions VALUES ('SC_a_b', 14, 2, 1), "
                     "('BM_crm_a', 16, 1, 1), ('GC_g', 15, 1, 1), ('SC_c_d', 14, 0, 1);"
                     "INSERT INTO messages VALUES "
                     "('SC_a_b', 1, 14, 0, 'P1', 'b', 'a', '', 0, 'one', 0, 1000), "
                     "('SC_a_b', 2, 14, 0, 'P2', 'a', 'b', '', 0, 'two', 0, 1001), "
                     "('BM_crm_a', 1, 16, 0, 'P3', 'crm', 'a', '', 0, 'n', 0, 1002), "
                     "('GC_g', 1, 15, 0, 'P4', 'a', 'GC_g', '', 0, 'g', 0, 1003);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);

    omtp_db *db = open_ok(f);
    omtp_db_close(db);
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT version FROM schema_version"), sq_migrations_count);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sessions WHERE session_id = 'SC_a_b' AND "
                              "party_a = 'a' AND party_b = 'b'"),
                     1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sessions WHERE session_id = 'BM_crm_a' AND "
                              "party_a = 'crm' AND party_b = 'a'"),
                     1);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sessions WHERE party_a = '' AND party_b = '' "
                              "AND session_id IN ('GC_g', 'SC_c_d')"),
                     2);
    sqlite3_close(h);
    db = open_ok(f);
    bool dup = false;
    assert_int_equal(append(db, "b", "a", "P5", "three", &dup), 3);
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.packId, "P6");
    tars_str_set(&m.msg.sessionId, "SC_a_b");
    tars_str_set(&m.msg.from, "c");
    tars_str_set(&m.msg.to, "a");
    tars_str_set(&m.msg.content, "not mine");
    assert_int_equal(omtp_db_msg_append(db, &m, &dup), OMTP_EINVAL);
    omtp_msg_rec_free(&m);
    omtp_db_close(db);
}

/* The start-up id check (store/maint.c) reads the partial index of bad ids,
 * not the users table: a clean store costs nothing however many users. */
static void test_bad_ids_plan(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    omtp_db_close(db);
    sqlite3 *h = raw(f);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(h,
                           "EXPLAIN QUERY PLAN SELECT user_id FROM users WHERE " SQ_BAD_ID_PRED(
                               "user_id") " ORDER BY user_id LIMIT 20",
                           -1, &st, NULL),
        SQLITE_OK);
    bool uses = false;
    while (sqlite3_step(st) == SQLITE_ROW)
        uses = uses || strstr((const char *)sqlite3_column_text(st, 3), "users_bad_ids");
    sqlite3_finalize(st);
    assert_true(uses);
    assert_int_equal(sqlite3_exec(h,
                                  "INSERT INTO users(user_id, created_ms, updated_ms) VALUES "
                                  "('ok.id', 1, 1), ('bad_id', 1, 1), ('caf\xc3\xa9', 1, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    db = open_ok(f);
    tars_str_list bad;
    assert_int_equal(omtp_store_bad_ids(db, &bad, 20), 0);
    assert_int_equal(bad.n, 2);
    assert_string_equal(bad.items[0].data, "bad_id");
    assert_string_equal(bad.items[1].data, "caf\xc3\xa9");
    omtp_str_list_free(&bad);
    omtp_db_close(db);
}

/* The server lock (flock on <database>-omtpd.lock): servers share it, user
 * rename cannot take it beside one, and a server cannot start while rename
 * holds it; closing releases it at once. */
static void test_server_lock(void **state)
{
    fx *f = *state;
    omtp_db *s1 = open_ok(f), *s2 = open_ok(f), *admin = open_ok(f);
    assert_int_equal(omtp_db_server_lock(s1, false), 0);
    assert_int_equal(omtp_db_server_lock(s2, false), 0);
    assert_int_equal(omtp_db_server_lock(admin, true), OMTP_EBUSY);
    assert_non_null(strstr(admin->errmsg, "running omtpd"));
    omtp_db_close(s1);
    assert_int_equal(omtp_db_server_lock(admin, true), OMTP_EBUSY);
    omtp_db_close(s2);
    assert_int_equal(omtp_db_server_lock(admin, true), 0);
    omtp_db *s3 = open_ok(f);
    assert_int_equal(omtp_db_server_lock(s3, false), OMTP_EBUSY);
    assert_non_null(strstr(s3->errmsg, "admin command"));
    omtp_db_close(admin);
    assert_int_equal(omtp_db_server_lock(s3, false), 0);
    omtp_db_close(s3);
}

/* A duplicate is detected across a restart, and gives nothing back (no seqId
 * is used up by the refused insert). */
static void test_dedup_after_restart(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    bool dup;
    assert_int_equal(append(db, "a", "b", "K1", "orig", &dup), 1);
    omtp_db_close(db);
    db = open_ok(f);
    assert_int_equal(append(db, "a", "b", "K1", "dup", &dup), 1);
    assert_true(dup);
    assert_int_equal(append(db, "a", "b", "K2", "next", &dup), 2);
    assert_false(dup);
    omtp_db_close(db);
}

/* The in-memory set of membership rows known to exist never hides a missing
 * row: after a rolled-back append, and after another connection deleted it. */
static void test_member_memo(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    bool dup, member;
    /* a batch whose item is rolled back: its rows are gone, the memo too */
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(omtp_db_savepoint(db), 0);
    append(db, "a", "b", "", "x", &dup);
    assert_int_equal(omtp_db_session_member(db, "a", "SC_a_b", &member), 0);
    assert_true(member);
    assert_int_equal(omtp_db_rollback_to(db), 0);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_int_equal(omtp_db_session_member(db, "a", "SC_a_b", &member), 0);
    assert_false(member);
    assert_int_equal(append(db, "a", "b", "", "y", &dup), 1);
    assert_int_equal(omtp_db_session_member(db, "b", "SC_a_b", &member), 0);
    assert_true(member);

    /* a whole batch rolled back */
    assert_int_equal(omtp_db_begin(db), 0);
    append(db, "c", "d", "", "x", &dup);
    assert_int_equal(omtp_db_rollback(db), 0);
    append(db, "c", "d", "", "y", &dup);
    assert_int_equal(omtp_db_session_member(db, "d", "SC_c_d", &member), 0);
    assert_true(member);

    /* another connection removes a row (an admin tool): the next batch sees it */
    sqlite3 *h = raw(f);
    assert_int_equal(sqlite3_exec(h, "DELETE FROM members WHERE user_id = 'b'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(omtp_db_begin(db), 0);
    append(db, "a", "b", "", "z", &dup);
    assert_int_equal(omtp_db_commit(db), 0);
    assert_int_equal(omtp_db_session_member(db, "b", "SC_a_b", &member), 0);
    assert_true(member);
    omtp_db_close(db);
}

/* Checkpoints happen off the writer: after enough commits the pages reach
 * the database file while the connection is open (SQLite's own automatic
 * checkpoint is off), and close leaves no WAL behind. */
static void test_checkpointer(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    off_t before = sb.st_size;
    char content[600];
    memset(content, 'x', sizeof(content) - 1);
    content[sizeof(content) - 1] = 0;
    bool dup;
    for (int b = 0; b < 40; b++) {
        assert_int_equal(omtp_db_begin(db), 0);
        for (int i = 0; i < 100; i++) {
            char pid[32];
            snprintf(pid, sizeof(pid), "p%05d", b * 100 + i);
            append(db, "a", "b", pid, content, &dup);
        }
        assert_int_equal(omtp_db_commit(db), 0);
    }
    /* ~2.4 MB of messages: the checkpointer copies them within its idle period */
    off_t after = before;
    for (int i = 0; i < 100 && after < before + 1000000; i++) {
        usleep(50000);
        assert_int_equal(stat(f->path, &sb), 0);
        after = sb.st_size;
    }
    assert_true(after >= before + 1000000);
    omtp_db_close(db);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_not_equal(stat(wal, &sb), 0);
}

/* Deferred sync (sq_sync.c): the executor's connection drops to NORMAL and
 * sq_sync fsyncs the database's own WAL; any other connection (admin
 * commands) keeps FULL; a NORMAL configuration has nothing to defer. */
static void test_deferred_sync(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    sq_db *d = SQ(db);
    assert_int_equal(q_int(d->h, "PRAGMA synchronous"), 2);
    assert_int_equal(db->ops->defer_sync(db), 1);
    assert_int_equal(q_int(d->h, "PRAGMA synchronous"), 1);
    bool dup;
    append(db, "a", "b", "S1", "x", &dup);
    assert_int_equal(db->ops->sync(db), 0);
    assert_true(d->wal_fd >= 0);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    struct stat a, b;
    assert_int_equal(fstat(d->wal_fd, &a), 0);
    assert_int_equal(stat(wal, &b), 0);
    assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* the database's WAL */
    assert_int_equal(db->ops->sync(db), 0);                    /* again: same descriptor */

    omtp_db *admin = open_ok(f);
    assert_int_equal(q_int(SQ(admin)->h, "PRAGMA synchronous"), 2);
    omtp_db_close(admin);
    omtp_db_close(db);

    f->cfg.synchronous = 1;
    db = open_ok(f);
    assert_int_equal(db->ops->defer_sync(db), 0);
    assert_int_equal(q_int(SQ(db)->h, "PRAGMA synchronous"), 1);
    omtp_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_wal_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v4_hp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v5_parties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v7_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_memo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
