/*
 * replyfit.c - the byte budget of a reply, and the sizes of the items that
 * go into it (see server.h, "replies that fit a frame").
 *
 * The budget leaves room for everything between the Tars payload and the
 * wire: the 4-byte length, the OTIMPack header (type, version, flags, a
 * packId of up to OMTP_PACKID_MAX bytes), the payload's own head, zlib's
 * worst case (stored blocks: 5 bytes per 64 KiB plus header and trailer;
 * 1/512 of the frame is many times that) and AES-GCM's nonce and tag. The
 * reply's fixed fields (code, a desc of at most 512 bytes, a session id,
 * cursors) come out of the same 2 KiB.
 *
 * Threading: pure functions; omtp_item_size allocates its own scratch, so
 * the store thread may call it too.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t omtp_reply_budget(const omtp_config *cfg)
{
    size_t frame = cfg->max_frame ? cfg->max_frame : OMTP_DEFAULT_MAX_FRAME;
    size_t overhead = frame / 512 + 2048;
    return frame > overhead ? frame - overhead : 0;
}

size_t omtp_item_size(const tars_struct_desc *d, const void *obj)
{
    tars_buf b;
    tars_buf_init(&b);
    size_t n = tars_encode(&b, d, obj, false, 0) == TARS_OK ? b.len : SIZE_MAX;
    tars_buf_free(&b);
    return n;
}

size_t omtp_str_item_size(const tars_str *s)
{
    return (size_t)s->len + 5; /* head + 4-byte length at most */
}

int omtp_reply_fit_config(omtp_config *cfg, char *why, size_t whylen)
{
    if (cfg->max_frame < OMTP_MIN_MAX_FRAME) {
        snprintf(why, whylen, "max_frame %u is too small: at least %u bytes", cfg->max_frame,
                 OMTP_MIN_MAX_FRAME);
        return OMTP_EINVAL;
    }
    size_t budget = omtp_reply_budget(cfg);
    size_t fit = budget > OMTP_REPLY_ITEM_EXTRA ? budget - OMTP_REPLY_ITEM_EXTRA : 0;
    if (cfg->max_content == 0 || cfg->max_content > fit) {
        LOG_WARN("max_content %u lowered to %zu bytes: a message must fit one reply frame "
                 "(max_frame %u) together with its pushInfo and session attributes; raise "
                 "max_frame to allow longer messages",
                 cfg->max_content, fit, cfg->max_frame);
        cfg->max_content = (uint32_t)fit;
    }
    return 0;
}

/* Upper bounds of the encoded size of records as reply items. Each string
 * costs at most its bytes plus a 5-byte head; 160 bytes cover every integer,
 * struct head and the OTIMPack wrapping around a message. */
/* the extension lists (mentions, reactions): each string and list head */
static size_t strs_bound(const tars_str_list *l)
{
    size_t n = 10;
    for (uint32_t i = 0; i < l->n; i++)
        n += (size_t)l->items[i].len + 5;
    return n;
}

static size_t ext_bound(const omtp_MsgReq *q)
{
    size_t n = strs_bound(&q->mentions) + 10;
    for (uint32_t k = 0; k < q->reactions.n; k++)
        n += (size_t)q->reactions.keys[k].len + 5 + strs_bound(&q->reactions.vals[k]);
    return n;
}

size_t omtp_msg_rec_bound(const omtp_msg_rec *m)
{
    const omtp_MsgReq *q = &m->msg;
    return (size_t)m->packId.len + q->sessionId.len + q->from.len + q->to.len + q->pushInfo.len +
           q->content.len + 160 + ext_bound(q);
}

size_t omtp_hot_rec_bound(const omtp_hot_rec *r)
{
    return (size_t)r->sessionId.len + r->attribute.len + 64 +
           (r->hasLast ? omtp_msg_rec_bound(&r->last) : 0);
}

size_t omtp_hp_rec_bound(const omtp_hp_rec *r)
{
    return (size_t)r->pack.payload.len + r->pack.header.packId.len + 64;
}

uint32_t omtp_fit_structs(const tars_struct_desc *d, const void *items, uint32_t n, size_t *used,
                          size_t budget)
{
    uint32_t k = 0;
    for (; k < n; k++) {
        size_t b = omtp_item_size(d, (const char *)items + (size_t)k * d->size);
        if (*used + b > budget && (k > 0 || *used > 0))
            break;
        *used += b;
    }
    return k;
}

uint32_t omtp_fit_strs(const tars_str *items, uint32_t n, size_t *used, size_t budget)
{
    uint32_t k = 0;
    for (; k < n; k++) {
        size_t b = omtp_str_item_size(&items[k]);
        if (*used + b > budget && (k > 0 || *used > 0))
            break;
        *used += b;
    }
    return k;
}

/* Records stored before the field limits existed (a 900 KB pushInfo was
 * accepted then) may be too large for any page. pushInfo is a hint for
 * offline push notifications, not part of the conversation: such a record
 * is returned without it rather than wedging the cursor. */
bool omtp_msg_rec_shrink(omtp_msg_rec *m, size_t budget)
{
    if (omtp_msg_rec_bound(m) > budget && m->msg.reactions.n > 0) {
        /* the aggregate is a view: a message too large with it goes without */
        static const tars_field f = {"reactions", 0, 0, TK_MAP_STR_STRS, false, 0, NULL};
        static const tars_struct_desc d = {"R", sizeof(tars_strs_map), &f, 1};
        LOG_WARN("message %s/%lld: its reactions left out of a reply so that it fits max_frame",
                 m->msg.sessionId.data, (long long)m->msg.seqId);
        tars_free(&d, &m->msg.reactions);
    }
    if (omtp_msg_rec_bound(m) <= budget || m->msg.pushInfo.len <= OMTP_LIMIT_PUSHINFO)
        return false;
    LOG_WARN("message %s/%lld: pushInfo of %u bytes (stored before the %d-byte limit) left out "
             "of a reply so that it fits max_frame",
             m->msg.sessionId.data, (long long)m->msg.seqId, m->msg.pushInfo.len,
             OMTP_LIMIT_PUSHINFO);
    tars_str_clear(&m->msg.pushInfo);
    return true;
}

bool omtp_hp_rec_shrink(omtp_hp_rec *r, size_t budget)
{
    int t = r->pack.header.type;
    if (omtp_hp_rec_bound(r) <= budget ||
        (t != PT_MSG_SINGLE_CHAT && t != PT_MSG_GROUP_CHAT && t != PT_MSG_BIZ_NOTIFY))
        return false;
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    bool done = false;
    if (tars_decode(&omtp_MsgReq_desc, &m, r->pack.payload.data, r->pack.payload.len, NULL) ==
            TARS_OK &&
        m.pushInfo.len > OMTP_LIMIT_PUSHINFO) {
        tars_str_clear(&m.pushInfo);
        tars_bytes b = {0};
        if (omtp_payload_to_bytes(&omtp_MsgReq_desc, &m, &b) == 0) {
            LOG_WARN("high-priority entry %lld: pushInfo (stored before the %d-byte limit) left "
                     "out of a reply so that it fits max_frame",
                     (long long)r->seq, OMTP_LIMIT_PUSHINFO);
            free(r->pack.payload.data);
            r->pack.payload = b;
            done = true;
        }
    }
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    return done;
}
