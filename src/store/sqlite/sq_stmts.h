/*
 * sq_stmts.h - every SQL statement of the SQLite backend, in one list.
 *
 * X(id, sql). Reading this file top to bottom shows every query path; each
 * WHERE clause is served by a primary key or one of the indexes created in
 * sq_schema.c (docs/storage.md explains which and why).
 */
#ifndef OMTP_SQ_STMTS_H
#define OMTP_SQ_STMTS_H

/* The text search indexes of a message row r, uncapped (migration 7 -> 8):
 * '' = not indexed (revoked, deleted, no text). */
#define SQ_SEARCH_TEXT(r)                                                                          \
    "(CASE WHEN " r ".status <> 0 THEN '' "                                                        \
    "WHEN " r ".content_type IN (0, 1) THEN " r ".content "                                        \
    "WHEN " r ".content_type IN (2, 3, 5, 6, 7, 8) AND json_valid(" r ".content) "                 \
    "AND json_type(" r ".content, '$.name') = 'text' THEN json_extract(" r ".content, '$.name') "  \
    "ELSE '' END)"
/* Kept for the released migration 7 -> 8 (append-only): the uncapped text. */
#define SQ_SEARCH_BODY(r) SQ_SEARCH_TEXT(r)

/* The indexed part of a text (sq_schema.c, migration 9 -> 10; docs/storage.md
 * "Search index"): at most SQ_SEARCH_CAP_BYTES bytes, cut on a UTF-8
 * character boundary (a byte 0x80-0xBF continues a character, so the cut
 * backs off over up to three of them). A change of the cap is a migration:
 * the contentless index deletes an entry by the exact text it indexed. */
#define SQ_SEARCH_CAP_BYTES 4096
#define SQ_SEARCH_CAP_S     "4096"
#define SQ_SEARCH_CAP_CONT(x, k)                                                                   \
    "hex(substr(CAST(" x " AS BLOB), " SQ_SEARCH_CAP_S " + " k ", 1)) BETWEEN '80' AND 'BF'"
#define SQ_SEARCH_CAP(x)                                                                           \
    "(CASE WHEN length(CAST(" x " AS BLOB)) <= " SQ_SEARCH_CAP_S " THEN " x " "                    \
    "WHEN NOT " SQ_SEARCH_CAP_CONT(                                                                \
        x, "1") " "                                                                                \
                "THEN CAST(substr(CAST(" x " AS BLOB), 1, " SQ_SEARCH_CAP_S ") AS TEXT) "          \
                "WHEN NOT " SQ_SEARCH_CAP_CONT(                                                    \
                    x, "0") " "                                                                    \
                            "THEN CAST(substr(CAST(" x " AS BLOB), 1, " SQ_SEARCH_CAP_S            \
                            " - 1) AS TEXT) "                                                      \
                            "WHEN NOT " SQ_SEARCH_CAP_CONT(                                        \
                                x, "-1") " "                                                       \
                                         "THEN CAST(substr(CAST(" x                                \
                                         " AS BLOB), 1, " SQ_SEARCH_CAP_S " - 2) AS TEXT) "        \
                                         "ELSE CAST(substr(CAST(" x                                \
                                         " AS BLOB), 1, " SQ_SEARCH_CAP_S " - 3) AS TEXT) END)"

/* What message row r is indexed by since migration 9 -> 10: its text,
 * capped; '' = not indexed. */
#define SQ_SEARCH_DOC(r)                                                                           \
    "(CASE WHEN " r ".status <> 0 THEN '' "                                                        \
    "WHEN " r ".content_type IN (0, 1) THEN " SQ_SEARCH_CAP(                                       \
        r                                                                                          \
        ".content") " "                                                                            \
                    "WHEN " r ".content_type IN (2, 3, 5, 6, 7, 8) AND json_valid(" r ".content) " \
                    "AND json_type(" r ".content, '$.name') = 'text' "                             \
                    "THEN " SQ_SEARCH_CAP("json_extract(" r ".content, '$.name')") " "             \
                                                                                   "ELSE '' END)"

/* Trigger body, migration 7 -> 8 only (released, kept as it was). */
// clang-format off
#define SQ_SEARCH_UNINDEX_OLD                                                                      \
    "INSERT INTO search_fts(search_fts, rowid, body) SELECT 'delete', r.id, "                      \
    SQ_SEARCH_BODY("OLD") " FROM search_rows r WHERE r.session_id = OLD.session_id "               \
    "AND r.seq = OLD.seq AND NOT EXISTS (SELECT 1 FROM search_pending p WHERE p.id = r.id);"       \
    "DELETE FROM search_pending WHERE id IN (SELECT id FROM search_rows "                          \
    "WHERE session_id = OLD.session_id AND seq = OLD.seq);"                                        \
    "DELETE FROM search_rows WHERE session_id = OLD.session_id AND seq = OLD.seq;"

/* Trigger body since migration 9 -> 10: takes message OLD's entry
 * (OLD.search_id) out of search_fts if it was flushed there (a contentless
 * table deletes by the text it indexed: the capped text), else out of
 * search_pending. The search_rows row stays: the caller decides. */
#define SQ_SEARCH_UNINDEX                                                                          \
    "INSERT INTO search_fts(search_fts, rowid, body) SELECT 'delete', OLD.search_id, "             \
    SQ_SEARCH_DOC("OLD") " WHERE OLD.search_id > 0 "                                               \
    "AND NOT EXISTS (SELECT 1 FROM search_pending p WHERE p.id = OLD.search_id);"                  \
    "DELETE FROM search_pending WHERE id = OLD.search_id AND OLD.search_id > 0;"
// clang-format on

#define SQ_MSG_SELECT                                                                              \
    "SELECT type, flags, pack_id, session_id, seq, ts_ms, from_id, to_id, push_info, "             \
    "content_type, content, status, reply_to, mentions FROM messages "
/* the same columns of the messages row named m, FROM left to the statement */
#define SQ_MSG_SELECT_M                                                                            \
    "SELECT m.type, m.flags, m.pack_id, m.session_id, m.seq, m.ts_ms, m.from_id, m.to_id, "        \
    "m.push_info, m.content_type, m.content, m.status, m.reply_to, m.mentions "

#define SQ_GROUP_COLS                                                                              \
    "g.group_id, g.name, g.avatar, g.creator_id, g.description, g.member_limit, g.create_ms, "     \
    "g.update_ms, g.dismissed"

/* the head of the shared high-priority seq */
#define SQ_HP_NOW "(SELECT last_seq FROM hp_heads WHERE user_id = '')"

#define SQ_FILE_COLS                                                                               \
    "file_id, sha256, size, mime, name, uploader, created_ms, width, height, thumb, thumb_size"

#define SQ_STMTS(X)                                                                                \
    /* transactions: the executor's batch and item savepoints, and per-op savepoints */            \
    X(SQ_BEGIN, "BEGIN IMMEDIATE")                                                                 \
    X(SQ_COMMIT, "COMMIT")                                                                         \
    X(SQ_ROLLBACK, "ROLLBACK")                                                                     \
    X(SQ_SAVEPOINT, "SAVEPOINT item")                                                              \
    X(SQ_RELEASE, "RELEASE item")                                                                  \
    X(SQ_ROLLBACK_TO, "ROLLBACK TO item")                                                          \
    X(SQ_OP_SAVEPOINT, "SAVEPOINT op")                                                             \
    X(SQ_OP_RELEASE, "RELEASE op")                                                                 \
    X(SQ_DATA_VERSION, "PRAGMA data_version")                                                      \
    X(SQ_OP_ROLLBACK_TO, "ROLLBACK TO op")                                                         \
    /* meta */                                                                                     \
    X(SQ_META_GET, "SELECT value FROM meta WHERE key = ?1")                                        \
    X(SQ_META_SET, "INSERT INTO meta(key, value) VALUES (?1, ?2) "                                 \
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                        \
    /* users and profiles */                                                                       \
    X(SQ_USER_INSERT,                                                                              \
      "INSERT INTO users(user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms, "     \
      "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)")                                   \
    X(SQ_USER_GET, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "    \
                   "FROM users WHERE user_id = ?1")                                                \
    X(SQ_USER_EXISTS, "SELECT 1 FROM users WHERE user_id = ?1")                                    \
    X(SQ_USER_LIST, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "   \
                    "FROM users ORDER BY user_id")                                                 \
    X(SQ_USER_PAGE, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "   \
                    "FROM users WHERE user_id >= ?1 AND user_id > ?2 AND user_id < ?3 "            \
                    "ORDER BY user_id LIMIT ?4")                                                   \
    X(SQ_USER_SET_PW, "UPDATE users SET pw_hash = ?2 WHERE user_id = ?1")                          \
    X(SQ_USER_SET_ROLE, "UPDATE users SET role = ?2 WHERE user_id = ?1")                           \
    X(SQ_USER_DELETE, "DELETE FROM users WHERE user_id = ?1")                                      \
    X(SQ_USER_INFO_GET,                                                                            \
      "SELECT user_id, name, avatar, mobile, birthday FROM users WHERE user_id = ?1")              \
    X(SQ_USER_INFO_UPDATE, "UPDATE users SET name = ?2, avatar = ?3, mobile = ?4, birthday = ?5, " \
                           "updated_ms = ?6 WHERE user_id = ?1")                                   \
    /* messages */                                                                                 \
    X(SQ_MSG_BY_PACK, SQ_MSG_SELECT "WHERE from_id = ?1 AND pack_id = ?2 AND pack_id <> ''")       \
    X(SQ_SESSION_BUMP,                                                                             \
      "INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, party_b) "            \
      "VALUES (?1, ?2, 1, ?3, ?4, ?5) "                                                            \
      "ON CONFLICT(session_id) DO UPDATE SET last_seq = last_seq + 1, "                            \
      "changed_us = excluded.changed_us, party_a = excluded.party_a, "                             \
      "party_b = excluded.party_b WHERE (party_a = '' AND party_b = '') OR "                       \
      "(party_a = excluded.party_a AND party_b = excluded.party_b)")                               \
    X(SQ_MSG_INSERT,                                                                               \
      "INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, push_info, "    \
      "content_type, content, status, ts_ms) "                                                     \
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")                                \
    X(SQ_MSG_GET, SQ_MSG_SELECT "WHERE session_id = ?1 AND seq = ?2")                              \
    /* the message log's apply (sq_apply.c): the seqId and time the loop assigned */               \
    X(SQ_APPLY_SESSION,                                                                            \
      "INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, party_b) "            \
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "                                                           \
      "ON CONFLICT(session_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), "        \
      "changed_us = max(changed_us, excluded.changed_us), party_a = excluded.party_a, "            \
      "party_b = excluded.party_b WHERE (party_a = '' AND party_b = '') OR "                       \
      "(party_a = excluded.party_a AND party_b = excluded.party_b)")                               \
    X(SQ_APPLY_MSG,                                                                                \
      "INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, push_info, "    \
      "content_type, content, status, ts_ms) "                                                     \
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING")         \
    X(SQ_APPLY_HAS, "SELECT 1 FROM messages WHERE session_id = ?1 AND seq = ?2")                   \
    X(SQ_SESSION_PARTIES, "SELECT last_seq, party_a, party_b FROM sessions WHERE session_id = ?1") \
    /* extensions: replies, mentions, reactions */                                                 \
    X(SQ_MSG_REFS_SET, "UPDATE messages SET reply_to = ?3, mentions = ?4 "                         \
                       "WHERE session_id = ?1 AND seq = ?2")                                       \
    X(SQ_MENTION_ONE, "UPDATE members SET mention_seq = max(mention_seq, ?3) "                     \
                      "WHERE user_id = ?1 AND session_id = ?2")                                    \
    X(SQ_MENTION_ALL, "UPDATE members SET mention_seq = max(mention_seq, ?2) "                     \
                      "WHERE session_id = ?1 AND user_id <> ?3")                                   \
    X(SQ_MENTION_GET, "SELECT CASE WHEN mention_seq > read_seq THEN mention_seq ELSE 0 END "       \
                      "FROM members WHERE user_id = ?1 AND session_id = ?2")                       \
    X(SQ_REACTION_EMOJIS, "SELECT count(DISTINCT emoji), "                                         \
                          "max(emoji = ?3) FROM reactions WHERE session_id = ?1 AND seq = ?2")     \
    X(SQ_REACTION_ADD, "INSERT INTO reactions(session_id, seq, emoji, user_id, at_us) "            \
                       "VALUES (?1, ?2, ?3, ?4, ?5)")                                              \
    X(SQ_REACTION_DEL, "DELETE FROM reactions "                                                    \
                       "WHERE session_id = ?1 AND seq = ?2 AND emoji = ?3 AND user_id = ?4")       \
    X(SQ_REACTIONS_LIST, "SELECT seq, emoji, user_id FROM reactions "                              \
                         "WHERE session_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq, at_us")    \
    X(SQ_MSG_HISTORY, SQ_MSG_SELECT "WHERE session_id = ?1 AND seq <= ?2 AND status <> 2 "         \
                                    "ORDER BY seq DESC LIMIT ?3")                                  \
    X(SQ_MSG_REVOKE, "UPDATE messages SET status = 1, flags = flags | 16 "                         \
                     "WHERE session_id = ?1 AND seq = ?2")                                         \
    X(SQ_MSG_DELETE, "UPDATE messages SET status = 2 WHERE session_id = ?1 AND seq = ?2")          \
    X(SQ_MSG_EDIT, "UPDATE messages SET content = coalesce(?3, content), flags = flags | 8 "       \
                   "WHERE session_id = ?1 AND seq = ?2")                                           \
    /* search (docs/storage.md "Search"): the FTS5 index walked newest first (rowid DESC), joined  \
     * to the messages of the user's sessions / of one session; ?1 the quoted FTS5 phrase */       \
    /* moves this transaction's entries into the FTS5 index in one go (sq_search.c) */             \
    X(SQ_SEARCH_FLUSH_MOVE, "INSERT INTO search_fts(rowid, body) SELECT id, body "                 \
                            "FROM search_pending")                                                 \
    X(SQ_SEARCH_FLUSH_CLEAR, "DELETE FROM search_pending")                                         \
    /* how many entries wait, at most (ids of re-indexed edits may be old: an over-estimate) */    \
    X(SQ_SEARCH_PENDING, "SELECT (SELECT max(id) FROM search_pending) - "                          \
                         "(SELECT min(id) FROM search_pending) + 1")                               \
    /* ?1 the query's trigrams for the detail=none index (any order of rows that hold them all),   \
     * ?5 the query itself: omtp_search_has keeps the rows whose indexed text holds it */          \
    X(SQ_MSG_SEARCH_USER,                                                                          \
      SQ_MSG_SELECT_M "FROM search_fts f JOIN search_rows r ON r.id = f.rowid "                    \
                      "JOIN messages m ON m.session_id = r.session_id AND m.seq = r.seq "          \
                      "WHERE search_fts MATCH ?1 AND m.ts_ms < ?3 AND m.status = 0 "               \
                      "AND r.session_id IN (SELECT session_id FROM members WHERE user_id = ?2) "   \
                      "AND omtp_search_has(" SQ_SEARCH_DOC("m") ", ?5) "                           \
                                                                "ORDER BY f.rowid DESC LIMIT ?4")  \
    X(SQ_MSG_SEARCH_SESSION,                                                                       \
      SQ_MSG_SELECT_M "FROM search_fts f JOIN search_rows r ON r.id = f.rowid "                    \
                      "JOIN messages m ON m.session_id = r.session_id AND m.seq = r.seq "          \
                      "WHERE search_fts MATCH ?1 AND m.ts_ms < ?3 AND m.status = 0 "               \
                      "AND r.session_id = ?2 AND omtp_search_has(" SQ_SEARCH_DOC(                  \
                          "m") ", ?5) "                                                            \
                               "ORDER BY f.rowid DESC LIMIT ?4")                                   \
    X(SQ_LAST_VISIBLE,                                                                             \
      SQ_MSG_SELECT "WHERE session_id = ?1 AND status <> 2 ORDER BY seq DESC LIMIT 1")             \
    X(SQ_UNREAD, "SELECT count(*) FROM messages WHERE session_id = ?1 AND seq > ?2 "               \
                 "AND from_id <> ?3 AND status <> 2")                                              \
    /* sessions and membership rows */                                                             \
    X(SQ_SESSION_CREATE, "INSERT INTO sessions(session_id, type, last_seq, changed_us) "           \
                         "VALUES (?1, ?2, 0, ?3) ON CONFLICT(session_id) DO NOTHING")              \
    X(SQ_SESSION_TOUCH, "UPDATE sessions SET changed_us = ?2 WHERE session_id = ?1")               \
    X(SQ_SESSION_LAST, "SELECT last_seq FROM sessions WHERE session_id = ?1")                      \
    X(SQ_MEMBER_ENSURE,                                                                            \
      "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "                 \
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(user_id, session_id) DO NOTHING")                   \
    X(SQ_MEMBER_GET, "SELECT read_seq FROM members WHERE user_id = ?1 AND session_id = ?2")        \
    X(SQ_MEMBER_TOUCH,                                                                             \
      "UPDATE members SET changed_us = ?3 WHERE user_id = ?1 AND session_id = ?2")                 \
    X(SQ_MEMBER_DEL, "DELETE FROM members WHERE user_id = ?1 AND session_id = ?2")                 \
    X(SQ_READ_SET, "UPDATE members SET read_seq = ?3, changed_us = ?4 "                            \
                   "WHERE user_id = ?1 AND session_id = ?2 AND read_seq < ?3")                     \
    X(SQ_HOT_PAGE, "SELECT m.session_id, m.read_seq, max(m.changed_us, s.changed_us) AS ch "       \
                   "FROM members m JOIN sessions s ON s.session_id = m.session_id "                \
                   "WHERE m.user_id = ?1 AND max(m.changed_us, s.changed_us) > ?2 "                \
                   "ORDER BY ch, m.session_id LIMIT ?3")                                           \
    X(SQ_HOT_ONE, "SELECT s.session_id, coalesce(m.read_seq, 0), "                                 \
                  "max(coalesce(m.changed_us, 0), s.changed_us) FROM sessions s "                  \
                  "LEFT JOIN members m ON m.user_id = ?1 AND m.session_id = s.session_id "         \
                  "WHERE s.session_id = ?2")                                                       \
    X(SQ_UNREAD_TOTAL,                                                                             \
      "SELECT count(*) FROM members m JOIN messages x ON x.session_id = m.session_id "             \
      "AND x.seq > m.read_seq AND x.from_id <> m.user_id AND x.status <> 2 "                       \
      "WHERE m.user_id = ?1")                                                                      \
    X(SQ_SESSION_ATTRS, "SELECT json_group_object(name, value) FROM session_attrs "                \
                        "WHERE user_id = ?1 AND session_id = ?2")                                  \
    X(SQ_SESSION_ATTR_SET,                                                                         \
      "INSERT INTO session_attrs(user_id, session_id, name, value) VALUES (?1, ?2, ?3, ?4) "       \
      "ON CONFLICT(user_id, session_id, name) DO UPDATE SET value = excluded.value")               \
    /* high-priority queues: one seq shared by all (the hp_heads row of user id '') */             \
    /* no RETURNING: SQLite builds a temporary table for it on every run;                          \
     * SQ_HP_HEAD reads the new value instead */                                                   \
    X(SQ_HP_HEAD_BUMP, "UPDATE hp_heads SET last_seq = last_seq + 1 WHERE user_id = ''")           \
    X(SQ_HP_HEAD, "SELECT last_seq FROM hp_heads WHERE user_id = ''")                              \
    X(SQ_HP_INSERT, "INSERT INTO hp_queue(user_id, seq, type, flags, pack_id, payload, "           \
                    "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                             \
    X(SQ_HP_GROUP_INSERT, "INSERT INTO hp_group(group_id, seq, except_id, type, flags, pack_id, "  \
                          "payload, created_ms) VALUES (?1, ?2, ?8, ?3, ?4, ?5, ?6, ?7)")          \
    /* a user's view: personal entries, entries of the groups it is in written since it joined     \
     * (members.hp_from), and of the last span of each group it left (group_left); each part a     \
     * primary-key range, merged by seq */                                                         \
    X(SQ_HP_LIST,                                                                                  \
      "SELECT seq, type, flags, pack_id, payload FROM ("                                           \
      "SELECT seq, type, flags, pack_id, payload FROM hp_queue WHERE user_id = ?1 AND seq > ?2 "   \
      "UNION ALL SELECT g.seq, g.type, g.flags, g.pack_id, g.payload FROM members m "              \
      "JOIN hp_group g ON g.group_id = m.session_id AND g.seq > max(m.hp_from, ?2) "               \
      "WHERE m.user_id = ?1 AND g.except_id <> ?1 "                                                \
      "UNION ALL SELECT g.seq, g.type, g.flags, g.pack_id, g.payload FROM group_left l "           \
      "JOIN hp_group g ON g.group_id = l.group_id AND g.seq > max(l.hp_from, ?2) "                 \
      "AND g.seq <= l.hp_to WHERE l.user_id = ?1 AND g.except_id <> ?1) "                          \
      "ORDER BY seq LIMIT ?3")                                                                     \
    X(SQ_HP_DEL_USER, "DELETE FROM hp_queue WHERE user_id = ?1")                                   \
    /* retention (sq_retention.c): the oldest entries before a time, through hp_queue_by_time      \
     * and hp_group_by_time */                                                                     \
    X(SQ_HP_PRUNE, "DELETE FROM hp_queue WHERE rowid IN (SELECT rowid FROM hp_queue "              \
                   "WHERE created_ms < ?1 ORDER BY created_ms LIMIT ?2)")                          \
    X(SQ_HP_GROUP_PRUNE, "DELETE FROM hp_group WHERE rowid IN (SELECT rowid FROM hp_group "        \
                         "WHERE created_ms < ?1 ORDER BY created_ms LIMIT ?2)")                    \
    /* groups */                                                                                   \
    X(SQ_GROUP_INSERT,                                                                             \
      "INSERT INTO chat_groups(group_id, name, avatar, creator_id, description, member_limit, "    \
      "create_ms, update_ms, dismissed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0)")               \
    X(SQ_GROUP_GET, "SELECT " SQ_GROUP_COLS " FROM chat_groups g WHERE g.group_id = ?1")           \
    X(SQ_GROUP_UPDATE,                                                                             \
      "UPDATE chat_groups SET name = ?2, avatar = ?3, description = ?4, member_limit = ?5, "       \
      "update_ms = max(?6, update_ms + 1) WHERE group_id = ?1 AND dismissed = 0")                  \
    X(SQ_GROUP_SET_CREATOR, "UPDATE chat_groups SET creator_id = ?2, "                             \
                            "update_ms = max(?3, update_ms + 1) "                                  \
                            "WHERE group_id = ?1 AND dismissed = 0")                               \
    X(SQ_GROUP_DISMISS,                                                                            \
      "UPDATE chat_groups SET dismissed = 1, update_ms = max(?2, update_ms + 1) "                  \
      "WHERE group_id = ?1 AND dismissed = 0")                                                     \
    X(SQ_GROUP_LEFT_ALL,                                                                           \
      "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "                          \
      "SELECT user_id, session_id, ?2, hp_from, " SQ_HP_NOW " FROM members WHERE session_id = ?1 " \
      "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, "                      \
      "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                                        \
    X(SQ_MEMBERS_DEL_SESSION, "DELETE FROM members WHERE session_id = ?1")                         \
    /* a dismissal's chunk (group_dismiss_step): the first ?4 members but the creator (?3) */      \
    X(SQ_GROUP_LEFT_CHUNK, "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "     \
                           "SELECT user_id, session_id, ?2, hp_from, " SQ_HP_NOW " FROM members "  \
                           "WHERE session_id = ?1 AND user_id <> ?3 ORDER BY user_id LIMIT ?4 "    \
                           "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, " \
                           "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                   \
    X(SQ_MEMBERS_DEL_CHUNK,                                                                        \
      "DELETE FROM members WHERE session_id = ?1 AND user_id IN (SELECT user_id FROM members "     \
      "WHERE session_id = ?1 AND user_id <> ?2 ORDER BY user_id LIMIT ?3)")                        \
    X(SQ_GROUP_MEMBERS, "SELECT user_id FROM members WHERE session_id = ?1 ORDER BY user_id")      \
    X(SQ_GROUP_IS_MEMBER,                                                                          \
      "SELECT 1 FROM members m JOIN chat_groups g ON g.group_id = m.session_id "                   \
      "WHERE m.user_id = ?2 AND m.session_id = ?1 AND g.dismissed = 0")                            \
    X(SQ_GROUP_MEMBER_COUNT, "SELECT count(*) FROM members WHERE session_id = ?1")                 \
    /* run before the membership row is deleted: the span it ends */                               \
    X(SQ_GROUP_LEFT_SET, "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "       \
                         "SELECT user_id, session_id, ?3, hp_from, " SQ_HP_NOW " FROM members "    \
                         "WHERE user_id = ?1 AND session_id = ?2 "                                 \
                         "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, "   \
                         "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                     \
    /* re-joining: no longer reported as left (at_ms 0), the span of the last stay is kept */      \
    X(SQ_GROUP_LEFT_DEL, "UPDATE group_left SET at_ms = 0 WHERE user_id = ?1 AND group_id = ?2")   \
    /* a group member row starts its high-priority view at the shared head */                      \
    X(SQ_GROUP_MEMBER_ENSURE,                                                                      \
      "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms, hp_from) "        \
      "VALUES (?1, ?2, ?3, ?4, ?5, " SQ_HP_NOW ") ON CONFLICT(user_id, session_id) DO NOTHING")    \
    X(SQ_GROUP_SYNC, "SELECT " SQ_GROUP_COLS " FROM members m "                                    \
                     "JOIN chat_groups g ON g.group_id = m.session_id "                            \
                     "WHERE m.user_id = ?1 AND g.dismissed = 0 "                                   \
                     "AND (g.update_ms > ?2 OR m.joined_ms > ?2) ORDER BY g.group_id")             \
    /* at_ms 0: left once, member again (re-joined) */                                             \
    X(SQ_GROUP_SYNC_DEL, "SELECT group_id FROM group_left WHERE user_id = ?1 AND at_ms > ?2 "      \
                         "AND at_ms > 0 ORDER BY group_id")                                        \
    /* friends */                                                                                  \
    X(SQ_FRIEND_UPSERT_MINE,                                                                       \
      "INSERT INTO friends(user_id, friend_id, remark, deleted, changed_ms) "                      \
      "VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT(user_id, friend_id) DO UPDATE SET "                  \
      "remark = excluded.remark, deleted = 0, changed_ms = excluded.changed_ms")                   \
    X(SQ_FRIEND_UPSERT_THEIRS,                                                                     \
      "INSERT INTO friends(user_id, friend_id, remark, deleted, changed_ms) "                      \
      "VALUES (?1, ?2, '', 0, ?3) ON CONFLICT(user_id, friend_id) DO UPDATE SET "                  \
      "remark = CASE WHEN deleted THEN '' ELSE remark END, "                                       \
      "changed_ms = CASE WHEN deleted THEN excluded.changed_ms ELSE changed_ms END, "              \
      "deleted = 0")                                                                               \
    X(SQ_FRIEND_DEL, "UPDATE friends SET deleted = 1, changed_ms = ?3 "                            \
                     "WHERE user_id = ?1 AND friend_id = ?2 AND deleted = 0")                      \
    X(SQ_FRIEND_IS, "SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?2 AND deleted = 0") \
    /* presence: a session both are members of (members' primary key for ?1, then                  \
     * members_by_session for ?2), and the hidden-last-seen attribute (user_attrs' key) */         \
    X(SQ_PRES_SHARED, "SELECT 1 FROM members a JOIN members b ON b.session_id = a.session_id "     \
                      "AND b.user_id = ?2 WHERE a.user_id = ?1 LIMIT 1")                           \
    X(SQ_PRES_HIDDEN, "SELECT 1 FROM user_attrs WHERE user_id = ?1 AND friend_id = ?1 "            \
                      "AND name = 'presence.lastSeen' AND value = 'hidden'")                       \
    /* read receipts: a session's members and their read cursors */                                \
    X(SQ_SESSION_CURSORS,                                                                          \
      "SELECT user_id, read_seq FROM members WHERE session_id = ?1 ORDER BY user_id")              \
    X(SQ_FRIEND_LIST, "SELECT friend_id, remark FROM friends WHERE user_id = ?1 AND deleted = 0 "  \
                      "ORDER BY friend_id")                                                        \
    X(SQ_FRIEND_CHANGED,                                                                           \
      "SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = ?1 AND changed_ms > ?2)")              \
    /* user attributes (user_attr_get builds its filtered SELECT per combination) */               \
    X(SQ_UATTR_SET,                                                                                \
      "INSERT INTO user_attrs(user_id, friend_id, name, value) VALUES (?1, ?2, ?3, ?4) "           \
      "ON CONFLICT(user_id, friend_id, name) DO UPDATE SET value = excluded.value")                \
    /* uploaded files (sq_files.c) */                                                              \
    X(SQ_FILE_PUT, "INSERT INTO files(file_id, sha256, size, mime, name, uploader, created_ms, "   \
                   "width, height, thumb, thumb_size) "                                            \
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                        \
    X(SQ_FILE_GET, "SELECT " SQ_FILE_COLS " FROM files WHERE file_id = ?1")                        \
    X(SQ_FILE_REF_ADD, "INSERT OR IGNORE INTO file_refs(file_id, session_id, seq) "                \
                       "VALUES (?1, ?2, ?3)")                                                      \
    X(SQ_FILE_REF_SESSIONS, "SELECT DISTINCT session_id FROM file_refs WHERE file_id = ?1 "        \
                            "LIMIT ?2")                                                            \
    X(SQ_FILE_USAGE, "SELECT coalesce(sum(size), 0), "                                             \
                     "coalesce(sum(created_ms >= ?2), 0) FROM files WHERE uploader = ?1")          \
    X(SQ_FILE_ORPHANS, "SELECT " SQ_FILE_COLS " FROM files f WHERE created_ms < ?1 AND NOT "       \
                       "EXISTS (SELECT 1 FROM file_refs r WHERE r.file_id = f.file_id) "           \
                       "ORDER BY created_ms LIMIT ?2")                                             \
    X(SQ_FILE_DEL, "DELETE FROM files WHERE file_id = ?1")                                         \
    X(SQ_FILE_DEL_REFS, "DELETE FROM file_refs WHERE file_id = ?1")                                \
    X(SQ_FILE_REF_MEMBER, "SELECT 1 WHERE EXISTS (SELECT 1 FROM file_refs r JOIN members m "       \
                          "ON m.session_id = r.session_id AND m.user_id = ?2 "                     \
                          "WHERE r.file_id = ?1)")                                                 \
    X(SQ_FILE_SHA_USED, "SELECT 1 WHERE EXISTS (SELECT 1 FROM files WHERE sha256 = ?1) "           \
                        "OR EXISTS (SELECT 1 FROM files WHERE thumb = ?1 AND thumb <> '')")

#endif
