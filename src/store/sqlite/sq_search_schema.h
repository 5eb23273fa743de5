/*
 * sq_search_schema.h - the SQLite schema step of full-text search
 * (sq_schema.c, migration 7 -> 8; docs/storage.md "Search index").
 *
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

#endif
