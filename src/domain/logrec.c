/*
 * domain/logrec.c - encoding and checked decoding of the send path's log
 * records (logrec.h).
 */
#include "domain/logrec.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto/omtp_limits.h"
#include "proto/omtp_packet.h"
#include "proto/omtp_proto.h"
#include "proto/omtp_session.h"
#include "domain/reaction.h"
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

/* ---------------------------------------------- control, read, reaction */

#define OP_F(tag, kind, field)                                                                     \
    {                                                                                              \
#field, (uint16_t)offsetof(omtp_logop, field), tag, kind, tag < 4, 0, NULL                 \
    }

static const tars_field logop_fields[] = {
    OP_F(0, TK_I32, version),   OP_F(1, TK_STR, sessionId), OP_F(2, TK_I64, seqId),
    OP_F(3, TK_STR, user),      OP_F(4, TK_I32, op),        OP_F(5, TK_STR, text),
    OP_F(6, TK_STR, noticeId),  OP_F(7, TK_STR, packId),    OP_F(8, TK_I32, msgType),
    OP_F(9, TK_I64, timestamp),
};
static const tars_struct_desc logop_desc = {"LogOp", sizeof(omtp_logop), logop_fields,
                                            sizeof logop_fields / sizeof logop_fields[0]};

void omtp_logop_init(omtp_logop *o)
{
    tars_init(&logop_desc, o);
}

void omtp_logop_free(omtp_logop *o)
{
    tars_free(&logop_desc, o);
}

int omtp_logop_encode(const omtp_logop *o, tars_buf *out)
{
    omtp_logop c = *o;
    c.version = OMTP_LOGOP_VERSION;
    return tars_encode(out, &logop_desc, &c, true, 0) == TARS_OK ? 0 : OMTP_ENOMEM;
}

static int op_check(uint8_t type, const omtp_logop *o, char *why, size_t whylen)
{
    if (o->version != OMTP_LOGOP_VERSION)
        return BAD("record version %d is not %d (written by another omtpd version?)",
                   (int)o->version, OMTP_LOGOP_VERSION);
    if (!text_ok(&o->sessionId, OMTP_SESSION_ID_MAX - 1, false, true))
        return BAD("record sessionId is empty, too long or holds a NUL");
    if (!text_ok(&o->user, OMTP_ID_MAX, false, true))
        return BAD("record user is empty, too long or holds a NUL");
    if (o->seqId <= 0)
        return BAD("record seqId %lld is not positive", (long long)o->seqId);
    switch (type) {
    case OMTP_LOGREC_CTRL:
        if (o->op != MC_REVOKE && o->op != MC_DELETE && o->op != MC_OVERRIDE)
            return BAD("record control command %d is unknown", (int)o->op);
        if (o->op == MC_OVERRIDE ? !text_ok(&o->text, OMTP_MSGLOG_MAX_RECORD, false, false)
                                 : o->text.len != 0)
            return BAD("record content is %s", o->op == MC_OVERRIDE ? "empty" : "set");
        if (!text_ok(&o->noticeId, 64, false, true) ||
            !text_ok(&o->packId, OMTP_MSGLOG_MAX_RECORD, true, false))
            return BAD("record noticeId/packId is empty, too long or holds a NUL");
        if (o->msgType != PT_MSG_SINGLE_CHAT && o->msgType != PT_MSG_GROUP_CHAT &&
            o->msgType != PT_MSG_BIZ_NOTIFY)
            return BAD("record message type %d is not a message type", (int)o->msgType);
        return 0;
    case OMTP_LOGREC_READ:
        if (o->op != 0 || o->text.len || o->noticeId.len || o->packId.len)
            return BAD("read cursor record carries fields it has no use for");
        return 0;
    case OMTP_LOGREC_REACT:
        if (o->op != OMTP_REACTION_ADD && o->op != OMTP_REACTION_REMOVE)
            return BAD("record reaction op %d is unknown", (int)o->op);
        if (!o->text.data || !omtp_reaction_emoji_valid(o->text.data, o->text.len))
            return BAD("record emoji is not 1..32 bytes of valid UTF-8");
        return 0;
    default:
        return BAD("record type %u is not an operation", (unsigned)type);
    }
}

int omtp_logop_decode(uint8_t type, const uint8_t *p, size_t n, omtp_logop *out, char *why,
                      size_t whylen)
{
    tars_err err;
    omtp_logop_init(out);
    if (tars_decode(&logop_desc, out, p, n, &err) != TARS_OK)
        return BAD("record is not a LogOp (%s)", err.msg);
    return op_check(type, out, why, whylen);
}
