#!/usr/bin/env python3
"""bench/search/sizes.py DB - the search index's size (pages of search_fts*
and search_rows*, from dbstat, plus the bytes messages.search_id takes in
the message rows since schema 10: a record header byte and the integer)
against the indexed text's size. JSON."""
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
pages = dict(con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
fts = sum(v for k, v in pages.items() if k.startswith("search_fts"))
rows = sum(v for k, v in pages.items() if k.startswith("search_rows"))
text = con.execute("SELECT sum(length(CAST(content AS BLOB))) FROM messages "
                   "WHERE status = 0 AND content_type IN (0, 1)").fetchone()[0] or 0
msgs = sum(v for k, v in pages.items() if k.startswith("messages"))
cols = [r[1] for r in con.execute("PRAGMA table_info(messages)")]
sid = 0
if "search_id" in cols:
    sid = con.execute("SELECT sum(1 + CASE WHEN search_id = 0 THEN 0 WHEN search_id < 128 THEN 1 "
                      "WHEN search_id < 32768 THEN 2 WHEN search_id < 8388608 THEN 3 ELSE 4 END) "
                      "FROM messages").fetchone()[0] or 0
rows += sid
print(json.dumps({"text_bytes": text, "fts_bytes": fts, "rows_bytes": rows,
                  "index_bytes": fts + rows, "search_id_bytes": sid, "messages_table_bytes": msgs,
                  "index_over_text": round((fts + rows) / text, 2) if text else None,
                  "fts_over_text": round(fts / text, 2) if text else None}))
