/*
 * groupchat.c - the OMTP adapter of PT_MSG_GROUP_CHAT (15): a message to
 * every member of a group. It resolves which group the request names (MsgReq.to,
 * or sessionId when to is empty; both must agree) and hands the message to
 * the domain (domain/msg.h, omtp_dom_send_group), which checks, stores and
 * fans it out exactly as for the HTTP API; chat.c encodes the MsgAck.
 *
 * Threading: loop thread only.
 */
#include <string.h>

#include "chat.h"
#include "handlers.h"

void handle_group_chat(omtp_req *req)
{
    const omtp_MsgReq *q = req->body;
    if (!q) {
        omtp_reply_code(req, OMTP_EC_PARAM, "the request has no MsgReq payload");
        return;
    }
    const tars_str *gid = q->to.len ? &q->to : &q->sessionId;
    if (gid->len == 0) {
        omtp_reply_code(req, OMTP_EC_GROUP_ID_EMPTY, "to (the group id) is empty");
        return;
    }
    if (q->to.len && q->sessionId.len && strcmp(q->to.data, q->sessionId.data) != 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "sessionId %.128s and to %.128s name different groups",
                        q->sessionId.data, q->to.data);
        return;
    }
    omtp_chat_send_req(req, PT_MSG_GROUP_CHAT, gid);
}
