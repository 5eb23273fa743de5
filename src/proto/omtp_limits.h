/*
 * omtp_limits.h - the longest value each free-text field may hold: one table
 * for every entry point.
 *
 * omtpd checks every decoded OMTP request against omtp_limits_check() before
 * a handler sees it (PARAM, the desc naming the field), and the HTTP API
 * reads its JSON fields with the same OMTP_LIMIT_* numbers (400 naming the
 * field). docs/protocol.md ("Field limits") and docs/http-api.md document
 * the table. Message content is not here: its limit is the server setting
 * `max_content` (MSG_TOO_LONG), checked by the send and edit paths.
 *
 * Why: every reply that carries records must fit one frame (max_frame).
 * With these limits the largest single record -- a hot-session item with a
 * max_content message, its pushInfo and the session's attributes -- is far
 * below the smallest max_frame omtpd accepts, so paging always makes
 * progress (docs/protocol.md, "Replies larger than a frame").
 *
 * Threading: the table is constant; the functions are pure and reentrant.
 */
#ifndef OMTP_LIMITS_H
#define OMTP_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "tars/tars.h"

/* bytes (UTF-8 text is counted in bytes, not characters) */
#define OMTP_LIMIT_PUSHINFO     4096 /* MsgReq.pushInfo */
#define OMTP_LIMIT_NAME         256  /* UserInfo.name, GroupChatInfo.name, LoginReq.deviceName */
#define OMTP_LIMIT_REMARK       1024 /* FriendInfo.remark */
#define OMTP_LIMIT_ATTR_NAME    64   /* UserAttribute / SessionAttrSetReq .attrName */
#define OMTP_LIMIT_ATTR_VALUE   4096 /* UserAttribute / SessionAttrSetReq .attrValue */
#define OMTP_LIMIT_AVATAR       1024 /* UserInfo.avator, GroupChatInfo.avatar (a URL) */
#define OMTP_LIMIT_DESC         1024 /* GroupChatInfo.desc */
#define OMTP_LIMIT_MOBILE       64   /* UserInfo.mobile */
#define OMTP_LIMIT_VERSION      64   /* LoginReq.version */
#define OMTP_LIMIT_PASSWORD     1024 /* LoginReq.password (a password or a token) */
#define OMTP_LIMIT_DEVICE_ID    128  /* LoginReq.deviceId, KickOutReq.deviceId */
#define OMTP_LIMIT_CURSOR       512  /* the paging cursors `after` (protocol.md 7.2) */
#define OMTP_LIMIT_SEARCH_QUERY 256  /* MsgSearchReq.query (docs/protocol.md, Search) */
/* MsgSearchReq.query needs this many characters (trigram index: docs/storage.md) */
#define OMTP_SEARCH_QUERY_MIN_CHARS 3
#define OMTP_SEARCH_COUNT_MAX       100 /* MsgSearchReq.count: 1..100 */
/* a user's attributes of one session, as the JSON object hot sessions carry
 * ({"pin":"1",...}): a SESSIONATTRIBUTE_SET that would make it longer is
 * refused, so every hot-session item stays bounded */
#define OMTP_LIMIT_SESSION_ATTRS_JSON 8192

/* extensions (spec omtp-ext.tars; docs/protocol.md, Extensions) */
#define OMTP_LIMIT_EMOJI 32 /* ReactionReq.emoji, a key of MsgReq.reactions (1..32 bytes) */
/* counts, not bytes (omtp_count_limits): */
#define OMTP_LIMIT_MENTIONS        50  /* MsgReq.mentions entries */
#define OMTP_LIMIT_REACTION_EMOJIS 64  /* distinct emoji on one message (MsgReq.reactions keys) */
#define OMTP_LIMIT_REACTORS        100 /* user ids listed per emoji (the oldest first) */

typedef struct omtp_field_limit {
    const char *strct; /* struct name as in the schema, "MsgReq" */
    const char *field; /* field name, "pushInfo" */
    uint32_t max;      /* bytes */
} omtp_field_limit;

/* The table, terminated by an entry with strct == NULL. */
extern const omtp_field_limit omtp_field_limits[];

/* The longest list / map of a field, in entries (MsgReq.mentions,
 * MsgReq.reactions: its keys; each key's list is capped by
 * OMTP_LIMIT_REACTORS and each key by OMTP_LIMIT_EMOJI bytes). Terminated
 * by strct == NULL. */
extern const omtp_field_limit omtp_count_limits[];

/* The limit of Struct.field in bytes, or 0 when the table has none. */
uint32_t omtp_field_limit_of(const char *strct, const char *field);

/*
 * Checks every string of a decoded struct (nested structs and lists
 * included) against the table, and the lists and maps of
 * omtp_count_limits. Returns 0, or OMTP_EINVAL with `why` saying
 * "MsgReq.pushInfo is 5000 bytes; at most 4096 are allowed".
 */
int omtp_limits_check(const tars_struct_desc *d, const void *obj, char *why, size_t whylen);

#endif
