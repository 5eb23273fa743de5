/*
 * omtp_sync_ext.c - the blocking client's helpers for the extensions of
 * spec/omtp-ext.tars: presence, typing, group read receipts
 * (client/omtp_sync.h).
 *
 * Threading: like the rest of omtp_sync, one thread per connection.
 */
#include <stdlib.h>
#include <string.h>

#include "omtp_sync.h"

int omtp_sync_presence_sub(omtp_sync *c, const char *const *ids, size_t n,
                           omtp_PresenceSubResp *out)
{
    omtp_PresenceSubReq q;
    omtp_msg_init(&omtp_PresenceSubReq_desc, &q);
    q.userIds.items = n ? calloc(n, sizeof(tars_str)) : NULL;
    if (n && !q.userIds.items) {
        tars_init(&omtp_PresenceSubResp_desc, out);
        return OMTP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++, q.userIds.n++)
        if (tars_str_set(&q.userIds.items[i], ids[i])) {
            omtp_msg_free(&omtp_PresenceSubReq_desc, &q);
            tars_init(&omtp_PresenceSubResp_desc, out);
            return OMTP_ENOMEM;
        }
    int rc = omtp_sync_call(c, PT_PRESENCE_SUB, &omtp_PresenceSubReq_desc, &q,
                            &omtp_PresenceSubResp_desc, out);
    omtp_msg_free(&omtp_PresenceSubReq_desc, &q);
    return rc;
}

int omtp_sync_typing(omtp_sync *c, const char *session_id, int state, int wait_ms, int *code)
{
    omtp_TypingReq q;
    omtp_msg_init(&omtp_TypingReq_desc, &q);
    *code = 0;
    if (tars_str_set(&q.sessionId, session_id))
        return OMTP_ENOMEM;
    q.state = state;
    char id[37];
    int rc = omtp_sync_send(c, PT_TYPING, 0, NULL, &omtp_TypingReq_desc, &q, id);
    omtp_msg_free(&omtp_TypingReq_desc, &q);
    if (rc || wait_ms <= 0)
        return rc;
    omtp_packet r;
    rc = omtp_sync_wait_reply(c, id, wait_ms, &r);
    if (rc == OMTP_ETIMEDOUT)
        return 0; /* accepted: success answers nothing */
    if (rc)
        return rc;
    const omtp_CommonErrorCode *e = r.body;
    *code = e ? e->code : OMTP_EC_UNKNOWN;
    omtp_packet_free(&r);
    return 0;
}

int omtp_sync_readers(omtp_sync *c, const char *session_id, int64_t seq, omtp_MsgReadersResp *out)
{
    omtp_MsgReadersReq q;
    omtp_msg_init(&omtp_MsgReadersReq_desc, &q);
    q.seqId = seq;
    if (tars_str_set(&q.sessionId, session_id)) {
        tars_init(&omtp_MsgReadersResp_desc, out);
        return OMTP_ENOMEM;
    }
    int rc = omtp_sync_call(c, PT_MSG_READERS, &omtp_MsgReadersReq_desc, &q,
                            &omtp_MsgReadersResp_desc, out);
    omtp_msg_free(&omtp_MsgReadersReq_desc, &q);
    return rc;
}
