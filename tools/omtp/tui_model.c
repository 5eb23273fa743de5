/*
 * tui_model.c - conversations and messages of `omtp chat` (see tui.h):
 * messages kept in seqId order with pending sends at the end, delivery
 * states of your own messages, group titles, the message selection.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tui.h"

conv *tui_conv_find(chat *t, const char *id, bool create)
{
    for (int i = 0; i < t->nconv; i++)
        if (!strcmp(t->convs[i]->id, id))
            return t->convs[i];
    if (!create || t->nconv == TUI_MAXCONV)
        return NULL;
    conv *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    snprintf(v->id, sizeof(v->id), "%s", id);
    v->group = omtp_session_is_group(id);
    if (!omtp_session_peer(id, t->o->user, v->title, sizeof(v->title)))
        snprintf(v->title, sizeof(v->title), "%s", id);
    v->order = ++t->tick;
    v->presence = -1;
    t->convs[t->nconv++] = v;
    t->sub_dirty = true; /* tui_ext.c: watch the new peer's presence */
    return v;
}

conv *tui_conv_open_ptr(chat *t)
{
    return t->open >= 0 && t->open < t->nconv ? t->convs[t->open] : NULL;
}

void tui_conv_free(conv *v)
{
    for (int i = 0; i < v->n; i++) {
        free(v->msgs[i].from);
        free(v->msgs[i].text);
        tui_react_free(&v->msgs[i]);
    }
    free(v->msgs);
    free(v);
}

void tui_conv_remove(chat *t, conv *v)
{
    conv *cur = tui_conv_open_ptr(t);
    for (int i = 0; i < t->nconv; i++) {
        if (t->convs[i] != v)
            continue;
        memmove(t->convs + i, t->convs + i + 1, sizeof(conv *) * (size_t)(t->nconv - i - 1));
        t->nconv--;
        break;
    }
    t->open = -1;
    for (int i = 0; i < t->nconv; i++)
        if (t->convs[i] == cur)
            t->open = i;
    if (cur == v)
        t->sel_seq = 0;
    tui_conv_free(v);
}

static int cmp_order(const void *a, const void *b)
{
    const conv *x = *(conv *const *)a, *y = *(conv *const *)b;
    return x->order < y->order ? 1 : x->order > y->order ? -1 : 0;
}

void tui_conv_sort(chat *t)
{
    conv *cur = tui_conv_open_ptr(t);
    qsort(t->convs, (size_t)t->nconv, sizeof(conv *), cmp_order);
    for (int i = 0; i < t->nconv; i++)
        if (t->convs[i] == cur)
            t->open = i;
}

void tui_conv_set_title(chat *t, conv *v, const char *name)
{
    (void)t;
    if (name && *name)
        snprintf(v->title, sizeof(v->title), "%s", name);
}

static bool grow(conv *v)
{
    if (v->n < v->cap)
        return true;
    int cap = v->cap ? v->cap * 2 : 64;
    tmsg *m = realloc(v->msgs, sizeof(tmsg) * (size_t)cap);
    if (!m)
        return false;
    v->msgs = m;
    v->cap = cap;
    return true;
}

/* Index where a stored message with `seq` goes (before pending ones). */
static int seq_pos(const conv *v, int64_t seq, bool *found)
{
    int end = v->n;
    while (end > 0 && v->msgs[end - 1].seq == 0)
        end--;
    int lo = 0, hi = end;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v->msgs[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < end && v->msgs[lo].seq == seq;
    return lo;
}

tmsg *tui_msg_put(conv *v, int64_t seq, int64_t ts, const char *from, const char *text,
                  bool revoked, bool edited)
{
    bool found;
    int pos = seq_pos(v, seq, &found);
    if (found) {
        tmsg *m = &v->msgs[pos];
        char *nt = strdup(text ? text : "");
        if (nt) {
            free(m->text);
            m->text = nt;
        }
        m->revoked = revoked;
        m->edited = edited;
        return m;
    }
    if (!grow(v))
        return NULL;
    memmove(v->msgs + pos + 1, v->msgs + pos, sizeof(tmsg) * (size_t)(v->n - pos));
    tmsg *m = &v->msgs[pos];
    memset(m, 0, sizeof(*m));
    m->seq = seq;
    m->ts = ts;
    m->from = strdup(from ? from : "");
    m->text = strdup(text ? text : "");
    m->revoked = revoked;
    m->edited = edited;
    v->n++;
    if (seq > v->last_seq)
        v->last_seq = seq;
    return m;
}

tmsg *tui_msg_pending(conv *v, const char *from, const char *text, const char *pack_id)
{
    if (!grow(v))
        return NULL;
    tmsg *m = &v->msgs[v->n++];
    memset(m, 0, sizeof(*m));
    m->ts = omtp_now_ms();
    m->from = strdup(from);
    m->text = strdup(text);
    snprintf(m->pack_id, sizeof(m->pack_id), "%s", pack_id ? pack_id : "");
    m->state = TM_PENDING;
    return m;
}

tmsg *tui_msg_by_pack(conv *v, const char *pack_id)
{
    if (!pack_id || !*pack_id)
        return NULL;
    for (int i = v->n; i-- > 0;)
        if (!strcmp(v->msgs[i].pack_id, pack_id))
            return &v->msgs[i];
    return NULL;
}

tmsg *tui_msg_by_seq(conv *v, int64_t seq)
{
    bool found;
    int pos = seq_pos(v, seq, &found);
    return found ? &v->msgs[pos] : NULL;
}

void tui_msg_acked(conv *v, tmsg *m, int64_t seq, int64_t ts)
{
    int idx = (int)(m - v->msgs);
    tmsg keep = *m;
    memmove(v->msgs + idx, v->msgs + idx + 1, sizeof(tmsg) * (size_t)(v->n - idx - 1));
    v->n--;
    bool found;
    int pos = seq_pos(v, seq, &found);
    if (found) { /* already there (caught up from history): keep that one */
        tmsg *o = &v->msgs[pos];
        snprintf(o->pack_id, sizeof(o->pack_id), "%s", keep.pack_id);
        if (o->state < TM_SENT)
            o->state = TM_SENT;
        if (!o->reply_to)
            o->reply_to = keep.reply_to;
        free(keep.from);
        free(keep.text);
        tui_react_free(&keep);
        return;
    }
    memmove(v->msgs + pos + 1, v->msgs + pos, sizeof(tmsg) * (size_t)(v->n - pos));
    keep.seq = seq;
    if (ts)
        keep.ts = ts;
    if (keep.state < TM_SENT)
        keep.state = TM_SENT;
    v->msgs[pos] = keep;
    v->n++;
    if (seq > v->last_seq)
        v->last_seq = seq;
    if (v->peer_read >= seq)
        v->msgs[pos].state = TM_READ;
}

void tui_msg_delete(conv *v, int64_t seq)
{
    bool found;
    int pos = seq_pos(v, seq, &found);
    if (!found)
        return;
    free(v->msgs[pos].from);
    free(v->msgs[pos].text);
    tui_react_free(&v->msgs[pos]);
    memmove(v->msgs + pos, v->msgs + pos + 1, sizeof(tmsg) * (size_t)(v->n - pos - 1));
    v->n--;
}

int64_t tui_conv_oldest(const conv *v)
{
    return v->n > 0 ? v->msgs[0].seq : 0;
}

tmsg *tui_conv_last_own(conv *v, const char *me)
{
    for (int i = v->n; i-- > 0;)
        if (v->msgs[i].seq > 0 && !v->msgs[i].revoked && !strcmp(v->msgs[i].from, me))
            return &v->msgs[i];
    return NULL;
}

void tui_conv_mark_own(conv *v, const char *me, int64_t seq, int state)
{
    for (int i = 0; i < v->n; i++) {
        tmsg *m = &v->msgs[i];
        if (m->seq > 0 && m->seq <= seq && !strcmp(m->from, me) && m->state >= TM_SENT &&
            m->state < state && m->state != TM_FAILED)
            m->state = state;
    }
}

void tui_select(chat *t, int dir)
{
    conv *v = tui_conv_open_ptr(t);
    if (!v) {
        t->sel_seq = 0;
        return;
    }
    int last = v->n - 1;
    while (last >= 0 && v->msgs[last].seq == 0)
        last--;
    if (last < 0) {
        t->sel_seq = 0;
        return;
    }
    int idx = -1;
    if (t->sel_seq) {
        bool found;
        idx = seq_pos(v, t->sel_seq, &found);
        if (!found)
            idx = -1;
    }
    if (idx < 0) {
        if (dir < 0)
            t->sel_seq = v->msgs[last].seq;
        return;
    }
    idx += dir;
    if (idx > last) {
        t->sel_seq = 0; /* down past the newest: selection off */
        return;
    }
    if (idx < 0) {
        idx = 0;
        if (!v->at_start)
            tui_load_older(t, v);
    }
    t->sel_seq = v->msgs[idx].seq;
}

int tui_groups_named(chat *t, const char *name, conv **out, int max)
{
    int n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int i = 0; i < t->nconv && n < max; i++) {
            conv *v = t->convs[i];
            if (!v->group)
                continue;
            if (pass == 0 ? !strcmp(v->title, name) : !strcasecmp(v->title, name))
                out[n++] = v;
        }
    return n;
}
