/*
 * cmd_chat.c - `omtp chat`: an interactive terminal client.
 *
 * Plain ANSI escapes and a raw-mode tty (uv_tty), no curses. The screen is
 * redrawn whole on every change (a few KB of output; cheap at human speed
 * and robust in tmux and after resizes):
 *
 *   row 1         status: user @ server, connection state
 *   left column   conversations, most recent first, with unread counts
 *   right column  the open conversation's last messages
 *   last row      the input line
 *
 * Keys: Enter sends the input to the open conversation; Tab / Down and
 * Shift-Tab / Up switch conversation; Ctrl-C or /quit leaves. Commands:
 * /open USER|GROUP, /help. Everything runs on one libuv loop with the async
 * client, which reconnects and catches up by itself.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "client/omtp_client.h"

#define MAXCONV  256
#define MAXLINES 300
#define LISTW    26

typedef struct line {
    int64_t seq;
    char *from;
    char *text;
    bool revoked, edited;
} line;

typedef struct conv {
    char id[256];
    char title[128];
    int unread;
    int64_t last_seq;
    int64_t order; /* higher = more recent */
    line lines[MAXLINES];
    int nlines;
    bool loaded; /* history pulled */
} conv;

typedef struct chat {
    uv_loop_t *loop;
    uv_tty_t in;
    uv_signal_t winch;
    omtp_client *c;
    cli_opts *o;
    conv *convs[MAXCONV];
    int nconv;
    int open; /* index into convs, -1 none */
    char input[4096];
    size_t ilen;
    char status[256];
    char note[256];
    int64_t tick;
    int esc; /* escape sequence state */
    int rows, cols;
    bool quitting;
} chat;

static void redraw(chat *t);

static conv *find_conv(chat *t, const char *id, bool create)
{
    for (int i = 0; i < t->nconv; i++)
        if (!strcmp(t->convs[i]->id, id))
            return t->convs[i];
    if (!create || t->nconv == MAXCONV)
        return NULL;
    conv *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    snprintf(v->id, sizeof(v->id), "%s", id);
    if (!omtp_session_peer(id, t->o->user, v->title, sizeof(v->title)))
        snprintf(v->title, sizeof(v->title), "%s", id);
    v->order = ++t->tick;
    t->convs[t->nconv++] = v;
    return v;
}

static void line_free(line *l)
{
    free(l->from);
    free(l->text);
}

/* Inserts a message keeping seq order; replaces an existing seq. */
static void conv_add(conv *v, int64_t seq, const char *from, const char *text, bool revoked,
                     bool edited)
{
    int pos = v->nlines;
    while (pos > 0 && v->lines[pos - 1].seq > seq && seq > 0)
        pos--;
    if (pos > 0 && seq > 0 && v->lines[pos - 1].seq == seq) {
        line *l = &v->lines[pos - 1];
        free(l->text);
        l->text = strdup(text);
        l->revoked = revoked;
        l->edited = edited;
        return;
    }
    if (v->nlines == MAXLINES) {
        if (pos == 0)
            return;
        line_free(&v->lines[0]);
        memmove(v->lines, v->lines + 1, sizeof(line) * (MAXLINES - 1));
        v->nlines--;
        pos--;
    }
    memmove(v->lines + pos + 1, v->lines + pos, sizeof(line) * (size_t)(v->nlines - pos));
    v->lines[pos] = (line){seq, strdup(from), strdup(text), revoked, edited};
    v->nlines++;
    if (seq > v->last_seq)
        v->last_seq = seq;
}

static void mark_read(chat *t, conv *v)
{
    if (v->last_seq <= 0 || omtp_client_state(t->c) != OMTP_CLIENT_ONLINE)
        return;
    omtp_MsgReaded r;
    omtp_msg_init(&omtp_MsgReaded_desc, &r);
    tars_str_set(&r.sessionId, v->id);
    r.seqId = v->last_seq;
    omtp_client_request(t->c, PT_MSG_READ, 0, &omtp_MsgReaded_desc, &r, 0, NULL, NULL, NULL);
    omtp_msg_free(&omtp_MsgReaded_desc, &r);
    v->unread = 0;
}

static void on_history(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    conv *v = find_conv(t, (const char *)ud, false);
    free(ud);
    if (!v)
        return;
    const omtp_HistoryMsgPullResp *r =
        status == 0 && p->desc == &omtp_HistoryMsgPullResp_desc ? p->body : NULL;
    if (!r) {
        snprintf(t->note, sizeof(t->note), "could not load history (%s)", omtp_strerror(status));
    } else if (r->errorCode.code) {
        snprintf(t->note, sizeof(t->note), "history: %s: %s",
                 omtp_error_code_name(r->errorCode.code), r->errorCode.desc.data);
    } else {
        for (uint32_t i = 0; i < r->msgs.n; i++) {
            omtp_MsgReq m;
            if (omtp_inner_msg(&r->msgs.items[i], NULL, &m))
                continue;
            int64_t fl = r->msgs.items[i].header.flags;
            conv_add(v, m.seqId, m.from.data, m.content.data,
                     (fl & OMTP_F_REVOKE) || m.status == MC_REVOKE, (fl & OMTP_F_OVERRIDE) != 0);
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        v->loaded = true;
        if (t->open >= 0 && t->convs[t->open] == v)
            mark_read(t, v);
    }
    redraw(t);
}

static void open_conv(chat *t, conv *v)
{
    for (int i = 0; i < t->nconv; i++)
        if (t->convs[i] == v)
            t->open = i;
    if (!v->loaded && omtp_client_state(t->c) == OMTP_CLIENT_ONLINE) {
        omtp_HistoryMsgPullReq q;
        omtp_msg_init(&omtp_HistoryMsgPullReq_desc, &q);
        tars_str_set(&q.sessionId, v->id);
        q.count = 50;
        char *id = strdup(v->id);
        if (omtp_client_request(t->c, PT_HISTORY_MSG_PULL, 0, &omtp_HistoryMsgPullReq_desc, &q, 0,
                                on_history, id, NULL))
            free(id);
        omtp_msg_free(&omtp_HistoryMsgPullReq_desc, &q);
    } else {
        mark_read(t, v);
    }
}

static int cmp_order(const void *a, const void *b)
{
    const conv *x = *(conv *const *)a, *y = *(conv *const *)b;
    return x->order < y->order ? 1 : x->order > y->order ? -1 : 0;
}

static void sort_convs(chat *t)
{
    conv *cur = t->open >= 0 ? t->convs[t->open] : NULL;
    qsort(t->convs, (size_t)t->nconv, sizeof(conv *), cmp_order);
    for (int i = 0; i < t->nconv; i++)
        if (t->convs[i] == cur)
            t->open = i;
}

/* ---- drawing ------------------------------------------------------------- */

static void out(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Appends at most `width` display columns of s (UTF-8 aware, no wide chars). */
static void put_cols(tars_buf *b, const char *s, int width)
{
    int col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && col < width;) {
        int len = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        if (*p < 0x20) {
            tars_buf_put(b, " ", 1);
            p++;
        } else {
            for (int i = 0; i < len && p[i]; i++)
                tars_buf_put(b, p + i, 1);
            p += len;
        }
        col++;
    }
}

static void printfb(tars_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        tars_buf_put(b, tmp, (size_t)(n < (int)sizeof(tmp) ? n : (int)sizeof(tmp) - 1));
}

static void redraw(chat *t)
{
    if (t->quitting)
        return;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 4 && ws.ws_col > 40) {
        t->rows = ws.ws_row;
        t->cols = ws.ws_col;
    }
    int rows = t->rows, cols = t->cols;
    int body = rows - 3; /* status, separator, input */
    int rw = cols - LISTW - 1;
    tars_buf b;
    tars_buf_init(&b);
    printfb(&b, "\033[?25l\033[H\033[7m");
    char st[1024];
    snprintf(st, sizeof(st), " omtp chat - %s @ %s:%d - %s", t->o->user, t->o->host, t->o->port,
             t->status);
    put_cols(&b, st, cols);
    for (int i = (int)strlen(st); i < cols; i++)
        tars_buf_put(&b, " ", 1);
    printfb(&b, "\033[0m");
    conv *cur = t->open >= 0 ? t->convs[t->open] : NULL;
    /* message lines of the open conversation, bottom-aligned */
    int first = cur ? (cur->nlines > body ? cur->nlines - body : 0) : 0;
    for (int r = 0; r < body; r++) {
        printfb(&b, "\033[%d;1H\033[K", r + 2);
        if (r < t->nconv) {
            conv *v = t->convs[r];
            char item[128];
            if (v->unread)
                snprintf(item, sizeof(item), "%c %-.*s (%d)", v == cur ? '>' : ' ', LISTW - 9,
                         v->title, v->unread);
            else
                snprintf(item, sizeof(item), "%c %-.*s", v == cur ? '>' : ' ', LISTW - 3, v->title);
            if (v == cur)
                printfb(&b, "\033[1m");
            put_cols(&b, item, LISTW);
            printfb(&b, "\033[0m");
        }
        printfb(&b, "\033[%d;%dH|", r + 2, LISTW + 1);
        if (!cur) {
            if (r == 0)
                printfb(&b, " no conversation open: Tab to pick one, or /open USER");
            continue;
        }
        int li = first + r;
        if (li >= cur->nlines)
            continue;
        line *l = &cur->lines[li];
        char msg[2048];
        bool mine = !strcmp(l->from, t->o->user);
        snprintf(msg, sizeof(msg), " %s%s: %s%s", mine ? "" : "", l->from,
                 l->revoked ? "(revoked)" : l->text, l->edited ? " (edited)" : "");
        if (mine)
            printfb(&b, "\033[36m");
        put_cols(&b, msg, rw);
        printfb(&b, "\033[0m");
    }
    printfb(&b, "\033[%d;1H\033[K", rows - 1);
    if (t->note[0])
        put_cols(&b, t->note, cols);
    else
        printfb(&b, "%s", cur ? "" : "Tab: next conversation  /open USER|GROUP  /quit");
    printfb(&b, "\033[%d;1H\033[K", rows);
    char prompt[300];
    snprintf(prompt, sizeof(prompt), "%s> ", cur ? cur->title : "");
    put_cols(&b, prompt, cols / 2);
    /* show the tail of the input that fits */
    int room = cols - (int)strlen(prompt) - 1;
    const char *in = t->input;
    while ((int)strlen(in) > room && room > 0)
        in++;
    tars_buf_put(&b, in, strlen(in));
    printfb(&b, "\033[?25h");
    out((const char *)b.data, b.len);
    tars_buf_free(&b);
}

/* ---- client callbacks ---------------------------------------------------- */

static void c_state(omtp_client *c, const omtp_client_event *ev, void *ud)
{
    chat *t = ud;
    switch (ev->state) {
    case OMTP_CLIENT_CONNECTING:
        snprintf(t->status, sizeof(t->status), "connecting...");
        break;
    case OMTP_CLIENT_LOGGING_IN:
        snprintf(t->status, sizeof(t->status), "logging in...");
        break;
    case OMTP_CLIENT_ONLINE:
        snprintf(t->status, sizeof(t->status), "online");
        if (t->open >= 0 && !t->convs[t->open]->loaded)
            open_conv(t, t->convs[t->open]);
        break;
    case OMTP_CLIENT_WAITING:
        snprintf(t->status, sizeof(t->status), "offline (%.60s), retrying in %ds", ev->desc,
                 (ev->delay_ms + 999) / 1000);
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
    redraw(t);
}

static void c_message(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReq *m, bool catchup,
                      void *ud)
{
    chat *t = ud;
    conv *v = find_conv(t, m->sessionId.data, true);
    if (!v)
        return;
    conv_add(v, m->seqId, m->from.data, m->content.data, m->status == MC_REVOKE,
             (h->flags & OMTP_F_OVERRIDE) != 0);
    v->order = ++t->tick;
    bool is_open = t->open >= 0 && t->convs[t->open] == v;
    if (is_open)
        mark_read(t, v);
    else if (strcmp(m->from.data, t->o->user))
        v->unread++;
    sort_convs(t);
    redraw(t);
}

static void c_control(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgControl *k,
                      bool catchup, void *ud)
{
    chat *t = ud;
    conv *v = find_conv(t, k->sessionId.data, false);
    if (!v)
        return;
    for (int i = 0; i < v->nlines; i++) {
        line *l = &v->lines[i];
        if (l->seq != k->seqId)
            continue;
        if (k->command == MC_DELETE) {
            line_free(l);
            memmove(l, l + 1, sizeof(line) * (size_t)(v->nlines - i - 1));
            v->nlines--;
        } else if (k->command == MC_REVOKE) {
            l->revoked = true;
        } else {
            free(l->text);
            l->text = strdup(k->content.data);
            l->edited = true;
        }
        break;
    }
    redraw(t);
}

static void c_read(omtp_client *c, const omtp_OTIMHeader *h, const omtp_MsgReaded *r, void *ud)
{
    chat *t = ud;
    conv *v = find_conv(t, r->sessionId.data, false);
    if (v && r->seqId >= v->last_seq)
        v->unread = 0;
    redraw(t);
}

static void c_hot(omtp_client *c, const omtp_HotSessionResp *r, void *ud)
{
    chat *t = ud;
    for (uint32_t i = r->sessions.n; i-- > 0;) {
        const omtp_HotSessionItem *it = &r->sessions.items[i];
        conv *v = find_conv(t, it->sessionId.data, true);
        if (!v)
            continue;
        v->unread = it->unreadCount;
        v->order = ++t->tick;
        int64_t last = omtp_inner_last_seq(it, NULL);
        if (last > v->last_seq)
            v->last_seq = last;
    }
    sort_convs(t);
    redraw(t);
}

static void c_kick(omtp_client *c, const omtp_OTIMHeader *h, const omtp_KickOutReq *k, void *ud)
{
    chat *t = ud;
    snprintf(t->note, sizeof(t->note),
             "kicked out: you logged in on another %s device; /quit and use --device",
             cli_device_name(k->deviceType));
}

/* ---- input --------------------------------------------------------------- */

static void on_ack(omtp_client *c, int status, const omtp_MsgAck *ack, void *ud)
{
    chat *t = omtp_client_userdata(c);
    char *text = ud;
    if (status) {
        snprintf(t->note, sizeof(t->note), "not sent: %s", omtp_strerror(status));
    } else if (ack->code) {
        snprintf(t->note, sizeof(t->note), "not sent: %s (%d)", omtp_error_code_name(ack->code),
                 ack->code);
    } else {
        conv *v = find_conv(t, ack->sessionId.data, true);
        if (v) {
            conv_add(v, ack->seqId, t->o->user, text, false, false);
            v->order = ++t->tick;
            if (t->open >= 0 && t->convs[t->open] == v)
                v->unread = 0;
            sort_convs(t);
        }
    }
    free(text);
    redraw(t);
}

static void quit(chat *t)
{
    t->quitting = true;
    uv_read_stop((uv_stream_t *)&t->in);
    uv_signal_stop(&t->winch);
    omtp_client_stop(t->c);
}

static void submit(chat *t)
{
    t->input[t->ilen] = 0;
    t->note[0] = 0;
    if (!t->ilen)
        return;
    char text[4096];
    snprintf(text, sizeof(text), "%s", t->input);
    t->ilen = 0;
    t->input[0] = 0;
    if (!strcmp(text, "/quit") || !strcmp(text, "/q")) {
        quit(t);
        return;
    }
    if (!strcmp(text, "/help")) {
        snprintf(t->note, sizeof(t->note),
                 "Enter: send  Tab/Up/Down: switch  /open USER|GC_group  /quit");
        return;
    }
    if (!strncmp(text, "/open ", 6)) {
        const char *who = text + 6;
        char sid[600];
        if (cli_resolve_session(t->o->user, who, sid, sizeof(sid))) {
            snprintf(t->note, sizeof(t->note), "'%.60s' is not a user id (letters, digits . - @ +)",
                     who);
            return;
        }
        conv *v = find_conv(t, sid, true);
        if (v) {
            v->order = ++t->tick;
            sort_convs(t);
            open_conv(t, v);
        }
        return;
    }
    if (text[0] == '/') {
        snprintf(t->note, sizeof(t->note), "unknown command %.60s (/help)", text);
        return;
    }
    if (t->open < 0) {
        snprintf(t->note, sizeof(t->note), "open a conversation first: /open USER");
        return;
    }
    conv *v = t->convs[t->open];
    const char *to = v->id;
    char peer[256];
    if (omtp_session_peer(v->id, t->o->user, peer, sizeof(peer)))
        to = peer;
    char *copy = strdup(text);
    if (omtp_client_send_text(t->c, to, text, on_ack, copy)) {
        free(copy);
        snprintf(t->note, sizeof(t->note), "could not queue the message");
    }
}

static void switch_conv(chat *t, int dir)
{
    if (!t->nconv)
        return;
    int i = t->open < 0 ? 0 : (t->open + dir + t->nconv) % t->nconv;
    open_conv(t, t->convs[i]);
}

static void on_key_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char buf[4096];
    *b = uv_buf_init(buf, sizeof(buf));
}

static void on_keys(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    chat *t = s->data;
    if (n < 0) {
        quit(t);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->base[i];
        if (t->esc == 1) {
            t->esc = ch == '[' || ch == 'O' ? 2 : 0;
            continue;
        }
        if (t->esc == 2) {
            t->esc = 0;
            if (ch == 'A' || ch == 'Z')
                switch_conv(t, -1);
            else if (ch == 'B')
                switch_conv(t, 1);
            continue;
        }
        if (ch == 27) {
            t->esc = 1;
        } else if (ch == 3 || ch == 4) {
            quit(t);
            return;
        } else if (ch == '\r' || ch == '\n') {
            submit(t);
            if (t->quitting)
                return;
        } else if (ch == '\t') {
            switch_conv(t, 1);
        } else if (ch == 127 || ch == 8) {
            while (t->ilen > 0 && ((unsigned char)t->input[t->ilen - 1] & 0xC0) == 0x80)
                t->ilen--;
            if (t->ilen > 0)
                t->ilen--;
        } else if (ch == 21) { /* Ctrl-U */
            t->ilen = 0;
        } else if (ch >= 0x20 && t->ilen + 1 < sizeof(t->input)) {
            t->input[t->ilen++] = (char)ch;
        }
        t->input[t->ilen] = 0;
    }
    redraw(t);
}

static void on_winch(uv_signal_t *s, int sig)
{
    redraw(s->data);
}

int cmd_chat(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_start(argc, argv, &o, DEVICE_LINUX, 0, "omtp chat [USER|GROUP] [OPTIONS]",
                       "Interactive chat. Conversations with unread counts on the left, the open\n"
                       "one on the right, your input at the bottom; new messages appear live.\n"
                       "Keys: Enter send, Tab/Down next conversation, Shift-Tab/Up previous,\n"
                       "Ctrl-U clear input, Ctrl-C quit. Commands: /open USER|GROUP, /help,\n"
                       "/quit. USER|GROUP opens that conversation at start.");
    if (rc >= 0)
        return rc;
    if (!o.user[0]) {
        fprintf(stderr, "omtp: no user: give --user USER (or set OMTP_USER)\n");
        return CLI_EUSAGE;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "omtp chat needs a terminal; for scripts use `omtp send` and "
                        "`omtp watch`\n");
        return CLI_EUSAGE;
    }
    char sid0[600];
    if (o.argc > 0 && cli_resolve_session(o.user, o.argv[0], sid0, sizeof(sid0)))
        return cli_bad_peer(o.argv[0]);
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
    snprintf(t->status, sizeof(t->status), "starting");
    omtp_client_config cfg;
    cli_client_config(&o, &cfg);
    omtp_client_callbacks cb = {.on_state = c_state,
                                .on_message = c_message,
                                .on_control = c_control,
                                .on_read = c_read,
                                .on_hot_sessions = c_hot,
                                .on_kickout = c_kick};
    if (omtp_client_new(t->loop, &cfg, &cb, t, &t->c)) {
        free(t);
        fprintf(stderr, "omtp chat: cannot create the client\n");
        return CLI_ECONN;
    }
    if (o.argc > 0) {
        conv *v = find_conv(t, sid0, true); /* resolved above */
        if (v)
            t->open = 0;
    }
    uv_tty_init(t->loop, &t->in, STDIN_FILENO, 1);
    uv_tty_set_mode(&t->in, UV_TTY_MODE_RAW);
    t->in.data = t;
    uv_signal_init(t->loop, &t->winch);
    t->winch.data = t;
    uv_signal_start(&t->winch, on_winch, SIGWINCH);
    out("\033[?1049h", 8); /* alternate screen */
    uv_read_start((uv_stream_t *)&t->in, on_key_alloc, on_keys);
    omtp_client_start(t->c);
    redraw(t);
    uv_run(t->loop, UV_RUN_DEFAULT);
    uv_tty_reset_mode();
    out("\033[?1049l", 8);
    omtp_client_destroy(t->c);
    uv_close((uv_handle_t *)&t->in, NULL);
    uv_close((uv_handle_t *)&t->winch, NULL);
    uv_run(t->loop, UV_RUN_DEFAULT);
    uv_loop_close(t->loop);
    for (int i = 0; i < t->nconv; i++) {
        for (int j = 0; j < t->convs[i]->nlines; j++)
            line_free(&t->convs[i]->lines[j]);
        free(t->convs[i]);
    }
    free(t);
    return 0;
}
