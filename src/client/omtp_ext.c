/*
 * omtp_ext.c - libomtp's requests of the extensions it implements
 * (spec omtp-ext.tars; docs/protocol.md, Extensions): reactions, for the
 * event-loop client (omtp_client.h) and the blocking one (omtp_sync.h).
 * Replies and mentions need no request of their own: they are fields of
 * the MsgReq a send carries.
 *
 * Threading: as the client each function belongs to.
 */
#include <stdlib.h>

#include "omtp_client.h"
#include "omtp_sync.h"

/* A ReactionReq of the arguments: 0 or OMTP_ENOMEM (r then freed). */
static int reaction_req(omtp_ReactionReq *r, const char *session_id, int64_t seq, const char *emoji,
                        int op)
{
    omtp_msg_init(&omtp_ReactionReq_desc, r);
    r->seqId = seq;
    r->op = op;
    if (tars_str_set(&r->sessionId, session_id) || tars_str_set(&r->emoji, emoji)) {
        omtp_msg_free(&omtp_ReactionReq_desc, r);
        return OMTP_ENOMEM;
    }
    return 0;
}

int omtp_client_react(omtp_client *c, const char *session_id, int64_t seq, const char *emoji,
                      int op, omtp_reply_cb cb, void *ud)
{
    omtp_ReactionReq r;
    if (!session_id || !emoji)
        return OMTP_EINVAL;
    if (reaction_req(&r, session_id, seq, emoji, op))
        return OMTP_ENOMEM;
    int rc =
        omtp_client_request(c, PT_MSG_REACTION, 0, &omtp_ReactionReq_desc, &r, 0, cb, ud, NULL);
    omtp_msg_free(&omtp_ReactionReq_desc, &r);
    return rc;
}

int omtp_sync_react(omtp_sync *c, const char *session_id, int64_t seq, const char *emoji, int op,
                    omtp_CommonErrorCode *out)
{
    omtp_ReactionReq r;
    tars_init(&omtp_CommonErrorCode_desc, out);
    if (!session_id || !emoji)
        return OMTP_EINVAL;
    if (reaction_req(&r, session_id, seq, emoji, op))
        return OMTP_ENOMEM;
    int rc = omtp_sync_call(c, PT_MSG_REACTION, &omtp_ReactionReq_desc, &r,
                            &omtp_CommonErrorCode_desc, out);
    omtp_msg_free(&omtp_ReactionReq_desc, &r);
    return rc;
}

int omtp_client_search(omtp_client *c, const char *query, const char *session_id, int64_t before_ms,
                       int count, omtp_reply_cb cb, void *ud)
{
    omtp_MsgSearchReq q;
    if (!query)
        return OMTP_EINVAL;
    omtp_msg_init(&omtp_MsgSearchReq_desc, &q);
    q.beforeTimestamp = before_ms > 0 ? before_ms : 0;
    q.count = count > 0 ? count : 20;
    if (tars_str_set(&q.query, query) || tars_str_set(&q.sessionId, session_id ? session_id : "")) {
        omtp_msg_free(&omtp_MsgSearchReq_desc, &q);
        return OMTP_ENOMEM;
    }
    int rc = omtp_client_request(c, PT_MSG_SEARCH, 0, &omtp_MsgSearchReq_desc, &q, 0, cb, ud, NULL);
    omtp_msg_free(&omtp_MsgSearchReq_desc, &q);
    return rc;
}
