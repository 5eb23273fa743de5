/*
 * chat.h - what the OMTP message adapters share (chat.c, groupchat.c). The
 * operations themselves are in domain/msg.h.
 *
 * Threading: loop thread only.
 */
#ifndef OMTP_CHAT_H
#define OMTP_CHAT_H

#include "core/server.h"

/*
 * Sends the request's MsgReq as a message of `type` (PT_MSG_SINGLE_CHAT,
 * PT_MSG_GROUP_CHAT, PT_MSG_BIZ_NOTIFY) through the domain, as the
 * logged-in user of req->conn, and replies: MsgAck, or the refusal. `to`,
 * when not NULL, replaces MsgReq.to (borrowed; the group id a group adapter
 * resolved).
 */
void omtp_chat_send_req(omtp_req *req, int type, const tars_str *to);

#endif
