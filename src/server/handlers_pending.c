/*
 * handlers_pending.c - placeholders for handlers whose files are being
 * written. Each block below stands for one file of handlers.h; whoever adds
 * that file deletes its block (and nothing else). A placeholder answers
 * PROTOCOL (1) "not implemented yet".
 */
#include "handlers.h"

#define PENDING(fn)                                                                                \
    void fn(omtp_req *req)                                                                         \
    {                                                                                              \
        omtp_reply_code(req, OMTP_EC_PROTOCOL, "%s: not implemented yet",                          \
                        omtp_pack_type_name(req->type));                                           \
    }

/* ==== BEGIN chat.c placeholders (delete this block when chat.c lands) ==== */
PENDING(handle_single_chat)
PENDING(handle_biz_notify)
PENDING(handle_msg_ctrl)
PENDING(handle_msg_read)
void omtp_deliver_msg(omtp_server *s, const omtp_msg_rec *m, const tars_str_list *users,
                      const omtp_conn *except)
{
    (void)s;
    (void)m;
    (void)users;
    (void)except;
}
/* ==== END chat.c placeholders ==== */

/* ==== BEGIN sync.c placeholders (delete this block when sync.c lands) ==== */
PENDING(handle_hot_session_sync)
PENDING(handle_high_prior_sync)
PENDING(handle_history_pull)
void handle_sync_data_ack(omtp_req *req)
{
    omtp_req_free(req);
}
/* ==== END sync.c placeholders ==== */

/* ==== BEGIN monitor.c placeholders (delete this block when monitor.c lands) ==== */
PENDING(handle_monitor_start)
PENDING(handle_monitor_stop)
PENDING(handle_monitor_sync)
void omtp_monitor_push(omtp_server *s, const char *sessionId, omtp_wire *w, const omtp_conn *except)
{
    (void)s;
    (void)sessionId;
    (void)w;
    (void)except;
}
void omtp_monitor_conn_closed(omtp_conn *c)
{
    (void)c;
}
/* ==== END monitor.c placeholders ==== */

/* ==== BEGIN group.c placeholders (delete this block when group.c lands) ==== */
PENDING(handle_group_chat)
PENDING(handle_group_sync)
PENDING(handle_group_create)
PENDING(handle_group_join)
PENDING(handle_group_quit)
PENDING(handle_group_dismiss)
PENDING(handle_group_update_creator)
PENDING(handle_group_info_update)
PENDING(handle_group_members_get)
/* ==== END group.c placeholders ==== */

/* ==== BEGIN friend.c placeholders (delete this block when friend.c lands) ==== */
PENDING(handle_friend_add)
PENDING(handle_friend_del)
PENDING(handle_friend_sync)
/* ==== END friend.c placeholders ==== */

/* ==== BEGIN user.c placeholders (delete this block when user.c lands) ==== */
PENDING(handle_userinfo_get)
PENDING(handle_userinfo_update)
PENDING(handle_user_attr_set)
PENDING(handle_user_attr_get)
PENDING(handle_session_attr_set)
/* ==== END user.c placeholders ==== */
