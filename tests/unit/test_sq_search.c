/*
 * test_sq_search.c - the SQLite search index since schema 10 (migration
 * 9 -> 10, docs/storage.md "Search index"): the indexed text is capped at
 * SQ_SEARCH_CAP_BYTES bytes on a character boundary, the FTS5 index is
 * detail=none with an exact re-check of every candidate, and a store of
 * schema 9 is rebuilt on upgrade. After every change the contentless index
 * must hold exactly what the stored messages say (index_exact): a 'delete'
 * with other text than was indexed would leave wrong entries behind.
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

#include "proto/omtp_proto.h"
#include "store/store.h"
#include "store/sqlite/sq.h"
#include "store/sqlite/sq_stmts.h"

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
    snprintf(f->dir, sizeof(f->dir), "/tmp/omtp-sqs-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/d/omtp.db", f->dir);
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/d", f->dir);
    mkdir(sub, 0700);
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
    if (omtp_db_open(&f->cfg, &db, why, sizeof(why)))
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
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void exec_ok(sqlite3 *h, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

/* Appends a message a -> b in SC_a_b; returns its seqId. */
static int64_t append(omtp_db *db, const char *pid, const char *content)
{
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = PT_MSG_SINGLE_CHAT;
    tars_str_set(&m.msg.sessionId, "SC_a_b");
    tars_str_set(&m.msg.from, "a");
    tars_str_set(&m.msg.to, "b");
    tars_str_set(&m.msg.content, content);
    tars_str_set(&m.packId, pid);
    bool dup = false;
    if (omtp_db_msg_append(db, &m, &dup))
        fail_msg("append: %s", db->errmsg);
    int64_t seq = m.msg.seqId;
    omtp_msg_rec_free(&m);
    return seq;
}

/* The seqIds user a finds for q, newest first, as "3,1"; "" when none. */
static const char *found(omtp_db *db, const char *q)
{
    static char out[256];
    omtp_msg_rec_list l;
    if (omtp_db_msg_search(db, "a", NULL, q, 0, 20, &l))
        fail_msg("search %s: %s", q, db->errmsg);
    out[0] = '\0';
    for (uint32_t i = 0; i < l.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%lld", i ? "," : "",
                 (long long)l.items[i].msg.seqId);
    omtp_msg_rec_list_free(&l);
    return out;
}

/* The index holds exactly what the stored messages say: FTS5's own
 * integrity check passes, every entry maps to its message and back, and
 * the (trigram, rows) pairs of search_fts equal those of an index built
 * afresh from the messages' capped texts (a contentless 'delete' with the
 * wrong text would leave a difference). Flushes search_pending first. */
static void index_exact(fx *f)
{
    sqlite3 *h = raw(f);
    exec_ok(h, "BEGIN;"
               "INSERT INTO search_fts(rowid, body) SELECT id, body FROM search_pending;"
               "DELETE FROM search_pending; COMMIT;");
    exec_ok(h, "INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 0)");
    assert_int_equal(
        q_int(h, "SELECT count(*) FROM messages m WHERE (m.search_id > 0) <> (" SQ_SEARCH_DOC(
                     "m") " <> '')"),
        0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_rows r LEFT JOIN messages m "
                              "ON m.session_id = r.session_id AND m.seq = r.seq "
                              "WHERE m.search_id IS NOT r.id"),
                     0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_rows"),
                     q_int(h, "SELECT count(*) FROM messages WHERE search_id > 0"));
    exec_ok(h,
            "CREATE VIRTUAL TABLE temp.fresh USING fts5(body, content='', columnsize=0, "
            "detail=none, tokenize='trigram');"
            "INSERT INTO temp.fresh(rowid, body) SELECT m.search_id, " SQ_SEARCH_DOC(
                "m") " FROM messages m WHERE m.search_id > 0;"
                     "CREATE VIRTUAL TABLE temp.v_now USING fts5vocab(main, 'search_fts', 'row');"
                     "CREATE VIRTUAL TABLE temp.v_fresh USING fts5vocab(temp, 'fresh', 'row');");
    assert_true(q_int(h, "SELECT count(*) FROM temp.v_fresh") > 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM (SELECT term, doc FROM temp.v_now EXCEPT "
                              "SELECT term, doc FROM temp.v_fresh)"),
                     0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM (SELECT term, doc FROM temp.v_fresh EXCEPT "
                              "SELECT term, doc FROM temp.v_now)"),
                     0);
    sqlite3_close(h);
}

/* A text longer than the cap is found by what is in its first
 * SQ_SEARCH_CAP_BYTES bytes, not by what comes after; the cut falls on a
 * character boundary (a 3-byte character straddling the cap is left out
 * whole); editing and revoking it later unindexes exactly what was
 * indexed. */
static void test_cap(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    /* 12 bytes, then 3-byte characters across byte 4096, then a tail */
    char *t = malloc(8192);
    strcpy(t, "alpha-start ");
    while (strlen(t) < 4200)
        strcat(t, "中");
    strcat(t, " omega-tail");
    assert_int_equal(append(db, "C1", t), 1);
    assert_int_equal(append(db, "C2", "short omega-tail note"), 2);
    sqlite3 *h = raw(f);
    /* 12 + 1361 * 3 = 4095: the character at bytes 4096-4098 is cut whole */
    assert_int_equal(q_int(h, "SELECT length(CAST(body AS BLOB)) FROM search_pending p "
                              "JOIN messages m ON m.search_id = p.id WHERE m.seq = 1"),
                     4095);
    assert_int_equal(q_int(h, "SELECT length(body) FROM search_pending p "
                              "JOIN messages m ON m.search_id = p.id WHERE m.seq = 1"),
                     12 + 1361);
    sqlite3_close(h);
    assert_string_equal(found(db, "alpha-start"), "1");
    assert_string_equal(found(db, "omega-tail"), "2"); /* not 1: past its cap */
    assert_string_equal(found(db, "中中中中"), "1");
    index_exact(f);
    /* edit (flushed: the 'delete' must carry the capped text), then revoke */
    t[0] = 'A';
    memcpy(t + strlen(t) - 4, "TAIL", 4);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, t), 0);
    assert_string_equal(found(db, "alpha-start"), "1"); /* case-folded, as the tokenizer folds */
    index_exact(f);
    t[1] = 'X';
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, t), 0);
    assert_string_equal(found(db, "alpha-start"), "");
    assert_string_equal(found(db, "axpha-start"), "1");
    index_exact(f);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 1, NULL), 0);
    assert_string_equal(found(db, "中中中"), "");
    index_exact(f);
    free(t);
    omtp_db_close(db);
}

/* A 64 KiB text of random characters (every trigram a new term, the case
 * that took 30-300 ms to index) indexes at most the cap: its entry holds
 * <= SQ_SEARCH_CAP_BYTES bytes and the index gains at most that many
 * terms. */
static void test_cap_high_entropy(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    size_t n = 64 * 1024;
    char *t = malloc(n + 1);
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        t[i] = (char)(33 + (x >> 16) % 94); /* printable ASCII */
    }
    t[n] = '\0';
    assert_int_equal(append(db, "E1", t), 1);
    sqlite3 *h = raw(f);
    assert_int_equal(q_int(h, "SELECT length(CAST(body AS BLOB)) FROM search_pending"),
                     SQ_SEARCH_CAP_BYTES);
    sqlite3_close(h);
    char q[16];
    memcpy(q, t + 100, 8);
    q[8] = '\0';
    assert_string_equal(found(db, q), "1");
    memcpy(q, t + 60000, 8);
    assert_string_equal(found(db, q), "");
    h = raw(f);
    exec_ok(h, "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'search_fts', 'row')");
    assert_true(q_int(h, "SELECT count(*) FROM temp.v") <= SQ_SEARCH_CAP_BYTES);
    sqlite3_close(h);
    index_exact(f);
    free(t);
    omtp_db_close(db);
}

/* The index has no positions (detail=none): a row holding every trigram of
 * the query but not the query itself is a candidate only, never a result;
 * results are still case-folded substring matches, operators are text. */
static void test_exact_results(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    assert_int_equal(append(db, "X1", "abc bcd cde def"), 1); /* all trigrams of abcdef */
    assert_int_equal(append(db, "X2", "xxABCDEFyy"), 2);
    assert_int_equal(append(db, "X3", "defabc"), 3);
    assert_int_equal(append(db, "X4", "say \"abc\" OR def NEAR(x)"), 4);
    assert_string_equal(found(db, "abcdef"), "2");
    assert_string_equal(found(db, "bcde"), "2");
    assert_string_equal(found(db, "fab"), "3");
    assert_string_equal(found(db, "\"abc\" OR"), "4");
    assert_string_equal(found(db, "OR def NEAR"), "4");
    assert_string_equal(found(db, "abc OR def"), "");
    assert_string_equal(found(db, "ab"), ""); /* under 3 characters: nothing */
    index_exact(f);
    omtp_db_close(db);
}

/* A store of schema 9 (the detail=full index, its map with the unique
 * index, uncapped texts) is rebuilt by migration 9 -> 10: its messages are
 * found as before (a long one by its first bytes only), revoked ones are
 * not, and edits, revokes and deletes after the upgrade unindex exactly. */
static void test_migrate_v9(void **state)
{
    fx *f = *state;
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(f->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 9; i++)
        exec_ok(h, sq_migrations[i]);
    exec_ok(h, "CREATE TABLE schema_version (version INTEGER NOT NULL);"
               "INSERT INTO schema_version VALUES (9);"
               "INSERT INTO sessions VALUES ('SC_a_b', 14, 5, 1, 'a', 'b');"
               "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "
               "VALUES ('a', 'SC_a_b', 0, 1, 1), ('b', 'SC_a_b', 0, 1, 1);"
               "INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "
               "push_info, content_type, content, status, ts_ms) VALUES "
               "('SC_a_b', 1, 14, 0, 'P1', 'a', 'b', '', 1, '老消息也能搜到', 0, 1000),"
               "('SC_a_b', 2, 14, 0, 'P2', 'b', 'a', '', 7, "
               "'{\"fileId\":\"f\",\"name\":\"旧的合同.pdf\"}', 0, 1001),"
               "('SC_a_b', 3, 14, 16, 'P3', 'a', 'b', '', 1, '撤回的老消息', 1, 1002),"
               "('SC_a_b', 4, 14, 0, 'P4', 'a', 'b', '', 1, "
               "'head words ' || printf('%.5000c', 'z') || ' tail words', 0, 1003),"
               "('SC_a_b', 5, 14, 0, 'P5', 'a', 'b', '', 1, '要删除的老消息', 0, 1004);"
               /* what schema 9's commit did: the entries into the index */
               "INSERT INTO search_fts(rowid, body) SELECT id, body FROM search_pending;"
               "DELETE FROM search_pending;");
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_rows"), 4);
    sqlite3_close(h);

    omtp_db *db = open_ok(f);
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT version FROM schema_version"), sq_migrations_count);
    assert_int_equal(q_int(h, "SELECT count(*) FROM sqlite_master WHERE name = 'search_rows_msg'"),
                     0);
    sqlite3_close(h);
    index_exact(f);
    assert_string_equal(found(db, "老消息"), "5,1");
    assert_string_equal(found(db, "旧的合同"), "2");
    assert_string_equal(found(db, "head words"), "4");
    assert_string_equal(found(db, "tail words"), ""); /* past the cap */
    /* after the upgrade: edit, revoke, delete, and a hard delete */
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 1, 3, "新的内容"), 0);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 2, 1, NULL), 0);
    assert_int_equal(omtp_db_msg_control(db, "SC_a_b", 5, 2, NULL), 0);
    assert_string_equal(found(db, "老消息"), "");
    assert_string_equal(found(db, "新的内容"), "1");
    assert_string_equal(found(db, "旧的合同"), "");
    index_exact(f);
    h = raw(f);
    exec_ok(h, "DELETE FROM messages WHERE seq = 4");
    sqlite3_close(h);
    assert_string_equal(found(db, "head words"), "");
    /* new messages after the upgrade come after the rebuilt ones */
    assert_int_equal(append(db, "N6", "新的内容 again"), 6);
    assert_string_equal(found(db, "新的内容"), "6,1");
    index_exact(f);
    omtp_db_close(db);
}

/* Entries wait in search_pending across commits until enough have
 * gathered (one FTS5 segment per many messages), and a search still sees
 * every stored message (it flushes first). */
static void test_deferred_flush(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    assert_int_equal(omtp_db_begin(db), 0);
    assert_int_equal(append(db, "D1", "waiting entry one"), 1);
    assert_int_equal(omtp_db_commit(db), 0);
    sqlite3 *h = raw(f);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_pending"), 1);
    sqlite3_close(h);
    assert_string_equal(found(db, "entry one"), "1");
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_pending"), 0);
    sqlite3_close(h);
    /* past the threshold a commit flushes by itself */
    assert_int_equal(omtp_db_begin(db), 0);
    char pid[16], txt[32];
    for (int i = 0; i < 2100; i++) {
        snprintf(pid, sizeof(pid), "B%d", i);
        snprintf(txt, sizeof(txt), "bulk message %d", i);
        append(db, pid, txt);
    }
    assert_int_equal(omtp_db_commit(db), 0);
    h = raw(f);
    assert_int_equal(q_int(h, "SELECT count(*) FROM search_pending"), 0);
    sqlite3_close(h);
    index_exact(f);
    omtp_db_close(db);
}

/* A message that moves (`omtpd user rename` renumbers merged sessions:
 * UPDATE messages SET session_id, seq) is still found, under its new key,
 * and the map names it (index_exact). */
static void test_message_moves(void **state)
{
    fx *f = *state;
    omtp_db *db = open_ok(f);
    assert_int_equal(append(db, "M1", "moving message text"), 1);
    assert_int_equal(append(db, "M2", "staying message text"), 2);
    sqlite3 *h = raw(f);
    exec_ok(h, "INSERT INTO sessions VALUES ('SC_a_c', 14, 7, 1, 'a', 'c');"
               "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "
               "VALUES ('a', 'SC_a_c', 0, 1, 1);"
               "UPDATE messages SET session_id = 'SC_a_c', seq = 7 "
               "WHERE session_id = 'SC_a_b' AND seq = 1;"
               /* and one into the key the first one left */
               "UPDATE messages SET seq = 1 WHERE session_id = 'SC_a_b' AND seq = 2;");
    sqlite3_close(h);
    omtp_msg_rec_list l;
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "moving message", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].msg.sessionId.data, "SC_a_c");
    assert_int_equal(l.items[0].msg.seqId, 7);
    omtp_msg_rec_list_free(&l);
    assert_int_equal(omtp_db_msg_search(db, "a", NULL, "staying message", 0, 20, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0].msg.content.data, "staying message text");
    omtp_msg_rec_list_free(&l);
    index_exact(f);
    omtp_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_high_entropy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_moves, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
