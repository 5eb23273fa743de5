/*
 * tui_screen.c - drawing `omtp chat` (see tui.h). Plain ANSI escapes, the
 * whole screen redrawn on every change (a few KB; cheap at human speed and
 * robust in tmux and after resizes):
 *
 *   row 1            status: user @ server, connection state
 *   left column      conversations, most recent first, unread counts
 *   right, row 2     the open conversation's name (group name, not its id)
 *   right column     its messages, wrapped at the column's width (display
 *                    columns: CJK characters count two), day separators,
 *                    bottom-aligned; scrolled up by PgUp / the wheel
 *   row rows-1       the note (errors, the selected message and its seq)
 *   last row         the input line, scrolled sideways to keep the cursor
 *
 * Widths come from wcwidth(3) in a UTF-8 locale (cmd_chat.c sets one).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "tui.h"

void tui_out(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static unsigned utf8_decode(const unsigned char *p, int *len)
{
    unsigned c = p[0];
    int n = c < 0x80             ? 1
            : (c & 0xE0) == 0xC0 ? 2
            : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4
                                 : 1;
    unsigned cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) { /* broken sequence: one byte */
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *len = n;
    return n == 1 && c >= 0x80 ? 0xFFFD : cp;
}

int tui_char_cols(const char *s, int *len)
{
    unsigned cp = utf8_decode((const unsigned char *)s, len);
    if (cp < 0x20 || cp == 0x7F)
        return 1; /* drawn as a space */
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

/* Appends one character (control characters as a space). */
static void put_char(tars_buf *b, const char *s, int len)
{
    if ((unsigned char)s[0] < 0x20 || s[0] == 0x7F)
        tars_buf_put(b, " ", 1);
    else
        tars_buf_put(b, s, (size_t)len);
}

/* Appends at most `width` display columns of s; returns the columns used. */
static int put_cols(tars_buf *b, const char *s, int width)
{
    int col = 0;
    for (const char *p = s; *p;) {
        int len, w = tui_char_cols(p, &len);
        if (col + w > width)
            break;
        put_char(b, p, len);
        col += w;
        p += len;
    }
    return col;
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

static void pad(tars_buf *b, int n)
{
    for (; n > 0; n--)
        tars_buf_put(b, " ", 1);
}

/* ---- the conversation's rows -------------------------------------------- */

typedef struct row {
    char *text; /* malloc'd, already cut to the width */
    int kind;   /* 0 message, 1 day separator, 2 quote/reactions, 3 mentions you */
    int64_t seq;
    bool mine;
} row;

typedef struct rows {
    row *r;
    int n, cap;
} rows;

static void rows_add(rows *rs, const char *s, size_t len, int kind, int64_t seq, bool mine)
{
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 64;
        row *nr = realloc(rs->r, sizeof(row) * (size_t)cap);
        if (!nr)
            return;
        rs->r = nr;
        rs->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t)
        return;
    memcpy(t, s, len);
    t[len] = 0;
    rs->r[rs->n++] = (row){t, kind, seq, mine};
}

static void rows_free(rows *rs)
{
    for (int i = 0; i < rs->n; i++)
        free(rs->r[i].text);
    free(rs->r);
}

/*
 * Wraps `s` into rows of at most `width` columns; rows after the first
 * start with `indent` spaces. Breaks at the last space that fits, else
 * inside the word; a newline in the text breaks too. The rows are added in
 * order to `out`.
 */
static void wrap(rows *out, const char *s, int width, int indent, int64_t seq, bool mine)
{
    tars_buf line;
    tars_buf_init(&line);
    int col = 0;
    bool first = true;
    const char *p = s;
    while (*p) {
        if (!first && col == 0) {
            pad(&line, indent);
            col = indent;
            while (*p == ' ')
                p++;
            if (!*p)
                break;
        }
        /* take characters up to the width */
        const char *start = p, *last_space = NULL;
        size_t line_at_space = 0;
        int room = width - col;
        int used = 0;
        bool newline = false;
        while (*p) {
            if (*p == '\n') {
                newline = true;
                p++;
                break;
            }
            int len, w = tui_char_cols(p, &len);
            if (used + w > room)
                break;
            if (*p == ' ') {
                last_space = p;
                line_at_space = line.len;
            }
            put_char(&line, p, len);
            used += w;
            p += len;
        }
        if (*p && !newline && last_space && last_space > start && *p != ' ') {
            /* break at the space: give the word back */
            line.len = line_at_space;
            p = last_space + 1;
        } else if (*p && !newline && p == start) {
            /* a character wider than the room: take it anyway */
            int len;
            tui_char_cols(p, &len);
            put_char(&line, p, len);
            p += len;
        }
        rows_add(out, (const char *)line.data, line.len, 0, seq, mine);
        line.len = 0;
        col = 0;
        first = false;
    }
    if (first)
        rows_add(out, "", 0, 0, seq, mine);
    tars_buf_free(&line);
}

int tui_wrap_text(const char *s, int width, int indent, char **out, int max)
{
    rows rs = {0};
    wrap(&rs, s, width, indent, 0, false);
    for (int i = 0; i < rs.n; i++) {
        if (i < max) {
            out[i] = rs.r[i].text;
            rs.r[i].text = NULL;
        }
    }
    int n = rs.n;
    rows_free(&rs);
    return n;
}

static const char *state_word(int st)
{
    switch (st) {
    case TM_PENDING:
        return " [pending]";
    case TM_SENT:
        return " [sent]";
    case TM_DELIVERED:
        return " [delivered]";
    case TM_READ:
        return " [read]";
    case TM_FAILED:
        return " [not sent]";
    default:
        return "";
    }
}

static void day_of(int64_t ms, int *yday, int *year, char *label, size_t n)
{
    time_t tt = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&tt, &tm);
    *yday = tm.tm_yday;
    *year = tm.tm_year;
    if (label)
        strftime(label, n, "%a %Y-%m-%d", &tm);
}

/* The rows of one message (its text wrapped), appended to `out`. */
static void msg_rows(chat *t, const tmsg *m, int width, rows *out)
{
    char hm[16];
    time_t tt = (time_t)(m->ts / 1000);
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(hm, sizeof(hm), "%H:%M", &tm);
    bool mine = !strcmp(m->from, t->o->user);
    size_t tl = strlen(m->text ? m->text : "");
    char *s = malloc(tl + strlen(m->from) + 64);
    if (!s)
        return;
    char quote[200];
    tui_react_quote(t, tui_conv_open_ptr(t), m, quote, sizeof(quote));
    if (quote[0]) { /* the quoted message, dim, above the reply */
        rows q = {0};
        char ind[220];
        snprintf(ind, sizeof(ind), "      %s", quote);
        wrap(&q, ind, width, 8, m->seq, mine);
        for (int i = 0; i < q.n; i++)
            rows_add(out, q.r[i].text, strlen(q.r[i].text), 2, m->seq, mine);
        rows_free(&q);
    }
    sprintf(s, "%s %s: %s%s%s%s", hm, m->from, m->revoked ? "(revoked)" : m->text,
            m->edited && !m->revoked ? " (edited)" : "", m->mentions_me ? " [@you]" : "",
            mine ? state_word(m->state) : "");
    int before = out->n;
    wrap(out, s, width, 6, m->seq, mine);
    if (m->mentions_me)
        for (int i = before; i < out->n; i++)
            out->r[i].kind = 3;
    free(s);
    char rx[600];
    tui_react_line(m, rx, sizeof(rx));
    if (rx[0] && !m->revoked) { /* reactions, under the message */
        char ind[620];
        snprintf(ind, sizeof(ind), "      %s", rx);
        rows r = {0};
        wrap(&r, ind, width, 6, m->seq, mine);
        for (int i = 0; i < r.n; i++)
            rows_add(out, r.r[i].text, strlen(r.r[i].text), 2, m->seq, mine);
        rows_free(&r);
    }
}

int tui_msg_height(chat *t, const tmsg *m)
{
    rows one = {0};
    msg_rows(t, m, t->cols - TUI_LISTW - 2, &one);
    int n = one.n;
    rows_free(&one);
    return n;
}

/*
 * Builds the rows of the open conversation from the newest message up,
 * until `need` rows are there or the messages run out (*all = true then).
 * The result is in top-to-bottom order.
 */
static void build_rows(chat *t, conv *v, int width, int need, rows *out, bool *all)
{
    rows rev = {0};
    *all = true;
    for (int i = v->n - 1; i >= 0; i--) {
        if (rev.n >= need) {
            *all = false;
            break;
        }
        rows one = {0};
        msg_rows(t, &v->msgs[i], width, &one);
        for (int k = one.n; k-- > 0;) {
            rows_add(&rev, one.r[k].text, strlen(one.r[k].text), one.r[k].kind, one.r[k].seq,
                     one.r[k].mine);
        }
        rows_free(&one);
        /* a day separator above the first message of each day */
        int yd, y, pyd = -1, py = -1;
        char label[64];
        day_of(v->msgs[i].ts, &yd, &y, label, sizeof(label));
        if (i > 0)
            day_of(v->msgs[i - 1].ts, &pyd, &py, NULL, 0);
        if (i == 0 ? v->at_start : (yd != pyd || y != py)) {
            char sep[128];
            int n = snprintf(sep, sizeof(sep), "---- %s ----", label);
            rows_add(&rev, sep, (size_t)n, 1, 0, false);
        }
    }
    if (*all && v->at_start) {
        const char *s = v->n ? "(start of the conversation)" : "(no messages yet)";
        rows_add(&rev, s, strlen(s), 1, 0, false);
    }
    out->n = 0;
    for (int i = rev.n; i-- > 0;)
        rows_add(out, rev.r[i].text, strlen(rev.r[i].text), rev.r[i].kind, rev.r[i].seq,
                 rev.r[i].mine);
    rows_free(&rev);
}

/* What the note row(s) say: an error or result, else the selection. */
static void note_text(chat *t, char *note, size_t n)
{
    conv *cur = tui_conv_open_ptr(t);
    if (t->note[0]) {
        snprintf(note, n, "%s", t->note);
    } else if (cur && t->sel_seq) {
        tmsg *m = tui_msg_by_seq(cur, t->sel_seq);
        snprintf(note, n,
                 "selected #%lld (%s): /reply TEXT, /edit TEXT, /revoke, /delete; Esc or "
                 "Alt-Down past the end to unselect",
                 (long long)t->sel_seq, m ? m->from : "?");
    } else if (!cur) {
        snprintf(note, n, "Tab: next conversation  /open USER|GROUP  /help  /quit");
    } else {
        note[0] = 0;
    }
}

/* The note wrapped at the screen's width, at most 3 rows (at least 1). */
static void note_rows(chat *t, rows *out)
{
    char note[700];
    note_text(t, note, sizeof(note));
    wrap(out, note, t->cols, 0, 0, false);
    while (out->n > 3)
        free(out->r[--out->n].text);
}

int tui_body_rows(const chat *t)
{
    rows nr = {0};
    note_rows((chat *)t, &nr);
    int n = nr.n ? nr.n : 1;
    rows_free(&nr);
    return t->rows - 3 - n; /* status, header, note, input */
}

void tui_scroll(chat *t, int n)
{
    conv *v = tui_conv_open_ptr(t);
    if (!v)
        return;
    v->scroll += n;
    if (v->scroll < 0)
        v->scroll = 0;
}

/* ---- the whole screen ---------------------------------------------------- */

static void draw_sidebar_item(chat *t, tars_buf *b, conv *v, conv *cur)
{
    char count[24] = "";
    if (v->unread)
        snprintf(count, sizeof(count), " (%d)", v->unread);
    int cw = (int)strlen(count);
    if (v == cur)
        printfb(b, "\033[1m");
    else if (v->unread)
        printfb(b, "\033[33m");
    tars_buf_put(b, v == cur ? ">" : " ", 1);
    if (v->group)
        tars_buf_put(b, "#", 1);
    else if (v->presence == 1)
        printfb(b, "\033[32m\xe2\x97\x8f\033[39m"); /* a green dot: online */
    else if (v->presence == 0)
        printfb(b, "\xe2\x97\x8b"); /* a hollow dot: away or offline */
    else
        tars_buf_put(b, " ", 1);
    int used = 2 + put_cols(b, v->title, TUI_LISTW - 2 - cw);
    tars_buf_put(b, count, (size_t)cw);
    used += cw;
    pad(b, TUI_LISTW - used);
    printfb(b, "\033[0m");
    (void)t;
}

static int input_prompt(chat *t, conv *cur, char *prompt, size_t n)
{
    snprintf(prompt, n, "%.40s> ", cur ? cur->title : "");
    int cols = 0;
    for (const char *p = prompt; *p;) {
        int len;
        cols += tui_char_cols(p, &len);
        p += len;
    }
    (void)t;
    return cols;
}

static int cols_between(const char *s, size_t from, size_t to)
{
    int c = 0;
    for (size_t i = from; i < to && s[i];) {
        int len;
        c += tui_char_cols(s + i, &len);
        i += (size_t)len;
    }
    return c;
}

void tui_redraw(chat *t)
{
    if (t->quitting)
        return;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 8 && ws.ws_col >= 40) {
        t->rows = ws.ws_row;
        t->cols = ws.ws_col;
    }
    int nrows = t->rows, cols = t->cols;
    int body = tui_body_rows(t);
    int rx = TUI_LISTW + 2;        /* first column of the right side */
    int rw = cols - TUI_LISTW - 2; /* its width */
    conv *cur = tui_conv_open_ptr(t);
    tars_buf b;
    tars_buf_init(&b);
    printfb(&b, "\033[?25l\033[H\033[7m");
    char st[1024];
    snprintf(st, sizeof(st), " omtp chat - %s @ %s:%d - %s", t->o->user, t->o->host, t->o->port,
             t->status);
    pad(&b, cols - put_cols(&b, st, cols));
    printfb(&b, "\033[0m");

    /* the open conversation's rows */
    rows rs = {0};
    bool all = true;
    int first = 0;
    if (cur) {
        /* with a selection, every row: the selected one is scrolled into view */
        build_rows(t, cur, rw, t->sel_seq ? INT_MAX : body + cur->scroll, &rs, &all);
        int maxscroll = rs.n > body ? rs.n - body : 0;
        if (t->sel_seq) {
            int top = -1, bot = -1;
            for (int i = 0; i < rs.n; i++)
                if (rs.r[i].kind != 1 && rs.r[i].seq == t->sel_seq) {
                    if (top < 0)
                        top = i;
                    bot = i;
                }
            int lo = rs.n - body - cur->scroll; /* first visible row */
            if (top >= 0 && top < lo)
                cur->scroll = rs.n - body - top;
            else if (bot >= 0 && bot >= lo + body)
                cur->scroll = rs.n - 1 - bot;
        }
        if (cur->scroll > maxscroll)
            cur->scroll = maxscroll;
        if (cur->scroll < 0)
            cur->scroll = 0;
        first = rs.n - body - cur->scroll;
        if (first < 0)
            first = 0;
        /* the top is on screen while scrolling or selecting: fetch older */
        if (all && !cur->at_start && cur->loaded && (cur->scroll > 0 || t->sel_seq))
            tui_load_older(t, cur);
    }

    /* header of the right side */
    printfb(&b, "\033[2;1H\033[K");
    pad(&b, TUI_LISTW);
    printfb(&b, "|\033[1m ");
    /* /search results take the right side while shown (tui_search.c) */
    bool srch = t->srch.active;
    char **sr = NULL;
    int nsr = 0;
    if (srch) {
        char h[400];
        tui_search_header(t, h, sizeof(h));
        put_cols(&b, h, rw);
        sr = calloc((size_t)(body > 0 ? body : 1), sizeof(*sr));
        if (sr)
            nsr = tui_search_rows(t, rw, sr, body);
    } else if (cur) {
        char h[400];
        char pres[64] = "";
        if (!cur->group && cur->presence == 1) {
            snprintf(pres, sizeof(pres), " - online");
        } else if (!cur->group && cur->presence == 0 && cur->last_seen > 0) {
            time_t ls = (time_t)(cur->last_seen / 1000);
            struct tm tm;
            localtime_r(&ls, &tm);
            strftime(pres, sizeof(pres), " - last seen %Y-%m-%d %H:%M", &tm);
        } else if (!cur->group && cur->presence == 0) {
            snprintf(pres, sizeof(pres), " - offline");
        }
        /* what matters most first: the row is cut at the column's width */
        snprintf(h, sizeof(h), "%s%s%s%s%s%s", cur->title, cur->group ? " (group)" : "",
                 tui_ext_typing_text(t, cur), cur->scroll ? "  [scrolled up: PgDn to return]" : "",
                 cur->loading ? "  [loading older messages...]" : "", pres);
        put_cols(&b, h, rw);
    }
    printfb(&b, "\033[0m");

    /* the list scrolls so that the open conversation stays in it */
    int list_top = t->open > body ? t->open - body : 0;
    for (int r = 0; r < body + 1; r++) {
        int y = r + 2;
        if (r > 0)
            printfb(&b, "\033[%d;1H\033[K", y);
        else
            printfb(&b, "\033[%d;1H", y);
        if (r + list_top < t->nconv)
            draw_sidebar_item(t, &b, t->convs[r + list_top], cur);
        if (r == 0) /* the header, drawn above */
            continue;
        printfb(&b, "\033[%d;%dH|", y, TUI_LISTW + 1);
        if (srch) {
            if (r == 1 && nsr == 0)
                printfb(&b, " no message contains \"%s\"", t->srch.query);
            if (r - 1 < nsr) {
                printfb(&b, "\033[%d;%dH", y, rx);
                put_cols(&b, sr[r - 1], rw);
            }
            continue;
        }
        if (!cur) {
            if (r == 1)
                printfb(&b, " no conversation open: Tab to pick one, or /open USER|GROUP");
            continue;
        }
        int li = first + r - 1;
        if (li >= rs.n || r - 1 >= body)
            continue;
        row *w = &rs.r[li];
        printfb(&b, "\033[%d;%dH", y, rx);
        if (w->kind == 1)
            printfb(&b, "\033[2m");
        else if (t->sel_seq && w->seq == t->sel_seq)
            printfb(&b, "\033[7m");
        else if (w->kind == 2)
            printfb(&b, "\033[2m");
        else if (w->kind == 3)
            printfb(&b, "\033[1;33m");
        else if (t->sel_seq && w->seq == t->sel_seq)
            printfb(&b, "\033[7m");
        else if (w->mine)
            printfb(&b, "\033[36m");
        put_cols(&b, w->text, rw);
        printfb(&b, "\033[0m");
    }
    rows_free(&rs);
    for (int i = 0; i < nsr; i++)
        free(sr[i]);
    free(sr);
    (void)nrows;

    /* note rows */
    rows nr = {0};
    note_rows(t, &nr);
    int nn = nr.n ? nr.n : 1;
    for (int i = 0; i < nn; i++) {
        printfb(&b, "\033[%d;1H\033[K", t->rows - nn + i);
        if (i < nr.n)
            put_cols(&b, nr.r[i].text, cols);
    }
    rows_free(&nr);

    /* input line, scrolled sideways so the cursor stays visible */
    printfb(&b, "\033[%d;1H\033[K", t->rows);
    char prompt[200];
    int pw = input_prompt(t, cur, prompt, sizeof(prompt));
    put_cols(&b, prompt, cols / 2);
    if (pw > cols / 2)
        pw = cols / 2;
    int room = cols - pw - 1;
    tui_input *in = &t->input;
    in->buf[in->len] = 0;
    size_t from = 0;
    while (cols_between(in->buf, from, in->cur) > room && from < in->cur) {
        int len;
        tui_char_cols(in->buf + from, &len);
        from += (size_t)len;
    }
    put_cols(&b, in->buf + from, room);
    int cx = pw + cols_between(in->buf, from, in->cur) + 1;
    printfb(&b, "\033[%d;%dH\033[?25h", t->rows, cx);
    tui_out((const char *)b.data, b.len);
    tars_buf_free(&b);
}
