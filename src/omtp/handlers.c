/*
 * handlers.c - the OMTP packet types and their handlers, handed to the
 * core's dispatch table at start (core/server.h, omtp_dispatch_register).
 * The flags carry the rulings dispatch.c applies per type.
 *
 * Threading: loop thread, once, before the listeners accept.
 */
#include "handlers.h"

#include <stdio.h>

#include "proto/omtp_proto.h"

static const struct {
    int type;
    omtp_handler_fn fn;
    unsigned flags;
} table[] = {
    {PT_PING, handle_ping, OMTP_DISPATCH_PRELOGIN | OMTP_DISPATCH_RATE_EXEMPT},
    {PT_LOGIN, handle_login,
     OMTP_DISPATCH_PRELOGIN | OMTP_DISPATCH_RATE_EXEMPT | OMTP_DISPATCH_EMPTY_OK},
    {PT_LOGOUT, handle_logout, OMTP_DISPATCH_RATE_EXEMPT},
    {PT_KICKOUT, handle_kickout, 0},
    {PT_MSG_SINGLE_CHAT, handle_single_chat, 0},
    {PT_MSG_GROUP_CHAT, handle_group_chat, 0},
    {PT_MSG_BIZ_NOTIFY, handle_biz_notify, 0},
    {PT_MSG_CTRL, handle_msg_ctrl, 0},
    {PT_MSG_READ, handle_msg_read, 0},
    {PT_HOTSESSION_SYNC, handle_hot_session_sync, 0},
    {PT_HIGH_PRIOR_MSG_SYNC, handle_high_prior_sync, 0},
    {PT_HISTORY_MSG_PULL, handle_history_pull, 0},
    {PT_SESSION_MONITOR_START, handle_monitor_start, 0},
    {PT_SESSION_MONITOR_STOP, handle_monitor_stop, 0},
    {PT_SESSION_MONITOR_SYNC, handle_monitor_sync, OMTP_DISPATCH_EMPTY_OK},
    {PT_SYNC_DATA_CMD, handle_sync_data_ack, OMTP_DISPATCH_ANSWERS},
    {PT_GROUPCHAT_SYNC, handle_group_sync, 0},
    {PT_GROUPCHAT_CREATE, handle_group_create, 0},
    {PT_GROUPCHAT_JION, handle_group_join, 0},
    {PT_GROUPCHAT_QUIT, handle_group_quit, 0},
    {PT_GROUPCHAT_DISMISS, handle_group_dismiss, 0},
    {PT_GROUPCHAT_UPDATE_CREATOR, handle_group_update_creator, 0},
    {PT_GROUPCHAT_INFO_UPDATE, handle_group_info_update, 0},
    {PT_GROUPCHAT_MEMBERS_GET, handle_group_members_get, 0},
    {PT_FRIEND_ADD, handle_friend_add, 0},
    {PT_FRIEND_DEL, handle_friend_del, 0},
    {PT_FRIEND_SYNC, handle_friend_sync, 0},
    {PT_USERINFO_GET, handle_userinfo_get, 0},
    {PT_USERINFO_UPDATE, handle_userinfo_update, 0},
    {PT_USERATTRIBUTE_SET, handle_user_attr_set, 0},
    {PT_USERATTRIBUTE_GET, handle_user_attr_get, OMTP_DISPATCH_EMPTY_OK},
    {PT_SESSIONATTRIBUTE_SET, handle_session_attr_set, 0},
    /* extensions (spec/omtp-ext.tars; docs/protocol.md, Extensions) */
    {PT_PRESENCE_SUB, handle_presence_sub, OMTP_DISPATCH_EMPTY_OK}, /* empty list = none */
    {PT_TYPING, handle_typing, 0},
    {PT_MSG_REACTION, handle_msg_reaction, 0},
    {PT_MSG_READERS, handle_msg_readers, 0},
    {PT_MSG_SEARCH, handle_msg_search, 0},
};

int omtp_handlers_register(omtp_server *s, char *why, size_t whylen)
{
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
        int rc = omtp_dispatch_register(s, table[k].type, table[k].fn, table[k].flags);
        if (rc) {
            snprintf(why, whylen, "cannot register the handler of %s: %s",
                     omtp_pack_type_name(table[k].type), omtp_strerror(rc));
            return rc;
        }
    }
    return 0;
}
