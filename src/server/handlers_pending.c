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
