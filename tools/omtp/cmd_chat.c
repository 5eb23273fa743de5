/*
 * cmd_chat.c - `omtp chat`: an interactive terminal client (wiring).
 *
 * The async client (libomtp) on one libuv loop, a raw-mode tty, and the
 * pieces of tui.h: the model (tui_model.c), the screen (tui_screen.c), the
 * line editor and key decoder (tui_input.c). This file holds the client's
 * callbacks, the requests the chat makes (history pages, group sync, user
 * lookup for /open, message control) and the commands typed on the input
 * line. The client reconnects and catches up by itself; lines typed while
 * offline wait in its outbox (shown as pending) and are sent after login.
 */
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tui.h"

static void note(chat *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->note, sizeof(t->note), fmt, ap);
    va_end(ap);
}

static bool online(chat *t)
{
    return omtp_client_state(t->c) == OMTP_CLIENT_ONLINE;
}

static bool is_open(chat *t, conv *v)
{
    return v && tui_conv_open_ptr(t) == v;
}

static void ring(chat *t)
{
    if (t->bell)
        tui_out("\a", 1);
}

static void mark_read(chat *t, conv *v)
{
    if (v->last_seq <= 0 || !online(t))
        return;
    omtp_MsgReaded r;
    omtp_msg_init(&omtp_MsgReaded_desc, &r);
    tars_str_set(&r.sessionId, v->id);
    r.seqId = v->last_seq;
    omtp_client_request(t->c, PT_MSG_READ, 0, &omtp_MsgReaded_desc, &r, 0, NULL, NULL, NULL);
    omtp_msg_free(&omtp_MsgReaded_desc, &r);
    v->unread = 0;
}

/* ---- history pages --------------------------------------------------------- */

typedef struct hist_req {
    char id[256];
    int count;
} hist_req;

static void on_history(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    hist_req *q = ud;
    conv *v = tui_conv_find(t, q->id, false);
    int asked = q->count;
    free(q);
    if (!v)
        return;
    v->loading = false;
    const omtp_HistoryMsgPullResp *r =
        status == 0 && p->desc == &omtp_HistoryMsgPullResp_desc ? p->body : NULL;
    if (!r) {
        note(t, "could not load history (%s); PgUp to try again", omtp_strerror(status));
    } else if (r->errorCode.code) {
        note(t, "history: %s (%d): %s", omtp_error_code_name(r->errorCode.code), r->errorCode.code,
             r->errorCode.desc.data);
        v->at_start = true;
    } else {
        for (uint32_t i = 0; i < r->msgs.n; i++) {
            const omtp_OTIMPack *pk = &r->msgs.items[i];
            omtp_MsgReq m;
            if (omtp_inner_msg(pk, NULL, &m))
                continue;
            int64_t fl = pk->header.flags;
            tmsg *pend = !strcmp(m.from.data, t->o->user)
                             ? tui_msg_by_pack(v, pk->header.packId.data)
                             : NULL;
            if (pend && pend->seq == 0)
                tui_msg_acked(v, pend, m.seqId, m.timestamp);
            char media[512];
            tmsg *x = tui_msg_put(
                v, m.seqId, m.timestamp, m.from.data, tui_file_text(&m, media, sizeof(media)),
                (fl & OMTP_F_REVOKE) || m.status == MC_REVOKE, (fl & OMTP_F_OVERRIDE) != 0);
            if (x && !strcmp(m.from.data, t->o->user) && x->state < TM_SENT)
                x->state = TM_SENT;
            tui_react_from_msg(t, x, &m);
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        bool first = !v->loaded;
        v->loaded = true;
        if (r->msgs.n == 0)
            v->at_start = true;
        else if ((int)r->msgs.n < asked && first)
            tui_load_older(t, v); /* a short first page: find out whether it is all */
        if (is_open(t, v))
            mark_read(t, v);
        if (is_open(t, v) && t->srch.select_seq && tui_msg_by_seq(v, t->srch.select_seq)) {
            t->sel_seq = t->srch.select_seq; /* the /search hit opened */
            t->srch.select_seq = 0;
        }
    }
    tui_redraw(t);
}

static void load_page(chat *t, conv *v, int64_t below)
{
    if (v->loading || !online(t))
        return;
    omtp_HistoryMsgPullReq q;
    omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &q);
    tars_str_set(&q.sessionId, v->id);
    q.seqId = below;
    q.count = TUI_PAGE;
    hist_req *h = calloc(1, sizeof(*h));
    if (h) {
        snprintf(h->id, sizeof(h->id), "%s", v->id);
        h->count = TUI_PAGE;
        if (omtp_client_request(t->c, PT_HISTORY_MSG_PULL, 0, &omtp_HistoryMsgPullReq_desc, &q, 0,
                                on_history, h, NULL))
            free(h);
        else
            v->loading = true;
    }
    omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &q);
}

void tui_load_older(chat *t, conv *v)
{
    if (v->at_start)
        return;
    int64_t oldest = tui_conv_oldest(v);
    if (!v->loaded || oldest <= 0)
        load_page(t, v, 0);
    else if (oldest > 1)
        load_page(t, v, oldest - 1);
    else
        v->at_start = true;
}

static void open_conv(chat *t, conv *v)
{
    t->srch.select_seq = 0;
    for (int i = 0; i < t->nconv; i++)
        if (t->convs[i] == v)
            t->open = i;
    t->sel_seq = 0;
    if (!v->loaded)
        load_page(t, v, 0);
    else
        mark_read(t, v);
    tui_ext_readers(t, v);
}

/* ---- groups: names instead of ids ---------------------------------------- */

static void group_sync(chat *t, const char *after);
static void cmd_open(chat *t, const char *who, const char *typed);

static void on_groups(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    (void)ud;
    t->groups_syncing = false;
    const omtp_GroupChatSyncResp *r =
        status == 0 && p->desc == &omtp_GroupChatSyncResp_desc ? p->body : NULL;
    if (!r || r->errorCode.code)
        return; /* names stay ids until the next sync */
    for (uint32_t i = 0; i < r->groupchats.n; i++) {
        const omtp_GroupChatInfo *g = &r->groupchats.items[i];
        conv *v = tui_conv_find(t, g->groupId.data, false);
        if (!v) {
            v = tui_conv_find(t, g->groupId.data, true);
            if (v)
                v->order = 0; /* listed, below the conversations with news */
        }
        if (v)
            tui_conv_set_title(t, v, g->name.data);
    }
    for (uint32_t i = 0; i < r->delGroupChatIds.n; i++) {
        conv *v = tui_conv_find(t, r->delGroupChatIds.items[i].data, false);
        if (v) {
            if (is_open(t, v))
                note(t, "group %s was dismissed (or you left it)", v->title);
            tui_conv_remove(t, v);
        }
    }
    if (r->next.len) {
        group_sync(t, r->next.data);
    } else {
        t->group_ts = r->timestamp;
        if (t->start_open[0]) {
            char typed[TUI_INPUTMAX];
            snprintf(typed, sizeof(typed), "/open %s", t->start_open);
            t->start_open[0] = 0;
            cmd_open(t, typed + 6, typed);
        }
    }
    tui_conv_sort(t);
    tui_redraw(t);
}

static void group_sync(chat *t, const char *after)
{
    if (!online(t) || (t->groups_syncing && !after))
        return;
    omtp_GroupChatSyncReq q;
    omtp_msg_init(&omtp_GroupChatSyncReq_desc, &q);
    q.timestamp = t->group_ts;
    if (after)
        tars_str_set(&q.after, after);
    if (!omtp_client_request(t->c, PT_GROUPCHAT_SYNC, 0, &omtp_GroupChatSyncReq_desc, &q, 0,
                             on_groups, NULL, NULL))
        t->groups_syncing = true;
    omtp_msg_free(&omtp_GroupChatSyncReq_desc, &q);
}

/* ---- client callbacks ---------------------------------------------------- */

static void c_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    chat *t = ud;
    (void)c;
    switch (ev->state) {
    case OMTP_CLIENT_CONNECTING:
        snprintf(t->status, sizeof(t->status), "connecting...");
        break;
    case OMTP_CLIENT_LOGGING_IN:
        snprintf(t->status, sizeof(t->status), "logging in...");
        break;
    case OMTP_CLIENT_ONLINE: {
        snprintf(t->status, sizeof(t->status), "online");
        t->groups_syncing = false;
        group_sync(t, NULL);
        tui_ext_online(t);
        conv *v = tui_conv_open_ptr(t);
        if (v) {
            v->loading = false;
            if (!v->loaded)
                open_conv(t, v);
        }
        for (int i = 0; i < t->nconv; i++)
            t->convs[i]->loading = false;
        break;
    }
    case OMTP_CLIENT_WAITING:
        snprintf(t->status, sizeof(t->status),
                 "offline (%.60s), retrying in %ds; what you type is sent after the reconnect",
                 ev->desc, (ev->delay_ms + 999) / 1000);
        break;
    case OMTP_CLIENT_STOPPED:
        if (ev->code)
            snprintf(t->status, sizeof(t->status), "stopped: %s (%d) %.100s",
                     omtp_error_code_name(ev->code), ev->code, ev->desc);
        else
            snprintf(t->status, sizeof(t->status), "stopped: %.150s", ev->desc);
        break;
    default:
        break;
    }
    tui_redraw(t);
}

static void c_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                      void *ud)
{
    chat *t = ud;
    (void)c;
    conv *v = tui_conv_find(t, m->sessionId.data, true);
    if (!v)
        return;
    bool mine = !strcmp(m->from.data, t->o->user);
    tmsg *pend = mine ? tui_msg_by_pack(v, h->packId.data) : NULL;
    if (pend && pend->seq == 0)
        tui_msg_acked(v, pend, m->seqId, m->timestamp);
    char media[512];
    tmsg *x =
        tui_msg_put(v, m->seqId, m->timestamp, m->from.data, tui_file_text(m, media, sizeof(media)),
                    m->status == MC_REVOKE, (h->flags & OMTP_F_OVERRIDE) != 0);
    if (x && mine && x->state < TM_SENT)
        x->state = TM_SENT;
    tui_react_from_msg(t, x, m);
    if (!mine && !strcmp(v->typing, m->from.data))
        v->typing[0] = 0;   /* they sent what they typed */
    if (!mine && !v->group) /* the peer's client is past our earlier messages */
        tui_conv_mark_own(v, t->o->user, m->seqId - 1, TM_DELIVERED);
    v->order = ++t->tick;
    if (is_open(t, v)) {
        mark_read(t, v);
        if (v->scroll > 0 && x) /* scrolled back: keep the rows in view where they are */
            v->scroll += tui_msg_height(t, x);
    } else if (!mine && !catchup) {
        /* (a catch-up's messages are in the hot session's unread count already) */
        v->unread++;
        ring(t);
    }
    tui_conv_sort(t);
    tui_redraw(t);
}

static void apply_control(chat *t, conv *v, int command, int64_t seq, const char *content)
{
    tmsg *m = tui_msg_by_seq(v, seq);
    if (command == MC_DELETE) {
        tui_msg_delete(v, seq);
        if (t->sel_seq == seq)
            t->sel_seq = 0;
    } else if (!m) {
        return;
    } else if (command == MC_REVOKE) {
        m->revoked = true;
    } else {
        char *nt = strdup(content ? content : "");
        if (nt) {
            free(m->text);
            m->text = nt;
        }
        m->edited = true;
    }
}

static void c_control(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgControl *k,
                      bool catchup, void *ud)
{
    chat *t = ud;
    (void)c;
    (void)h;
    (void)catchup;
    conv *v = tui_conv_find(t, k->sessionId.data, false);
    if (!v)
        return;
    apply_control(t, v, k->command, k->seqId, k->content.data);
    tui_redraw(t);
}

static void c_read(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReaded *r, void *ud)
{
    chat *t = ud;
    (void)c;
    (void)h;
    conv *v = tui_conv_find(t, r->sessionId.data, false);
    if (v && r->seqId >= v->last_seq)
        v->unread = 0;
    tui_redraw(t);
}

static void c_hot(omtp_client *c, const omtp_HotSessionResp *r, void *ud)
{
    chat *t = ud;
    (void)c;
    for (uint32_t i = r->sessions.n; i-- > 0;) {
        const omtp_HotSessionItem *it = &r->sessions.items[i];
        conv *v = tui_conv_find(t, it->sessionId.data, true);
        if (!v)
            continue;
        v->unread = is_open(t, v) ? 0 : it->unreadCount;
        v->order = ++t->tick;
        int64_t last = omtp_inner_last_seq(it, NULL);
        if (last > v->last_seq)
            v->last_seq = last;
    }
    tui_conv_sort(t);
    tui_redraw(t);
}

static void c_sync_data(omtp_client *c, const omtp_OTIMHeader *h, const omtp_SyncDataReq *s,
                        void *ud)
{
    chat *t = ud;
    (void)c;
    (void)h;
    if (s->command == 3) /* groups changed: names, dismissals */
        group_sync(t, NULL);
}

static void c_kick(omtp_client *c, const omtp_OTIMHeader *h, const omtp_KickOutReq *k, void *ud)
{
    chat *t = ud;
    (void)c;
    (void)h;
    note(t, "kicked out: you logged in on another %s device; /quit and use --device",
         cli_device_name(k->deviceType));
}

/* ---- sending --------------------------------------------------------------- */

typedef struct send_req {
    char sid[256];
    char pack[40];
} send_req;

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    chat *t = omtp_client_userdata(c);
    send_req *s = ud;
    conv *v = tui_conv_find(t, s->sid, false);
    tmsg *m = v ? tui_msg_by_pack(v, s->pack) : NULL;
    if (status) {
        note(t, "not sent: %s", omtp_strerror(status));
        if (m && m->seq == 0)
            m->state = TM_FAILED;
    } else if (ack->code) {
        note(t, "not sent: %s (%d)%s", omtp_error_code_name(ack->code), ack->code,
             ack->code == OMTP_EC_USER_RELATION_INVALID
                 ? ": you are not friends; `omtp friends add USER`"
             : ack->code == OMTP_EC_MSG_FORBIDDEN ? ": you may not send there"
                                                  : "");
        if (m && m->seq == 0)
            m->state = TM_FAILED;
    } else if (v && m) {
        if (m->seq == 0)
            tui_msg_acked(v, m, ack->seqId, ack->timestamp);
        if (!v->group && v->peer_devices > 0) /* pushed to the peer's online device */
            tui_conv_mark_own(v, t->o->user, ack->seqId, TM_DELIVERED);
        v->order = ++t->tick;
        if (is_open(t, v))
            v->unread = 0;
        tui_conv_sort(t);
    }
    free(s);
    tui_redraw(t);
}

static void send_text(chat *t, conv *v, const char *text, int64_t reply_to)
{
    tui_send_typed(t, v, 1, text, text, reply_to);
}

void tui_send_typed(chat *t, conv *v, int content_type, const char *content, const char *shown,
                    int64_t reply_to)
{
    char peer[256];
    const char *to = v->id;
    int type = PT_MSG_GROUP_CHAT;
    if (!v->group) {
        if (!omtp_session_peer(v->id, t->o->user, peer, sizeof(peer))) {
            note(t, "this conversation takes no replies (a business notice session)");
            return;
        }
        to = peer;
        type = PT_MSG_SINGLE_CHAT;
    }
    omtp_MsgReq m;
    omtp_msg_init(&omtp_MsgReq_desc, &m);
    tars_str_set(&m.to, to);
    tars_str_set(&m.content, content);
    m.contentType = content_type;
    m.replyTo = reply_to;
    send_req *s = calloc(1, sizeof(*s));
    if (!s) {
        omtp_msg_free(&omtp_MsgReq_desc, &m);
        return;
    }
    snprintf(s->sid, sizeof(s->sid), "%s", v->id);
    int rc = omtp_client_send_msg(t->c, type, &m, 0, on_ack, s, s->pack);
    omtp_msg_free(&omtp_MsgReq_desc, &m);
    if (rc) {
        free(s);
        note(t, "could not queue the message: %s", omtp_strerror(rc));
        return;
    }
    tmsg *p = tui_msg_pending(v, t->o->user, shown, s->pack);
    if (p)
        p->reply_to = reply_to;
    v->scroll = 0;
}

/* ---- revoke / edit / delete --------------------------------------------- */

typedef struct ctl_req {
    char sid[256];
    int64_t seq;
    int command;
    char *content;
} ctl_req;

static const char *ctl_name(int command)
{
    return command == MC_REVOKE ? "revoke" : command == MC_DELETE ? "delete" : "edit";
}

static void on_ctl(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    ctl_req *q = ud;
    const omtp_CommonErrorCode *e =
        status == 0 && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
    if (!e) {
        note(t, "%s #%lld: %s", ctl_name(q->command), (long long)q->seq,
             status ? omtp_strerror(status) : "unexpected reply");
    } else if (e->code) {
        note(t, "%s #%lld refused: %s (%d)%s%s%s", ctl_name(q->command), (long long)q->seq,
             omtp_error_code_name(e->code), e->code, e->desc.len ? ": " : "", e->desc.data,
             e->code == OMTP_EC_MSG_FORBIDDEN || e->code == OMTP_EC_MSG_OP_CMD
                 ? " (only the sender may, and revoke/edit only within the time limit)"
                 : "");
    } else {
        conv *v = tui_conv_find(t, q->sid, false);
        if (v)
            apply_control(t, v, q->command, q->seq, q->content);
        note(t, "%s #%lld done", ctl_name(q->command), (long long)q->seq);
    }
    free(q->content);
    free(q);
    tui_redraw(t);
}

/* The message a command acts on: the selected one, else your last one. */
static tmsg *target(chat *t, conv *v, bool own)
{
    if (t->sel_seq) {
        tmsg *m = tui_msg_by_seq(v, t->sel_seq);
        if (m)
            return m;
    }
    if (own)
        return tui_conv_last_own(v, t->o->user);
    for (int i = v->n; i-- > 0;)
        if (v->msgs[i].seq > 0)
            return &v->msgs[i];
    return NULL;
}

static void control(chat *t, conv *v, int command, const char *content)
{
    tmsg *m = target(t, v, true);
    if (!m) {
        note(t, "no message of yours here to %s (select one with Alt-Up)", ctl_name(command));
        return;
    }
    if (!online(t)) {
        note(t, "offline: %s #%lld needs the server; try again when online", ctl_name(command),
             (long long)m->seq);
        return;
    }
    omtp_MsgControl k;
    omtp_msg_init(&omtp_MsgControl_desc, &k);
    k.command = command;
    tars_str_set(&k.sessionId, v->id);
    k.seqId = m->seq;
    if (content)
        tars_str_set(&k.content, content);
    ctl_req *q = calloc(1, sizeof(*q));
    if (q) {
        snprintf(q->sid, sizeof(q->sid), "%s", v->id);
        q->seq = m->seq;
        q->command = command;
        q->content = content ? strdup(content) : NULL;
        if (omtp_client_request(t->c, PT_MSG_CTRL, 0, &omtp_MsgControl_desc, &k, 0, on_ctl, q,
                                NULL)) {
            free(q->content);
            free(q);
        }
    }
    omtp_msg_free(&omtp_MsgControl_desc, &k);
}

/* ---- /open ------------------------------------------------------------------ */

typedef struct open_req {
    char user[256];
    char sid[600];
    char typed[TUI_INPUTMAX];
} open_req;

static void open_sid(chat *t, const char *sid)
{
    conv *v = tui_conv_find(t, sid, true);
    if (!v) {
        note(t, "too many conversations open");
        return;
    }
    v->order = ++t->tick;
    tui_conv_sort(t);
    open_conv(t, v);
}

static void keep_typed(chat *t, const char *typed)
{
    if (t->input.len == 0)
        tui_input_set(&t->input, typed);
}

static void on_user(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    open_req *q = ud;
    const omtp_UserInfoGetResp *r =
        status == 0 && p->desc == &omtp_UserInfoGetResp_desc ? p->body : NULL;
    if (!r) {
        note(t, "/open: could not look up '%s' (%s); Enter to try again", q->user,
             omtp_strerror(status));
        keep_typed(t, q->typed);
    } else if (r->errorCode.code) {
        note(t, "/open: %s (%d): %s", omtp_error_code_name(r->errorCode.code), r->errorCode.code,
             r->errorCode.desc.data);
        keep_typed(t, q->typed);
    } else {
        bool found = false;
        for (uint32_t i = 0; i < r->userInfos.n; i++)
            if (!strcmp(r->userInfos.items[i].userId.data, q->user))
                found = true;
        if (found) {
            open_sid(t, q->sid);
        } else {
            note(t,
                 "/open: there is no user '%s' and none of your groups is named so; fix the "
                 "name and press Enter",
                 q->user);
            keep_typed(t, q->typed);
        }
    }
    free(q);
    tui_redraw(t);
}

static void cmd_open(chat *t, const char *who, const char *typed)
{
    while (*who == ' ')
        who++;
    if (!*who) {
        note(t, "/open USER|GROUP: give a user id, a group's name or its id");
        keep_typed(t, typed);
        return;
    }
    if (!strncmp(who, "GC_", 3)) {
        conv *v = tui_conv_find(t, who, false);
        if (!v) {
            note(t, "/open: you are not in a group '%s' (your groups are in the list)", who);
            keep_typed(t, typed);
            return;
        }
        open_sid(t, who);
        return;
    }
    if (!strncmp(who, "SC_", 3) || !strncmp(who, "BM_", 3)) {
        open_sid(t, who);
        return;
    }
    conv *g[8];
    int ng = tui_groups_named(t, who, g, 8);
    if (ng == 1) {
        open_conv(t, g[0]);
        return;
    }
    if (ng > 1) {
        char list[400] = "";
        for (int i = 0; i < ng; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", g[i]->id);
        }
        note(t, "/open: %d groups are named '%s': /open one of %s", ng, who, list);
        keep_typed(t, typed);
        return;
    }
    open_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    if (cli_resolve_session(t->o->user, who, q->sid, sizeof(q->sid))) {
        note(t, "/open: '%.60s' is neither one of your groups nor a user id (" OMTP_ID_RULE ")",
             who);
        keep_typed(t, typed);
        free(q);
        return;
    }
    conv *known = tui_conv_find(t, q->sid, false);
    if (known || !online(t)) { /* a conversation we have, or no way to check now */
        open_sid(t, q->sid);
        free(q);
        return;
    }
    snprintf(q->user, sizeof(q->user), "%s", who);
    snprintf(q->typed, sizeof(q->typed), "%s", typed);
    omtp_UserInfoGetReq r;
    omtp_msg_init(&omtp_UserInfoGetReq_desc, &r);
    r.userIds.items = calloc(1, sizeof(tars_str));
    if (r.userIds.items && !tars_str_set(&r.userIds.items[0], who)) {
        r.userIds.n = 1;
        if (omtp_client_request(t->c, PT_USERINFO_GET, 0, &omtp_UserInfoGetReq_desc, &r, 0, on_user,
                                q, NULL)) {
            free(q);
            q = NULL;
        } else {
            q = NULL;
        }
    }
    free(q);
    omtp_msg_free(&omtp_UserInfoGetReq_desc, &r);
}

/* ---- the input line ------------------------------------------------------ */

static void quit(chat *t)
{
    t->quitting = true;
    tui_file_stop(t); /* an upload in flight stops; its thread ends */
    uv_read_stop((uv_stream_t *)&t->in);
    uv_signal_stop(&t->winch);
    uv_timer_stop(&t->esc_timer);
    tui_ext_typing(t, 0);
    uv_timer_stop(&t->ext_timer);
    omtp_client_stop(t->c);
}

/* Opens the conversation of a /search hit, the hit selected. */
static void open_hit(chat *t, const tsearch_hit *h)
{
    conv *v = tui_conv_find(t, h->sid, false);
    int64_t seq = h->seq;
    char sid[256];
    snprintf(sid, sizeof(sid), "%s", h->sid);
    tui_search_close(t); /* h is freed here */
    if (v)
        open_conv(t, v);
    else
        open_sid(t, sid);
    v = tui_conv_open_ptr(t);
    if (v && tui_msg_by_seq(v, seq))
        t->sel_seq = seq;
    else
        t->srch.select_seq = seq; /* selected when its history page arrives */
}

static const char help_text[] =
    "Enter send  Tab/Shift-Tab switch  Up/Down recall  PgUp/PgDn/wheel scroll  Alt-Up/Down "
    "select  /open USER|GROUP  /search Q  /file PATH  /reply /edit /revoke /delete /react E "
    "/unreact E  "
    "/quit";

static void submit(chat *t)
{
    char text[TUI_INPUTMAX];
    tui_input_take(&t->input, text, sizeof(text), true);
    t->note[0] = 0;
    if (!text[0])
        return;
    conv *v = tui_conv_open_ptr(t);
    if (!strcmp(text, "/quit") || !strcmp(text, "/q")) {
        quit(t);
        return;
    }
    if (!strcmp(text, "/help")) {
        note(t, "%s", help_text);
        return;
    }
    if (!strncmp(text, "/search", 7) && (text[7] == ' ' || !text[7])) {
        tui_search_send(t, text + 7);
        return;
    }
    if (t->srch.active && !strncmp(text, "/open", 5) && (text[5] == ' ' || !text[5])) {
        /* "/open N" while the results are shown: the conversation of hit N */
        const tsearch_hit *h = tui_search_hit(t, text + 5);
        if (h) {
            open_hit(t, h);
            return;
        }
        const char *a = text + 5;
        while (*a == ' ')
            a++;
        if (!*a || (*a >= '0' && *a <= '9' && strspn(a, "0123456789") == strlen(a))) {
            note(t, "/open N: there is no result %s (1..%d); Esc closes the results", a, t->srch.n);
            return;
        }
        tui_search_close(t); /* /open USER|GROUP as usual */
    }
    if (!strncmp(text, "/open", 5) && (text[5] == ' ' || !text[5])) {
        cmd_open(t, text + 5, text);
        return;
    }
    if (!strncmp(text, "/file", 5) && (text[5] == ' ' || !text[5])) {
        if (!v)
            note(t, "open a conversation first: /open USER|GROUP");
        else
            tui_file_send(t, v, text + 5);
        return;
    }
    if (text[0] == '/' && text[1] != '/') {
        bool rev = !strcmp(text, "/revoke"), del = !strcmp(text, "/delete");
        bool edit = !strncmp(text, "/edit ", 6), reply = !strncmp(text, "/reply ", 7);
        bool seq = !strcmp(text, "/seq");
        bool react = !strncmp(text, "/react ", 7), unreact = !strncmp(text, "/unreact ", 9);
        if (!rev && !del && !edit && !reply && !seq && !react && !unreact) {
            note(t, "unknown command %.60s (/help)", text);
            return;
        }
        if (!v) {
            note(t, "open a conversation first: /open USER|GROUP");
            return;
        }
        if (rev)
            control(t, v, MC_REVOKE, NULL);
        else if (del)
            control(t, v, MC_DELETE, NULL);
        else if (edit)
            control(t, v, MC_OVERRIDE, text + 6);
        else if (react || unreact) {
            tmsg *m = target(t, v, false);
            if (!m)
                note(t, "no message here to react to");
            else if (!online(t))
                note(t, "offline: reactions need the server; try again when online");
            else
                tui_react_send(t, v, m, text + (react ? 7 : 9), react ? 1 : 2);
        } else if (seq) {
            tmsg *m = target(t, v, false);
            note(t, m ? "#%lld" : "no message%.0lld", (long long)(m ? m->seq : 0));
        } else {
            tmsg *m = target(t, v, false);
            if (!m) {
                note(t, "nothing to reply to");
                return;
            }
            /* a reply (MsgReq.replyTo): drawn with the quoted message above it */
            send_text(t, v, text + 7, m->seq);
            t->sel_seq = 0;
        }
        return;
    }
    if (!v) {
        note(t, "open a conversation first: /open USER|GROUP");
        return;
    }
    tui_ext_typing(t, 0);
    send_text(t, v, text[0] == '/' ? text + 1 : text, 0);
}

static void switch_conv(chat *t, int dir)
{
    if (!t->nconv)
        return;
    int i = t->open < 0 ? 0 : (t->open + dir + t->nconv) % t->nconv;
    open_conv(t, t->convs[i]);
}

static void on_key(chat *t, int key, unsigned char ch)
{
    int page = tui_body_rows(t) - 1;
    switch (key) {
    case K_QUIT:
        quit(t);
        return;
    case K_ENTER:
        submit(t);
        return;
    case K_TAB:
        switch_conv(t, 1);
        return;
    case K_BTAB:
        switch_conv(t, -1);
        return;
    case K_PGUP:
        tui_scroll(t, page > 1 ? page : 1);
        return;
    case K_PGDN:
        tui_scroll(t, -(page > 1 ? page : 1));
        return;
    case K_WHEEL_UP:
        tui_scroll(t, 3);
        return;
    case K_WHEEL_DOWN:
        tui_scroll(t, -3);
        return;
    case K_ALT_UP:
    case K_ALT_DOWN:
        tui_select(t, key == K_ALT_UP ? -1 : 1);
        t->note[0] = 0; /* the note row shows the selection; the screen scrolls to it */
        return;
    case K_ESC:
        if (t->srch.active)
            tui_search_close(t);
        t->sel_seq = 0;
        t->note[0] = 0;
        return;
    default:
        if (tui_edit(&t->input, key, ch) && key != K_UP && key != K_DOWN) {
            /* typing in the open conversation (not a command): tell the peer */
            if (t->input.len && t->input.buf[0] != '/')
                tui_ext_typing(t, 1);
            else if (!t->input.len)
                tui_ext_typing(t, 0);
        }
        return;
    }
}

static void on_key_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char buf[4096];
    (void)h;
    (void)s;
    *b = uv_buf_init(buf, sizeof(buf));
}

static void on_esc_timer(uv_timer_t *tm)
{
    chat *t = tm->data;
    int k = tui_key_flush(&t->input);
    if (k != K_NONE) {
        on_key(t, k, 0);
        tui_redraw(t);
    }
}

static void on_keys(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    chat *t = s->data;
    if (n < 0) {
        quit(t);
        return;
    }
    for (ssize_t i = 0; i < n && !t->quitting; i++) {
        unsigned char ch = (unsigned char)b->base[i];
        int k = tui_key_feed(&t->input, ch);
        if (k != K_NONE)
            on_key(t, k, ch);
    }
    if (t->quitting)
        return;
    if (t->input.esc == 1 || t->input.esc == 3)
        uv_timer_start(&t->esc_timer, on_esc_timer, 50, 0);
    tui_redraw(t);
}

static void on_winch(uv_signal_t *s, int sig)
{
    (void)sig;
    tui_redraw(s->data);
}

static bool is_off(const char *v)
{
    return !strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "no") ||
           !strcasecmp(v, "false");
}

/* The bell: --bell / --no-bell > OMTP_BELL > bell= in the config > on. */
static bool want_bell(const cli_opts *o, bool flag_on, bool flag_off)
{
    if (flag_off || flag_on)
        return !flag_off;
    const char *e = getenv("OMTP_BELL");
    if (e && *e)
        return !is_off(e);
    if (o->bell_cfg[0])
        return !is_off(o->bell_cfg);
    return true;
}

static const char chat_help[] =
    "Interactive chat. Conversations with unread counts on the left (groups by\n"
    "name, marked #), the open one on the right, your input at the bottom; new\n"
    "messages appear live, with the time, a line per day, and the state of your\n"
    "own: [pending] (typed while offline or waiting for the server; sent after\n"
    "the reconnect), [sent] (stored by the server), [delivered] (a device of\n"
    "the peer has it: the peer wrote after it, or presence saw one online),\n"
    "[read] (read receipts, where the server has them).\n"
    "\n"
    "Keys:\n"
    "  Enter               send the line (a leading // sends a literal /)\n"
    "  Tab / Shift-Tab     next / previous conversation\n"
    "  Left Right Home End move in the line (also Ctrl-A, Ctrl-E, Ctrl-B, Ctrl-F)\n"
    "  Backspace Delete    delete before / under the cursor\n"
    "  Ctrl-W Ctrl-U Ctrl-K delete a word back / to the start / to the end\n"
    "  Up / Down           recall what you sent\n"
    "  PgUp / PgDn, wheel  scroll the conversation (older history is loaded)\n"
    "  Alt-Up / Alt-Down   select a message (its seq is shown); Esc unselects\n"
    "  Ctrl-C              quit\n"
    "Commands (on the selected message, else your last one):\n"
    "  /open USER|GROUP    open a chat with a user, or a group by name or id\n"
    "  /file PATH          send a file: uploaded over HTTP (--http, --token), shown\n"
    "                      as [image 640x480 cat.jpg 120 KB]\n"
    "  /search QUERY       find messages of your conversations (3+ characters),\n"
    "                      newest first; /open N opens result N, Esc closes\n"
    "  /reply TEXT         answer it (shown with the message quoted above)\n"
    "  /react EMOJI        add a reaction (/unreact EMOJI takes it back)\n"
    "  /edit TEXT          replace the text of your message\n"
    "  /revoke, /delete    revoke or delete your message\n"
    "  /seq                show the message's seq number\n"
    "  /help, /quit\n"
    "A new message in a conversation that is not open rings the terminal bell\n"
    "once (--no-bell, OMTP_BELL=off or bell=off in the config file: quiet) and\n"
    "moves it up the list with its unread count.\n"
    "USER|GROUP (a user id, a group's name or id) opens that conversation at start.";

int cmd_chat(int argc, char **argv)
{
    bool no_bell = false, bell_on = false;
    const cli_opt chat_opts[] = {
        {"no-bell", NULL, "no bell for new messages elsewhere (OMTP_BELL=off, bell=off)", NULL,
         &no_bell},
        {"bell", NULL, "ring it even if OMTP_BELL or the config say off", NULL, &bell_on},
        {NULL, NULL, NULL, NULL, NULL}};
    cli_opts o;
    int rc = cli_start_opts(argc, argv, &o, DEVICE_LINUX, 0,
                            "omtp chat [USER|GROUP] [--no-bell] [OPTIONS]", chat_help, chat_opts);
    if (rc >= 0)
        return rc;
    bool bell = want_bell(&o, bell_on, no_bell);
    if (!o.user[0]) {
        fprintf(stderr, "omtp: no user: give --user USER (or set OMTP_USER)\n");
        return CLI_EUSAGE;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "omtp chat needs a terminal; for scripts use `omtp send` and "
                        "`omtp watch`\n");
        return CLI_EUSAGE;
    }
    /* display widths (wcwidth) need a UTF-8 locale, whatever LANG says */
    setlocale(LC_CTYPE, "");
    if (MB_CUR_MAX < 2)
        setlocale(LC_CTYPE, "C.UTF-8");
    const char *start = o.argc > 0 ? o.argv[0] : NULL;
    /* check the credentials first, so a typo gives a plain error message */
    omtp_sync *probe;
    if ((rc = cli_login(&o, &probe)))
        return rc;
    omtp_sync_close(probe);

    chat *t = calloc(1, sizeof(*t));
    if (!t)
        return CLI_ECONN;
    t->loop = uv_default_loop();
    t->o = &o;
    t->open = -1;
    t->rows = 24;
    t->cols = 80;
    t->bell = bell;
    t->input.rpos = -1;
    snprintf(t->status, sizeof(t->status), "starting");
    omtp_client_config cfg;
    cli_client_config(&o, &cfg);
    omtp_client_callbacks cb = {.on_state = c_state,
                                .on_message = c_message,
                                .on_control = c_control,
                                .on_read = c_read,
                                .on_hot_sessions = c_hot,
                                .on_sync_data = c_sync_data,
                                .on_reaction = tui_react_on_notice,
                                .on_presence = tui_ext_on_presence,
                                .on_typing = tui_ext_on_typing,
                                .on_kickout = c_kick};
    if (omtp_client_new(t->loop, &cfg, &cb, t, &t->c)) {
        free(t);
        fprintf(stderr, "omtp chat: cannot create the client\n");
        return CLI_ECONN;
    }
    if (start) /* opened once online and the groups are known (a name may be a group's) */
        snprintf(t->start_open, sizeof(t->start_open), "%s", start);
    uv_tty_init(t->loop, &t->in, STDIN_FILENO, 1);
    uv_tty_set_mode(&t->in, UV_TTY_MODE_RAW);
    t->in.data = t;
    uv_signal_init(t->loop, &t->winch);
    t->winch.data = t;
    uv_signal_start(&t->winch, on_winch, SIGWINCH);
    uv_timer_init(t->loop, &t->esc_timer);
    t->esc_timer.data = t;
    tui_ext_init(t);
    /* alternate screen; xterm mouse reporting (wheel) in SGR form */
    static const char enter_seq[] = "\033[?1049h\033[?1000h\033[?1006h";
    static const char leave_seq[] = "\033[?1006l\033[?1000l\033[?1049l";
    tui_out(enter_seq, sizeof(enter_seq) - 1);
    uv_read_start((uv_stream_t *)&t->in, on_key_alloc, on_keys);
    omtp_client_start(t->c);
    tui_redraw(t);
    uv_run(t->loop, UV_RUN_DEFAULT);
    uv_tty_reset_mode();
    tui_out(leave_seq, sizeof(leave_seq) - 1);
    omtp_client_destroy(t->c);
    uv_close((uv_handle_t *)&t->in, NULL);
    uv_close((uv_handle_t *)&t->winch, NULL);
    uv_close((uv_handle_t *)&t->esc_timer, NULL);
    tui_ext_close(t);
    uv_run(t->loop, UV_RUN_DEFAULT);
    uv_loop_close(t->loop);
    for (int i = 0; i < t->nconv; i++)
        tui_conv_free(t->convs[i]);
    tui_search_close(t);
    tui_input_free(&t->input);
    free(t);
    return 0;
}
