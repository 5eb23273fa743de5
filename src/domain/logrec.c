/*
 * domain/logrec.c - encoding and checked decoding of the send path's log
 * records (logrec.h).
 */
#include "domain/logrec.h"

#include <stdio.h>
#include <string.h>

#include "proto/omtp_limits.h"
#include "proto/omtp_packet.h"
#include "proto/omtp_proto.h"
#include "proto/omtp_session.h"
#include "store/msglog.h"

#define REC_FLAGS (OMTP_F_HIGHPRJ | OMTP_F_COUNTER)

int omtp_logrec_encode(const omtp_msg_rec *m, tars_buf *out)
{
    omtp_OTIMPack pack;
    int rc = OMTP_ENOMEM;
    omtp_msg_init(&omtp_OTIMPack_desc, &pack);
    pack.header.type = (int16_t)m->type;
    pack.header.version = OMTP_VERSION;
    pack.header.flags = m->flags & REC_FLAGS;
    if (tars_str_setn(&pack.header.packId, m->packId.data, m->packId.len) == 0 &&
        omtp_payload_to_bytes(&omtp_MsgReq_desc, &m->msg, &pack.payload) == 0 &&
        tars_encode(out, &omtp_OTIMPack_desc, &pack, true, 0) == TARS_OK)
        rc = 0;
    omtp_msg_free(&omtp_OTIMPack_desc, &pack);
    return rc;
}

/* a text field of 1..max bytes (0..max when may_empty); ids hold no NUL */
static bool text_ok(const tars_str *s, size_t max, bool may_empty, bool id)
{
    if (!s->data)
        return may_empty;
    if (s->len > max || (!may_empty && s->len == 0))
        return false;
    return !id || memchr(s->data, 0, s->len) == NULL;
}

#define BAD(...) (snprintf(why, whylen, __VA_ARGS__), OMTP_EDECODE)

static int check(const omtp_msg_rec *m, char *why, size_t whylen)
{
    const omtp_MsgReq *q = &m->msg;
    char sid[OMTP_SESSION_ID_MAX];
    if (m->type != PT_MSG_SINGLE_CHAT && m->type != PT_MSG_GROUP_CHAT &&
        m->type != PT_MSG_BIZ_NOTIFY)
        return BAD("record type %d is not a message type", (int)m->type);
    if (m->flags & ~(int64_t)REC_FLAGS)
        return BAD("record flags 0x%llx carry bits a message is not stored with",
                   (unsigned long long)m->flags);
    if (!text_ok(&m->packId, OMTP_MSGLOG_MAX_RECORD, false, false))
        return BAD("record packId is empty, too long or holds a NUL");
    if (!text_ok(&q->from, OMTP_ID_MAX, false, true) || !text_ok(&q->to, OMTP_ID_MAX, false, true))
        return BAD("record from/to is empty, too long or holds a NUL");
    if (!text_ok(&q->sessionId, OMTP_SESSION_ID_MAX - 1, false, true))
        return BAD("record sessionId is empty, too long or holds a NUL");
    if (!text_ok(&q->pushInfo, OMTP_MSGLOG_MAX_RECORD, true, false) ||
        !text_ok(&q->content, OMTP_MSGLOG_MAX_RECORD, false, false))
        return BAD("record content is empty or too long");
    if (q->seqId <= 0 || q->timestamp <= 0)
        return BAD("record seqId %lld / timestamp %lld not positive", (long long)q->seqId,
                   (long long)q->timestamp);
    if (q->status != 0 || q->reactions.n != 0)
        return BAD("record status %d or reactions set (a new message has neither)", (int)q->status);
    if (q->replyTo < 0 || q->replyTo >= q->seqId)
        return BAD("record replyTo %lld is not an earlier seqId", (long long)q->replyTo);
    if (q->mentions.n > OMTP_LIMIT_MENTIONS)
        return BAD("record names %u mentions (at most %d)", q->mentions.n, OMTP_LIMIT_MENTIONS);
    for (uint32_t i = 0; i < q->mentions.n; i++)
        if (!text_ok(&q->mentions.items[i], OMTP_ID_MAX, false, true))
            return BAD("record mention %u is empty, too long or holds a NUL", i);
    int rc;
    if (m->type == PT_MSG_SINGLE_CHAT)
        rc = omtp_session_single(q->from.data, q->to.data, sid, sizeof sid);
    else if (m->type == PT_MSG_BIZ_NOTIFY)
        rc = omtp_session_biz(q->from.data, q->to.data, sid, sizeof sid);
    else
        rc = snprintf(sid, sizeof sid, "%s", q->to.data) < (int)sizeof sid ? 0 : OMTP_EINVAL;
    if (rc != 0 || !tars_str_eq(&q->sessionId, sid))
        return BAD("record sessionId '%.64s' is not the session of its from/to", q->sessionId.data);
    return 0;
}

int omtp_logrec_decode(const uint8_t *p, size_t n, omtp_msg_rec *out, char *why, size_t whylen)
{
    omtp_OTIMPack pack;
    tars_err err;
    omtp_msg_rec_init(out);
    if (tars_decode(&omtp_OTIMPack_desc, &pack, p, n, &err) != TARS_OK)
        return BAD("record is not an OTIMPack");
    int rc = OMTP_EDECODE;
    omtp_msg_free(&omtp_MsgReq_desc, &out->msg);
    if (tars_decode(&omtp_MsgReq_desc, &out->msg, pack.payload.data, pack.payload.len, &err) !=
        TARS_OK) {
        snprintf(why, whylen, "record payload is not a MsgReq");
        goto done;
    }
    out->type = pack.header.type;
    out->flags = pack.header.flags;
    if (tars_str_setn(&out->packId, pack.header.packId.data, pack.header.packId.len) != 0) {
        snprintf(why, whylen, "out of memory");
        rc = OMTP_ENOMEM;
        goto done;
    }
    rc = check(out, why, whylen);
done:
    omtp_msg_free(&omtp_OTIMPack_desc, &pack);
    return rc;
}
