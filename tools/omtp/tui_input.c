/*
 * tui_input.c - keys and the input line of `omtp chat` (see tui.h).
 *
 * Key decoding understands what xterm, tmux and the Linux console send:
 * CSI / SS3 cursor keys, `CSI n ~` (Home, End, Delete, PgUp, PgDn),
 * modifiers (`CSI 1;3A` = Alt-Up), ESC-prefixed keys (ESC ESC [A = Alt-Up in
 * some terminals) and SGR mouse reports (`CSI < b;x;y M`, wheel = 64/65).
 * The line editor works on UTF-8 bytes and keeps the cursor on character
 * boundaries.
 */
#include <stdlib.h>
#include <string.h>

#include "tui.h"

static int decode_csi(const char *s, size_t n, bool alt)
{
    if (n == 0)
        return K_NONE;
    char fin = s[n - 1];
    if (s[0] == '<') { /* SGR mouse: <b;x;yM */
        int b = atoi(s + 1);
        if (fin != 'M')
            return K_NONE;
        if (b == 64)
            return K_WHEEL_UP;
        if (b == 65)
            return K_WHEEL_DOWN;
        return K_NONE;
    }
    /* modifier: "1;3A" -> 3 = Alt, 5 = Ctrl */
    int mod = 1;
    const char *semi = memchr(s, ';', n);
    if (semi)
        mod = atoi(semi + 1);
    bool m_alt = alt || mod == 3 || mod == 4 || mod == 7 || mod == 8;
    switch (fin) {
    case 'A':
        return m_alt ? K_ALT_UP : K_UP;
    case 'B':
        return m_alt ? K_ALT_DOWN : K_DOWN;
    case 'C':
        return K_RIGHT;
    case 'D':
        return K_LEFT;
    case 'H':
        return K_HOME;
    case 'F':
        return K_END;
    case 'Z':
        return K_BTAB;
    case '~':
        switch (atoi(s)) {
        case 1:
        case 7:
            return K_HOME;
        case 4:
        case 8:
            return K_END;
        case 3:
            return K_DELETE;
        case 5:
            return K_PGUP;
        case 6:
            return K_PGDN;
        default:
            return K_NONE;
        }
    default:
        return K_NONE;
    }
}

int tui_key_feed(tui_input *in, unsigned char ch)
{
    switch (in->esc) {
    case 0:
        break;
    case 1: /* after ESC */
    case 3: /* after ESC ESC */
        if (ch == '[' || ch == 'O') {
            in->esc = in->esc == 3 ? 5 : 2;
            in->seqlen = 0;
            in->seq[0] = (char)ch;
            return K_NONE;
        }
        if (ch == 27 && in->esc == 1) {
            in->esc = 3;
            return K_NONE;
        }
        in->esc = 0; /* Alt-<char>: not bound */
        return K_ESC;
    case 2:
    case 5: {
        bool alt = in->esc == 5;
        if (in->seq[0] == 'O') { /* SS3: one final byte */
            in->esc = 0;
            char s[2] = {(char)ch, 0};
            return decode_csi(s, 1, alt);
        }
        if (ch >= 0x40 && ch <= 0x7E && !(in->seqlen == 0 && ch == '<')) {
            if (in->seqlen + 1 < sizeof(in->seq))
                in->seq[1 + in->seqlen++] = (char)ch;
            in->esc = 0;
            return decode_csi(in->seq + 1, in->seqlen, alt);
        }
        if (in->seqlen + 2 < sizeof(in->seq))
            in->seq[1 + in->seqlen++] = (char)ch;
        else
            in->esc = 0; /* overlong: drop it */
        return K_NONE;
    }
    }
    switch (ch) {
    case 27:
        in->esc = 1;
        return K_NONE;
    case 3:
    case 4:
        return K_QUIT;
    case '\r':
    case '\n':
        return K_ENTER;
    case '\t':
        return K_TAB;
    case 127:
    case 8:
        return K_BACKSPACE;
    case 1:
        return K_CTRL_A;
    case 5:
        return K_CTRL_E;
    case 23:
        return K_CTRL_W;
    case 21:
        return K_CTRL_U;
    case 11:
        return K_CTRL_K;
    case 2:
        return K_LEFT; /* Ctrl-B */
    case 6:
        return K_RIGHT; /* Ctrl-F */
    default:
        return ch >= 0x20 ? K_CHAR : K_NONE;
    }
}

int tui_key_flush(tui_input *in)
{
    if (in->esc == 1 || in->esc == 3) {
        in->esc = 0;
        return K_ESC;
    }
    return K_NONE;
}

static size_t prev_char(const tui_input *in, size_t at)
{
    if (at == 0)
        return 0;
    at--;
    while (at > 0 && ((unsigned char)in->buf[at] & 0xC0) == 0x80)
        at--;
    return at;
}

static size_t next_char(const tui_input *in, size_t at)
{
    if (at >= in->len)
        return in->len;
    at++;
    while (at < in->len && ((unsigned char)in->buf[at] & 0xC0) == 0x80)
        at++;
    return at;
}

static void cut(tui_input *in, size_t from, size_t to)
{
    memmove(in->buf + from, in->buf + to, in->len - to);
    in->len -= to - from;
    in->buf[in->len] = 0;
    in->cur = from;
}

void tui_input_set(tui_input *in, const char *text)
{
    snprintf(in->buf, sizeof(in->buf), "%s", text);
    in->len = strlen(in->buf);
    in->cur = in->len;
}

static void recall(tui_input *in, int dir)
{
    if (!in->nrecall)
        return;
    if (in->rpos < 0) {
        if (dir > 0)
            return;
        snprintf(in->saved, sizeof(in->saved), "%s", in->buf);
        in->rpos = in->nrecall - 1;
    } else {
        int p = in->rpos + dir;
        if (p < 0)
            return;
        if (p >= in->nrecall) {
            in->rpos = -1;
            tui_input_set(in, in->saved);
            return;
        }
        in->rpos = p;
    }
    tui_input_set(in, in->recall[in->rpos]);
}

bool tui_edit(tui_input *in, int key, unsigned char ch)
{
    switch (key) {
    case K_CHAR:
        if (in->len + 1 >= sizeof(in->buf))
            return true;
        memmove(in->buf + in->cur + 1, in->buf + in->cur, in->len - in->cur);
        in->buf[in->cur++] = (char)ch;
        in->buf[++in->len] = 0;
        return true;
    case K_LEFT:
        in->cur = prev_char(in, in->cur);
        return true;
    case K_RIGHT:
        in->cur = next_char(in, in->cur);
        return true;
    case K_HOME:
    case K_CTRL_A:
        in->cur = 0;
        return true;
    case K_END:
    case K_CTRL_E:
        in->cur = in->len;
        return true;
    case K_BACKSPACE:
        if (in->cur > 0)
            cut(in, prev_char(in, in->cur), in->cur);
        return true;
    case K_DELETE:
        if (in->cur < in->len)
            cut(in, in->cur, next_char(in, in->cur));
        return true;
    case K_CTRL_W: {
        size_t p = in->cur;
        while (p > 0 && in->buf[p - 1] == ' ')
            p--;
        while (p > 0 && in->buf[p - 1] != ' ')
            p--;
        cut(in, p, in->cur);
        return true;
    }
    case K_CTRL_U:
        cut(in, 0, in->cur);
        return true;
    case K_CTRL_K:
        in->len = in->cur;
        in->buf[in->len] = 0;
        return true;
    case K_UP:
        recall(in, -1);
        return true;
    case K_DOWN:
        recall(in, 1);
        return true;
    default:
        return false;
    }
}

void tui_input_take(tui_input *in, char *out, size_t n, bool remember)
{
    in->buf[in->len] = 0;
    snprintf(out, n, "%s", in->buf);
    if (remember && in->len) {
        if (in->nrecall == TUI_RECALL) {
            free(in->recall[0]);
            memmove(in->recall, in->recall + 1, sizeof(char *) * (TUI_RECALL - 1));
            in->nrecall--;
        }
        char *c = strdup(in->buf);
        if (c)
            in->recall[in->nrecall++] = c;
    }
    in->len = in->cur = 0;
    in->buf[0] = 0;
    in->rpos = -1;
}

void tui_input_free(tui_input *in)
{
    for (int i = 0; i < in->nrecall; i++)
        free(in->recall[i]);
    in->nrecall = 0;
}
