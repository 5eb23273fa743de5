/*
 * omtp_inner.c - decoding OTIMPacks nested in replies (history items,
 * HotSessionItem.lastMsgs, high-priority msgs). See omtp_client.h.
 */
#include "omtp_client.h"

#include <stdlib.h>

int omtp_inner_decode(const omtp_OTIMPack *p, const omtp_crypto_key *key,
                      const tars_struct_desc **desc, void **body)
{
    *desc = NULL;
    *body = NULL;
    /* stored messages are MsgReq whatever their flags say */
    int t = p->header.type;
    const tars_struct_desc *d =
        (t == PT_MSG_SINGLE_CHAT || t == PT_MSG_GROUP_CHAT || t == PT_MSG_BIZ_NOTIFY)
            ? &omtp_MsgReq_desc
            : omtp_payload_desc(t, (p->header.flags & OMTP_F_ACK) != 0, NULL);
    if (!d)
        return OMTP_EDECODE;
    uint8_t *plain;
    size_t plen;
    bool owned;
    char why[160];
    int rc = omtp_payload_unwrap(p->header.flags, p->payload.data, p->payload.len, key,
                                 OMTP_DEFAULT_MAX_FRAME, &plain, &plen, &owned, why, sizeof(why));
    if (rc)
        return rc;
    void *b = malloc(d->size);
    if (!b) {
        rc = OMTP_ENOMEM;
    } else if (tars_decode(d, b, plain ? plain : (const uint8_t *)"", plen, NULL) != TARS_OK) {
        free(b);
        rc = OMTP_EDECODE;
    } else {
        *desc = d;
        *body = b;
    }
    if (owned)
        free(plain);
    return rc;
}

int omtp_inner_msg(const omtp_OTIMPack *p, const omtp_crypto_key *key, omtp_MsgReq *m)
{
    const tars_struct_desc *d;
    void *b;
    int rc = omtp_inner_decode(p, key, &d, &b);
    if (rc)
        return rc;
    if (d != &omtp_MsgReq_desc) {
        omtp_msg_free(d, b);
        free(b);
        return OMTP_EDECODE;
    }
    *m = *(omtp_MsgReq *)b; /* moves the fields: only the shell is freed */
    free(b);
    return 0;
}

int64_t omtp_inner_last_seq(const omtp_HotSessionItem *it, const omtp_crypto_key *key)
{
    int64_t best = 0;
    for (uint32_t i = 0; i < it->lastMsgs.n; i++) {
        omtp_MsgReq m;
        if (omtp_inner_msg(&it->lastMsgs.items[i], key, &m))
            continue;
        if (m.seqId > best)
            best = m.seqId;
        omtp_msg_free(&omtp_MsgReq_desc, &m);
    }
    return best;
}
