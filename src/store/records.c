/*
 * records.c - life cycle of the store's output records (store.h).
 *
 * Every record is made of generated structs (omtp_msg.h) plus a few plain
 * fields, so init/free/copy delegate to the generic Tars helpers. A freed
 * record is re-initialised: freeing twice is harmless.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#include "proto/omtp_proto.h"

void omtp_user_rec_init(omtp_user_rec *u)
{
    memset(u, 0, sizeof(*u));
    tars_str_clear(&u->userId);
    tars_str_clear(&u->pwHash);
    tars_init(&omtp_UserInfo_desc, &u->info);
}

void omtp_user_rec_free(omtp_user_rec *u)
{
    tars_str_clear(&u->userId);
    tars_str_clear(&u->pwHash);
    tars_free(&omtp_UserInfo_desc, &u->info);
    omtp_user_rec_init(u);
}

void omtp_user_rec_list_free(omtp_user_rec_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        omtp_user_rec_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_msg_rec_init(omtp_msg_rec *m)
{
    memset(m, 0, sizeof(*m));
    tars_str_clear(&m->packId);
    tars_init(&omtp_MsgReq_desc, &m->msg);
}

void omtp_msg_rec_free(omtp_msg_rec *m)
{
    tars_str_clear(&m->packId);
    tars_free(&omtp_MsgReq_desc, &m->msg);
    omtp_msg_rec_init(m);
}

int omtp_msg_rec_copy(omtp_msg_rec *dst, const omtp_msg_rec *src)
{
    omtp_msg_rec_init(dst);
    dst->type = src->type;
    dst->flags = src->flags;
    if (tars_str_setn(&dst->packId, src->packId.data, src->packId.len) != TARS_OK ||
        tars_copy(&omtp_MsgReq_desc, &dst->msg, &src->msg) != TARS_OK) {
        omtp_msg_rec_free(dst);
        return OMTP_ENOMEM;
    }
    return 0;
}

void omtp_msg_rec_list_free(omtp_msg_rec_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        omtp_msg_rec_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_hot_rec_list_free(omtp_hot_rec_list *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        omtp_hot_rec *h = &l->items[i];
        tars_str_clear(&h->sessionId);
        tars_str_clear(&h->attribute);
        omtp_msg_rec_free(&h->last);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_hp_rec_list_free(omtp_hp_rec_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_free(&omtp_OTIMPack_desc, &l->items[i].pack);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_list_free(const tars_struct_desc *d, void *list)
{
    tars_list *l = list;
    for (uint32_t i = 0; i < l->n; i++)
        tars_free(d, (char *)l->items + (size_t)i * d->size);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_str_list_free(tars_str_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int tstr_cmp(const tars_str *a, const tars_str *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

void omtp_msg_parties(const omtp_msg_rec *m, tars_str *a, tars_str *b)
{
    static const tars_str none = {(char *)"", 0};
    const tars_str *f = m->msg.from.data ? &m->msg.from : &none;
    const tars_str *t = m->msg.to.data ? &m->msg.to : &none;
    if (m->type == PT_MSG_SINGLE_CHAT && tstr_cmp(f, t) > 0) {
        const tars_str *x = f;
        f = t;
        t = x;
    }
    *a = m->type == PT_MSG_GROUP_CHAT ? none : *f;
    *b = m->type == PT_MSG_GROUP_CHAT ? none : *t;
}

void omtp_reaction_rec_list_free(omtp_reaction_rec_list *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        tars_str_clear(&l->items[i].emoji);
        tars_str_clear(&l->items[i].userId);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int omtp_mentions_join(const tars_str_list *ids, tars_str *out)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ids->n; i++)
        n += ids->items[i].len + 1;
    tars_str_clear(out);
    if (n == 0)
        return 0;
    char *b = malloc(n);
    if (!b)
        return OMTP_ENOMEM;
    size_t at = 0;
    for (uint32_t i = 0; i < ids->n; i++) {
        if (at)
            b[at++] = ' ';
        memcpy(b + at, ids->items[i].data, ids->items[i].len);
        at += ids->items[i].len;
    }
    int rc = tars_str_setn(out, b, at);
    free(b);
    return rc == 0 ? 0 : OMTP_ENOMEM;
}

int omtp_mentions_split(const char *text, size_t len, tars_str_list *l)
{
    omtp_str_list_free(l);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == ' ';
    if (len == 0)
        return 0;
    l->items = calloc(n + 1, sizeof(tars_str));
    if (!l->items)
        return OMTP_ENOMEM;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ' ')
            continue;
        tars_str *e = &l->items[l->n++];
        tars_str_clear(e);
        if (i > start && tars_str_setn(e, text + start, i - start) != 0)
            return OMTP_ENOMEM;
        start = i + 1;
    }
    return 0;
}

void omtp_user_page_upper(const char *prefix, char *out, size_t n)
{
    if (!prefix || !prefix[0])
        snprintf(out, n, "%s", "\xf4\x8f\xbf\xbf");
    else
        snprintf(out, n, "%s~", prefix);
}
