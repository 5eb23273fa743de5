/*
 * omtp_proto.h - OMTP protocol constants and the packet type table.
 *
 * Packet types, device types, header flag bits, protocol error codes
 * (OMTP_EC_*, which travel in replies) and the table that maps
 * (packet type, ACK bit) to the payload struct. See docs/protocol.md.
 *
 * Threading: constants and immutable tables only; safe from any thread.
 */
#ifndef OMTP_PROTO_H
#define OMTP_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "omtp_msg.h"

#define OMTP_VERSION 1

enum omtp_pack_type {
    PT_NONE = 0,
    PT_PING = 10,
    PT_LOGIN = 11,
    PT_LOGOUT = 12,
    PT_KICKOUT = 13,
    PT_MSG_SINGLE_CHAT = 14,
    PT_MSG_GROUP_CHAT = 15,
    PT_MSG_BIZ_NOTIFY = 16,
    PT_MSG_CTRL = 17,
    PT_MSG_READ = 18,
    PT_HOTSESSION_SYNC = 19,
    PT_HIGH_PRIOR_MSG_SYNC = 20,
    PT_HISTORY_MSG_PULL = 21,
    PT_SESSION_MONITOR_START = 22,
    PT_SESSION_MONITOR_STOP = 23,
    PT_SESSION_MONITOR_SYNC = 24,
    PT_SYNC_DATA_CMD = 25,
    PT_GROUPCHAT_SYNC = 40,
    PT_GROUPCHAT_CREATE = 41,
    PT_GROUPCHAT_JION = 42,
    PT_GROUPCHAT_QUIT = 43,
    PT_GROUPCHAT_DISMISS = 44,
    PT_GROUPCHAT_UPDATE_CREATOR = 45,
    PT_GROUPCHAT_INFO_UPDATE = 46,
    PT_GROUPCHAT_MEMBERS_GET = 47,
    PT_FRIEND_ADD = 51,
    PT_FRIEND_DEL = 52,
    PT_FRIEND_SYNC = 53,
    PT_USERINFO_GET = 54,
    PT_USERINFO_UPDATE = 55,
    PT_USERATTRIBUTE_SET = 56,
    PT_USERATTRIBUTE_GET = 57,
    PT_SESSIONATTRIBUTE_SET = 58,
    /* extensions (spec/omtp-ext.tars; docs/protocol.md, Extensions chapter) */
    PT_PRESENCE_SUB = 100, /* PresenceSubReq -> PresenceSubResp */
    PT_PRESENCE = 101,     /* server push: PresenceNotice */
    PT_TYPING = 102,       /* TypingReq (no reply unless refused); push: TypingNotice */
    PT_MSG_REACTION = 103, /* ReactionReq -> CommonErrorCode; push ReactionNotice */
    PT_MSG_SEARCH = 104,   /* MsgSearchReq -> MsgSearchResp */
    PT_MSG_READERS = 105,  /* MsgReadersReq -> MsgReadersResp */
};
/* Packet types are below OMTP_PT_MAX: tables indexed by type (the server's
 * dispatch table, its per-type counters) have this many slots. The document's
 * types stop at 58; the extension types of spec/omtp-ext.tars are 100..127,
 * so the limit is 128. A type the protocol does not define, inside or
 * outside this range, is answered as unknown (docs/protocol.md). */
#define OMTP_PT_MAX 128

/* Longest user, group or session id, in bytes: the server refuses longer
 * ids; the store and the cluster's messages size their buffers with it. */
#define OMTP_ID_MAX 128

enum omtp_device_type {
    DEVICE_NONE = 0,
    DEVICE_IOS = 1,
    DEVICE_ANDROID = 2,
    DEVICE_MACOS = 3,
    DEVICE_WINDOWS = 4,
    DEVICE_LINUX = 5,
    /* Project addition (issue 17, docs/protocol.md "Devices"): a login that
     * only watches (`omtp watch`, scripts, bots that print). It is a device
     * type of its own, so it never takes the slot of a person's app (a
     * second observer of the same user replaces the first, as any type). */
    DEVICE_OBSERVER = 6,
};
#define OMTP_DEVICE_MAX 6
/* Observers of one user on one server (docs/protocol.md "Observers"): a
 * new one beyond this replaces the oldest (auth.c says 16 in its reason). */
#define OMTP_OBSERVERS_PER_USER 16

/* MsgControl.command and MsgReq.status */
enum omtp_msg_ctrl_cmd { MC_REVOKE = 1, MC_DELETE = 2, MC_OVERRIDE = 3 };
/* SyncDataReq.command */
enum omtp_sync_cmd { SYNC_FRIEND = 1, SYNC_SESSION = 2, SYNC_GROUP = 3 };

/* Header flag bits (OTIMHeader.flags). */
#define OMTP_F_ACK            0x1LL
#define OMTP_F_DUP            0x2LL
#define OMTP_F_COUNTER        0x4LL
#define OMTP_F_OVERRIDE       0x8LL
#define OMTP_F_REVOKE         0x10LL
#define OMTP_F_HIGHPRJ        0x20LL
#define OMTP_F_COMPRESS_SHIFT 6
#define OMTP_F_CRYPTO_SHIFT   9
#define OMTP_F_COMPRESS_MASK  (0x7LL << OMTP_F_COMPRESS_SHIFT)
#define OMTP_F_CRYPTO_MASK    (0x7LL << OMTP_F_CRYPTO_SHIFT)
#define OMTP_COMPRESS_NONE    0
#define OMTP_COMPRESS_ZLIB    1
#define OMTP_CRYPTO_NONE      0
#define OMTP_CRYPTO_AES       1

static inline int omtp_flags_compress(int64_t f)
{
    return (int)((f & OMTP_F_COMPRESS_MASK) >> OMTP_F_COMPRESS_SHIFT);
}
static inline int omtp_flags_crypto(int64_t f)
{
    return (int)((f & OMTP_F_CRYPTO_MASK) >> OMTP_F_CRYPTO_SHIFT);
}
static inline int64_t omtp_flags_with(int64_t f, int compress, int crypto)
{
    f &= ~(OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK);
    return f | ((int64_t)compress << OMTP_F_COMPRESS_SHIFT) |
           ((int64_t)crypto << OMTP_F_CRYPTO_SHIFT);
}

/* Protocol error codes (CommonErrorCode.code and friends). */
enum omtp_error_code {
    OMTP_EC_SUCCESS = 0,
    OMTP_EC_PROTOCOL = 1,
    OMTP_EC_PARAM = 2,
    OMTP_EC_UNKNOWN = 3,
    OMTP_EC_DB_ERROR = 5,
    OMTP_EC_SERVICE_UNAVAILABLE = 6,
    OMTP_EC_SERVER_REFUSED = 7,
    OMTP_EC_SERVER_EXCEPTION = 8,
    OMTP_EC_SENSI_MATCH = 10,
    OMTP_EC_CONN_INDICATE = 20,
    OMTP_EC_CONN_USERNAME_OR_PASSWORD = 21,
    OMTP_EC_CONN_KICKOUT = 22,
    OMTP_EC_CONN_ACCESS_DENIED = 23,
    OMTP_EC_HISTORYMSG_DENY = 28,
    OMTP_EC_GROUP_USER_NOTEXIST = 30,
    OMTP_EC_GROUP_ID_EMPTY = 31,
    OMTP_EC_GROUP_NO_PRIVILEGE = 33,
    OMTP_EC_GROUP_MEMBER_LIMIT = 34,
    OMTP_EC_GROUP_NOT_EXIST = 35,
    OMTP_EC_MSG_TOO_SHORT = 40,
    OMTP_EC_MSG_TOO_LONG = 41,
    OMTP_EC_MSG_INVALID_FORMAT = 42,
    OMTP_EC_MSG_FORBIDDEN = 43,
    OMTP_EC_MSG_NOT_EXIST = 44,
    OMTP_EC_MSG_REPEATED = 46,
    OMTP_EC_MSG_OP_CMD = 47,
    OMTP_EC_USER_RELATION_INVALID = 50,
    OMTP_EC_ATTR_FIELD_EMPTY = 60,
};

/* "PT_LOGIN" for 11; "PT_UNKNOWN" for anything else. */
const char *omtp_pack_type_name(int type);
/* 11 for "PT_LOGIN" or "LOGIN" or "11"; -1 if unknown. */
int omtp_pack_type_from_name(const char *name);
/* "CONN_USERNAME_OR_PASSWORD" for 21; "UNKNOWN_CODE" otherwise. */
const char *omtp_error_code_name(int code);
bool omtp_pack_type_known(int type);

/*
 * The payload table: which struct the payload of (type, ack) holds.
 * Returns NULL when that packet carries no payload (PING, LOGOUT, the ACK of
 * KICKOUT, the request of MONITOR_SYNC, ...). `*known` (may be NULL) is set
 * false for a packet type the protocol does not define.
 * PT_USERATTRIBUTE_GET's request may be empty or a UserAttribute filter; the
 * table says UserAttribute and receivers treat an empty payload as "all".
 */
const tars_struct_desc *omtp_payload_desc(int type, bool ack, bool *known);
/* The struct of a server push of `type` (ACK 0 from the server) when it
 * differs from the request's (PT_TYPING: TypingNotice, PT_MSG_REACTION:
 * ReactionNotice), else `req`. */
const tars_struct_desc *omtp_push_desc(int type, const tars_struct_desc *req);

#endif
