/*
 * sq_open.c - the SQLite backend: opening, pragmas, migrations, the statement
 * cache, transactions, and the helpers the sq_*.c operation files share.
 *
 * Durability: WAL journal, synchronous FULL by default (the WAL is fsynced
 * after every commit before it is reported durable, so an acked message
 * survives a power cut; under the executor that fsync runs on its own thread,
 * sq_sync.c); NORMAL fsyncs only at checkpoints (a crash of the OS may lose
 * the last transactions, a crash of omtpd never does). Group commit
 * (store_thread.c) amortises the fsync; checkpoints run on their own thread
 * and connection (sq_ckpt.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "sq.h"

/* ------------------------------------------------------------- helpers */

int sq_fail(sq_db *d, const char *what)
{
    snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s: %s", what,
             d->h ? sqlite3_errmsg(d->h) : "no connection");
    return OMTP_EDB;
}

sqlite3_stmt *sq_stmt(sq_db *d, int id)
{
#define SQ_STMT_SQL(sid, sql) sql,
    static const char *const sqls[] = {SQ_STMTS(SQ_STMT_SQL)};
#undef SQ_STMT_SQL
    sqlite3_stmt *st = d->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(d->h, sqls[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            sq_fail(d, sqls[id]);
            return NULL;
        }
        d->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int sq_has_row(sq_db *d, int id, const char *p1, const char *p2, bool *yes, const char *what)
{
    *yes = false;
    sqlite3_stmt *st = sq_stmt(d, id);
    if (!st)
        return OMTP_EDB;
    sq_bind_str(st, 1, p1);
    if (p2)
        sq_bind_str(st, 2, p2);
    int rc = sqlite3_step(st);
    *yes = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(d, what);
}

int sq_run(sq_db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s: %s", what, sqlite3_errmsg(d->h));
        return OMTP_EEXIST;
    }
    return sq_fail(d, what);
}

int sq_exec(sq_db *d, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &err) != SQLITE_OK) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s", err ? err : "exec failed");
        sqlite3_free(err);
        return OMTP_EDB;
    }
    return 0;
}

static int run_id(sq_db *d, int id, const char *what)
{
    sqlite3_stmt *st = sq_stmt(d, id);
    return st ? sq_run(d, st, what) : OMTP_EDB;
}

int sq_op_begin(sq_db *d)
{
    return run_id(d, SQ_OP_SAVEPOINT, "savepoint");
}

int sq_op_end(sq_db *d, int rc)
{
    if (rc == 0) {
        rc = run_id(d, SQ_OP_RELEASE, "release");
        if (rc == 0)
            return 0;
        rc = OMTP_EDB;
    }
    sq_memo_clear(d);
    run_id(d, SQ_OP_ROLLBACK_TO, "rollback to");
    run_id(d, SQ_OP_RELEASE, "release");
    return rc;
}

int64_t sq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sq_now_us(sq_db *d)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (us <= d->last_us)
        us = d->last_us + 1;
    d->last_us = us;
    return us;
}

void sq_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

void sq_bind_tstr(sqlite3_stmt *st, int i, const tars_str *s)
{
    sqlite3_bind_text(st, i, s->data ? s->data : "", (int)s->len, SQLITE_STATIC);
}

int sq_col_str(sqlite3_stmt *st, int col, tars_str *out)
{
    const unsigned char *p = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    return tars_str_setn(out, p ? (const char *)p : "", p ? (size_t)n : 0) == TARS_OK ? 0
                                                                                      : OMTP_ENOMEM;
}

void *sq_list_grow(void *list, size_t es)
{
    tars_list *l = list;
    if (l->n == UINT32_MAX)
        return NULL;
    /* grow by doubling: capacity is the next power of two >= n+1 */
    uint32_t n = l->n;
    bool pow2 = n == 0 || (n & (n - 1)) == 0;
    if (pow2) {
        size_t cap = n ? (size_t)n * 2 : 4;
        void *p = realloc(l->items, cap * es);
        if (!p)
            return NULL;
        l->items = p;
    }
    void *e = (char *)l->items + (size_t)n * es;
    memset(e, 0, es);
    l->n = n + 1;
    return e;
}

int sq_col_str_append(sqlite3_stmt *st, int col, tars_str_list *l)
{
    tars_str *s = sq_list_grow(l, sizeof(tars_str));
    if (!s)
        return OMTP_ENOMEM;
    tars_str_clear(s);
    if (sq_col_str(st, col, s) != 0) {
        l->n--;
        return OMTP_ENOMEM;
    }
    return 0;
}

int sq_row_msg(sqlite3_stmt *st, int c, omtp_msg_rec *m)
{
    omtp_msg_rec_init(m);
    m->type = sqlite3_column_int(st, c + 0);
    m->flags = sqlite3_column_int64(st, c + 1);
    m->msg.seqId = sqlite3_column_int64(st, c + 4);
    m->msg.timestamp = sqlite3_column_int64(st, c + 5);
    m->msg.contentType = sqlite3_column_int(st, c + 9);
    m->msg.status = sqlite3_column_int(st, c + 11);
    m->msg.replyTo = sqlite3_column_int64(st, c + 12);
    if (sq_col_str(st, c + 2, &m->packId) || sq_col_str(st, c + 3, &m->msg.sessionId) ||
        sq_col_str(st, c + 6, &m->msg.from) || sq_col_str(st, c + 7, &m->msg.to) ||
        sq_col_str(st, c + 8, &m->msg.pushInfo) || sq_col_str(st, c + 10, &m->msg.content) ||
        omtp_mentions_split((const char *)sqlite3_column_text(st, c + 13),
                            (size_t)sqlite3_column_bytes(st, c + 13), &m->msg.mentions)) {
        omtp_msg_rec_free(m);
        return OMTP_ENOMEM;
    }
    return 0;
}

/* -------------------------------------------------------- transactions */

int sq_begin(omtp_db *db)
{
    sq_db *d = SQ(db);
    sq_ckpt_before_begin(d);
    int rc = run_id(d, SQ_BEGIN, "begin");
    if (rc)
        return rc;
    /* another connection (an admin command) committed: forget what we knew */
    sqlite3_stmt *st = sq_stmt(d, SQ_DATA_VERSION);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (v != d->data_version)
            sq_memo_clear(d);
        d->data_version = v;
    } else {
        sq_memo_clear(d);
    }
    if (st)
        sqlite3_reset(st);
    return 0;
}

int sq_commit(omtp_db *db)
{
    /* the waiting search entries go into the index once there are enough */
    int rc = sq_search_commit(SQ(db));
    return rc ? rc : run_id(SQ(db), SQ_COMMIT, "commit");
}

int sq_rollback(omtp_db *db)
{
    sq_db *d = SQ(db);
    sq_memo_clear(d);
    if (sqlite3_get_autocommit(d->h))
        return 0; /* nothing open (SQLite may already have rolled back) */
    return run_id(d, SQ_ROLLBACK, "rollback");
}

/* Only inside begin(): if the transaction is gone (a work item rolled it
 * back, or SQLite aborted it after an I/O error), a SAVEPOINT would silently
 * start and later commit a new one; refuse instead so the batch fails. */
int sq_savepoint(omtp_db *db)
{
    sq_db *d = SQ(db);
    if (sqlite3_get_autocommit(d->h)) {
        snprintf(db->errmsg, sizeof(db->errmsg), "savepoint: no transaction is open");
        return OMTP_EDB;
    }
    return run_id(d, SQ_SAVEPOINT, "savepoint");
}

int sq_release(omtp_db *db)
{
    return run_id(SQ(db), SQ_RELEASE, "release");
}

/* Rolls back to the item savepoint AND releases it (the savepoint is gone
 * afterwards, as after sq_release). */
int sq_rollback_to(omtp_db *db)
{
    sq_db *d = SQ(db);
    sq_memo_clear(d);
    int rc = run_id(d, SQ_ROLLBACK_TO, "rollback to");
    int rc2 = run_id(d, SQ_RELEASE, "release");
    return rc ? rc : rc2;
}

/* -------------------------------------------------------------- opening */

static void sq_close(omtp_db *db)
{
    sq_db *d = SQ(db);
    if (!d)
        return;
    if (d->h && d->last_us > 0 && sqlite3_get_autocommit(d->h)) {
        char sql[96];
        snprintf(sql, sizeof(sql), "REPLACE INTO meta(key, value) VALUES ('store.last_us', '%lld')",
                 (long long)d->last_us);
        sq_exec(d, sql);
        sq_exec(d, "PRAGMA optimize"); /* refreshes planner statistics where useful */
    }
    sq_ckpt_stop(d);
    sq_memo_free(d);
    for (int i = 0; i < SQ_NSTMTS; i++)
        sqlite3_finalize(d->stmts[i]);
    for (int i = 0; i < 8; i++)
        sqlite3_finalize(d->attr_get[i]);
    if (d->h)
        sqlite3_close_v2(d->h);
    sq_sync_close(d);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d->path);
    free(d);
}

/* omtp_db_ops.interrupt: sqlite3_interrupt may be called from any thread
 * while the connection is open (the executor's close past its deadline). */
static void sq_interrupt(omtp_db *db)
{
    sqlite3_interrupt(SQ(db)->h);
}

#define SQ_OP_PTR(name, params, args) .name = sq_##name,
const omtp_db_ops sq_ops = {.backend = "sqlite",
                            .close = sq_close,
                            .defer_sync = sq_defer_sync,
                            .sync = sq_sync,
                            .disk_full = sq_disk_full,
                            .interrupt = sq_interrupt,
                            OMTP_DB_OPS(SQ_OP_PTR)};
#undef SQ_OP_PTR

/* mkdir -p with mode 0700 for the directories it creates */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int query_int(sq_db *d, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(d, sql);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sq_fail(d, sql);
}

/* A long schema step (one statement can rebuild the search index of a
 * million messages) says every 10 s that it is still at work, so the
 * operator of a big store sees progress instead of silence. SQLite calls
 * this every 1,000,000 virtual machine steps of the running statement. */
typedef struct mig_progress {
    int step;        /* the migration running: step -> step + 1 */
    time_t t0, said; /* started; last logged */
} mig_progress;

static int mig_progress_cb(void *arg)
{
    mig_progress *p = arg;
    time_t now = time(NULL);
    if (now - p->said >= 10) {
        p->said = now;
        LOG_INFO("store: schema migration %d -> %d still running (%lld s so far; do not stop "
                 "omtpd)",
                 p->step, p->step + 1, (long long)(now - p->t0));
    }
    return 0; /* never interrupts */
}

static int migrate(sq_db *d, char *why, size_t whylen)
{
    int64_t v = 0;
    if (sq_exec(d, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") ||
        query_int(d, "SELECT coalesce(max(version), 0) FROM schema_version", &v)) {
        snprintf(why, whylen, "cannot read the schema version: %s", d->base.errmsg);
        return OMTP_EDB;
    }
    if (v > sq_migrations_count) {
        snprintf(why, whylen,
                 "the database has schema version %lld, newer than this omtpd knows (%d): "
                 "upgrade omtpd",
                 (long long)v, sq_migrations_count);
        return OMTP_EDB;
    }
    /* an existing database being upgraded: on a big store this can take a
     * while, so the operator sees why omtpd is not listening yet */
    time_t t0 = time(NULL);
    if (v > 0 && v < sq_migrations_count)
        LOG_INFO("store: upgrading the SQLite schema from version %lld to %d (a big database "
                 "may take minutes; do not stop omtpd)",
                 (long long)v, sq_migrations_count);
    mig_progress prog = {.t0 = t0, .said = t0};
    if (v > 0 && v < sq_migrations_count)
        sqlite3_progress_handler(d->h, 1000000, mig_progress_cb, &prog);
    for (int i = (int)v; i < sq_migrations_count; i++) {
        prog.step = i;
        char upd[128];
        snprintf(upd, sizeof(upd),
                 "DELETE FROM schema_version; INSERT INTO schema_version "
                 "VALUES (%d);",
                 i + 1);
        if (sq_exec(d, "BEGIN IMMEDIATE") || sq_exec(d, sq_migrations[i]) || sq_exec(d, upd) ||
            sq_exec(d, "COMMIT")) {
            snprintf(why, whylen, "schema migration %d -> %d failed: %s", i, i + 1, d->base.errmsg);
            sq_exec(d, "ROLLBACK");
            sqlite3_progress_handler(d->h, 0, NULL, NULL);
            return OMTP_EDB;
        }
    }
    sqlite3_progress_handler(d->h, 0, NULL, NULL);
    if (v > 0 && v < sq_migrations_count)
        LOG_INFO("store: SQLite schema upgraded to version %d in %lld s", sq_migrations_count,
                 (long long)(time(NULL) - t0));
    return 0;
}

/* Process-wide, before SQLite initialises: no memory statistics (they take
 * a global mutex on every allocation; nothing here reads them). If SQLite
 * was already initialised (another user in the process), this is a no-op. */
static uv_once_t sq_global_once = UV_ONCE_INIT;
static void sq_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int sq_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen)
{
    uv_once(&sq_global_once, sq_global_init);
    char path[PATH_MAX];
    const char *uri = cfg->uri ? cfg->uri : "";
    *out = NULL;
    if (strncmp(uri, "sqlite:", 7) == 0 && uri[7]) {
        /* "sqlite:/path/to/file.db" or "sqlite:///path/to/file.db" */
        const char *p = uri + 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        if (snprintf(path, sizeof(path), "%s", p) >= (int)sizeof(path)) {
            snprintf(why, whylen, "the SQLite path is too long");
            return OMTP_EINVAL;
        }
    } else {
        const char *dir = cfg->data_dir && cfg->data_dir[0] ? cfg->data_dir : ".";
        if (make_dirs(dir) != 0) {
            snprintf(why, whylen,
                     "cannot create the data directory %s: %s (choose a writable one with "
                     "--data-dir or data_dir)",
                     dir, strerror(errno));
            return OMTP_EIO;
        }
        if (access(dir, W_OK) != 0) {
            snprintf(why, whylen,
                     "the data directory %s is not writable by this user (uid %u): fix its "
                     "permissions or choose another with --data-dir or data_dir",
                     dir, (unsigned)geteuid());
            return OMTP_EIO;
        }
        if (snprintf(path, sizeof(path), "%s/omtp.db", dir) >= (int)sizeof(path)) {
            snprintf(why, whylen, "the data directory path is too long");
            return OMTP_EINVAL;
        }
    }

    sq_db *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    d->base.ops = &sq_ops;
    d->wal_fd = -1;
    d->lock_fd = -1;
    if (!(d->path = strdup(path))) {
        free(d);
        snprintf(why, whylen, "out of memory");
        return OMTP_ENOMEM;
    }
    d->full = cfg->synchronous != 1;
    int rc = OMTP_EDB;
    if (sqlite3_open_v2(path, &d->h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(why, whylen, "cannot open %s: %s", path,
                 d->h ? sqlite3_errmsg(d->h) : "out of memory");
        goto err;
    }
    sqlite3_busy_timeout(d->h, 5000);
    sqlite3_extended_result_codes(d->h, 1);
    if (sq_search_register(d->h) != SQLITE_OK) {
        snprintf(why, whylen, "cannot set up message search on %s: %s (is SQLite built with FTS5?)",
                 path, sqlite3_errmsg(d->h));
        goto err;
    }

    char mode[16] = "";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->h, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (strcmp(mode, "wal") != 0) {
        if (sq_full_path(d->h, path)) /* said below, at err */
            snprintf(why, whylen, "cannot switch to WAL mode: %s", sqlite3_errmsg(d->h));
        else
            snprintf(why, whylen, "cannot switch %s to WAL mode (%s): is the file on a local disk?",
                     path, sqlite3_errmsg(d->h));
        goto err;
    }
    const char *sync =
        cfg->synchronous == 1 ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL";
    if (sq_exec(d, sync) || sq_exec(d, "PRAGMA foreign_keys=OFF") ||
        sq_exec(d, "PRAGMA temp_store=MEMORY") || sq_exec(d, "PRAGMA cache_size=-16384") ||
        sq_exec(d, "PRAGMA journal_size_limit=67108864")) {
        snprintf(why, whylen, "cannot configure %s: %s", path, d->base.errmsg);
        goto err;
    }
    if ((rc = migrate(d, why, whylen)) != 0)
        goto err;
    /* change times never go backwards, even if the clock does across restarts:
     * the last one handed out is saved at close (a full scan at open would
     * cost seconds on a big database) */
    int64_t last = 0;
    if (query_int(d,
                  "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta "
                  "WHERE key = 'store.last_us'), 0)",
                  &last)) {
        snprintf(why, whylen, "cannot read %s: %s", path, d->base.errmsg);
        rc = OMTP_EDB;
        goto err;
    }
    d->last_us = last;
    if ((rc = sq_ckpt_start(d, path, cfg->synchronous, why, whylen)) != 0)
        goto err;
    if (sq_full_path(NULL, path))
        LOG_ERROR("store: disk full: the file system holding %s has no space left; reads "
                  "work, writes (sends, group and user changes) fail with DB_ERROR (5) until "
                  "space is freed",
                  path);
    *out = &d->base;
    return 0;
err:
    if (rc != OMTP_EINVAL && rc != OMTP_ENOMEM && sq_full_path(d->h, path)) {
        char inner[512];
        snprintf(inner, sizeof(inner), "%s", why);
        snprintf(why, whylen,
                 "disk full: no space left to write %s (%s): free space on its file system (or "
                 "choose another data directory with --data-dir) and start omtpd again",
                 path, inner);
        rc = OMTP_ENOSPC;
    }
    sq_close(&d->base);
    return rc == 0 ? OMTP_EDB : rc;
}
