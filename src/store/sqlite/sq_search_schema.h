/*
 * sq_search_schema.h - the SQLite schema steps of full-text search
 * (sq_schema.c, migrations 7 -> 8 and 9 -> 10; docs/storage.md "Search
 * index").
 *
 * SQ_SEARCH_MIGRATION (7 -> 8, released, kept as it was; 9 -> 10 replaces
 * what it made):
 * search_fts is a contentless FTS5 table with the trigram tokenizer
 * (substring matches, Chinese text included; the text itself stays only in
 * messages); columnsize=0: no per-row token counts (nothing is ranked). Its
 * rowid is search_rows.id, which names the message (messages has no rowid).
 * Ids grow in storing order, so walking the index backwards walks newest
 * first. The triggers keep the index in step with messages inside the
 * statement that changes it (same transaction): a message is indexed while
 * its status is 0 (not revoked, not deleted) and it has a text
 * (SQ_SEARCH_BODY); an edit re-indexes it, revoke and delete unindex it.
 * New entries wait in search_pending until sq_search_flush moves them into
 * search_fts (before COMMIT and before a search: FTS5 writes a segment at
 * every savepoint, and every work item has one). The last two statements
 * index the messages already stored, oldest first.
 */
#ifndef OMTP_SQ_SEARCH_SCHEMA_H
#define OMTP_SQ_SEARCH_SCHEMA_H

#include "sq_stmts.h"

// clang-format off
#define SQ_SEARCH_MIGRATION \
    "CREATE TABLE search_rows (" \
    "  id INTEGER PRIMARY KEY," \
    "  session_id TEXT NOT NULL," \
    "  seq INTEGER NOT NULL," \
    "  ts_ms INTEGER NOT NULL" \
    ");" \
    "CREATE UNIQUE INDEX search_rows_msg ON search_rows(session_id, seq);" \
    "CREATE TABLE search_pending (id INTEGER PRIMARY KEY, body TEXT NOT NULL);" \
    "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='', columnsize=0, tokenize='trigram');" \
    "CREATE TRIGGER search_ai AFTER INSERT ON messages WHEN " SQ_SEARCH_BODY("NEW") " <> '' " \
    "BEGIN " \
    "  INSERT INTO search_rows(session_id, seq, ts_ms) VALUES (NEW.session_id, NEW.seq, NEW.ts_ms);" \
    "  INSERT INTO search_pending(id, body) VALUES (last_insert_rowid(), " SQ_SEARCH_BODY("NEW") ");" \
    "END;" \
    "CREATE TRIGGER search_au AFTER UPDATE OF content, content_type, status ON messages " \
    "WHEN " SQ_SEARCH_BODY("OLD") " IS NOT " SQ_SEARCH_BODY("NEW") " " \
    "BEGIN " SQ_SEARCH_UNINDEX_OLD \
    "  INSERT INTO search_rows(session_id, seq, ts_ms) SELECT NEW.session_id, NEW.seq, NEW.ts_ms " \
    "    WHERE " SQ_SEARCH_BODY("NEW") " <> '';" \
    "  INSERT INTO search_pending(id, body) SELECT last_insert_rowid(), " SQ_SEARCH_BODY("NEW") \
    "    WHERE " SQ_SEARCH_BODY("NEW") " <> '';" \
    "END;" \
    "CREATE TRIGGER search_ad AFTER DELETE ON messages BEGIN " SQ_SEARCH_UNINDEX_OLD "END;" \
    "INSERT INTO search_rows(session_id, seq, ts_ms) SELECT m.session_id, m.seq, m.ts_ms " \
    "  FROM messages m WHERE " SQ_SEARCH_BODY("m") " <> '' ORDER BY m.ts_ms, m.session_id, m.seq;" \
    "INSERT INTO search_fts(rowid, body) SELECT r.id, " SQ_SEARCH_BODY("m") " FROM search_rows r " \
    "  JOIN messages m ON m.session_id = r.session_id AND m.seq = r.seq;"
// clang-format on

/*
 * SQ_SEARCH_MIGRATION_V10 (9 -> 10): the index of today.
 *
 * - Capped: a message is indexed by its first SQ_SEARCH_CAP_BYTES bytes of
 *   text (SQ_SEARCH_DOC), so indexing one message costs at most that many
 *   trigrams (a 64 KiB text of random characters took 30-300 ms before).
 * - detail=none: the FTS5 index keeps, per trigram, only the rowids it
 *   occurs in (no positions): less than half the size. Phrase queries need
 *   positions, so a search asks for the rows holding all of the query's
 *   trigrams and re-checks every candidate against the message's (capped)
 *   text with the tokenizer itself (sq_search.c, omtp_search_has): results
 *   are exactly the phrase matches of before.
 * - The map: search_rows(id -> session_id, seq) is a plain rowid table
 *   (the entry's id is search_fts's rowid, growing in storing order), and
 *   the message carries its entry's id in messages.search_id (0 = not
 *   indexed), so an edit, revoke or delete finds its entry without the
 *   unique (session_id, seq) index the map had, and a search filters by
 *   time on the message itself (search_rows has no ts_ms).
 * - An edit re-indexes under the same id (the message keeps its place in
 *   the newest-first order); revoke, delete and an edit to no text drop the
 *   entry and set search_id to 0.
 * - search_ak follows a message that moves (`omtpd user rename` renumbers
 *   the messages of the sessions it merges: session_id and seq change):
 *   its map row names it again. (Schema 8/9 left the old key in the map:
 *   a renamed user's messages were not found, or the key named another
 *   message.)
 *
 * The rebuild (last five statements) indexes every stored message, oldest
 * first, inside the migration's transaction; search_rows_mig is the
 * temporary index that pairs ids with messages while search_id is filled.
 */
// clang-format off
#define SQ_SEARCH_NEW_ENTRY(cond) \
    "  INSERT INTO search_rows(session_id, seq) SELECT NEW.session_id, NEW.seq WHERE " cond ";" \
    "  UPDATE messages SET search_id = last_insert_rowid() WHERE " cond " " \
    "    AND session_id = NEW.session_id AND seq = NEW.seq;" \
    "  INSERT INTO search_pending(id, body) SELECT last_insert_rowid(), " SQ_SEARCH_DOC("NEW") \
    "    WHERE " cond ";"

#define SQ_SEARCH_MIGRATION_V10 \
    "DROP TRIGGER search_ai;" \
    "DROP TRIGGER search_au;" \
    "DROP TRIGGER search_ad;" \
    "DROP TABLE search_fts;" \
    "DROP TABLE search_pending;" \
    "DROP TABLE search_rows;" \
    "ALTER TABLE messages ADD COLUMN search_id INTEGER NOT NULL DEFAULT 0;" \
    "CREATE TABLE search_rows (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL);" \
    "CREATE TABLE search_pending (id INTEGER PRIMARY KEY, body TEXT NOT NULL);" \
    "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='', columnsize=0, detail=none, " \
    "  tokenize='trigram');" \
    "CREATE TRIGGER search_ai AFTER INSERT ON messages WHEN " SQ_SEARCH_DOC("NEW") " <> '' " \
    "BEGIN " SQ_SEARCH_NEW_ENTRY("1") "END;" \
    "CREATE TRIGGER search_au AFTER UPDATE OF content, content_type, status ON messages " \
    "WHEN " SQ_SEARCH_DOC("OLD") " IS NOT " SQ_SEARCH_DOC("NEW") " " \
    "BEGIN " SQ_SEARCH_UNINDEX \
    "  DELETE FROM search_rows WHERE id = OLD.search_id AND OLD.search_id > 0 " \
    "    AND " SQ_SEARCH_DOC("NEW") " = '';" \
    "  UPDATE messages SET search_id = 0 WHERE OLD.search_id > 0 AND " SQ_SEARCH_DOC("NEW") " = '' " \
    "    AND session_id = NEW.session_id AND seq = NEW.seq;" \
    "  INSERT INTO search_pending(id, body) SELECT OLD.search_id, " SQ_SEARCH_DOC("NEW") \
    "    WHERE OLD.search_id > 0 AND " SQ_SEARCH_DOC("NEW") " <> '';" \
    SQ_SEARCH_NEW_ENTRY("OLD.search_id = 0 AND " SQ_SEARCH_DOC("NEW") " <> ''") \
    "END;" \
    "CREATE TRIGGER search_ad AFTER DELETE ON messages BEGIN " SQ_SEARCH_UNINDEX \
    "  DELETE FROM search_rows WHERE id = OLD.search_id AND OLD.search_id > 0;" \
    "END;" \
    "CREATE TRIGGER search_ak AFTER UPDATE OF session_id, seq ON messages WHEN NEW.search_id > 0 " \
    "BEGIN UPDATE search_rows SET session_id = NEW.session_id, seq = NEW.seq " \
    "  WHERE id = NEW.search_id; END;" \
    "INSERT INTO search_rows(session_id, seq) SELECT m.session_id, m.seq FROM messages m " \
    "  WHERE " SQ_SEARCH_DOC("m") " <> '' ORDER BY m.ts_ms, m.session_id, m.seq;" \
    "CREATE UNIQUE INDEX search_rows_mig ON search_rows(session_id, seq);" \
    "UPDATE messages SET search_id = r.id FROM search_rows r " \
    "  WHERE r.session_id = messages.session_id AND r.seq = messages.seq;" \
    "DROP INDEX search_rows_mig;" \
    "INSERT INTO search_fts(rowid, body) SELECT m.search_id, " SQ_SEARCH_DOC("m") " FROM messages m " \
    "  WHERE m.search_id > 0 ORDER BY m.search_id;"
// clang-format on

#endif
