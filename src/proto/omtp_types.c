/*
 * omtp_types.c - packet type names, error code names and the payload table.
 */
#include "omtp_proto.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct type_row {
    int type;
    const char *name;
    const tars_struct_desc *req; /* ACK 0: request or server push */
    const tars_struct_desc *ack; /* ACK 1: reply (or client answer) */
};

#define D(N) (&omtp_##N##_desc)
static const struct type_row types[] = {
    {PT_PING, "PT_PING", NULL, NULL},
    {PT_LOGIN, "PT_LOGIN", D(LoginReq), D(LoginResp)},
    {PT_LOGOUT, "PT_LOGOUT", NULL, NULL},
    {PT_KICKOUT, "PT_KICKOUT", D(KickOutReq), NULL},
    {PT_MSG_SINGLE_CHAT, "PT_MSG_SINGLE_CHAT", D(MsgReq), D(MsgAck)},
    {PT_MSG_GROUP_CHAT, "PT_MSG_GROUP_CHAT", D(MsgReq), D(MsgAck)},
    {PT_MSG_BIZ_NOTIFY, "PT_MSG_BIZ_NOTIFY", D(MsgReq), D(MsgAck)},
    {PT_MSG_CTRL, "PT_MSG_CTRL", D(MsgControl), D(CommonErrorCode)},
    {PT_MSG_READ, "PT_MSG_READ", D(MsgReaded), D(CommonErrorCode)},
    {PT_HOTSESSION_SYNC, "PT_HOTSESSION_SYNC", D(HotSessionReq), D(HotSessionResp)},
    {PT_HIGH_PRIOR_MSG_SYNC, "PT_HIGH_PRIOR_MSG_SYNC", D(MsgHighPrioritySyncReq),
     D(MsgHighPrioritySyncResp)},
    {PT_HISTORY_MSG_PULL, "PT_HISTORY_MSG_PULL", D(HistoryMsgPullReq), D(HistoryMsgPullResp)},
    {PT_SESSION_MONITOR_START, "PT_SESSION_MONITOR_START", D(SessionMonitor), D(CommonErrorCode)},
    {PT_SESSION_MONITOR_STOP, "PT_SESSION_MONITOR_STOP", D(SessionMonitor), D(CommonErrorCode)},
    {PT_SESSION_MONITOR_SYNC, "PT_SESSION_MONITOR_SYNC", D(SessionMonitor), D(HotSessionResp)},
    {PT_SYNC_DATA_CMD, "PT_SYNC_DATA_CMD", D(SyncDataReq), D(CommonErrorCode)},
    {PT_GROUPCHAT_SYNC, "PT_GROUPCHAT_SYNC", D(GroupChatSyncReq), D(GroupChatSyncResp)},
    {PT_GROUPCHAT_CREATE, "PT_GROUPCHAT_CREATE", D(GroupChatCreateReq), D(GroupChatCreateResp)},
    {PT_GROUPCHAT_JION, "PT_GROUPCHAT_JION", D(GroupChatJoinReq), D(GroupChatJoinResp)},
    {PT_GROUPCHAT_QUIT, "PT_GROUPCHAT_QUIT", D(GroupChatQuitReq), D(CommonErrorCode)},
    {PT_GROUPCHAT_DISMISS, "PT_GROUPCHAT_DISMISS", D(GroupChatDismissReq), D(CommonErrorCode)},
    {PT_GROUPCHAT_UPDATE_CREATOR, "PT_GROUPCHAT_UPDATE_CREATOR", D(GroupChatCreatorUpdateReq),
     D(CommonErrorCode)},
    {PT_GROUPCHAT_INFO_UPDATE, "PT_GROUPCHAT_INFO_UPDATE", D(GroupChatInfoUpdateReq),
     D(CommonErrorCode)},
    {PT_GROUPCHAT_MEMBERS_GET, "PT_GROUPCHAT_MEMBERS_GET", D(GroupChatMemberGetReq),
     D(GroupChatMemberGetResp)},
    {PT_FRIEND_ADD, "PT_FRIEND_ADD", D(FriendAddReq), D(CommonErrorCode)},
    {PT_FRIEND_DEL, "PT_FRIEND_DEL", D(FriendDelReq), D(CommonErrorCode)},
    {PT_FRIEND_SYNC, "PT_FRIEND_SYNC", D(FriendSyncReq), D(FriendSyncResp)},
    {PT_USERINFO_GET, "PT_USERINFO_GET", D(UserInfoGetReq), D(UserInfoGetResp)},
    {PT_USERINFO_UPDATE, "PT_USERINFO_UPDATE", D(UserInfoUpdateReq), D(CommonErrorCode)},
    {PT_USERATTRIBUTE_SET, "PT_USERATTRIBUTE_SET", D(UserAttrSetReq), D(CommonErrorCode)},
    {PT_USERATTRIBUTE_GET, "PT_USERATTRIBUTE_GET", D(UserAttribute), D(UserAttrGetResp)},
    {PT_SESSIONATTRIBUTE_SET, "PT_SESSIONATTRIBUTE_SET", D(SessionAttrSetReq), D(CommonErrorCode)},
    {PT_PRESENCE_SUB, "PT_PRESENCE_SUB", D(PresenceSubReq), D(PresenceSubResp)},
    {PT_PRESENCE, "PT_PRESENCE", D(PresenceNotice), NULL},
    {PT_TYPING, "PT_TYPING", D(TypingReq), D(CommonErrorCode)},
    {PT_MSG_READERS, "PT_MSG_READERS", D(MsgReadersReq), D(MsgReadersResp)},
    {PT_MSG_REACTION, "PT_MSG_REACTION", D(ReactionReq), D(CommonErrorCode)},
    {PT_MSG_SEARCH, "PT_MSG_SEARCH", D(MsgSearchReq), D(MsgSearchResp)},
};
#undef D
#define NTYPES (sizeof(types) / sizeof(types[0]))

static const struct type_row *find(int type)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].type == type)
            return &types[i];
    return NULL;
}

const char *omtp_pack_type_name(int type)
{
    const struct type_row *t = find(type);
    return t ? t->name : "PT_UNKNOWN";
}

bool omtp_pack_type_known(int type)
{
    return find(type) != NULL;
}

int omtp_pack_type_from_name(const char *name)
{
    char *end;
    long v = strtol(name, &end, 10);
    if (*name && *end == 0)
        return omtp_pack_type_known((int)v) ? (int)v : -1;
    for (size_t i = 0; i < NTYPES; i++)
        if (strcasecmp(types[i].name, name) == 0 || strcasecmp(types[i].name + 3, name) == 0)
            return types[i].type;
    return -1;
}

const tars_struct_desc *omtp_payload_desc(int type, bool ack, bool *known)
{
    const struct type_row *t = find(type);
    if (known)
        *known = t != NULL;
    if (!t)
        return NULL;
    return ack ? t->ack : t->req;
}

const tars_struct_desc *omtp_push_desc(int type, const tars_struct_desc *req)
{
    if (type == PT_TYPING)
        return &omtp_TypingNotice_desc;
    if (type == PT_MSG_REACTION)
        return &omtp_ReactionNotice_desc;
    return req;
}

const char *omtp_error_code_name(int code)
{
    switch (code) {
    case OMTP_EC_SUCCESS:
        return "SUCCESS";
    case OMTP_EC_PROTOCOL:
        return "PROTOCOL";
    case OMTP_EC_PARAM:
        return "PARAM";
    case OMTP_EC_UNKNOWN:
        return "UNKNOWN";
    case OMTP_EC_DB_ERROR:
        return "DB_ERROR";
    case OMTP_EC_SERVICE_UNAVAILABLE:
        return "SERVICE_UNAVAILABLE";
    case OMTP_EC_SERVER_REFUSED:
        return "SERVER_REFUSED";
    case OMTP_EC_SERVER_EXCEPTION:
        return "SERVER_EXCEPTION";
    case OMTP_EC_SENSI_MATCH:
        return "SENSI_MATCH";
    case OMTP_EC_CONN_INDICATE:
        return "CONN_INDICATE";
    case OMTP_EC_CONN_USERNAME_OR_PASSWORD:
        return "CONN_USERNAME_OR_PASSWORD";
    case OMTP_EC_CONN_KICKOUT:
        return "CONN_KICKOUT";
    case OMTP_EC_CONN_ACCESS_DENIED:
        return "CONN_ACCESS_DENIED";
    case OMTP_EC_HISTORYMSG_DENY:
        return "HISTORYMSG_DENY";
    case OMTP_EC_GROUP_USER_NOTEXIST:
        return "GROUP_USER_NOTEXIST";
    case OMTP_EC_GROUP_ID_EMPTY:
        return "GROUP_ID_EMPTY";
    case OMTP_EC_GROUP_NO_PRIVILEGE:
        return "GROUP_NO_PRIVILEGE";
    case OMTP_EC_GROUP_MEMBER_LIMIT:
        return "GROUP_MEMBER_LIMIT";
    case OMTP_EC_GROUP_NOT_EXIST:
        return "GROUP_NOT_EXIST";
    case OMTP_EC_MSG_TOO_SHORT:
        return "MSG_TOO_SHORT";
    case OMTP_EC_MSG_TOO_LONG:
        return "MSG_TOO_LONG";
    case OMTP_EC_MSG_INVALID_FORMAT:
        return "MSG_INVALID_FORMAT";
    case OMTP_EC_MSG_FORBIDDEN:
        return "MSG_FORBIDDEN";
    case OMTP_EC_MSG_NOT_EXIST:
        return "MSG_NOT_EXIST";
    case OMTP_EC_MSG_REPEATED:
        return "MSG_REPEATED";
    case OMTP_EC_MSG_OP_CMD:
        return "MSG_OP_CMD";
    case OMTP_EC_USER_RELATION_INVALID:
        return "USER_RELATION_INVALID";
    case OMTP_EC_ATTR_FIELD_EMPTY:
        return "ATTR_FIELD_EMPTY";
    }
    return "UNKNOWN_CODE";
}
