/*
 * pg_stmts.h - every SQL statement of the PostgreSQL backend, in one list.
 *
 * X(id, sql). The statements mirror the SQLite backend's (sqlite/sq_stmts.h)
 * one for one, so both backends read and write the same rows; differences
 * are only where PostgreSQL runs several writers at once:
 *
 *  - PG_MSG_APPEND's session bump / PG_HP_HEAD_BUMP take the row lock of the counter and
 *    hold it to commit, so concurrent appenders on other nodes queue behind
 *    it and numbers stay gap-free (a rolled-back append un-counts itself).
 *  - PG_MSG_APPEND is all of msg_append in one round trip (see the comment
 *    at pg_msg_append); its message insert uses ON CONFLICT DO NOTHING on
 *    (from_id, pack_id): a duplicate that raced in from another node is a
 *    zero-row insert, not an error that would abort the transaction.
 *  - change times are GREATEST(now, old + 1): two nodes' clocks may differ,
 *    a session's change time must still only grow.
 *
 * Every id and name column is text COLLATE "C" (byte order, like SQLite's
 * BINARY); free-form bytes (content, pushInfo, high-priority payloads) are
 * bytea.
 */
#ifndef OMTP_PG_STMTS_H
#define OMTP_PG_STMTS_H

#define PG_FILE_COLS                                                                               \
    "file_id, sha256, size, mime, name, uploader, created_ms, width, height, thumb, thumb_size"

#define PG_MSG_SELECT                                                                              \
    "SELECT type, flags, pack_id, session_id, seq, ts_ms, from_id, to_id, push_info, "             \
    "content_type, content, status, reply_to, mentions FROM messages "

/* the head of the shared high-priority seq */
#define PG_HP_NOW "(SELECT last_seq FROM hp_heads WHERE user_id = '')"

#define PG_GROUP_COLS                                                                              \
    "g.group_id, g.name, g.avatar, g.creator_id, g.description, g.member_limit, g.create_ms, "     \
    "g.update_ms, g.dismissed"

#define PG_STMTS(X)                                                                                \
    /* meta */                                                                                     \
    X(PG_META_GET, "SELECT value FROM meta WHERE key = $1")                                        \
    X(PG_META_SET, "INSERT INTO meta(key, value) VALUES ($1, $2) "                                 \
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                        \
    /* users and profiles */                                                                       \
    X(PG_USER_INSERT,                                                                              \
      "INSERT INTO users(user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms, "     \
      "updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (user_id) DO NOTHING")  \
    X(PG_USER_GET, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "    \
                   "FROM users WHERE user_id = $1")                                                \
    X(PG_USER_EXISTS, "SELECT 1 FROM users WHERE user_id = $1")                                    \
    X(PG_USER_LIST, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "   \
                    "FROM users ORDER BY user_id")                                                 \
    X(PG_USER_PAGE, "SELECT user_id, pw_hash, role, name, avatar, mobile, birthday, created_ms "   \
                    "FROM users WHERE user_id >= $1 AND user_id > $2 AND user_id < $3 "            \
                    "ORDER BY user_id LIMIT $4")                                                   \
    X(PG_USER_SET_PW, "UPDATE users SET pw_hash = $2 WHERE user_id = $1")                          \
    X(PG_USER_SET_ROLE, "UPDATE users SET role = $2 WHERE user_id = $1")                           \
    X(PG_USER_DELETE, "DELETE FROM users WHERE user_id = $1")                                      \
    X(PG_USER_INFO_GET,                                                                            \
      "SELECT user_id, name, avatar, mobile, birthday FROM users WHERE user_id = $1")              \
    X(PG_USER_INFO_UPDATE, "UPDATE users SET name = $2, avatar = $3, mobile = $4, birthday = $5, " \
                           "updated_ms = $6 WHERE user_id = $1")                                   \
    /* messages */                                                                                 \
    X(PG_MSG_BY_PACK, PG_MSG_SELECT "WHERE from_id = $1 AND pack_id = $2 AND pack_id <> ''")       \
    X(PG_SESSION_UNBUMP,                                                                           \
      "UPDATE sessions SET last_seq = last_seq - 1 WHERE session_id = $1 AND last_seq = $2")       \
    X(PG_MSG_APPEND,                                                                               \
      "WITH dup AS (" PG_MSG_SELECT "WHERE from_id = $5::text AND pack_id = $4::text "             \
      "AND pack_id <> ''), "                                                                       \
      "lk AS (SELECT 1 FROM sessions WHERE session_id = $1::text AND $15::boolean "                \
      "AND NOT EXISTS (SELECT 1 FROM dup) FOR UPDATE NOWAIT), "                                    \
      "bump AS (INSERT INTO sessions AS s (session_id, type, last_seq, changed_us, party_a, "      \
      "party_b) SELECT $1::text, $2::integer, 1, $12::bigint, $16::text, $17::text "               \
      "WHERE NOT EXISTS (SELECT 1 FROM dup) AND (SELECT count(*) FROM lk) >= 0 "                   \
      "ON CONFLICT(session_id) DO UPDATE SET last_seq = s.last_seq + 1, "                          \
      "changed_us = GREATEST(excluded.changed_us, s.changed_us + 1), "                             \
      "party_a = excluded.party_a, party_b = excluded.party_b "                                    \
      "WHERE (s.party_a = '' AND s.party_b = '') OR "                                              \
      "(s.party_a = excluded.party_a AND s.party_b = excluded.party_b) RETURNING last_seq), "      \
      "ins AS (INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "       \
      "push_info, content_type, content, status, ts_ms) "                                          \
      "SELECT $1::text, last_seq, $2::integer, $3::bigint, $4::text, $5::text, $6::text, "         \
      "$7::bytea, $8::integer, $9::bytea, $10::integer, $11::bigint FROM bump "                    \
      "ON CONFLICT (from_id, pack_id) WHERE pack_id <> '' DO NOTHING RETURNING seq), "             \
      "mem AS (INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "         \
      "SELECT u.id, $1::text, 0, $12::bigint, $11::bigint "                                        \
      "FROM ins, (VALUES (1, $13::text), (2, $14::text)) u(o, id) WHERE u.id IS NOT NULL "         \
      "ORDER BY u.o ON CONFLICT(user_id, session_id) DO NOTHING) "                                 \
      "SELECT (SELECT seq FROM ins), (SELECT last_seq FROM bump), d.* "                            \
      "FROM (SELECT 1) one LEFT JOIN dup d ON true")                                               \
    /* a batch of sends in one statement (pg_batch.c): $1..$19 one array per column, one           \
     * element per send (i = its index), $20 ts_ms, $21 NOWAIT on the session rows. The message    \
     * insert has no ON CONFLICT: a (from, packId) committed by another node after the snapshot    \
     * fails it on messages_dedup (pg_batch.c runs it again) instead of leaving a counted hole */  \
    X(PG_MSG_APPEND_BATCH,                                                                         \
      "WITH inp AS (SELECT * FROM unnest($1::int4[], $2::text[], $3::int4[], $4::int8[], "         \
      "$5::text[], $6::text[], $7::text[], $8::bytea[], $9::int4[], $10::bytea[], $11::int4[], "   \
      "$12::int8[], $13::text[], $14::text[], $15::text[], $16::text[], $17::int4[], "             \
      "$18::int8[], "                                                                              \
      "$19::text[]) "                                                                              \
      "AS t(i, sid, typ, flg, pid, frm, too, push, ct, body, st, us, m1, m2, pa, pb, chk, rto, "   \
      "mnt)), "                                                                                    \
      "chk AS (SELECT inp.*, CASE WHEN inp.sid = '' OR inp.frm = '' THEN 7 "                       \
      "WHEN chk & 1 <> 0 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = inp.frm) "        \
      "THEN 1 "                                                                                    \
      "WHEN chk & 8 <> 0 AND NOT EXISTS (SELECT 1 FROM chat_groups g "                             \
      "WHERE g.group_id = inp.too) THEN 2 "                                                        \
      "WHEN chk & 8 <> 0 AND EXISTS (SELECT 1 FROM chat_groups g "                                 \
      "WHERE g.group_id = inp.too AND g.dismissed <> 0) THEN 6 "                                   \
      "WHEN chk & 8 <> 0 AND NOT EXISTS (SELECT 1 FROM members mb "                                \
      "WHERE mb.session_id = inp.too AND mb.user_id = inp.frm) THEN 3 "                            \
      "WHEN chk & 2 <> 0 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = inp.too) "        \
      "THEN 4 "                                                                                    \
      "WHEN chk & 4 <> 0 AND NOT EXISTS (SELECT 1 FROM friends f WHERE f.user_id = inp.frm "       \
      "AND f.friend_id = inp.too AND f.deleted = 0) THEN 5 "                                       \
      "ELSE 0 END AS refused FROM inp), "                                                          \
      "dup AS (SELECT c.i AS di, m.* FROM chk c CROSS JOIN LATERAL (SELECT * FROM messages m "     \
      "WHERE m.from_id = c.frm AND m.pack_id = c.pid AND m.pack_id <> '' LIMIT 1) m "              \
      "WHERE c.refused = 0 AND c.pid <> ''), "                                                     \
      "new AS (SELECT c.*, row_number() OVER (PARTITION BY c.frm, NULLIF(c.pid, ''), "             \
      "CASE WHEN c.pid = '' THEN c.i END ORDER BY c.i) AS k FROM chk c "                           \
      "WHERE c.refused = 0 AND NOT EXISTS (SELECT 1 FROM dup WHERE dup.di = c.i)), "               \
      "hd AS (SELECT DISTINCT ON (sid) sid, typ, pa, pb FROM new WHERE k = 1 ORDER BY sid, i), "   \
      "ok AS (SELECT n.* FROM new n JOIN hd ON hd.sid = n.sid AND hd.pa = n.pa AND hd.pb = n.pb "  \
      "WHERE n.k = 1), "                                                                           \
      "cnt AS (SELECT sid, count(*) AS n, max(us) AS us FROM ok GROUP BY sid), "                   \
      "lk AS (SELECT s.session_id FROM sessions s WHERE $21::boolean "                             \
      "AND s.session_id IN (SELECT sid FROM cnt) ORDER BY s.session_id FOR UPDATE NOWAIT), "       \
      "bump AS (INSERT INTO sessions AS s (session_id, type, last_seq, changed_us, party_a, "      \
      "party_b) SELECT c.sid, hd.typ, c.n, c.us, hd.pa, hd.pb FROM cnt c JOIN hd ON hd.sid = "     \
      "c.sid "                                                                                     \
      "WHERE (SELECT count(*) FROM lk) >= 0 ORDER BY c.sid COLLATE \"C\" "                         \
      "ON CONFLICT(session_id) DO UPDATE SET last_seq = s.last_seq + excluded.last_seq, "          \
      "changed_us = GREATEST(excluded.changed_us, s.changed_us + 1), "                             \
      "party_a = excluded.party_a, party_b = excluded.party_b "                                    \
      "WHERE (s.party_a = '' AND s.party_b = '') OR "                                              \
      "(s.party_a = excluded.party_a AND s.party_b = excluded.party_b) "                           \
      "RETURNING s.session_id, s.last_seq), "                                                      \
      "num AS (SELECT o.*, b.last_seq - c.n + row_number() OVER (PARTITION BY o.sid ORDER BY "     \
      "o.i) "                                                                                      \
      "AS seq FROM ok o JOIN cnt c ON c.sid = o.sid JOIN bump b ON b.session_id = o.sid), "        \
      "ins AS (INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "       \
      "push_info, content_type, content, status, ts_ms, reply_to, mentions) "                      \
      "SELECT sid, seq, typ, flg, pid, frm, too, push, ct, body, st, $20::bigint, rto, mnt "       \
      "FROM num ORDER BY sid COLLATE \"C\", seq RETURNING session_id, seq), " /* the mentioned     \
                                                                               * members' cursors  \
                                                                               * (PG_MENTION_ONE / \
                                                                               * PG_MENTION_ALL    \
                                                                               * per row): one     \
                                                                               * update per        \
                                                                               * member, to the    \
                                                                               * newest seq of the \
                                                                               * batch that        \
                                                                               * mentions it */    \
      "mk AS (UPDATE members mb SET mention_seq = GREATEST(mb.mention_seq, x.seq) FROM ("          \
      "SELECT sid, id, max(seq) AS seq FROM ("                                                     \
      "SELECT n.sid, u.id, n.seq FROM num n "                                                      \
      "CROSS JOIN LATERAL unnest(string_to_array(n.mnt, ' ')) u(id) "                              \
      "WHERE n.mnt <> '' AND NOT '@all' = ANY(string_to_array(n.mnt, ' ')) "                       \
      "UNION ALL SELECT a.sid, g.user_id, a.seq FROM num a "                                       \
      "JOIN members g ON g.session_id = a.sid AND g.user_id <> a.frm "                             \
      "WHERE a.mnt <> '' AND '@all' = ANY(string_to_array(a.mnt, ' '))) y GROUP BY sid, id) x "    \
      "WHERE mb.session_id = x.sid AND mb.user_id = x.id), "                                       \
      "mem AS (INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "         \
      "SELECT DISTINCT ON (u.id, n.sid) u.id, n.sid, 0, n.us, $20::bigint "                        \
      "FROM num n "                                                                                \
      "CROSS JOIN LATERAL (VALUES (n.m1), (n.m2)) u(id) WHERE u.id IS NOT NULL "                   \
      "ORDER BY u.id, n.sid, n.seq ON CONFLICT(user_id, session_id) DO NOTHING) "                  \
      "SELECT c.i, c.refused, nw.k, o.i IS NOT NULL, b.session_id IS NOT NULL, n.seq, "            \
      "n.seq IS NOT NULL, d.type, d.flags, d.pack_id, d.session_id, d.seq, d.ts_ms, "              \
      "d.from_id, d.to_id, d.push_info, d.content_type, d.content, d.status, d.reply_to, "         \
      "d.mentions FROM chk c LEFT JOIN dup d ON d.di = c.i LEFT JOIN new nw ON nw.i = c.i "        \
      "LEFT JOIN ok o ON o.i = c.i LEFT JOIN bump b ON b.session_id = c.sid "                      \
      "LEFT JOIN num n ON n.i = c.i ORDER BY c.i")                                                 \
    X(PG_MSG_GET, PG_MSG_SELECT "WHERE session_id = $1 AND seq = $2")                              \
    /* extensions: replies, mentions, reactions */                                                 \
    X(PG_MSG_REFS_SET, "UPDATE messages SET reply_to = $3, mentions = $4 "                         \
                       "WHERE session_id = $1 AND seq = $2")                                       \
    X(PG_MENTION_ONE, "UPDATE members SET mention_seq = GREATEST(mention_seq, $3) "                \
                      "WHERE user_id = $1 AND session_id = $2")                                    \
    X(PG_MENTION_ALL, "UPDATE members SET mention_seq = GREATEST(mention_seq, $2) "                \
                      "WHERE session_id = $1 AND user_id <> $3")                                   \
    X(PG_MENTION_GET, "SELECT CASE WHEN mention_seq > read_seq THEN mention_seq ELSE 0 END "       \
                      "FROM members WHERE user_id = $1 AND session_id = $2")                       \
    X(PG_REACTION_EMOJIS, "SELECT count(DISTINCT emoji), "                                         \
                          "count(*) FILTER (WHERE emoji = $3) FROM reactions "                     \
                          "WHERE session_id = $1 AND seq = $2")                                    \
    X(PG_REACTION_ADD, "INSERT INTO reactions(session_id, seq, emoji, user_id, at_us) "            \
                       "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")                       \
    X(PG_REACTION_DEL, "DELETE FROM reactions "                                                    \
                       "WHERE session_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4")       \
    X(PG_REACTIONS_LIST, "SELECT seq, emoji, user_id FROM reactions "                              \
                         "WHERE session_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, at_us")    \
    X(PG_MSG_HISTORY, PG_MSG_SELECT "WHERE session_id = $1 AND seq <= $2 AND status <> 2 "         \
                                    "ORDER BY seq DESC LIMIT $3")                                  \
    /* search (docs/storage.md "Search"): $1 the ILIKE pattern '%q%' (q's \ % _ escaped) */        \
    X(PG_MSG_SEARCH_USER,                                                                          \
      PG_MSG_SELECT "WHERE search_body <> '' AND search_body ILIKE $1 AND ts_ms < $3 "             \
                    "AND session_id IN (SELECT session_id FROM members WHERE user_id = $2) "       \
                    "ORDER BY ts_ms DESC, session_id, seq DESC LIMIT $4")                          \
    X(PG_MSG_SEARCH_SESSION,                                                                       \
      PG_MSG_SELECT "WHERE search_body <> '' AND search_body ILIKE $1 AND ts_ms < $3 "             \
                    "AND session_id = $2 ORDER BY ts_ms DESC, session_id, seq DESC LIMIT $4")      \
    X(PG_MSG_REVOKE, "UPDATE messages SET status = 1, flags = flags | 16 "                         \
                     "WHERE session_id = $1 AND seq = $2")                                         \
    X(PG_MSG_DELETE, "UPDATE messages SET status = 2 WHERE session_id = $1 AND seq = $2")          \
    X(PG_MSG_EDIT, "UPDATE messages SET content = coalesce($3, content), flags = flags | 8 "       \
                   "WHERE session_id = $1 AND seq = $2")                                           \
    X(PG_LAST_VISIBLE,                                                                             \
      PG_MSG_SELECT "WHERE session_id = $1 AND status <> 2 ORDER BY seq DESC LIMIT 1")             \
    X(PG_UNREAD, "SELECT count(*) FROM messages WHERE session_id = $1 AND seq > $2 "               \
                 "AND from_id <> $3 AND status <> 2")                                              \
    /* sessions and membership rows */                                                             \
    X(PG_SESSION_CREATE, "INSERT INTO sessions(session_id, type, last_seq, changed_us) "           \
                         "VALUES ($1, $2, 0, $3) ON CONFLICT(session_id) DO NOTHING")              \
    X(PG_SESSION_TOUCH, "UPDATE sessions SET changed_us = GREATEST($2, changed_us + 1) "           \
                        "WHERE session_id = $1")                                                   \
    X(PG_SESSION_LAST, "SELECT last_seq FROM sessions WHERE session_id = $1")                      \
    X(PG_MEMBER_ENSURE,                                                                            \
      "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "                 \
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT(user_id, session_id) DO NOTHING")                   \
    X(PG_MEMBER_GET, "SELECT read_seq FROM members WHERE user_id = $1 AND session_id = $2")        \
    X(PG_MEMBER_TOUCH, "UPDATE members SET changed_us = GREATEST($3, changed_us + 1) "             \
                       "WHERE user_id = $1 AND session_id = $2")                                   \
    X(PG_MEMBER_DEL, "DELETE FROM members WHERE user_id = $1 AND session_id = $2")                 \
    X(PG_READ_SET, "UPDATE members SET read_seq = $3, changed_us = GREATEST($4, changed_us + 1) "  \
                   "WHERE user_id = $1 AND session_id = $2 AND read_seq < $3")                     \
    X(PG_HOT_PAGE, "SELECT m.session_id, m.read_seq, GREATEST(m.changed_us, s.changed_us) AS ch "  \
                   "FROM members m JOIN sessions s ON s.session_id = m.session_id "                \
                   "WHERE m.user_id = $1 AND GREATEST(m.changed_us, s.changed_us) > $2 "           \
                   "ORDER BY ch, m.session_id LIMIT $3")                                           \
    X(PG_HOT_ONE, "SELECT s.session_id, coalesce(m.read_seq, 0), "                                 \
                  "GREATEST(coalesce(m.changed_us, 0), s.changed_us) FROM sessions s "             \
                  "LEFT JOIN members m ON m.user_id = $1 AND m.session_id = s.session_id "         \
                  "WHERE s.session_id = $2")                                                       \
    X(PG_UNREAD_TOTAL,                                                                             \
      "SELECT count(*) FROM members m JOIN messages x ON x.session_id = m.session_id "             \
      "AND x.seq > m.read_seq AND x.from_id <> m.user_id AND x.status <> 2 "                       \
      "WHERE m.user_id = $1")                                                                      \
    X(PG_SESSION_ATTRS, "SELECT name, value FROM session_attrs "                                   \
                        "WHERE user_id = $1 AND session_id = $2 ORDER BY name")                    \
    X(PG_SESSION_ATTR_SET,                                                                         \
      "INSERT INTO session_attrs(user_id, session_id, name, value) VALUES ($1, $2, $3, $4) "       \
      "ON CONFLICT(user_id, session_id, name) DO UPDATE SET value = excluded.value")               \
    /* high-priority queues: one seq shared by all (the hp_heads row of user id ''; its row lock   \
     * orders every node's appends by commit) */                                                   \
    X(PG_HP_HEAD_LOCK_NOWAIT,                                                                      \
      "SELECT last_seq FROM hp_heads WHERE user_id = '' FOR UPDATE NOWAIT")                        \
    X(PG_HP_HEAD_BUMP,                                                                             \
      "UPDATE hp_heads SET last_seq = last_seq + 1 WHERE user_id = '' RETURNING last_seq")         \
    X(PG_HP_HEAD, "SELECT last_seq FROM hp_heads WHERE user_id = ''")                              \
    X(PG_HP_INSERT, "INSERT INTO hp_queue(user_id, seq, type, flags, pack_id, payload, "           \
                    "created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")                             \
    X(PG_HP_GROUP_INSERT, "INSERT INTO hp_group(group_id, seq, type, flags, pack_id, payload, "    \
                          "created_ms, except_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")        \
    /* a user's view (sqlite/sq_stmts.h SQ_HP_LIST): personal entries, entries of its groups       \
     * since it joined, and of the last stay in each group it left, merged by seq */               \
    X(PG_HP_LIST,                                                                                  \
      "SELECT seq, type, flags, pack_id, payload FROM ("                                           \
      "(SELECT seq, type, flags, pack_id, payload FROM hp_queue WHERE user_id = $1 AND seq > $2 "  \
      "ORDER BY seq LIMIT $3) "                                                                    \
      "UNION ALL (SELECT g.seq, g.type, g.flags, g.pack_id, g.payload FROM members m "             \
      "JOIN hp_group g ON g.group_id = m.session_id AND g.seq > GREATEST(m.hp_from, $2) "          \
      "WHERE m.user_id = $1 AND g.except_id <> $1 ORDER BY g.seq LIMIT $3) "                       \
      "UNION ALL (SELECT g.seq, g.type, g.flags, g.pack_id, g.payload FROM group_left l "          \
      "JOIN hp_group g ON g.group_id = l.group_id AND g.seq > GREATEST(l.hp_from, $2) "            \
      "AND g.seq <= l.hp_to WHERE l.user_id = $1 AND g.except_id <> $1 ORDER BY g.seq LIMIT $3)"   \
      ") v ORDER BY seq LIMIT $3")                                                                 \
    X(PG_HP_DEL_USER, "DELETE FROM hp_queue WHERE user_id = $1")                                   \
    /* retention (pg_retention.c): the oldest entries before a time, through hp_queue_created      \
     * and hp_group_created; rows another node is deleting right now are skipped, not waited for   \
     */                                                                                            \
    X(PG_HP_PRUNE, "DELETE FROM hp_queue q USING (SELECT user_id, seq FROM hp_queue "              \
                   "WHERE created_ms < $1 ORDER BY created_ms LIMIT $2 FOR UPDATE SKIP LOCKED) o " \
                   "WHERE q.user_id = o.user_id AND q.seq = o.seq")                                \
    X(PG_HP_GROUP_PRUNE,                                                                           \
      "DELETE FROM hp_group q USING (SELECT group_id, seq FROM hp_group "                          \
      "WHERE created_ms < $1 ORDER BY created_ms LIMIT $2 FOR UPDATE SKIP LOCKED) o "              \
      "WHERE q.group_id = o.group_id AND q.seq = o.seq")                                           \
    /* groups */                                                                                   \
    X(PG_GROUP_INSERT,                                                                             \
      "INSERT INTO chat_groups(group_id, name, avatar, creator_id, description, member_limit, "    \
      "create_ms, update_ms, dismissed) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0) "               \
      "ON CONFLICT (group_id) DO NOTHING")                                                         \
    X(PG_GROUP_GET, "SELECT " PG_GROUP_COLS " FROM chat_groups g WHERE g.group_id = $1")           \
    X(PG_GROUP_UPDATE,                                                                             \
      "UPDATE chat_groups SET name = $2, avatar = $3, description = $4, member_limit = $5, "       \
      "update_ms = GREATEST($6, update_ms + 1) WHERE group_id = $1 AND dismissed = 0")             \
    X(PG_GROUP_SET_CREATOR, "UPDATE chat_groups SET creator_id = $2, "                             \
                            "update_ms = GREATEST($3, update_ms + 1) "                             \
                            "WHERE group_id = $1 AND dismissed = 0")                               \
    X(PG_GROUP_DISMISS,                                                                            \
      "UPDATE chat_groups SET dismissed = 1, update_ms = GREATEST($2, update_ms + 1) "             \
      "WHERE group_id = $1 AND dismissed = 0")                                                     \
    X(PG_GROUP_LEFT_ALL,                                                                           \
      "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "                          \
      "SELECT user_id, session_id, $2, hp_from, " PG_HP_NOW " FROM members WHERE session_id = $1 " \
      "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, "                      \
      "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                                        \
    X(PG_MEMBERS_DEL_SESSION, "DELETE FROM members WHERE session_id = $1")                         \
    /* a dismissal's chunk (group_dismiss_step): the first $4 members but the creator ($3), logged \
     * as left; the number of rows = members removed */                                            \
    X(PG_GROUP_DISMISS_CHUNK,                                                                      \
      "WITH chunk AS (SELECT user_id FROM members WHERE session_id = $1 AND user_id <> $3 "        \
      "ORDER BY user_id LIMIT $4), "                                                               \
      "del AS (DELETE FROM members m USING chunk c WHERE m.session_id = $1 "                       \
      "AND m.user_id = c.user_id RETURNING m.user_id, m.hp_from) "                                 \
      "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "                          \
      "SELECT user_id, $1, $2, hp_from, " PG_HP_NOW " FROM del "                                   \
      "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, "                      \
      "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                                        \
    X(PG_GROUP_MEMBERS, "SELECT user_id FROM members WHERE session_id = $1 ORDER BY user_id")      \
    X(PG_GROUP_IS_MEMBER,                                                                          \
      "SELECT 1 FROM members m JOIN chat_groups g ON g.group_id = m.session_id "                   \
      "WHERE m.user_id = $2 AND m.session_id = $1 AND g.dismissed = 0")                            \
    X(PG_GROUP_MEMBER_COUNT, "SELECT count(*) FROM members WHERE session_id = $1")                 \
    /* deletes the membership row and logs the span of high-priority entries it covered;           \
     * one row returned if the user was a member */                                                \
    X(PG_GROUP_MEMBER_LEAVE,                                                                       \
      "WITH del AS (DELETE FROM members WHERE user_id = $1 AND session_id = $2 "                   \
      "RETURNING user_id, session_id, hp_from) "                                                   \
      "INSERT INTO group_left(user_id, group_id, at_ms, hp_from, hp_to) "                          \
      "SELECT user_id, session_id, $3, hp_from, " PG_HP_NOW " FROM del "                           \
      "ON CONFLICT(user_id, group_id) DO UPDATE SET at_ms = excluded.at_ms, "                      \
      "hp_from = excluded.hp_from, hp_to = excluded.hp_to")                                        \
    /* re-joining: no longer reported as left (at_ms 0), the span of the last stay is kept */      \
    X(PG_GROUP_LEFT_DEL, "UPDATE group_left SET at_ms = 0 WHERE user_id = $1 AND group_id = $2")   \
    /* a group member row starts its high-priority view at the shared head */                      \
    X(PG_GROUP_MEMBER_ENSURE,                                                                      \
      "INSERT INTO members(user_id, session_id, read_seq, changed_us, joined_ms, hp_from) "        \
      "VALUES ($1, $2, $3, $4, $5, " PG_HP_NOW ") ON CONFLICT(user_id, session_id) DO NOTHING")    \
    X(PG_GROUP_SYNC, "SELECT " PG_GROUP_COLS " FROM members m "                                    \
                     "JOIN chat_groups g ON g.group_id = m.session_id "                            \
                     "WHERE m.user_id = $1 AND g.dismissed = 0 "                                   \
                     "AND (g.update_ms > $2 OR m.joined_ms > $2) ORDER BY g.group_id")             \
    /* at_ms 0: left once, member again (re-joined) */                                             \
    X(PG_GROUP_SYNC_DEL, "SELECT group_id FROM group_left WHERE user_id = $1 AND at_ms > $2 "      \
                         "AND at_ms > 0 ORDER BY group_id")                                        \
    /* friends */                                                                                  \
    X(PG_FRIEND_UPSERT_MINE,                                                                       \
      "INSERT INTO friends(user_id, friend_id, remark, deleted, changed_ms) "                      \
      "VALUES ($1, $2, $3, 0, $4) ON CONFLICT(user_id, friend_id) DO UPDATE SET "                  \
      "remark = excluded.remark, deleted = 0, changed_ms = excluded.changed_ms")                   \
    X(PG_FRIEND_UPSERT_THEIRS,                                                                     \
      "INSERT INTO friends AS f (user_id, friend_id, remark, deleted, changed_ms) "                \
      "VALUES ($1, $2, '', 0, $3) ON CONFLICT(user_id, friend_id) DO UPDATE SET "                  \
      "remark = CASE WHEN f.deleted <> 0 THEN '' ELSE f.remark END, "                              \
      "changed_ms = CASE WHEN f.deleted <> 0 THEN excluded.changed_ms ELSE f.changed_ms END, "     \
      "deleted = 0")                                                                               \
    X(PG_FRIEND_DEL, "UPDATE friends SET deleted = 1, changed_ms = $3 "                            \
                     "WHERE user_id = $1 AND friend_id = $2 AND deleted = 0")                      \
    X(PG_FRIEND_IS, "SELECT 1 FROM friends WHERE user_id = $1 AND friend_id = $2 AND deleted = 0") \
    /* presence and read receipts (mirror sq_stmts.h) */                                           \
    X(PG_PRES_SHARED, "SELECT 1 FROM members a JOIN members b ON b.session_id = a.session_id "     \
                      "AND b.user_id = $2 WHERE a.user_id = $1 LIMIT 1")                           \
    X(PG_PRES_HIDDEN, "SELECT 1 FROM user_attrs WHERE user_id = $1 AND friend_id = $1 "            \
                      "AND name = 'presence.lastSeen' AND value = 'hidden'")                       \
    X(PG_SESSION_CURSORS,                                                                          \
      "SELECT user_id, read_seq FROM members WHERE session_id = $1 ORDER BY user_id")              \
    X(PG_FRIEND_LIST, "SELECT friend_id, remark FROM friends WHERE user_id = $1 AND deleted = 0 "  \
                      "ORDER BY friend_id")                                                        \
    X(PG_FRIEND_CHANGED,                                                                           \
      "SELECT EXISTS (SELECT 1 FROM friends WHERE user_id = $1 AND changed_ms > $2)")              \
    /* user attributes: empty filter = any */                                                      \
    X(PG_UATTR_SET,                                                                                \
      "INSERT INTO user_attrs(user_id, friend_id, name, value) VALUES ($1, $2, $3, $4) "           \
      "ON CONFLICT(user_id, friend_id, name) DO UPDATE SET value = excluded.value")                \
    X(PG_UATTR_GET, "SELECT user_id, friend_id, name, value FROM user_attrs "                      \
                    "WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR friend_id = $2) "             \
                    "AND ($3 = '' OR name = $3) ORDER BY user_id, friend_id, name")                \
    /* uploaded files (pg_files.c) */                                                              \
    X(PG_FILE_PUT, "INSERT INTO files(file_id, sha256, size, mime, name, uploader, created_ms, "   \
                   "width, height, thumb, thumb_size) "                                            \
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING") \
    X(PG_FILE_GET, "SELECT " PG_FILE_COLS " FROM files WHERE file_id = $1")                        \
    X(PG_FILE_REF_ADD, "INSERT INTO file_refs(file_id, session_id, seq) VALUES ($1, $2, $3) "      \
                       "ON CONFLICT DO NOTHING")                                                   \
    X(PG_FILE_REF_SESSIONS, "SELECT DISTINCT session_id FROM file_refs WHERE file_id = $1 "        \
                            "LIMIT $2")                                                            \
    X(PG_FILE_USAGE, "SELECT coalesce(sum(size), 0)::bigint, "                                     \
                     "count(*) FILTER (WHERE created_ms >= $2) FROM files WHERE uploader = $1")    \
    X(PG_FILE_ORPHANS, "SELECT " PG_FILE_COLS " FROM files f WHERE created_ms < $1 AND NOT "       \
                       "EXISTS (SELECT 1 FROM file_refs r WHERE r.file_id = f.file_id) "           \
                       "ORDER BY created_ms LIMIT $2")                                             \
    X(PG_FILE_DEL_REFS, "DELETE FROM file_refs WHERE file_id = $1")                                \
    X(PG_FILE_DEL, "DELETE FROM files WHERE file_id = $1")                                         \
    X(PG_FILE_REF_MEMBER, "SELECT 1 WHERE EXISTS (SELECT 1 FROM file_refs r JOIN members m "       \
                          "ON m.session_id = r.session_id AND m.user_id = $2 "                     \
                          "WHERE r.file_id = $1)")                                                 \
    X(PG_FILE_SHA_USED, "SELECT 1 WHERE EXISTS (SELECT 1 FROM files WHERE sha256 = $1) "           \
                        "OR EXISTS (SELECT 1 FROM files WHERE thumb = $1 AND thumb <> '')")

#endif
