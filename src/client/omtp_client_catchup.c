/*
 * omtp_client_catchup.c - the sync after every login, and delivery with
 * per-session deduplication (see omtp_client.h for the contract).
 *
 * Sequence: hot sessions (paged by cursor) -> one history pull chain per
 * session with a gap (newest first, 200 a page, until the last delivered
 * seqId is reached) -> high-priority queue (paged by seqId) -> done. Every
 * step is a request on the current connection; a drop aborts the chain
 * (its requests complete with OMTP_ECLOSED) and the next login starts over
 * from the cursors reached so far. Cost: one round trip per page; a client
 * that was offline for a while pays one history pull per changed session.
 */
#include "omtp_client_int.h"

#include <stdlib.h>
#include <string.h>

static void next_gap(omtp_client *c);
static void hp_request(omtp_client *c);

void omtp__held_free(omtp_held_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        omtp_msg_free(&omtp_OTIMHeader_desc, &v->v[i].hdr);
        if (v->v[i].body) {
            omtp_msg_free(v->v[i].desc, v->v[i].body);
            free(v->v[i].body);
        }
    }
    free(v->v);
    memset(v, 0, sizeof(*v));
}

/* Appends; takes ownership of body; copies hdr. */
static int held_add(omtp_held_vec *v, const omtp_OTIMHeader *hdr, const tars_struct_desc *d,
                    void *body, int64_t seq)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        omtp_held *nv = realloc(v->v, nc * sizeof(*nv));
        if (!nv)
            goto err;
        v->v = nv;
        v->cap = nc;
    }
    omtp_held *h = &v->v[v->n];
    if (tars_copy(&omtp_OTIMHeader_desc, &h->hdr, hdr))
        goto err;
    h->desc = d;
    h->body = body;
    h->seq = seq;
    v->n++;
    return 0;
err:
    omtp_msg_free(d, body);
    free(body);
    return OMTP_ENOMEM;
}

/* Delivers one message or control notice, dropping duplicates. Borrows. */
static void deliver(omtp_client *c, const omtp_OTIMHeader *hdr, const tars_struct_desc *d,
                    const void *body, bool catchup)
{
    if (d == &omtp_MsgReq_desc) {
        const omtp_MsgReq *m = body;
        const char *sid = m->sessionId.data ? m->sessionId.data : "";
        if (m->seqId > 0) {
            if (m->seqId <= omtp_seqmap_get(&c->seqs, sid))
                return; /* already delivered */
            omtp_seqmap_raise(&c->seqs, sid, m->seqId);
            if (omtp__is_own(c, sid, m->seqId))
                return; /* our own send, acked on this client */
        }
        if (c->cb.on_message)
            c->cb.on_message(c, hdr, m, catchup, c->ud);
    } else if (d == &omtp_MsgControl_desc) {
        if (c->cb.on_control)
            c->cb.on_control(c, hdr, body, catchup, c->ud);
    }
}

void omtp__on_push_msg(omtp_client *c, omtp_packet *p)
{
    if (c->cu.active) {
        int64_t seq = p->desc == &omtp_MsgReq_desc ? ((omtp_MsgReq *)p->body)->seqId : 0;
        held_add(&c->cu.held, &p->header, p->desc, p->body, seq);
        p->body = NULL;
        return;
    }
    deliver(c, &p->header, p->desc, p->body, false);
}

static void gaps_free(omtp_catchup *cu)
{
    for (size_t i = 0; i < cu->ngaps; i++)
        free(cu->gaps[i].session);
    free(cu->gaps);
    cu->gaps = NULL;
    cu->ngaps = cu->capgaps = cu->cur = 0;
}

void omtp__catchup_reset(omtp_client *c)
{
    c->cu.active = false;
    gaps_free(&c->cu);
    omtp__held_free(&c->cu.got);
    /* held pushes stay: they are delivered after the next catch-up */
}

static void finish(omtp_client *c, int err)
{
    c->cu.active = false;
    gaps_free(&c->cu);
    omtp__held_free(&c->cu.got);
    omtp_held_vec held = c->cu.held;
    memset(&c->cu.held, 0, sizeof(c->cu.held));
    unsigned gen = c->gen;
    for (size_t i = 0; i < held.n; i++) {
        if (c->destroyed || gen != c->gen || c->cu.active)
            break;
        deliver(c, &held.v[i].hdr, held.v[i].desc, held.v[i].body, false);
    }
    omtp__held_free(&held);
    if (err == 0 && !c->destroyed && gen == c->gen)
        c->synced = true;
    if (!c->destroyed && gen == c->gen && c->cb.on_catchup_done)
        c->cb.on_catchup_done(c, err, c->ud);
}

/* ---- hot sessions ------------------------------------------------------ */

static void hs_request(omtp_client *c);

static int add_gap(omtp_catchup *cu, const char *sid, int64_t from, int64_t to)
{
    if (cu->ngaps == cu->capgaps) {
        size_t nc = cu->capgaps ? cu->capgaps * 2 : 8;
        omtp_gap *ng = realloc(cu->gaps, nc * sizeof(*ng));
        if (!ng)
            return OMTP_ENOMEM;
        cu->gaps = ng;
        cu->capgaps = nc;
    }
    omtp_gap *g = &cu->gaps[cu->ngaps];
    g->session = strdup(sid);
    if (!g->session)
        return OMTP_ENOMEM;
    g->from = from;
    g->to = to;
    g->at = 0;
    cu->ngaps++;
    return 0;
}

static void on_hs(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    if ((unsigned)(uintptr_t)ud != c->gen || !c->cu.active)
        return;
    if (status) {
        finish(c, status);
        return;
    }
    const omtp_HotSessionResp *r = p->desc == &omtp_HotSessionResp_desc ? p->body : NULL;
    if (!r || r->code != 0) {
        finish(c, OMTP_EDECODE);
        return;
    }
    unsigned gen = c->gen;
    if (c->cb.on_hot_sessions)
        c->cb.on_hot_sessions(c, r, c->ud);
    if (c->destroyed || gen != c->gen || !c->cu.active)
        return;
    for (uint32_t i = 0; i < r->sessions.n; i++) {
        const omtp_HotSessionItem *it = &r->sessions.items[i];
        const char *sid = it->sessionId.data ? it->sessionId.data : "";
        int64_t last = omtp_inner_last_seq(it, c->key.set ? &c->key : NULL);
        int64_t known = omtp_seqmap_get(&c->seqs, sid);
        if (c->cu.first)
            omtp_seqmap_raise(&c->seqs, sid, last);
        else if (last > known)
            add_gap(&c->cu, sid, known, last);
    }
    if (r->sessions.n > 0 && r->timestamp > c->hot_cursor) {
        c->hot_cursor = r->timestamp;
        hs_request(c);
        return;
    }
    if (r->timestamp > c->hot_cursor)
        c->hot_cursor = r->timestamp;
    next_gap(c);
}

static void hs_request(omtp_client *c)
{
    omtp_HotSessionReq q = {.timestamp = c->hot_cursor};
    int rc = omtp__request(c, PT_HOTSESSION_SYNC, 0, &omtp_HotSessionReq_desc, &q, 0, on_hs,
                           (void *)(uintptr_t)c->gen);
    if (rc)
        finish(c, rc);
}

/* ---- history pulls ----------------------------------------------------- */

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = ((const omtp_held *)a)->seq, y = ((const omtp_held *)b)->seq;
    return x < y ? -1 : x > y;
}

static void hist_request(omtp_client *c);

static void on_hist(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    if ((unsigned)(uintptr_t)ud != c->gen || !c->cu.active)
        return;
    if (status) {
        finish(c, status);
        return;
    }
    omtp_gap *g = &c->cu.gaps[c->cu.cur];
    const omtp_HistoryMsgPullResp *r = p->desc == &omtp_HistoryMsgPullResp_desc ? p->body : NULL;
    bool more = false;
    if (r && r->errorCode.code == 0) {
        int64_t min = INT64_MAX;
        for (uint32_t i = 0; i < r->msgs.n; i++) {
            const tars_struct_desc *d;
            void *b;
            if (omtp_inner_decode(&r->msgs.items[i], c->key.set ? &c->key : NULL, &d, &b))
                continue;
            int64_t seq = d == &omtp_MsgReq_desc ? ((omtp_MsgReq *)b)->seqId : 0;
            if (seq < min)
                min = seq;
            if (seq > g->from)
                held_add(&c->cu.got, &r->msgs.items[i].header, d, b, seq);
            else {
                omtp_msg_free(d, b);
                free(b);
            }
        }
        /* a page may be short because it filled a frame, not because the
         * history ended: continue below the oldest message until the gap is
         * covered or a page comes back empty */
        if (r->msgs.n > 0 && min != INT64_MAX && min > g->from + 1 && min > 1) {
            g->at = min - 1;
            more = true;
        }
    }
    if (more) {
        hist_request(c);
        return;
    }
    qsort(c->cu.got.v, c->cu.got.n, sizeof(omtp_held), cmp_seq);
    omtp_held_vec got = c->cu.got;
    memset(&c->cu.got, 0, sizeof(c->cu.got));
    unsigned gen = c->gen;
    for (size_t i = 0; i < got.n; i++) {
        if (c->destroyed || gen != c->gen)
            break;
        deliver(c, &got.v[i].hdr, got.v[i].desc, got.v[i].body, true);
    }
    omtp__held_free(&got);
    if (c->destroyed || gen != c->gen || !c->cu.active)
        return;
    c->cu.cur++;
    next_gap(c);
}

static void hist_request(omtp_client *c)
{
    omtp_gap *g = &c->cu.gaps[c->cu.cur];
    omtp_HistoryMsgPullReq q;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &q);
    q.seqId = g->at;
    q.count = 200;
    int rc = tars_str_set(&q.sessionId, g->session) ? OMTP_ENOMEM : 0;
    if (!rc)
        rc = omtp__request(c, PT_HISTORY_MSG_PULL, 0, &omtp_HistoryMsgPullReq_desc, &q, 0, on_hist,
                           (void *)(uintptr_t)c->gen);
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &q);
    if (rc)
        finish(c, rc);
}

static void next_gap(omtp_client *c)
{
    if (c->cu.cur >= c->cu.ngaps) {
        hp_request(c);
        return;
    }
    hist_request(c);
}

/* ---- high priority ----------------------------------------------------- */

static void on_hp(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    if ((unsigned)(uintptr_t)ud != c->gen || !c->cu.active)
        return;
    if (status) {
        finish(c, status);
        return;
    }
    const omtp_MsgHighPrioritySyncResp *r =
        p->desc == &omtp_MsgHighPrioritySyncResp_desc ? p->body : NULL;
    if (!r || r->code != 0) {
        finish(c, OMTP_EDECODE);
        return;
    }
    unsigned gen = c->gen;
    if (!c->cu.first) {
        for (uint32_t i = 0; i < r->msgs.n; i++) {
            const tars_struct_desc *d;
            void *b;
            if (omtp_inner_decode(&r->msgs.items[i], c->key.set ? &c->key : NULL, &d, &b))
                continue;
            deliver(c, &r->msgs.items[i].header, d, b, true);
            omtp_msg_free(d, b);
            free(b);
            if (c->destroyed || gen != c->gen || !c->cu.active)
                return;
        }
    }
    if (r->lastSeqId > c->hp_seq) {
        c->hp_seq = r->lastSeqId;
        if (r->msgs.n > 0) {
            hp_request(c);
            return;
        }
    }
    finish(c, 0);
}

static void hp_request(omtp_client *c)
{
    omtp_MsgHighPrioritySyncReq q = {.seqId = c->hp_seq, .count = 200};
    int rc = omtp__request(c, PT_HIGH_PRIOR_MSG_SYNC, 0, &omtp_MsgHighPrioritySyncReq_desc, &q, 0,
                           on_hp, (void *)(uintptr_t)c->gen);
    if (rc)
        finish(c, rc);
}

void omtp__catchup_start(omtp_client *c)
{
    omtp__catchup_reset(c);
    c->cu.active = true;
    /* The server leaves the cursor at 0 while the user has no session, so
     * "first" must mean "never synced", not "cursor 0": otherwise messages
     * that arrive while a fresh user is offline would only be recorded. */
    c->cu.first = c->hot_cursor == 0 && !c->synced;
    hs_request(c);
}
