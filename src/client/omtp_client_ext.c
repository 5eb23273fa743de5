/*
 * omtp_client_ext.c - the async client's requests for the extensions of
 * spec/omtp-ext.tars: presence, typing, group read receipts
 * (client/omtp_client.h). Their pushes reach on_presence / on_typing
 * (omtp_client.c, on_push).
 *
 * Threading: the client's loop thread, like every omtp_client call.
 */
#include <stdlib.h>
#include <string.h>

#include "omtp_client.h"

#define TYPING_TIMEOUT_MS 3000

static void ignore_reply(omtp_client *c, int status, const omtp_packet *reply, void *ud)
{
    (void)c;
    (void)status;
    (void)reply;
    (void)ud;
}

int omtp_client_presence_sub(omtp_client *c, const char *const *ids, size_t n, omtp_reply_cb cb,
                             void *ud)
{
    omtp_PresenceSubReq q;
    omtp_msg_init(&omtp_PresenceSubReq_desc, &q);
    tars_str *items = n ? calloc(n, sizeof(tars_str)) : NULL;
    if (n && !items)
        return OMTP_ENOMEM;
    for (size_t i = 0; i < n; i++) { /* borrowed for the encode */
        items[i].data = (char *)ids[i];
        items[i].len = (uint32_t)strlen(ids[i]);
    }
    q.userIds.items = items;
    q.userIds.n = (uint32_t)n;
    int rc = omtp_client_request(c, PT_PRESENCE_SUB, 0, &omtp_PresenceSubReq_desc, &q, 0,
                                 cb ? cb : ignore_reply, ud, NULL);
    free(items);
    return rc;
}

int omtp_client_typing(omtp_client *c, const char *session_id, int state, omtp_reply_cb cb,
                       void *ud)
{
    omtp_TypingReq q = {
        .sessionId = {.data = (char *)session_id, .len = (uint32_t)strlen(session_id)},
        .state = state};
    return omtp_client_request(c, PT_TYPING, 0, &omtp_TypingReq_desc, &q, TYPING_TIMEOUT_MS,
                               cb ? cb : ignore_reply, ud, NULL);
}

int omtp_client_readers(omtp_client *c, const char *session_id, int64_t seq, omtp_reply_cb cb,
                        void *ud)
{
    omtp_MsgReadersReq q = {
        .sessionId = {.data = (char *)session_id, .len = (uint32_t)strlen(session_id)},
        .seqId = seq};
    return omtp_client_request(c, PT_MSG_READERS, 0, &omtp_MsgReadersReq_desc, &q, 0,
                               cb ? cb : ignore_reply, ud, NULL);
}
