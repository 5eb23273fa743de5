/*
 * store.h - the durable state of omtpd, behind one interface.
 *
 * Two layers:
 *
 *  1. omtp_db: a backend connection with synchronous operations (users,
 *     messages, sessions, read cursors, high-priority queues, groups,
 *     friends, attributes). Backends (SQLite today, PostgreSQL for clusters)
 *     implement the omtp_db_ops table; every operation is declared once in
 *     OMTP_DB_OPS below and called as omtp_db_<op>(db, ...). An omtp_db is
 *     used by ONE thread at a time: the store thread in the server, or the
 *     admin command's main thread.
 *
 *  2. omtp_store: the asynchronous executor the event loop uses. The loop
 *     submits work items (a function that runs on the store thread with the
 *     omtp_db, and a completion that runs back on the loop). The store thread
 *     drains everything queued into ONE transaction (group commit), each
 *     item inside its own savepoint so a failing item rolls back alone, then
 *     commits once and posts all completions to the loop. A completion with
 *     status 0 for a write means the data is committed (durable as the
 *     configured synchronous level says): only then may a sender be acked.
 *
 * Semantics every backend implements identically (tests/unit/test_store.c
 * runs the same suite against each):
 *
 *  - Sessions: single chat "SC_<lo>_<hi>", group "GC_...", business
 *    "BM_<appId>_<userId>". A session has a last seqId; each message appended
 *    gets last+1 (gap-free, strictly increasing) and a server timestamp in ms.
 *  - Membership rows (user, session) carry the user's read cursor and the
 *    time (us) the row last changed. msg_append creates rows for both users of
 *    a single chat and for the recipient of a business message; group rows
 *    come from group membership (a joining member's read cursor starts at the
 *    session's last seqId).
 *  - Dedup: (from, packId) is unique; appending a duplicate returns the
 *    original record with *dup = true and changes nothing.
 *  - Unread of a user in a session = messages with seqId > read cursor, not
 *    from the user, not deleted. Never negative.
 *  - Hot sessions: the user's sessions whose session or membership row
 *    changed after a cursor (us), oldest change first, paged.
 *  - Times: message timestamps in ms; cursors of hot sessions in us; group,
 *    friend and profile times in ms.
 *
 * Ownership: output records are initialised by the callee and owned by the
 * caller, who frees them with the matching *_free. Input records are
 * borrowed.
 *
 * docs/storage.md lists every decision the contract leaves open (limits,
 * error codes of edge cases, which changes move a hot session).
 */
#ifndef OMTP_STORE_H
#define OMTP_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "proto/omtp_msg.h"
#include "proto/omtp_errors.h"
#include "proto/omtp_proto.h"   /* OMTP_ID_MAX */
#include "proto/omtp_session.h" /* the id alphabet */

enum omtp_role { OMTP_ROLE_USER = 0, OMTP_ROLE_MONITOR = 1 };

/* "column holds no valid id" (proto/omtp_session.h) in each backend's SQL;
 * the schema's partial index users_bad_ids and store/maint.c use the same
 * text, so the planner answers the start-up check from that index. */
#define SQ_BAD_ID_PRED(col)                                                                        \
    "(" col " GLOB '*[^-A-Za-z0-9.@+]*' OR " col " = '' OR length(CAST(" col " AS BLOB)) > 128)"
#define PG_BAD_ID_PRED(col)                                                                        \
    "(" col " ~ '[^-A-Za-z0-9.@+]' OR " col " = '' OR octet_length(" col ") > 128)"

/* ------------------------------------------------------------- records */

typedef struct omtp_user_rec {
    tars_str userId;
    tars_str pwHash; /* KDF string, see server/auth.h; "" = password login disabled */
    int32_t role;    /* enum omtp_role */
    omtp_UserInfo info;
    int64_t createdMs;
} omtp_user_rec;
typedef TARS_LIST_OF(omtp_user_rec) omtp_user_rec_list;

typedef struct omtp_msg_rec {
    int32_t type;    /* PT_MSG_SINGLE_CHAT, PT_MSG_GROUP_CHAT or PT_MSG_BIZ_NOTIFY */
    int64_t flags;   /* stored header flags: HIGHPRJ, REVOKE, OVERRIDE, COUNTER */
    tars_str packId; /* the sender's packId; with msg.from the dedup key */
    omtp_MsgReq msg; /* canonical sessionId, seqId, timestamp, from, to, ... status */
} omtp_msg_rec;
typedef TARS_LIST_OF(omtp_msg_rec) omtp_msg_rec_list;

/* One reaction (reactions_list): who put which emoji on message seq. */
typedef struct omtp_reaction_rec {
    int64_t seq;
    tars_str emoji;
    tars_str userId;
} omtp_reaction_rec;
typedef TARS_LIST_OF(omtp_reaction_rec) omtp_reaction_rec_list;

typedef struct omtp_hot_rec {
    tars_str sessionId;
    int64_t readSeqId;
    int32_t unreadCount;
    bool hasLast;       /* false when the session has no visible message */
    omtp_msg_rec last;  /* the last visible (not deleted) message */
    tars_str attribute; /* JSON object of the user's session attributes, "{}" if none */
    int64_t changedUs;  /* the cursor value of this item */
    /* newest unread message mentioning the user, 0 = none: not filled by
     * hot_sessions (the mention_seq op reads it; HotSessionItem tag 5) */
    int64_t mentionSeqId;
} omtp_hot_rec;
typedef TARS_LIST_OF(omtp_hot_rec) omtp_hot_rec_list;

/* One entry of a user's high-priority queue (control notices, HIGHPRJ msgs). */
typedef struct omtp_hp_rec {
    int64_t seq;
    omtp_OTIMPack pack; /* header (type, flags, packId) and plain payload bytes */
} omtp_hp_rec;
typedef TARS_LIST_OF(omtp_hp_rec) omtp_hp_rec_list;

/* An uploaded file's metadata (domain/files.h: the rules; store/filestore.h:
 * the bytes, named by sha256). Fixed-size fields: no allocation. */
typedef struct omtp_file_rec {
    char fileId[33];                /* 32 lowercase hex digits */
    char sha256[65];                /* the bytes' name in the file store */
    uint64_t size;                  /* bytes */
    char mime[128];                 /* sniffed from the bytes */
    char name[256];                 /* the client's name (checked: domain/files.h) */
    char uploader[OMTP_ID_MAX + 1]; /* a user id; "" = the business backend */
    int64_t created;                /* ms */
    int32_t width, height;          /* images; 0 when unknown */
    char thumb[65];                 /* sha256 of the thumbnail's bytes, "" = none */
    uint64_t thumbSize;
} omtp_file_rec;

void omtp_user_rec_init(omtp_user_rec *u);
void omtp_user_rec_free(omtp_user_rec *u);
void omtp_user_rec_list_free(omtp_user_rec_list *l);
void omtp_msg_rec_init(omtp_msg_rec *m);
void omtp_msg_rec_free(omtp_msg_rec *m);
int omtp_msg_rec_copy(omtp_msg_rec *dst, const omtp_msg_rec *src);
void omtp_msg_rec_list_free(omtp_msg_rec_list *l);
void omtp_hot_rec_list_free(omtp_hot_rec_list *l);
void omtp_hp_rec_list_free(omtp_hp_rec_list *l);
void omtp_reaction_rec_list_free(omtp_reaction_rec_list *l);
/* MsgReq.mentions as stored in a message row: the ids joined by single
 * spaces (ids never contain one). *out owns a new string. 0 or OMTP_ENOMEM. */
int omtp_mentions_join(const tars_str_list *ids, tars_str *out);
/* The stored text back into l (freed first); empty text = no mentions. */
int omtp_mentions_split(const char *text, size_t len, tars_str_list *l);
/* The parties stored with m's session (its members by construction): the
 * two users of a single chat in byte order, the app and the user of a
 * business message, none ("", "") for a group chat. Views into m. */
void omtp_msg_parties(const omtp_msg_rec *m, tars_str *a, tars_str *b);
/* Frees a list of generated structs (omtp_X_list) with its descriptor. */
void omtp_list_free(const tars_struct_desc *d, void *list);
/* The exclusive upper bound of user_page's prefix range in byte order, into
 * out (n >= OMTP_ID_MAX + 2): prefix + "~" ('~' sorts after every byte of the
 * id alphabet), or U+10FFFF's UTF-8 (after every valid text) for "". */
void omtp_user_page_upper(const char *prefix, char *out, size_t n);
/* Frees a tars_str_list's strings and array; the list is left empty. */
void omtp_str_list_free(tars_str_list *l);

/* ------------------------------------------------------- backend ops */

typedef struct omtp_db omtp_db;

/*
 * One send of a batch append (omtp_db_msg_append_batch): the checks a send
 * needs the database for, then msg_append, with a per-row outcome. Rows are
 * handled as if appended one after the other in array order (a row sees the
 * rows before it: a later row with the same (from, packId) is their dup), but
 * a failing row changes nothing and never undoes the others.
 */
enum omtp_append_check {
    OMTP_APPEND_CHK_SENDER = 1u,    /* msg.from must be a user */
    OMTP_APPEND_CHK_RECIPIENT = 2u, /* msg.to must be a user (single chat, business) */
    OMTP_APPEND_CHK_FRIENDS = 4u,   /* from and to must be friends (friend_is(from, to)) */
    OMTP_APPEND_CHK_GROUP = 8u,     /* group msg.to exists, is not dismissed, from is a member */
};
enum omtp_append_refusal {
    OMTP_APPEND_OK = 0,
    OMTP_APPEND_NO_SENDER = 1,
    OMTP_APPEND_NO_GROUP = 2,
    OMTP_APPEND_NOT_MEMBER = 3,
    OMTP_APPEND_NO_RECIPIENT = 4,
    OMTP_APPEND_NOT_FRIENDS = 5,
    OMTP_APPEND_DISMISSED = 6,
};
typedef struct omtp_append_req {
    omtp_msg_rec *m; /* in: the message (borrowed); out: as stored, or the original of a dup */
    unsigned checks; /* OMTP_APPEND_CHK_* */
    /* out */
    int refused;      /* enum omtp_append_refusal: a check failed, nothing was written */
    int status;       /* when not refused: msg_append's return (0, OMTP_EINVAL: the session
                         belongs to other parties, ...) */
    bool dup;         /* status 0: m is the stored original of (from, packId) */
    bool refs_stored; /* status 0, new row: its replyTo and mentions were stored with it, the
                         mentioned members' mention cursors moved (omtp_db_msg_refs_set and
                         omtp_db_mention_mark done); false: the caller does them */
} omtp_append_req;
/* A row of omtp_db_raw_sql: ncols values as text. */
typedef int (*omtp_sql_row_fn)(void *ctx, int ncols, const char *const *vals);

/*
 * OMTP_DB_OPS(X): X(name, (params...), (args...)). Every op returns 0 or a
 * negative OMTP_E* (OMTP_ENOTFOUND, OMTP_EEXIST, OMTP_EDB, OMTP_ENOMEM).
 */
#define OMTP_DB_OPS(X)                                                                             \
    /* ---- transactions (the executor calls these; admin commands too). savepoint needs an        \
     * open transaction (begin); rollback_to rolls back AND releases the savepoint. Ops that       \
     * write several rows are atomic on their own, also outside begin/commit. */                   \
    X(begin, (omtp_db * db), (db))                                                                 \
    X(commit, (omtp_db * db), (db))                                                                \
    X(rollback, (omtp_db * db), (db))                                                              \
    X(savepoint, (omtp_db * db), (db))                                                             \
    X(release, (omtp_db * db), (db))                                                               \
    X(rollback_to, (omtp_db * db), (db))                                                           \
    /* ---- server metadata (e.g. the token secret): key -> value */                               \
    X(meta_get, (omtp_db * db, const char *key, tars_str *out), (db, key, out))                    \
    X(meta_set, (omtp_db * db, const char *key, const char *value), (db, key, value))              \
    /* ---- users */                                                                               \
    X(user_create, (omtp_db * db, const omtp_user_rec *u), (db, u))                                \
    X(user_get, (omtp_db * db, const char *userId, omtp_user_rec *out), (db, userId, out))         \
    /* whether the account exists, without reading the record (per-message recipient check) */     \
    X(user_exists, (omtp_db * db, const char *userId, bool *yes), (db, userId, yes))               \
    X(user_set_password, (omtp_db * db, const char *userId, const char *pwHash),                   \
      (db, userId, pwHash))                                                                        \
    X(user_set_role, (omtp_db * db, const char *userId, int role), (db, userId, role))             \
    X(user_delete, (omtp_db * db, const char *userId), (db, userId))                               \
    X(user_list, (omtp_db * db, omtp_user_rec_list * out), (db, out))                              \
    /* one page of users in byte order of user_id: ids > after ("" = from the start) starting      \
     * with prefix ("" = any), at most limit (1..1000); the HTTP API's paged user list */          \
    X(user_page,                                                                                   \
      (omtp_db * db, const char *prefix, const char *after, int limit, omtp_user_rec_list *out),   \
      (db, prefix, after, limit, out))                                                             \
    /* profiles: unknown ids are left out of the result */                                         \
    X(user_info_get, (omtp_db * db, const tars_str_list *ids, omtp_UserInfo_list *out),            \
      (db, ids, out))                                                                              \
    X(user_info_update, (omtp_db * db, const omtp_UserInfo *info), (db, info))                     \
    /* ---- messages */                                                                            \
    /* assigns m->msg.seqId and m->msg.timestamp (ms); on a duplicate (from, packId) fills m       \
     * from the stored original and sets *dup */                                                   \
    X(msg_append, (omtp_db * db, omtp_msg_rec * m, bool *dup), (db, m, dup))                       \
    /* the message log's apply (docs/storage.md "Delivery path"): stores m with the seqId and      \
     * timestamp it carries, its session row (last_seq = max) and the membership rows msg_append   \
     * would create; *existed = (sessionId, seqId) was stored already (nothing changed: a replay). \
     * A (from, packId) taken by another message is stored with an empty packId (logged). SQLite   \
     * only: PostgreSQL returns OMTP_EINVAL */                                                     \
    X(msg_apply, (omtp_db * db, const omtp_msg_rec *m, bool *existed), (db, m, existed))           \
    /* the stored message of (from, packId), or OMTP_ENOTFOUND (the DUP-flagged resend lookup) */  \
    X(msg_by_pack, (omtp_db * db, const char *from, const char *packId, omtp_msg_rec *out),        \
      (db, from, packId, out))                                                                     \
    /* a session's last seqId (0 when not stored) for the message log's counters; OMTP_EINVAL      \
     * when the session is stored with other parties than m's (msg_append's refusal). SQLite       \
     * only: PostgreSQL returns OMTP_EINVAL */                                                     \
    X(session_seq_load, (omtp_db * db, const omtp_msg_rec *m, int64_t *last), (db, m, last))       \
    /* also returns deleted messages (status 2) */                                                 \
    X(msg_get, (omtp_db * db, const char *sessionId, int64_t seqId, omtp_msg_rec *out),            \
      (db, sessionId, seqId, out))                                                                 \
    /* newest first, seqId <= maxSeq (maxSeq <= 0: from the newest), deleted excluded, count       \
     * capped at 200 */                                                                            \
    X(msg_history,                                                                                 \
      (omtp_db * db, const char *sessionId, int64_t maxSeq, int count, omtp_msg_rec_list *out),    \
      (db, sessionId, maxSeq, count, out))                                                         \
    /* revoke (status 1, flag REVOKE), delete (status 2), edit (content, flag OVERRIDE);           \
     * content may be NULL; bumps the session's change time */                                     \
    X(msg_control,                                                                                 \
      (omtp_db * db, const char *sessionId, int64_t seqId, int command, const char *content),      \
      (db, sessionId, seqId, command, content))                                                    \
    /* full-text search (docs/storage.md "Search"): messages whose text (contentType 0/1) or       \
     * media file name (JSON "name") contains `query` as a substring (case-insensitive for         \
     * ASCII), in the sessions userId is a member of, or only in sessionId when it is not NULL     \
     * or "" (the caller checked access), stored before beforeMs (<= 0: no bound), newest          \
     * first, at most count (capped at 100). Revoked and deleted messages never match. query is    \
     * plain text (never search syntax), 3..256 bytes of UTF-8 of >= 3 characters. */              \
    X(msg_search,                                                                                  \
      (omtp_db * db, const char *userId, const char *sessionId, const char *query,                 \
       int64_t beforeMs, int count, omtp_msg_rec_list *out),                                       \
      (db, userId, sessionId, query, beforeMs, count, out))                                        \
    X(session_last_seq, (omtp_db * db, const char *sessionId, int64_t *lastSeq),                   \
      (db, sessionId, lastSeq))                                                                    \
    /* ---- extensions (docs/protocol.md, Extensions; docs/storage.md) */                          \
    /* stores MsgReq.replyTo and .mentions of a message msg_append wrote (0 / empty = none);       \
     * OMTP_ENOTFOUND for an unknown message */                                                    \
    X(msg_refs_set,                                                                                \
      (omtp_db * db, const char *sessionId, int64_t seqId, int64_t replyTo,                        \
       const tars_str_list *mentions),                                                             \
      (db, sessionId, seqId, replyTo, mentions))                                                   \
    /* the mentioned users' membership rows of the session remember seqId as their newest          \
     * mention (users NULL: every member but exceptId, i.e. "@all") */                             \
    X(mention_mark,                                                                                \
      (omtp_db * db, const char *sessionId, int64_t seqId, const tars_str_list *users,             \
       const char *exceptId),                                                                      \
      (db, sessionId, seqId, users, exceptId))                                                     \
    /* the user's newest mention in the session above its read cursor, else 0 */                   \
    X(mention_seq, (omtp_db * db, const char *userId, const char *sessionId, int64_t *seq),        \
      (db, userId, sessionId, seq))                                                                \
    /* adds userId's emoji to message seqId: OMTP_EEXIST if it is there already, OMTP_ETOOBIG      \
     * when the message holds maxEmojis distinct emoji and this one is new */                      \
    X(reaction_add,                                                                                \
      (omtp_db * db, const char *sessionId, int64_t seqId, const char *userId, const char *emoji,  \
       int maxEmojis),                                                                             \
      (db, sessionId, seqId, userId, emoji, maxEmojis))                                            \
    /* OMTP_ENOTFOUND if userId never added that emoji */                                          \
    X(reaction_del,                                                                                \
      (omtp_db * db, const char *sessionId, int64_t seqId, const char *userId, const char *emoji), \
      (db, sessionId, seqId, userId, emoji))                                                       \
    /* the reactions on messages minSeq..maxSeq of a session: by seq, then oldest first */         \
    X(reactions_list,                                                                              \
      (omtp_db * db, const char *sessionId, int64_t minSeq, int64_t maxSeq,                        \
       omtp_reaction_rec_list *out),                                                               \
      (db, sessionId, minSeq, maxSeq, out))                                                        \
    /* ---- membership rows, read cursors, hot sessions */                                         \
    X(session_member, (omtp_db * db, const char *userId, const char *sessionId, bool *member),     \
      (db, userId, sessionId, member))                                                             \
    /* moves the cursor forward only (clamped to the session's last seqId); *now = result;         \
     * OMTP_ENOTFOUND without a membership row */                                                  \
    X(read_set,                                                                                    \
      (omtp_db * db, const char *userId, const char *sessionId, int64_t seqId, int64_t *now),      \
      (db, userId, sessionId, seqId, now))                                                         \
    /* the user's read cursor in the session; OMTP_ENOTFOUND without a membership row (the         \
     * message log's read path checks with it before appending the move) */                        \
    X(read_get, (omtp_db * db, const char *userId, const char *sessionId, int64_t *cursor),        \
      (db, userId, sessionId, cursor))                                                             \
    X(hot_sessions,                                                                                \
      (omtp_db * db, const char *userId, int64_t sinceUs, int limit, omtp_hot_rec_list *out),      \
      (db, userId, sinceUs, limit, out))                                                           \
    /* one session of one user, as hot_sessions would show it (monitor sync; a non-member sees     \
     * cursor 0); OMTP_ENOTFOUND for an unknown session */                                         \
    X(hot_session_get,                                                                             \
      (omtp_db * db, const char *userId, const char *sessionId, omtp_hot_rec_list *out),           \
      (db, userId, sessionId, out))                                                                \
    X(unread_total, (omtp_db * db, const char *userId, int64_t *total), (db, userId, total))       \
    X(session_attr_set,                                                                            \
      (omtp_db * db, const char *userId, const char *sessionId, const char *name,                  \
       const char *value),                                                                         \
      (db, userId, sessionId, name, value))                                                        \
    /* ---- high-priority queues. One seq shared by every queue (personal and group entries):      \
     * a user's view is its personal entries merged with the entries of the groups it was a        \
     * member of while they were written (docs/protocol.md, docs/storage.md). */                   \
    X(hp_append, (omtp_db * db, const char *userId, const omtp_OTIMPack *pack, int64_t *seq),      \
      (db, userId, pack, seq))                                                                     \
    /* ONE row for every member of a group (members at this moment, except exceptId, which may     \
     * be NULL or "" = nobody): what a member sees, whatever the group's size */                   \
    X(hp_group_append,                                                                             \
      (omtp_db * db, const char *groupId, const char *exceptId, const omtp_OTIMPack *pack,         \
       int64_t *seq),                                                                              \
      (db, groupId, exceptId, pack, seq))                                                          \
    /* entries with seq > afterSeq, ascending, at most count; *lastSeq = seq of the last entry     \
     * returned, or the head of the shared seq when none is */                                     \
    X(hp_list,                                                                                     \
      (omtp_db * db, const char *userId, int64_t afterSeq, int count, omtp_hp_rec_list *out,       \
       int64_t *lastSeq),                                                                          \
      (db, userId, afterSeq, count, out, lastSeq))                                                 \
    /* retention: deletes entries (personal and group) created before beforeMs (wall clock,        \
     * ms), oldest first, at most limit (1..10000, else OMTP_EINVAL) in all; *deleted = how many.  \
     * Never touches hp_heads: seqs keep increasing after a prune */                               \
    X(hp_prune, (omtp_db * db, int64_t beforeMs, int limit, int *deleted),                         \
      (db, beforeMs, limit, deleted))                                                              \
    /* ---- groups (group id = session id) */                                                      \
    /* g->createTime/updateTime are set; members need not include the creator (added) */           \
    X(group_create, (omtp_db * db, omtp_GroupChatInfo * g, const tars_str_list *members),          \
      (db, g, members))                                                                            \
    X(group_get, (omtp_db * db, const char *groupId, omtp_GroupChatInfo *out, bool *dismissed),    \
      (db, groupId, out, dismissed))                                                               \
    /* writes name, avatar, desc, memberLimit as given; bumps updateTime */                        \
    X(group_update_info, (omtp_db * db, const omtp_GroupChatInfo *g), (db, g))                     \
    X(group_set_creator, (omtp_db * db, const char *groupId, const char *creatorId),               \
      (db, groupId, creatorId))                                                                    \
    X(group_dismiss, (omtp_db * db, const char *groupId), (db, groupId))                           \
    /* a dismissal in chunks (the executor's OMTP_STORE_MORE): removes up to limit members         \
     * other than the creator, logged as left like a dismissal; once only the creator is left,     \
     * group_dismiss. *left = 1 while other members remain, 0 once dismissed (also for a group     \
     * dismissed already). Between calls the group is a live group with fewer members */           \
    X(group_dismiss_step, (omtp_db * db, const char *groupId, int limit, int *left),               \
      (db, groupId, limit, left))                                                                  \
    X(group_members, (omtp_db * db, const char *groupId, tars_str_list *out), (db, groupId, out))  \
    X(group_is_member, (omtp_db * db, const char *groupId, const char *userId, bool *member),      \
      (db, groupId, userId, member))                                                               \
    /* number of members (one indexed count; for memberLimit checks) */                            \
    X(group_member_count, (omtp_db * db, const char *groupId, int *count), (db, groupId, count))   \
    /* existing members are ignored; *added = how many were new */                                 \
    X(group_add_members,                                                                           \
      (omtp_db * db, const char *groupId, const tars_str_list *ids, int *added),                   \
      (db, groupId, ids, added))                                                                   \
    X(group_remove_members,                                                                        \
      (omtp_db * db, const char *groupId, const tars_str_list *ids, int *removed),                 \
      (db, groupId, ids, removed))                                                                 \
    /* groups of the user changed after sinceMs (info or own membership), and ids of groups        \
     * the user left / was removed from / that were dismissed after sinceMs */                     \
    X(group_sync,                                                                                  \
      (omtp_db * db, const char *userId, int64_t sinceMs, omtp_GroupChatInfo_list *groups,         \
       tars_str_list *deleted),                                                                    \
      (db, userId, sinceMs, groups, deleted))                                                      \
    /* ---- friends (mutual) */                                                                    \
    /* adds userId<->friendId; remark is userId's remark for friendId */                           \
    X(friend_add, (omtp_db * db, const char *userId, const char *friendId, const char *remark),    \
      (db, userId, friendId, remark))                                                              \
    X(friend_del, (omtp_db * db, const char *userId, const char *friendId),                        \
      (db, userId, friendId))                                                                      \
    X(friend_is, (omtp_db * db, const char *userId, const char *friendId, bool *yes),              \
      (db, userId, friendId, yes))                                                                 \
    /* *changed: anything (add, remark, delete) after sinceMs; out: the full current list */       \
    X(friend_list,                                                                                 \
      (omtp_db * db, const char *userId, int64_t sinceMs, omtp_FriendInfo_list *out,               \
       bool *changed),                                                                             \
      (db, userId, sinceMs, out, changed))                                                         \
    /* ---- maintenance (admin commands; store/maint.c builds on these) */                         \
    /* one SQL statement with text parameters ?1..?n (SQLite spelling; PostgreSQL gets $n); each   \
     * row's columns as text (NULL pointer for NULL) go to row (may be NULL; a nonzero return      \
     * stops and is returned); *changes (may be NULL) = rows written */                            \
    X(raw_sql,                                                                                     \
      (omtp_db * db, const char *sql, int np, const char *const *params, omtp_sql_row_fn row,      \
       void *ctx, int64_t *changes),                                                               \
      (db, sql, np, params, row, ctx, changes))                                                    \
    /* the lock that says a server uses this store, held until db is closed: shared (each          \
     * server) or exclusive (an admin command that must not run beside a server). 0, or            \
     * OMTP_EBUSY while it is held the other way */                                                \
    X(server_lock, (omtp_db * db, bool exclusive), (db, exclusive))                                \
    /* ---- user attributes (about a friend, e.g. remark) */                                       \
    X(user_attr_set, (omtp_db * db, const omtp_UserAttribute *a), (db, a))                         \
    /* filters may be NULL or "" (= any) */                                                        \
    X(user_attr_get,                                                                               \
      (omtp_db * db, const char *userId, const char *friendId, const char *attrName,               \
       omtp_UserAttribute_list *out),                                                              \
      (db, userId, friendId, attrName, out))                                                       \
    /* ---- presence and read receipts (domain/presence.h, domain/readers.h) */                    \
    /* for each of ids: flags[i] |= OMTP_PRES_VISIBLE when userId may watch it (a friend, or a     \
     * member of a session userId is in), OMTP_PRES_HIDDEN when it set the user attribute          \
     * (itself, "presence.lastSeen") to "hidden"; flags has ids->n entries */                      \
    X(presence_visible,                                                                            \
      (omtp_db * db, const char *userId, const tars_str_list *ids, uint8_t *flags),                \
      (db, userId, ids, flags))                                                                    \
    /* the session's members in user-id order, but exceptId (NULL = none), split by their read     \
     * cursor: read_seq >= seqId -> read, else unread */                                           \
    X(session_readers,                                                                             \
      (omtp_db * db, const char *sessionId, int64_t seqId, const char *exceptId,                   \
       tars_str_list *read, tars_str_list *unread),                                                \
      (db, sessionId, seqId, exceptId, read, unread))                                              \
    /* ---- uploaded files (domain/files.h, docs/files.md) */                                      \
    /* OMTP_EEXIST if the fileId is taken */                                                       \
    X(file_put, (omtp_db * db, const omtp_file_rec *f), (db, f))                                   \
    X(file_get, (omtp_db * db, const char *fileId, omtp_file_rec *out), (db, fileId, out))         \
    /* message (sessionId, seq) references the file (a repeat is a no-op) */                       \
    X(file_ref_add, (omtp_db * db, const char *fileId, const char *sessionId, int64_t seq),        \
      (db, fileId, sessionId, seq))                                                                \
    /* the distinct sessions holding a message that references the file, at most `limit` */        \
    X(file_ref_sessions, (omtp_db * db, const char *fileId, int limit, tars_str_list *out),        \
      (db, fileId, limit, out))                                                                    \
    /* whether a session holding a message that references the file has userId as a stored         \
     * member (one indexed query, however many sessions the user or the file has) */               \
    X(file_ref_member, (omtp_db * db, const char *fileId, const char *userId, bool *yes),          \
      (db, fileId, userId, yes))                                                                   \
    /* the uploader's files: total bytes, and how many were created at or after sinceMs */         \
    X(file_usage,                                                                                  \
      (omtp_db * db, const char *uploader, int64_t sinceMs, uint64_t *bytes, int64_t *recent),     \
      (db, uploader, sinceMs, bytes, recent))                                                      \
    /* up to `max` files created before beforeMs that no message references, oldest first */       \
    X(file_orphans, (omtp_db * db, int64_t beforeMs, int max, omtp_file_rec *out, int *n),         \
      (db, beforeMs, max, out, n))                                                                 \
    /* removes the file's row (and its references); OMTP_ENOTFOUND if absent */                    \
    X(file_del, (omtp_db * db, const char *fileId), (db, fileId))                                  \
    /* whether any file row names sha as its bytes or its thumbnail */                             \
    X(file_sha_used, (omtp_db * db, const char *sha, bool *yes), (db, sha, yes))

/* presence_visible flags */
#define OMTP_PRES_VISIBLE 1u
#define OMTP_PRES_HIDDEN  2u

#define OMTP_DB_OP_PTR(name, params, args) int(*name) params;
typedef struct omtp_db_ops {
    const char *backend; /* "sqlite", "postgresql" */
    void (*close)(omtp_db *db);
    /* Optional (NULL = not supported; the executor then treats every commit
     * as durable at the configured level). defer_sync switches the
     * connection so that COMMIT writes but does not fsync, when that is the
     * configured durability; it returns 1 if it did (from then on sync must
     * be called after commits before they are reported durable), 0 if a
     * commit stays durable on its own. sync makes every commit that returned
     * before the call durable; it runs on the executor's sync thread while
     * the store thread keeps using db, so it touches only state of its own. */
    int (*defer_sync)(omtp_db *db);
    int (*sync)(omtp_db *db);
    /* Optional: called on the store thread right after an op, BEGIN or
     * COMMIT failed: whether it failed because the disk (or the backend's
     * space) is full. The executor then completes the items with
     * OMTP_ENOSPC instead of OMTP_EDB. */
    bool (*disk_full)(omtp_db *db);
    /* Optional (NULL = not supported): makes the statement the store thread
     * is running now fail soon (the executor's close past its deadline).
     * Called from another thread; touches nothing but the interrupt. */
    void (*interrupt)(omtp_db *db);
    /* Optional (NULL = the generic loop, omtp_db_msg_append_batch): the
     * checks and appends of several sends in one statement (PostgreSQL). The
     * executor groups sends submitted with omtp_store_submit_append only when
     * this is set; otherwise it runs their per-item work as any other item. */
    int (*msg_append_batch)(omtp_db *db, omtp_append_req *const *reqs, size_t n);
    OMTP_DB_OPS(OMTP_DB_OP_PTR)
} omtp_db_ops;
#undef OMTP_DB_OP_PTR

/* Every backend's connection struct starts with this. */
struct omtp_db {
    const omtp_db_ops *ops;
    char errmsg[256]; /* the backend's last error, for logs */
    /* requests sent to a database server and waited for (PostgreSQL: one per
     * query or pipeline; 0 for SQLite). Written by the thread using db; the
     * executor adds it up per batch (omtp_store_stats.round_trips). */
    uint64_t round_trips;
};

#define OMTP_DB_OP_WRAP(name, params, args)                                                        \
    static inline int omtp_db_##name params                                                        \
    {                                                                                              \
        return db->ops->name args;                                                                 \
    }
OMTP_DB_OPS(OMTP_DB_OP_WRAP)
#undef OMTP_DB_OP_WRAP

typedef struct omtp_store_config {
    const char *data_dir; /* SQLite: <data_dir>/omtp.db (created if missing) */
    const char *uri;      /* "postgresql://..." selects PostgreSQL; NULL = SQLite */
    int synchronous;      /* SQLite: 2 = FULL (default), 1 = NORMAL */
    unsigned max_batch;   /* most work items per transaction; 0 = 1024 */
    /* omtp_store_open for a server: hold the server lock shared (so `omtpd
     * user rename` refuses to run beside it) and refuse a store that holds
     * ids outside the id alphabet, naming them */
    bool server;
} omtp_store_config;

/* Checks and appends n sends (omtp_append_req). Returns 0 when every row has
 * its outcome, OMTP_EAGAIN when the backend would have to wait for another
 * writer's lock while this transaction holds others (nothing was written:
 * run them first in the next transaction), or OMTP_EDB / OMTP_ENOMEM when the
 * batch failed as a whole (nothing of it was written; the transaction stays
 * usable). The backend's msg_append_batch when it has one, else a loop over
 * the single ops. */
int omtp_db_msg_append_batch(omtp_db *db, omtp_append_req *const *reqs, size_t n);

/* Opens (and creates/migrates) a backend. On failure *why says what to do. */
int omtp_db_open(const omtp_store_config *cfg, omtp_db **out, char *why, size_t whylen);
void omtp_db_close(omtp_db *db);

/* ---------------------------------------------------- async executor */

typedef struct omtp_store omtp_store;

/* Runs on the store thread inside the batch transaction. Return 0 to keep
 * the item's changes, a negative OMTP_E* to roll them back, or
 * OMTP_STORE_MORE to keep the changes made so far and be run again later
 * (big work in chunks: the item goes back to the end of the queue, so
 * other items run in between, and its completions wait for the return
 * that is not OMTP_STORE_MORE). A chunked item must leave the data
 * consistent after every chunk: a close past its deadline abandons it
 * between two chunks (done gets OMTP_ECLOSED). */
typedef int (*omtp_store_work_fn)(omtp_db *db, void *arg);
#define OMTP_STORE_MORE 1
/* Runs on the loop thread after the batch committed (status = the work's
 * return value), or failed to commit (status = OMTP_EDB). */
typedef void (*omtp_store_done_fn)(void *arg, int status);

typedef struct omtp_store_stats {
    uint64_t queued;               /* items waiting now */
    uint64_t executed;             /* items run since start */
    uint64_t commits;              /* transactions committed */
    uint64_t commit_fail;          /* transactions that failed */
    uint64_t commit_us_bucket[12]; /* commit latency histogram: <=50us,100,250,500,1ms,2.5,5,
                                       10,25,50,100ms,+Inf (cumulative counts per bucket) */
    uint64_t commit_us_sum;
    uint64_t syncs;              /* deferred fsyncs (SQLite FULL: sq_sync.c); 0 otherwise */
    uint64_t sync_us_bucket[12]; /* their latency, the same buckets */
    uint64_t sync_us_sum;
    uint64_t disk_full; /* items failed with OMTP_ENOSPC (disk full) */
    /* how long single work items held the store thread (the work function
     * alone, savepoint included): the same buckets, the worst since start,
     * and how many took longer than OMTP_STORE_SLOW_ITEM_US */
    uint64_t item_us_bucket[12];
    uint64_t item_us_sum;
    uint64_t item_us_max;
    uint64_t items_slow;
    uint64_t abandoned; /* items never run: the close's deadline passed */
    /* database round trips of the store thread (omtp_db.round_trips: 0 for
     * SQLite), and batch appends: statements and the sends they carried */
    uint64_t round_trips;
    uint64_t append_batches;
    uint64_t append_rows;
} omtp_store_stats;

#define OMTP_STORE_SLOW_ITEM_US 100000 /* an item over 100 ms is "slow" (metrics, log) */

/* Opens the backend and starts the store thread. Must be called on the loop
 * thread. */
int omtp_store_open(uv_loop_t *loop, const omtp_store_config *cfg, omtp_store **out, char *why,
                    size_t whylen);
/* The same with a backend already opened (tests use a fake one): takes
 * ownership of db, also on failure. */
int omtp_store_open_db(uv_loop_t *loop, omtp_db *db, unsigned max_batch, omtp_store **out,
                       char *why, size_t whylen);
/* Queues a work item. Thread: loop thread only. Never blocks; the store
 * thread is woken once per loop turn for everything submitted in it (so the
 * loop must run for queued work to start). `done` runs
 * once the batch is durable at the configured level (or failed). If it
 * returns an error, `done` will never be called. */
int omtp_store_submit(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done, void *arg);
/* The same, plus `stored` (may be NULL), which runs earlier: as soon as the
 * batch committed, with status 0, and only if the work succeeded. The
 * changes are then visible to every later item and survive a crash of
 * omtpd, but may not yet survive a power cut (SQLite FULL syncs after the
 * commit: store_thread.c). Use it for what receivers may see (pushes);
 * answer the requester in `done`. `done` always runs after `stored`, and
 * both run in submission order across items. */
int omtp_store_submit2(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn stored,
                       omtp_store_done_fn done, void *arg);
/* The read barrier (docs/storage.md, "Delivery path"): `fn` runs on the
 * loop thread at the start of every omtp_store_submit/submit2, before the
 * item is queued, so that whatever it submits (the message log's pending
 * applies) runs before that item. Submissions made from inside `fn` do not
 * call it again. NULL removes it. Loop thread. */
typedef void (*omtp_store_barrier_fn)(void *arg);
void omtp_store_set_barrier(omtp_store *s, omtp_store_barrier_fn fn, void *arg);
/* The store threads' nice value (0..19; Linux: per thread), applied by
 * each before its next batch: with the message log on, pushes do not wait
 * for the store, so the loop should win the CPU over the apply
 * transactions (docs/storage.md "The log path's latency tail"). Any thread. */
void omtp_store_set_nice(omtp_store *s, int nice);
/* omtp_store_submit without the barrier: for reads that never look at what
 * the barrier would queue (users, friendships, groups; never messages). */
int omtp_store_submit_unordered(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done,
                                void *arg);
/* omtp_store_submit_unordered for a write whose failure must not take other
 * items down with it (the message log's apply batches): it runs in a
 * transaction of its own -- shared only with the isolated items next to it
 * in the queue, never with a read or another write -- so a COMMIT that fails
 * (a full disk) fails those items and nothing queued around them. Queue
 * order is kept: what was submitted after it runs after its transaction. */
int omtp_store_submit_isolated(omtp_store *s, omtp_store_work_fn work, omtp_store_done_fn done,
                               void *arg);
/* Disk full outside the store's transactions (the message log's append on
 * the loop thread): counted in omtp_store_stats.disk_full and logged
 * exactly like the store's own disk-full failures, sharing their rate limit
 * (one "store: disk full" ERROR a minute; the store's first commit with
 * room on the disk again logs "writes work again"). `what` says which write
 * failed ("the message log's append to /data/log"), `detail` why
 * (strerror). Any thread. */
void omtp_store_note_disk_full(omtp_store *s, const char *what, const char *detail);
/* A send the executor may append together with the other sends of its
 * batch (omtp_db_msg_append_batch), when the backend appends batches in one
 * statement (omtp_db_ops.msg_append_batch; PostgreSQL). Then, on the store
 * thread: the req's checks and append run with those of the neighbouring
 * sends in the batch, then `after` (may be NULL) runs with the outcome in
 * req, inside the same transaction, and its return is the item's status. A
 * backend without it runs `work` instead, as omtp_store_submit2 does. `ap`
 * is borrowed until `done`. Loop thread only. */
typedef struct omtp_store_append {
    omtp_append_req req;
    omtp_store_work_fn after;
} omtp_store_append;
int omtp_store_submit_append(omtp_store *s, omtp_store_append *ap, omtp_store_work_fn work,
                             omtp_store_done_fn stored, omtp_store_done_fn done, void *arg);
/* Stops accepting work, runs and commits everything queued, calls the
 * remaining completions on the calling (loop) thread, joins the thread and
 * closes the backend. Completions that submit during close get OMTP_ECLOSED.
 * The struct itself is freed when the loop has closed its uv_async_t, so run
 * the loop once more afterwards (as for any libuv handle). The async handle
 * only keeps the loop alive while submitted work is in flight. Do not call
 * get_stats after close. */
void omtp_store_close(omtp_store *s);
/* The same, bounded in time: from timeout_ms on no further item is started
 * (the batch running commits what ran), queued items are completed with
 * OMTP_ECLOSED without running (never acknowledged), and a statement still
 * running then is interrupted (ops->interrupt) and rolled back. Returns 0
 * when the store closed; *abandoned = items completed without running (or
 * rolled back by the interrupt). Returns OMTP_ETIMEDOUT if the store thread
 * did not stop within timeout_ms + grace_ms: the store is then left as it
 * is (not freed, its thread still running) and the caller should exit the
 * process. timeout_ms 0 = no bound (omtp_store_close). */
int omtp_store_close_within(omtp_store *s, uint64_t timeout_ms, uint64_t grace_ms,
                            uint64_t *abandoned);
void omtp_store_get_stats(omtp_store *s, omtp_store_stats *out);
/* The backend's name ("sqlite"/"postgresql") for logs and /healthz. */
const char *omtp_store_backend(omtp_store *s);

#endif
