/*
 * tui_react.c - the message extensions in `omtp chat` (spec omtp-ext.tars,
 * react's part of libomtp): replies (MsgReq.replyTo) drawn as a quote row
 * above the message, mentions of you highlighted and marked [@you],
 * reactions (MsgReq.reactions in history, ReactionNotice pushes) drawn as a
 * row under the message, and /react /unreact. A server without reactions
 * answers PT_MSG_REACTION with PROTOCOL (1): the note says so.
 *
 * Loop thread only, like the rest of the chat.
 */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

void tui_react_free(tmsg *m)
{
    free(m->rx);
    m->rx = NULL;
    m->nrx = 0;
}

static void rx_add(tmsg *m, const char *emoji, const char *user)
{
    for (int i = 0; i < m->nrx; i++)
        if (!strcmp(m->rx[i].emoji, emoji) && !strcmp(m->rx[i].user, user))
            return;
    treact *r = realloc(m->rx, sizeof(treact) * (size_t)(m->nrx + 1));
    if (!r)
        return;
    m->rx = r;
    snprintf(r[m->nrx].emoji, sizeof(r[m->nrx].emoji), "%s", emoji);
    snprintf(r[m->nrx].user, sizeof(r[m->nrx].user), "%s", user);
    m->nrx++;
}

static void rx_del(tmsg *m, const char *emoji, const char *user)
{
    for (int i = 0; i < m->nrx; i++)
        if (!strcmp(m->rx[i].emoji, emoji) && !strcmp(m->rx[i].user, user)) {
            memmove(m->rx + i, m->rx + i + 1, sizeof(treact) * (size_t)(m->nrx - i - 1));
            m->nrx--;
            return;
        }
}

void tui_react_from_msg(chat *t, tmsg *m, const omtp_MsgReq *req)
{
    if (!m || !req)
        return;
    m->reply_to = req->replyTo;
    m->mentions_me = false;
    for (uint32_t i = 0; i < req->mentions.n; i++) {
        const char *u = req->mentions.items[i].data;
        if (!strcmp(u, t->o->user) || (!strcmp(u, "@all") && strcmp(req->from.data, t->o->user)))
            m->mentions_me = true;
    }
    if (req->reactions.n || m->nrx) {
        tui_react_free(m);
        for (uint32_t i = 0; i < req->reactions.n; i++)
            for (uint32_t j = 0; j < req->reactions.vals[i].n; j++)
                rx_add(m, req->reactions.keys[i].data, req->reactions.vals[i].items[j].data);
    }
}

void tui_react_on_notice(omtp_client *c, const omtp_OTIMHeader *h, const omtp_ReactionNotice *n,
                         void *ud)
{
    chat *t = ud;
    (void)c;
    (void)h;
    conv *v = tui_conv_find(t, n->sessionId.data, false);
    tmsg *m = v ? tui_msg_by_seq(v, n->seqId) : NULL;
    if (!m)
        return;
    if (n->op == 1)
        rx_add(m, n->emoji.data, n->userId.data);
    else
        rx_del(m, n->emoji.data, n->userId.data);
    tui_redraw(t);
}

void tui_react_quote(chat *t, conv *v, const tmsg *m, char *buf, size_t n)
{
    (void)t;
    buf[0] = 0;
    if (!m->reply_to)
        return;
    tmsg *q = tui_msg_by_seq(v, m->reply_to);
    if (!q)
        snprintf(buf, n, "> #%lld", (long long)m->reply_to);
    else
        snprintf(buf, n, "> %s #%lld: %.60s%s", q->from, (long long)q->seq,
                 q->revoked ? "(revoked)" : q->text,
                 !q->revoked && strlen(q->text) > 60 ? "..." : "");
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

void tui_react_line(const tmsg *m, char *buf, size_t n)
{
    buf[0] = 0;
    size_t len = 0;
    /* grouped by emoji, in the order of each emoji's first reaction */
    for (int i = 0; i < m->nrx && len + 1 < n; i++) {
        bool seen = false;
        for (int k = 0; k < i; k++)
            if (!strcmp(m->rx[k].emoji, m->rx[i].emoji))
                seen = true;
        if (seen)
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "  " : "", m->rx[i].emoji);
        for (int k = i; k < m->nrx && len + 1 < n; k++)
            if (!strcmp(m->rx[k].emoji, m->rx[i].emoji))
                len += (size_t)snprintf(buf + len, n - len, " %s", m->rx[k].user);
    }
    if (len >= n)
        buf[n - 1] = 0;
}

typedef struct react_req {
    char sid[256];
    int64_t seq;
    char emoji[40];
    int op;
} react_req;

static void on_react(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    react_req *q = ud;
    const omtp_CommonErrorCode *e =
        status == 0 && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
    const char *what = q->op == 1 ? "react" : "unreact";
    if (!e) {
        snprintf(t->note, sizeof(t->note), "%s #%lld: %s", what, (long long)q->seq,
                 omtp_strerror(status));
    } else if (e->code == OMTP_EC_PROTOCOL) {
        snprintf(t->note, sizeof(t->note), "this server has no reactions (PT_MSG_REACTION)");
    } else if (e->code) {
        snprintf(t->note, sizeof(t->note), "%s #%lld refused: %s (%d)%s%s", what, (long long)q->seq,
                 omtp_error_code_name(e->code), e->code, e->desc.len ? ": " : "", e->desc.data);
    } else {
        conv *v = tui_conv_find(t, q->sid, false);
        tmsg *m = v ? tui_msg_by_seq(v, q->seq) : NULL;
        if (m) {
            if (q->op == 1)
                rx_add(m, q->emoji, t->o->user);
            else
                rx_del(m, q->emoji, t->o->user);
        }
    }
    free(q);
    tui_redraw(t);
}

void tui_react_send(chat *t, conv *v, tmsg *m, const char *emoji, int op)
{
    react_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    snprintf(q->sid, sizeof(q->sid), "%s", v->id);
    q->seq = m->seq;
    snprintf(q->emoji, sizeof(q->emoji), "%s", emoji);
    q->op = op;
    int rc = omtp_client_react(t->c, v->id, m->seq, emoji, op, on_react, q);
    if (rc) {
        snprintf(t->note, sizeof(t->note), "react: %s", omtp_strerror(rc));
        free(q);
    }
}
