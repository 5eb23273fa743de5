/*
 * sq_schema.c - the SQLite schema, as an ordered list of migrations.
 *
 * sq_migrations[i] takes a database from schema version i to i+1; the
 * version lives in schema_version (one row). Migrations are append-only:
 * never edit a released step, add a new one. Each step runs in its own
 * transaction together with the version update (sq_open.c).
 *
 * Why each index exists is in docs/storage.md; in short, every statement in
 * sq_stmts.h is a primary-key lookup or range scan, or uses one index below.
 */
#include "sq.h"
#include "sq_search_schema.h"

const char *const sq_migrations[] = {
    /* 0 -> 1: the initial schema */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE users ("
    "  user_id TEXT PRIMARY KEY,"
    "  pw_hash TEXT NOT NULL DEFAULT '',"
    "  role INTEGER NOT NULL DEFAULT 0,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  avatar TEXT NOT NULL DEFAULT '',"
    "  mobile TEXT NOT NULL DEFAULT '',"
    "  birthday INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"

    /* one row per conversation: the seqId allocator and the shared change time */
    "CREATE TABLE sessions ("
    "  session_id TEXT PRIMARY KEY,"
    "  type INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL,"
    "  changed_us INTEGER NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE messages ("
    "  session_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL,"
    "  pack_id TEXT NOT NULL,"
    "  from_id TEXT NOT NULL,"
    "  to_id TEXT NOT NULL,"
    "  push_info TEXT NOT NULL,"
    "  content_type INTEGER NOT NULL,"
    "  content TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (session_id, seq)"
    ");"
    /* dedup: (sender, packId) is unique */
    "CREATE UNIQUE INDEX messages_dedup ON messages(from_id, pack_id) WHERE pack_id <> '';"
    /* unread counts and the last visible message, answered from the index alone */
    "CREATE INDEX messages_visible ON messages(session_id, seq, from_id) WHERE status <> 2;"

    /* a user's membership of a session: read cursor and change time */
    "CREATE TABLE members ("
    "  user_id TEXT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  read_seq INTEGER NOT NULL DEFAULT 0,"
    "  changed_us INTEGER NOT NULL,"
    "  joined_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, session_id)"
    ") WITHOUT ROWID;"
    /* group member lists: one range scan per group */
    "CREATE INDEX members_by_session ON members(session_id, user_id);"

    "CREATE TABLE session_attrs ("
    "  user_id TEXT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (user_id, session_id, name)"
    ") WITHOUT ROWID;"

    "CREATE TABLE hp_heads ("
    "  user_id TEXT PRIMARY KEY,"
    "  last_seq INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE hp_queue ("
    "  user_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL,"
    "  pack_id TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, seq)"
    ");"

    "CREATE TABLE chat_groups ("
    "  group_id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  avatar TEXT NOT NULL,"
    "  creator_id TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  member_limit INTEGER NOT NULL,"
    "  create_ms INTEGER NOT NULL,"
    "  update_ms INTEGER NOT NULL,"
    "  dismissed INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    /* who left / was removed from / lost by dismissal which group, and when */
    "CREATE TABLE group_left ("
    "  user_id TEXT NOT NULL,"
    "  group_id TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, group_id)"
    ") WITHOUT ROWID;"

    /* one row per direction; deleted rows stay as tombstones for sync */
    "CREATE TABLE friends ("
    "  user_id TEXT NOT NULL,"
    "  friend_id TEXT NOT NULL,"
    "  remark TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  changed_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, friend_id)"
    ") WITHOUT ROWID;"

    "CREATE TABLE user_attrs ("
    "  user_id TEXT NOT NULL,"
    "  friend_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (user_id, friend_id, name)"
    ") WITHOUT ROWID;"
    /* filters without a userId (admin queries) */
    "CREATE INDEX user_attrs_by_friend ON user_attrs(friend_id, name);"
    "CREATE INDEX user_attrs_by_name ON user_attrs(name);",

    /* 1 -> 2: messages clustered on (session_id, seq) WITHOUT ROWID, so an
     * append writes one B-tree instead of two (rowid table + primary key);
     * messages_visible is dropped: unread counts, the last visible message and
     * history pages are range scans of the primary key (a session's messages
     * are contiguous), and each append writes one index fewer. The dedup
     * index stays (it is what makes a duplicate detectable after restart). */
    "CREATE TABLE messages_v2 ("
    "  session_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL,"
    "  pack_id TEXT NOT NULL,"
    "  from_id TEXT NOT NULL,"
    "  to_id TEXT NOT NULL,"
    "  push_info TEXT NOT NULL,"
    "  content_type INTEGER NOT NULL,"
    "  content TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (session_id, seq)"
    ") WITHOUT ROWID;"
    "INSERT INTO messages_v2 SELECT session_id, seq, type, flags, pack_id, from_id, to_id, "
    "push_info, content_type, content, status, ts_ms FROM messages ORDER BY session_id, seq;"
    "DROP TABLE messages;"
    "ALTER TABLE messages_v2 RENAME TO messages;"
    "CREATE UNIQUE INDEX messages_dedup ON messages(from_id, pack_id) WHERE pack_id <> '';",

    /* 2 -> 3: the dedup index leads with pack_id. packIds are UUIDv7 (time
     * first: client/omtp_packid.h), so a batch of messages from many senders
     * inserts into the index's last leaf page instead of one leaf page per
     * sender: fewer pages written per commit. Lookups give both columns, so
     * either order serves them; uniqueness is the same. */
    ("DROP INDEX messages_dedup;"
     "CREATE UNIQUE INDEX messages_dedup ON messages(pack_id, from_id) WHERE pack_id <> '';"),

    /* 3 -> 4: high-priority entries by creation time, for the retention
     * prune (sq_retention.c): the oldest entries are one range at the
     * index's start, so deleting a chunk reads only what it deletes. An
     * append adds to the index's last leaf (times grow). */
    "CREATE INDEX hp_queue_by_time ON hp_queue(created_ms);",

    /* 4 -> 5: group high-priority entries, one row per message for every
     * member (hp_group), and ONE seq shared by every queue: hp_heads keeps a
     * single row under the user id '' (no user id is empty), started above
     * every per-user head so no client cursor goes backwards. A member's
     * view spans hp_from (the shared head when it joined: members) up to
     * hp_to (the head when it left: group_left). docs/storage.md. */
    "CREATE TABLE hp_group ("
    "  group_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  except_id TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL,"
    "  pack_id TEXT NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (group_id, seq)"
    ");"
    "CREATE INDEX hp_group_by_time ON hp_group(created_ms);"
    "ALTER TABLE members ADD COLUMN hp_from INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE group_left ADD COLUMN hp_from INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE group_left ADD COLUMN hp_to INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO hp_heads(user_id, last_seq) SELECT '', coalesce(max(last_seq), 0) FROM hp_heads;"
    "DELETE FROM hp_heads WHERE user_id <> '';",

    /* 5 -> 6: a session's members are stored with it (DESIGN "Ids never
     * contain the session separator"): party_a/party_b are the two users of
     * a single chat (lower, higher) or the app and the user of a business
     * session; '' for a group session, whose members are its group's. Filled
     * from each session's first message; msg_append refuses a message whose
     * from/to are not the session's parties. */
    "ALTER TABLE sessions ADD COLUMN party_a TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sessions ADD COLUMN party_b TEXT NOT NULL DEFAULT '';"
    "UPDATE sessions SET "
    "  party_a = coalesce((SELECT CASE WHEN m.type = 16 THEN m.from_id WHEN m.type = 15 THEN '' "
    "    ELSE min(m.from_id, m.to_id) END FROM messages m "
    "    WHERE m.session_id = sessions.session_id ORDER BY m.seq LIMIT 1), ''),"
    "  party_b = coalesce((SELECT CASE WHEN m.type = 16 THEN m.to_id WHEN m.type = 15 THEN '' "
    "    ELSE max(m.from_id, m.to_id) END FROM messages m "
    "    WHERE m.session_id = sessions.session_id ORDER BY m.seq LIMIT 1), '') "
    "WHERE type <> 15;"
    "CREATE INDEX sessions_party_a ON sessions(party_a) WHERE party_a <> '';"
    "CREATE INDEX sessions_party_b ON sessions(party_b) WHERE party_b <> '';"
    /* the user ids outside the id alphabet, for the check at every start
     * (store/maint.c omtp_store_bad_ids spells the same predicate): empty
     * while the store is clean, so the check reads nothing */
    "CREATE INDEX users_bad_ids ON users(user_id) WHERE " SQ_BAD_ID_PRED("user_id") ";",

    /* 6 -> 7: replies, mentions and reactions (docs/protocol.md, Extensions).
     * reply_to / mentions are the message's MsgReq.replyTo and .mentions
     * (ids joined by spaces); members.mention_seq is the newest message that
     * mentioned the member (hot sessions show it while above read_seq);
     * reactions are clustered by message, so a history page's reactions are
     * one range scan of the primary key. */
    "ALTER TABLE messages ADD COLUMN reply_to INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE members ADD COLUMN mention_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE reactions ("
    "  session_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  emoji TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  at_us INTEGER NOT NULL,"
    "  PRIMARY KEY (session_id, seq, emoji, user_id)"
    ") WITHOUT ROWID;",

    /* 7 -> 8: full-text search (sq_search_schema.h) */
    SQ_SEARCH_MIGRATION,

    /* 8 -> 9: uploaded files (docs/files.md). files: one row per upload
     * (fileId), its bytes named by sha256 in the file store (shared by
     * identical uploads, so sha256 is indexed for the sweeper's "still
     * used?"); by uploader and time for quota and upload rate; by time for
     * the orphan sweeper. file_refs: the messages that reference a file --
     * a session holding one lets its members read the file. */
    "CREATE TABLE files ("
    "  file_id TEXT PRIMARY KEY,"
    "  sha256 TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mime TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  uploader TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  width INTEGER NOT NULL DEFAULT 0,"
    "  height INTEGER NOT NULL DEFAULT 0,"
    "  thumb TEXT NOT NULL DEFAULT '',"
    "  thumb_size INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX files_by_sha ON files(sha256);"
    "CREATE INDEX files_by_thumb ON files(thumb) WHERE thumb <> '';"
    "CREATE INDEX files_by_uploader ON files(uploader, created_ms);"
    "CREATE INDEX files_by_time ON files(created_ms);"
    "CREATE TABLE file_refs ("
    "  file_id TEXT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (file_id, session_id, seq)"
    ") WITHOUT ROWID;",

    /* 9 -> 10: the search index capped, with detail=none and a smaller map
     * (sq_search_schema.h); rebuilds the index from the stored messages */
    SQ_SEARCH_MIGRATION_V10,
};

const int sq_migrations_count = (int)(sizeof(sq_migrations) / sizeof(sq_migrations[0]));
