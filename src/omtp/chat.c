/*
 * chat.c - the OMTP adapters of the message operations: PT_MSG_SINGLE_CHAT,
 * PT_MSG_BIZ_NOTIFY, PT_MSG_CTRL and PT_MSG_READ. Each decodes the request,
 * calls the domain (domain/msg.h: the checks, the store work and the pushes
 * live there, once for OMTP and the HTTP API) as the logged-in user on this
 * connection, and encodes the result: a MsgAck for a stored message, the
 * request type's reply with code and desc otherwise.
 *
 * Threading: loop thread only.
 */
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "domain/msg.h"
#include "handlers.h"

/* The caller an OMTP request acts as: its logged-in user and device. */
static omtp_dom_caller req_caller(omtp_req *req)
{
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    return who;
}

static void reply_unavailable(omtp_req *req, int rc)
{
    if (rc == OMTP_ENOMEM)
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
    else
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
}

/* A send's result: the MsgAck (the stored or, for a resend, the original
 * seqId), or the refusal. */
static void send_replied(void *arg, const omtp_dom_result *res)
{
    omtp_req *req = arg;
    if (res->code != OMTP_EC_SUCCESS) {
        omtp_reply_code(req, res->code, "%s", res->desc);
        return;
    }
    omtp_MsgAck ack = {0};
    ack.code = OMTP_EC_SUCCESS;
    ack.sessionId = res->stored->msg.sessionId; /* borrowed, encoded now */
    ack.seqId = res->stored->msg.seqId;
    ack.timestamp = res->stored->msg.timestamp;
    omtp_reply(req, &omtp_MsgAck_desc, &ack);
}

void omtp_chat_send_req(omtp_req *req, int type, const tars_str *to)
{
    const omtp_MsgReq *in = req->body;
    if (!in) {
        omtp_reply_code(req, OMTP_EC_PARAM, "MsgReq payload is missing");
        return;
    }
    /* the domain copies what it keeps: the request is only borrowed */
    omtp_msg_rec m;
    omtp_msg_rec_init(&m);
    m.type = type;
    m.flags = req->flags;
    m.packId.data = req->packId;
    m.packId.len = (uint32_t)strlen(req->packId);
    m.msg = *in;
    if (to)
        m.msg.to = *to;
    omtp_dom_caller who = req_caller(req);
    int rc;
    if (type == PT_MSG_GROUP_CHAT)
        rc = omtp_dom_send_group(req->conn->srv, &who, &m, send_replied, req);
    else if (type == PT_MSG_BIZ_NOTIFY)
        rc = omtp_dom_send_biz(req->conn->srv, &who, &m, send_replied, req);
    else
        rc = omtp_dom_send_single(req->conn->srv, &who, &m, send_replied, req);
    if (rc < 0)
        reply_unavailable(req, rc);
}

void handle_single_chat(omtp_req *req)
{
    omtp_chat_send_req(req, PT_MSG_SINGLE_CHAT, NULL);
}

void handle_biz_notify(omtp_req *req)
{
    /* refused by the domain for users (MSG_FORBIDDEN): notices come from the backend */
    omtp_chat_send_req(req, PT_MSG_BIZ_NOTIFY, NULL);
}

/* A control's or a read's result: the reply's code and desc. */
static void code_replied(void *arg, const omtp_dom_result *res)
{
    omtp_req *req = arg;
    omtp_reply_code(req, res->code, "%s", res->code == OMTP_EC_SUCCESS ? "" : res->desc);
}

void handle_msg_ctrl(omtp_req *req)
{
    omtp_dom_caller who = req_caller(req);
    int rc = omtp_dom_msg_ctrl(req->conn->srv, &who, req->body, code_replied, req);
    if (rc < 0)
        reply_unavailable(req, rc);
}

void handle_msg_read(omtp_req *req)
{
    const omtp_MsgReaded *in = req->body;
    if (!in || in->sessionId.len == 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "MsgReaded.sessionId is missing");
        return;
    }
    omtp_dom_caller who = req_caller(req);
    int rc = omtp_dom_read(req->conn->srv, &who, in->sessionId.data, in->seqId, code_replied, req);
    if (rc < 0)
        reply_unavailable(req, rc);
}
