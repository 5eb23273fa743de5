/*
 * pg_schema.c - the PostgreSQL schema, created and migrated by omtpd.
 *
 * schema_version holds one row: the number of migrations applied. At open,
 * under a transaction-scoped advisory lock (several nodes may start at
 * once), every migration above it runs in order, each in the same
 * transaction as the version bump. Migrations are append-only: never edit
 * one that shipped, add the next.
 *
 * Tables and columns are the SQLite backend's (so the store test suite and
 * the operators' queries read the same), with PostgreSQL types: ids and
 * names text COLLATE "C" (byte order), free-form payloads bytea.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"
#include "util/log.h"

#define ID  "text COLLATE \"C\" NOT NULL"
#define TXT "text COLLATE \"C\" NOT NULL DEFAULT ''"

static const char *const pg_migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE meta (key " ID " PRIMARY KEY, value " TXT ");"
    "CREATE TABLE users (user_id " ID " PRIMARY KEY, pw_hash " TXT ","
    " role integer NOT NULL DEFAULT 0, name " TXT ", avatar " TXT ", mobile " TXT ","
    " birthday bigint NOT NULL DEFAULT 0, created_ms bigint NOT NULL DEFAULT 0,"
    " updated_ms bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE sessions (session_id " ID " PRIMARY KEY, type integer NOT NULL DEFAULT 0,"
    " last_seq bigint NOT NULL DEFAULT 0, changed_us bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE messages (session_id " ID ", seq bigint NOT NULL,"
    " type integer NOT NULL, flags bigint NOT NULL DEFAULT 0, pack_id " TXT ","
    " from_id " ID ", to_id " TXT ", push_info bytea NOT NULL DEFAULT '',"
    " content_type integer NOT NULL DEFAULT 0, content bytea NOT NULL DEFAULT '',"
    " status integer NOT NULL DEFAULT 0, ts_ms bigint NOT NULL,"
    " PRIMARY KEY (session_id, seq));"
    "CREATE UNIQUE INDEX messages_dedup ON messages (from_id, pack_id) WHERE pack_id <> '';"
    "CREATE TABLE members (user_id " ID ", session_id " ID ","
    " read_seq bigint NOT NULL DEFAULT 0, changed_us bigint NOT NULL DEFAULT 0,"
    " joined_ms bigint NOT NULL DEFAULT 0, PRIMARY KEY (user_id, session_id));"
    "CREATE INDEX members_session ON members (session_id, user_id);"
    "CREATE TABLE session_attrs (user_id " ID ", session_id " ID ", name " ID ","
    " value " TXT ", PRIMARY KEY (user_id, session_id, name));"
    "CREATE TABLE hp_heads (user_id " ID " PRIMARY KEY, last_seq bigint NOT NULL);"
    "CREATE TABLE hp_queue (user_id " ID ", seq bigint NOT NULL, type integer NOT NULL,"
    " flags bigint NOT NULL DEFAULT 0, pack_id " TXT ", payload bytea NOT NULL DEFAULT '',"
    " created_ms bigint NOT NULL DEFAULT 0, PRIMARY KEY (user_id, seq));"
    "CREATE TABLE chat_groups (group_id " ID " PRIMARY KEY, name " TXT ", avatar " TXT ","
    " creator_id " TXT ", description " TXT ", member_limit integer NOT NULL DEFAULT 0,"
    " create_ms bigint NOT NULL DEFAULT 0, update_ms bigint NOT NULL DEFAULT 0,"
    " dismissed integer NOT NULL DEFAULT 0);"
    "CREATE TABLE group_left (user_id " ID ", group_id " ID ", at_ms bigint NOT NULL,"
    " PRIMARY KEY (user_id, group_id));"
    "CREATE TABLE friends (user_id " ID ", friend_id " ID ", remark " TXT ","
    " deleted integer NOT NULL DEFAULT 0, changed_ms bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (user_id, friend_id));"
    "CREATE TABLE user_attrs (user_id " ID ", friend_id " ID ", name " ID ", value " TXT ","
    " PRIMARY KEY (user_id, friend_id, name));",
    /* 2: high-priority entries by creation time, for the retention prune
     * (pg_retention.c): the oldest entries are the index's first range */
    "CREATE INDEX hp_queue_created ON hp_queue (created_ms);",
    /* 3: group high-priority entries (one row per message for every member) and
     * ONE seq shared by every queue, in the hp_heads row of user id '' (above
     * every per-user head, so no cursor goes backwards); a member's view spans
     * members.hp_from (joined) .. group_left.hp_to (left). docs/storage.md */
    "CREATE TABLE hp_group (group_id " ID ", seq bigint NOT NULL, except_id " TXT ","
    " type integer NOT NULL, flags bigint NOT NULL DEFAULT 0, pack_id " TXT ","
    " payload bytea NOT NULL DEFAULT '', created_ms bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (group_id, seq));"
    "CREATE INDEX hp_group_created ON hp_group (created_ms);"
    "ALTER TABLE members ADD COLUMN hp_from bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE group_left ADD COLUMN hp_from bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN hp_to bigint NOT NULL DEFAULT 0;"
    "INSERT INTO hp_heads (user_id, last_seq) SELECT '', coalesce(max(last_seq), 0) FROM hp_heads;"
    "DELETE FROM hp_heads WHERE user_id <> '';",
    /* 4: a session's members are stored with it (see sq_schema.c 5 -> 6):
     * the two users of a single chat, the app and user of a business
     * session, '' for a group session; filled from each first message */
    "ALTER TABLE sessions ADD COLUMN party_a " TXT ", ADD COLUMN party_b " TXT ";"
    /* one primary-key probe per session (its first message), not a sort of
     * the whole messages table */
    "UPDATE sessions s SET party_a = coalesce((SELECT CASE WHEN m.type = 16 THEN m.from_id "
    "  WHEN m.type = 15 THEN '' "
    "  ELSE LEAST(m.from_id, m.to_id) END FROM messages m WHERE m.session_id = s.session_id "
    "  ORDER BY m.seq LIMIT 1), ''),"
    " party_b = coalesce((SELECT CASE WHEN m.type = 16 THEN m.to_id WHEN m.type = 15 THEN '' "
    "  ELSE GREATEST(m.from_id, m.to_id) END FROM messages m WHERE m.session_id = s.session_id "
    "  ORDER BY m.seq LIMIT 1), '') WHERE s.type <> 15;"
    "CREATE INDEX sessions_party_a ON sessions (party_a) WHERE party_a <> '';"
    "CREATE INDEX sessions_party_b ON sessions (party_b) WHERE party_b <> '';"
    /* user ids outside the id alphabet (store/maint.c spells the same
     * predicate): empty while the store is clean */
    "CREATE INDEX users_bad_ids ON users (user_id) WHERE " PG_BAD_ID_PRED("user_id") ";",

    /* replies, mentions and reactions (docs/protocol.md, Extensions; the
     * same as SQLite's 6 -> 7): reply_to / mentions of a message (ids
     * joined by spaces), a member's newest mention, and the reactions,
     * keyed by message so a history page's reactions are one index range */
    "ALTER TABLE messages ADD COLUMN reply_to bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN mentions " TXT ";"
    "ALTER TABLE members ADD COLUMN mention_seq bigint NOT NULL DEFAULT 0;"
    "CREATE TABLE reactions (session_id " ID ", seq bigint NOT NULL, emoji " ID ","
    " user_id " ID ", at_us bigint NOT NULL,"
    " PRIMARY KEY (session_id, seq, emoji, user_id));",
    /* full-text search (docs/storage.md "Search"): search_body is the text a
     * message is found by ('' = not searchable: revoked, deleted, no text;
     * contentType 0/1 the content, media 2,3,5,6,7,8 the JSON's "name"),
     * kept by a trigger in the statement that writes the row. With the
     * pg_trgm extension (CREATE EXTENSION needs a privileged role: if the
     * role may not, the migration goes on without it and omtpd logs how to
     * add it) a trigram GIN index answers ILIKE '%q%'; without it a search
     * reads the messages of the user's own sessions. */
    "ALTER TABLE messages ADD COLUMN search_body text NOT NULL DEFAULT '';"
    "CREATE FUNCTION omtp_search_body(ct integer, st integer, c bytea) RETURNS text "
    "LANGUAGE plpgsql STABLE AS $f$ DECLARE t text; BEGIN "
    "  IF st <> 0 OR ct NOT IN (0, 1, 2, 3, 5, 6, 7, 8) THEN RETURN ''; END IF;"
    "  BEGIN t := convert_from(c, 'UTF8'); EXCEPTION WHEN others THEN RETURN ''; END;"
    "  IF ct IN (0, 1) THEN RETURN t; END IF;"
    "  BEGIN RETURN coalesce(t::jsonb ->> 'name', ''); EXCEPTION WHEN others THEN RETURN ''; END;"
    "END $f$;"
    "CREATE FUNCTION omtp_search_trg() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
    "  NEW.search_body := omtp_search_body(NEW.content_type, NEW.status, NEW.content);"
    "  RETURN NEW; END $f$;"
    "CREATE TRIGGER messages_search BEFORE INSERT OR UPDATE OF content, content_type, status "
    "  ON messages FOR EACH ROW EXECUTE FUNCTION omtp_search_trg();"
    "UPDATE messages SET search_body = omtp_search_body(content_type, status, content) "
    "  WHERE status = 0;"
    "DO $d$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "  EXCEPTION WHEN others THEN RAISE WARNING 'omtp: pg_trgm is not available (%): search "
    "works without an index; run CREATE EXTENSION pg_trgm as a superuser, then restart omtpd', "
    "SQLERRM; END $d$;"
    "CREATE INDEX messages_by_ts ON messages (session_id, ts_ms) WHERE search_body <> '';",

    /* uploaded files (docs/files.md; the SQLite backend's migration 8 -> 9) */
    "CREATE TABLE files (file_id " ID " PRIMARY KEY, sha256 " ID ", size bigint NOT NULL,"
    " mime " TXT ", name " TXT ", uploader " TXT ", created_ms bigint NOT NULL,"
    " width bigint NOT NULL DEFAULT 0, height bigint NOT NULL DEFAULT 0, thumb " TXT ","
    " thumb_size bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX files_by_sha ON files(sha256);"
    "CREATE INDEX files_by_thumb ON files(thumb) WHERE thumb <> '';"
    "CREATE INDEX files_by_uploader ON files(uploader, created_ms);"
    "CREATE INDEX files_by_time ON files(created_ms);"
    "CREATE TABLE file_refs (file_id " ID ", session_id " ID ", seq bigint NOT NULL,"
    " PRIMARY KEY (file_id, session_id, seq));",

    /* search capped (docs/storage.md "Search index"; SQLite's 9 -> 10): a
     * message is found by the first 4096 bytes of its text only, cut on a
     * character boundary (a byte 0x80-0xBF continues a character), so the
     * trigram index of one message is bounded (a 64 KiB text of random
     * characters made thousands of GIN keys). Rows already longer are cut
     * here; the GIN index follows its column. */
    "CREATE OR REPLACE FUNCTION omtp_search_cap(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE "
    "AS $f$ "
    "DECLARE b bytea; k integer := 4096; BEGIN "
    "  IF octet_length(t) <= k THEN RETURN t; END IF;"
    "  b := convert_to(t, 'UTF8');"
    "  WHILE k > 0 AND (get_byte(b, k) & 192) = 128 LOOP k := k - 1; END LOOP;"
    "  RETURN convert_from(substring(b from 1 for k), 'UTF8'); END $f$;"
    "CREATE OR REPLACE FUNCTION omtp_search_body(ct integer, st integer, c bytea) RETURNS text "
    "LANGUAGE plpgsql STABLE AS $f$ DECLARE t text; BEGIN "
    "  IF st <> 0 OR ct NOT IN (0, 1, 2, 3, 5, 6, 7, 8) THEN RETURN ''; END IF;"
    "  BEGIN t := convert_from(c, 'UTF8'); EXCEPTION WHEN others THEN RETURN ''; END;"
    "  IF ct IN (0, 1) THEN RETURN omtp_search_cap(t); END IF;"
    "  BEGIN RETURN omtp_search_cap(coalesce(t::jsonb ->> 'name', ''));"
    "  EXCEPTION WHEN others THEN RETURN ''; END;"
    "END $f$;"
    "UPDATE messages SET search_body = omtp_search_cap(search_body) "
    "  WHERE octet_length(search_body) > 4096;",
};
static const int pg_migrations_count = (int)(sizeof(pg_migrations) / sizeof(pg_migrations[0]));

#define PG_SEARCH_INDEX                                                                            \
    "DO $d$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') "               \
    "AND to_regclass('messages_search_trgm') IS NULL THEN "                                        \
    "CREATE INDEX IF NOT EXISTS messages_search_trgm ON messages "                                 \
    "USING gin (search_body gin_trgm_ops) WHERE search_body <> ''; END IF; END $d$"

/* advisory lock key: "omtp" */
#define PG_MIGRATE_LOCK "SELECT pg_advisory_xact_lock(1869440112)"

int pg_migrate(pg_db *d, char *why, size_t whylen)
{
    char sql[160];
    int version = 0;
    if (pg_exec_sql(d, "BEGIN") != 0 || pg_exec_sql(d, PG_MIGRATE_LOCK) != 0 ||
        pg_exec_sql(d, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)") != 0)
        goto err;
    PGresult *r = PQexecParams(d->conn, "SELECT max(version) FROM schema_version", 0, NULL, NULL,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(d->base.errmsg, sizeof(d->base.errmsg), "%s", PQerrorMessage(d->conn));
        PQclear(r);
        goto err;
    }
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > pg_migrations_count) {
        pg_exec_sql(d, "ROLLBACK");
        snprintf(why, whylen,
                 "PostgreSQL schema version %d is newer than this omtpd knows (%d): upgrade omtpd",
                 version, pg_migrations_count);
        return OMTP_EDB;
    }
    time_t t0 = time(NULL);
    if (version > 0 && version < pg_migrations_count)
        LOG_INFO("store: upgrading the PostgreSQL schema from version %d to %d (a big database "
                 "may take minutes; do not stop omtpd)",
                 version, pg_migrations_count);
    for (int v = version; v < pg_migrations_count; v++) {
        if (pg_exec_sql(d, pg_migrations[v]) != 0)
            goto err;
        snprintf(sql, sizeof(sql),
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", v + 1);
        if (pg_exec_sql(d, sql) != 0)
            goto err;
    }
    /* the search's trigram index, at every start (an operator may add
     * pg_trgm later): built once the extension is there. Only looked up
     * when it exists: CREATE INDEX, even IF NOT EXISTS, takes a SHARE lock
     * on messages first and would wait behind every open write (another
     * node's, or a store connection opened while a transaction runs) */
    if (pg_exec_sql(d, PG_SEARCH_INDEX) != 0)
        goto err;
    r = PQexecParams(d->conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'", 0, NULL, NULL,
                     NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0)
        LOG_WARN("store: the PostgreSQL extension pg_trgm is not installed, so message search "
                 "reads every message of the searching user's sessions; run `CREATE EXTENSION "
                 "pg_trgm` as a superuser in this database and restart omtpd to index it");
    PQclear(r);
    if (pg_exec_sql(d, "COMMIT") != 0)
        goto err;
    if (version > 0 && version < pg_migrations_count)
        LOG_INFO("store: PostgreSQL schema upgraded to version %d in %lld s", pg_migrations_count,
                 (long long)(time(NULL) - t0));
    return 0;
err:
    snprintf(why, whylen, "PostgreSQL schema migration failed: %s", d->base.errmsg);
    if (d->conn)
        pg_exec_sql(d, "ROLLBACK");
    return OMTP_EDB;
}
