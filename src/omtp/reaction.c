/*
 * reaction.c - the OMTP adapter of PT_MSG_REACTION (spec omtp-ext.tars):
 * decodes ReactionReq, calls the domain (domain/reaction.h: the rules, the
 * store work and the ReactionNotice push) as the logged-in user on this
 * connection, and answers CommonErrorCode.
 *
 * Threading: loop thread only.
 */
#include "domain/reaction.h"
#include "handlers.h"

static void reaction_replied(void *arg, const omtp_dom_result *res)
{
    omtp_req *req = arg;
    omtp_reply_code(req, res->code, "%s", res->code == OMTP_EC_SUCCESS ? "" : res->desc);
}

void handle_msg_reaction(omtp_req *req)
{
    omtp_dom_caller who = {.role = OMTP_DOM_USER, .user = req->conn->userId, .conn = req->conn};
    int rc = omtp_dom_reaction(req->conn->srv, &who, req->body, reaction_replied, req);
    if (rc == OMTP_ENOMEM)
        omtp_reply_code(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
    else if (rc < 0)
        omtp_reply_code(req, OMTP_EC_SERVICE_UNAVAILABLE, "storage is not accepting work (%s)",
                        omtp_strerror(rc));
}
