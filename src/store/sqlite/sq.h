/*
 * sq.h - internals of the SQLite backend (not a public header).
 *
 * One sq_db per connection. Every statement is listed once in sq_stmts.h and
 * prepared lazily on first use (SQLITE_PREPARE_PERSISTENT), then reused:
 * sq_stmt() hands it out reset and with cleared bindings, and every caller
 * resets it again when done so no read snapshot outlives an operation.
 *
 * Operations made of several statements run inside an "op" savepoint
 * (sq_op_begin/sq_op_end), so they are atomic both inside the executor's
 * batch transaction and when an admin command calls them in autocommit mode.
 */
#ifndef OMTP_SQ_H
#define OMTP_SQ_H

#include <sqlite3.h>

#include "store/store.h"
#include "sq_stmts.h"

#define SQ_STMT_ID(id, sql) id,
enum sq_stmt_id { SQ_STMTS(SQ_STMT_ID) SQ_NSTMTS };
#undef SQ_STMT_ID

typedef struct sq_ckpt sq_ckpt;
typedef struct sq_memo sq_memo;

typedef struct sq_db {
    omtp_db base;
    sqlite3 *h;
    sq_ckpt *ckpt;        /* the checkpointer (sq_ckpt.c); NULL until started */
    sq_memo *memo;        /* membership rows known to exist (sq_memo.c); NULL until used */
    int64_t data_version; /* PRAGMA data_version at the last BEGIN */
    sqlite3_stmt *stmts[SQ_NSTMTS];
    sqlite3_stmt *attr_get[8]; /* user_attr_get, one variant per filter combination */
    int64_t last_us;           /* last change time handed out (strictly increasing) */
    char *path;                /* the database file */
    bool full;                 /* configured synchronous=FULL */
    /* deferred sync (sq_sync.c): the executor's sync thread only */
    int wal_fd;  /* our own descriptor of <path>-wal, -1 until first sync */
    int lock_fd; /* the server lock (sq_maint.c), -1 until taken */
} sq_db;

#define SQ(db) ((sq_db *)(db))

extern const omtp_db_ops sq_ops;
/* schema migrations, in order; migration i takes the schema from version i to i+1 */
extern const char *const sq_migrations[];
extern const int sq_migrations_count;

/* every op of OMTP_DB_OPS, as sq_<op>, defined across sq_*.c */
#define SQ_OP_DECL(name, params, args) int sq_##name params;
OMTP_DB_OPS(SQ_OP_DECL)
#undef SQ_OP_DECL

/* Moves the waiting search entries (search_pending) into the FTS5 index
 * (sq_search.c). Called before a search (which then sees every stored
 * message) and by sq_search_commit. */
int sq_search_flush(sq_db *d);
/* Before COMMIT: flushes once enough entries wait (SQ_SEARCH_FLUSH_ROWS),
 * so FTS5 writes one segment per many messages, not one per batch. */
int sq_search_commit(sq_db *d);
/* Registers omtp_search_has(doc, query) on h, the exact re-check of a
 * search candidate (sq_search_match.c). SQLITE_OK or an SQLite error. */
int sq_search_register(sqlite3 *h);

/* Deferred WAL sync (sq_sync.c): omtp_db_ops.defer_sync and .sync. */
int sq_defer_sync(omtp_db *db);
int sq_sync(omtp_db *db);
void sq_sync_close(sq_db *d);

/* Disk full (sq_full.c): whether the last failure on h was ENOSPC /
 * SQLITE_FULL, or the file system of path has (almost) no space left.
 * sq_disk_full is omtp_db_ops.disk_full. */
bool sq_full_path(sqlite3 *h, const char *path);
bool sq_disk_full(omtp_db *db);

/* Opens <path> (creating it) and migrates it. */
int sq_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen);

/* The cached statement `id`, reset and unbound; NULL on error (errmsg set). */
sqlite3_stmt *sq_stmt(sq_db *d, int id);
/* Whether the cached statement `id` with the text parameters p1 and p2 (p2
 * NULL: p1 only) returns a row: 0 and *yes, or OMTP_EDB (*yes false; errmsg
 * names `what`). */
int sq_has_row(sq_db *d, int id, const char *p1, const char *p2, bool *yes, const char *what);
/* Records sqlite's last error in errmsg and returns OMTP_EDB. */
int sq_fail(sq_db *d, const char *what);
/* Steps a statement that returns no rows, resets it: 0, OMTP_EEXIST on a
 * uniqueness violation, else OMTP_EDB. */
int sq_run(sq_db *d, sqlite3_stmt *st, const char *what);
int sq_exec(sq_db *d, const char *sql);

/* Starts the checkpointer thread on its own connection to `path` and turns
 * the writer's automatic checkpoint off (sq_ckpt.c). */
int sq_ckpt_start(sq_db *d, const char *path, int synchronous, char *why, size_t whylen);
/* Before the writer's BEGIN: past the WAL bound, runs the checkpoint that
 * lets this transaction start the WAL over (sq_ckpt.c). */
void sq_ckpt_before_begin(sq_db *d);
/* Stops and joins it; the writer's connection, closed last, checkpoints the rest. */
void sq_ckpt_stop(sq_db *d);

/* (user, session) membership rows known to exist (sq_memo.c). Clear on any
 * rollback and any deletion of membership rows. */
bool sq_memo_has(sq_db *d, const tars_str *user, const tars_str *session);
void sq_memo_add(sq_db *d, const tars_str *user, const tars_str *session);
void sq_memo_clear(sq_db *d);
void sq_memo_free(sq_db *d);

int sq_op_begin(sq_db *d);
int sq_op_end(sq_db *d, int rc);

/* A change time in microseconds, strictly greater than any handed out before
 * by this connection (hot-session cursors must not tie). */
int64_t sq_now_us(sq_db *d);
int64_t sq_now_ms(void);

void sq_bind_str(sqlite3_stmt *st, int i, const char *s);      /* NULL binds "" */
void sq_bind_tstr(sqlite3_stmt *st, int i, const tars_str *s); /* binary-safe */
int sq_col_str(sqlite3_stmt *st, int col, tars_str *out);      /* 0 or OMTP_ENOMEM */
/* Appends a copy of a column to a string list: 0 or OMTP_ENOMEM. */
int sq_col_str_append(sqlite3_stmt *st, int col, tars_str_list *l);
/* Grows a list of n elements of size es by one zeroed element; NULL on OOM. */
void *sq_list_grow(void *list, size_t es);

/* Columns of a message row, in the order sq_row_msg reads them. */
#define SQ_MSG_COLS                                                                                \
    "type, flags, pack_id, session_id, seq, ts_ms, from_id, to_id, push_info, content_type, "      \
    "content, status, reply_to, mentions"
int sq_row_msg(sqlite3_stmt *st, int col0, omtp_msg_rec *m);

#endif
