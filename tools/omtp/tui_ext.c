/*
 * tui_ext.c - the OMTP extensions in `omtp chat` (spec omtp-ext.tars,
 * libomtp's omtp_client_ext.c): presence dots of single-chat peers, "bob is
 * typing..." in the header (and your own typing sent while you edit), and
 * read receipts (PT_MSG_READERS) turning your messages [read]. A server
 * without an extension answers its type with PROTOCOL (1): that extension
 * is then switched off for the session, nothing else changes.
 *
 * Runs on the chat's loop thread; a 1 s timer expires typing notices,
 * refreshes the presence subscription when conversations were added and
 * asks for read receipts of the open conversation while some of your
 * messages there are not read yet.
 */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define TYPING_SHOW_MS 6000 /* a typing notice is shown this long without a refresh */
#define TYPING_SEND_MS 3000 /* "typing" is re-sent this often while editing */

static bool online(chat *t)
{
    return omtp_client_state(t->c) == OMTP_CLIENT_ONLINE;
}

/* ---- presence ---------------------------------------------------------------- */

static void apply_presence(chat *t, const omtp_PresenceInfo *p)
{
    for (int i = 0; i < t->nconv; i++) {
        conv *v = t->convs[i];
        if (v->group)
            continue;
        char peer[256];
        if (!omtp_session_peer(v->id, t->o->user, peer, sizeof(peer)) ||
            strcmp(peer, p->userId.data))
            continue;
        v->presence = p->online ? 1 : 0;
        v->last_seen = p->lastSeen;
        v->peer_devices = p->devices;
        /* a device of the peer is online: it has (or catches up on) what was
         * stored before; the server pushes to every online device */
        if (p->devices > 0)
            tui_conv_mark_own(v, t->o->user, v->last_seq, TM_DELIVERED);
    }
}

static void on_sub(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    (void)ud;
    const omtp_PresenceSubResp *r =
        status == 0 && p->desc == &omtp_PresenceSubResp_desc ? p->body : NULL;
    if (!r) {
        const omtp_CommonErrorCode *e =
            status == 0 && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
        if (e && e->code == OMTP_EC_PROTOCOL)
            t->no_presence = true; /* an omtpd without presence */
        return;
    }
    if (r->errorCode.code == OMTP_EC_PROTOCOL) {
        t->no_presence = true;
        return;
    }
    for (uint32_t i = 0; i < r->users.n; i++)
        apply_presence(t, &r->users.items[i]);
    tui_redraw(t);
}

static void subscribe(chat *t)
{
    t->sub_dirty = false;
    if (t->no_presence || !online(t))
        return;
    const char *ids[TUI_MAXCONV];
    char peers[TUI_MAXCONV][160];
    size_t n = 0;
    for (int i = 0; i < t->nconv && n < TUI_MAXCONV; i++) {
        conv *v = t->convs[i];
        if (!v->group && omtp_session_peer(v->id, t->o->user, peers[n], sizeof(peers[n])))
            ids[n] = peers[n], n++;
    }
    if (n)
        omtp_client_presence_sub(t->c, ids, n, on_sub, NULL);
}

void tui_ext_on_presence(omtp_client *c, const omtp_PresenceNotice *n, void *ud)
{
    chat *t = ud;
    (void)c;
    for (uint32_t i = 0; i < n->users.n; i++)
        apply_presence(t, &n->users.items[i]);
    tui_redraw(t);
}

void tui_ext_convs_changed(chat *t)
{
    t->sub_dirty = true;
}

/* ---- typing -------------------------------------------------------------------- */

void tui_ext_on_typing(omtp_client *c, const omtp_TypingNotice *n, void *ud)
{
    chat *t = ud;
    if (!strcmp(n->userId.data, t->o->user))
        return;
    conv *v = tui_conv_find(t, n->sessionId.data, false);
    if (!v)
        return;
    if (n->state) {
        snprintf(v->typing, sizeof(v->typing), "%s", n->userId.data);
        v->typing_until = uv_now(t->loop) + TYPING_SHOW_MS;
    } else if (!strcmp(v->typing, n->userId.data)) {
        v->typing[0] = 0;
    }
    (void)c;
    tui_redraw(t);
}

static void on_typing_reply(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    (void)ud;
    /* no reply (timeout) = accepted; a CommonErrorCode = refused */
    const omtp_CommonErrorCode *e =
        status == 0 && p && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
    if (e && e->code == OMTP_EC_PROTOCOL)
        t->no_typing = true;
}

void tui_ext_typing(chat *t, int state)
{
    conv *v = tui_conv_open_ptr(t);
    if (t->no_typing || !online(t))
        return;
    uint64_t now = uv_now(t->loop);
    if (state) {
        if (!v || (t->typing_sent_at && now - t->typing_sent_at < TYPING_SEND_MS &&
                   !strcmp(t->typing_sid, v->id)))
            return;
        if (t->typing_sent_at && strcmp(t->typing_sid, v->id))
            omtp_client_typing(t->c, t->typing_sid, 0, NULL, NULL);
        if (!omtp_client_typing(t->c, v->id, 1, on_typing_reply, NULL)) {
            t->typing_sent_at = now;
            snprintf(t->typing_sid, sizeof(t->typing_sid), "%s", v->id);
        }
    } else if (t->typing_sent_at) {
        omtp_client_typing(t->c, t->typing_sid, 0, NULL, NULL);
        t->typing_sent_at = 0;
    }
}

const char *tui_ext_typing_text(chat *t, conv *v)
{
    static char buf[128];
    if (!v || !v->typing[0] || uv_now(t->loop) > v->typing_until)
        return "";
    snprintf(buf, sizeof(buf), "  %s is typing...", v->typing);
    return buf;
}

/* ---- read receipts ------------------------------------------------------------- */

typedef struct readers_req {
    char sid[256];
    int64_t seq;
} readers_req;

static void on_readers(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    readers_req *q = ud;
    const omtp_MsgReadersResp *r =
        status == 0 && p->desc == &omtp_MsgReadersResp_desc ? p->body : NULL;
    const omtp_CommonErrorCode *e =
        status == 0 && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
    if ((e && e->code == OMTP_EC_PROTOCOL) || (r && r->errorCode.code == OMTP_EC_PROTOCOL))
        t->no_readers = true;
    conv *v = r && !r->errorCode.code ? tui_conv_find(t, q->sid, false) : NULL;
    if (v) {
        /* single chat: the peer read it; group: every other member did */
        bool read = v->group ? r->readers.n > 0 && r->unread.n == 0 : r->readers.n > 0;
        if (read) {
            if (q->seq > v->peer_read)
                v->peer_read = q->seq;
            tui_conv_mark_own(v, t->o->user, q->seq, TM_READ);
            tui_redraw(t);
        }
    }
    free(q);
}

void tui_ext_readers(chat *t, conv *v)
{
    if (t->no_readers || !v || !online(t))
        return;
    tmsg *m = NULL;
    for (int i = v->n; i-- > 0;)
        if (v->msgs[i].seq > 0 && !strcmp(v->msgs[i].from, t->o->user) &&
            v->msgs[i].state != TM_FAILED) {
            m = &v->msgs[i];
            break;
        }
    if (!m || m->state == TM_READ)
        return;
    readers_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    snprintf(q->sid, sizeof(q->sid), "%s", v->id);
    q->seq = m->seq;
    v->readers_asked = m->seq;
    if (omtp_client_readers(t->c, v->id, m->seq, on_readers, q))
        free(q);
}

/* ---- the timer ----------------------------------------------------------------- */

static void on_tick(uv_timer_t *tm)
{
    chat *t = tm->data;
    static unsigned ticks;
    ticks++;
    bool redraw = false;
    uint64_t now = uv_now(t->loop);
    for (int i = 0; i < t->nconv; i++) {
        conv *v = t->convs[i];
        if (v->typing[0] && now > v->typing_until) {
            v->typing[0] = 0;
            redraw = true;
        }
    }
    if (t->sub_dirty)
        subscribe(t);
    if (ticks % 3 == 0)
        tui_ext_readers(t, tui_conv_open_ptr(t));
    if (t->typing_sent_at && now - t->typing_sent_at > TYPING_SHOW_MS)
        t->typing_sent_at = 0;
    if (redraw)
        tui_redraw(t);
}

void tui_ext_init(chat *t)
{
    uv_timer_init(t->loop, &t->ext_timer);
    t->ext_timer.data = t;
    uv_timer_start(&t->ext_timer, on_tick, 1000, 1000);
    for (int i = 0; i < t->nconv; i++)
        t->convs[i]->presence = -1;
}

void tui_ext_close(chat *t)
{
    uv_timer_stop(&t->ext_timer);
    uv_close((uv_handle_t *)&t->ext_timer, NULL);
}

void tui_ext_online(chat *t)
{
    t->typing_sent_at = 0;
    subscribe(t);
    tui_ext_readers(t, tui_conv_open_ptr(t));
}
