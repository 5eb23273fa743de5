/*
 * tui_search.c - `/search QUERY` in `omtp chat` (PT_MSG_SEARCH, extension
 * 104; docs/protocol.md "Search"): asks the server through the async client,
 * then shows the hits in the right pane instead of the open conversation,
 * newest first, numbered: "N. conversation  time  sender: text". `/open N`
 * (or Enter on an empty line) opens the conversation of hit N (1 without a
 * number) with the hit selected; Esc closes the results. Refusals (a query
 * too short, a server without search) are shown in words in the note row.
 *
 * Ownership: the chat owns its one result set (t->srch); a new search or
 * Esc frees it. Loop thread only, like the rest of the chat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/omtp_files.h"
#include "tui.h"

#define TUI_SEARCH_MAX 50 /* hits asked for */

void tui_search_close(chat *t)
{
    tsearch *s = &t->srch;
    for (int i = 0; i < s->n; i++) {
        free(s->hits[i].from);
        free(s->hits[i].text);
    }
    free(s->hits);
    s->hits = NULL;
    s->n = 0;
    s->active = false;
}

typedef struct search_req {
    int gen; /* the search it answers: an older one's late reply is dropped */
} search_req;

static void on_search(omtp_client *c, int status, const omtp_packet *p, void *ud)
{
    chat *t = omtp_client_userdata(c);
    search_req *q = ud;
    int gen = q->gen;
    free(q);
    tsearch *s = &t->srch;
    if (gen != s->gen)
        return;
    s->pending = false;
    const omtp_MsgSearchResp *r =
        status == 0 && p->desc == &omtp_MsgSearchResp_desc ? p->body : NULL;
    const omtp_CommonErrorCode *e =
        status == 0 && p->desc == &omtp_CommonErrorCode_desc ? p->body : NULL;
    if (!r && e && e->code == OMTP_EC_PROTOCOL) {
        snprintf(t->note, sizeof(t->note), "this server has no search (PT_MSG_SEARCH)");
    } else if (!r && e && e->code) {
        snprintf(t->note, sizeof(t->note), "search refused: %s (%d)%s%s",
                 omtp_error_code_name(e->code), e->code, e->desc.len ? ": " : "", e->desc.data);
    } else if (!r) {
        snprintf(t->note, sizeof(t->note), "search: %s; try again", omtp_strerror(status));
    } else if (r->errorCode.code == OMTP_EC_PROTOCOL) {
        snprintf(t->note, sizeof(t->note), "this server has no search (PT_MSG_SEARCH)");
    } else if (r->errorCode.code) {
        snprintf(t->note, sizeof(t->note), "search refused: %s (%d)%s%s",
                 omtp_error_code_name(r->errorCode.code), r->errorCode.code,
                 r->errorCode.desc.len ? ": " : "", r->errorCode.desc.data);
    } else {
        tui_search_close(t);
        s->active = true;
        s->hits = calloc(r->msgs.n ? r->msgs.n : 1, sizeof(*s->hits));
        for (uint32_t i = 0; s->hits && i < r->msgs.n; i++) {
            omtp_MsgReq m;
            if (omtp_inner_msg(&r->msgs.items[i], NULL, &m))
                continue;
            tsearch_hit *h = &s->hits[s->n];
            snprintf(h->sid, sizeof(h->sid), "%s", m.sessionId.data);
            h->seq = m.seqId;
            h->ts = m.timestamp;
            h->from = strdup(m.from.data);
            char media[512]; /* a media message matches by its file name */
            h->text = strdup(omtp_file_summary(m.contentType, m.content.data, m.content.len, media,
                                               sizeof(media))
                                 ? media
                                 : m.content.data);
            if (h->from && h->text)
                s->n++;
            else {
                free(h->from);
                free(h->text);
            }
            omtp_msg_free(&omtp_MsgReq_desc, &m);
        }
        if (s->n)
            snprintf(t->note, sizeof(t->note),
                     "%d result%s for \"%s\": /open N opens one, Esc closes", s->n,
                     s->n == 1 ? "" : "s", s->query);
        else
            snprintf(t->note, sizeof(t->note), "no message contains \"%s\"; Esc closes", s->query);
    }
    tui_redraw(t);
}

void tui_search_send(chat *t, const char *query)
{
    while (*query == ' ')
        query++;
    if (!*query) {
        snprintf(t->note, sizeof(t->note),
                 "/search QUERY: give the words to look for (at least 3 characters)");
        return;
    }
    if (omtp_client_state(t->c) != OMTP_CLIENT_ONLINE) {
        snprintf(t->note, sizeof(t->note),
                 "offline: search needs the server; try again when online");
        return;
    }
    tsearch *s = &t->srch;
    search_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    q->gen = ++s->gen;
    snprintf(s->query, sizeof(s->query), "%s", query);
    int rc = omtp_client_search(t->c, query, NULL, 0, TUI_SEARCH_MAX, on_search, q);
    if (rc) {
        snprintf(t->note, sizeof(t->note), "search: %s", omtp_strerror(rc));
        free(q);
        return;
    }
    s->pending = true;
    snprintf(t->note, sizeof(t->note), "searching for \"%s\"...", s->query);
}

const tsearch_hit *tui_search_hit(chat *t, const char *arg)
{
    tsearch *s = &t->srch;
    while (*arg == ' ')
        arg++;
    long n = 1;
    if (*arg) {
        char *end;
        n = strtol(arg, &end, 10);
        if (*end)
            return NULL;
    }
    if (n < 1 || n > s->n)
        return NULL;
    return &s->hits[n - 1];
}

void tui_search_header(chat *t, char *buf, size_t n)
{
    tsearch *s = &t->srch;
    snprintf(buf, n, "search \"%s\": %d result%s, newest first  [/open N, Esc closes]", s->query,
             s->n, s->n == 1 ? "" : "s");
}

int tui_search_rows(chat *t, int width, char **out, int max)
{
    tsearch *s = &t->srch;
    int nr = 0;
    for (int i = 0; i < s->n && nr < max; i++) {
        const tsearch_hit *h = &s->hits[i];
        conv *v = tui_conv_find(t, h->sid, false);
        char when[32] = "";
        time_t sec = (time_t)(h->ts / 1000);
        struct tm tm;
        localtime_r(&sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        char line[1200];
        snprintf(line, sizeof(line), "%d. %s  %s  %s: %s", i + 1, v ? v->title : h->sid, when,
                 h->from, h->text);
        for (char *p = line; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        int k = tui_wrap_text(line, width, 4, out + nr, max - nr);
        nr += k < max - nr ? k : max - nr;
    }
    return nr;
}
