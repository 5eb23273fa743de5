/*
 * omtp_limits.c - the field limit table and the check that walks a decoded
 * struct against it (see omtp_limits.h).
 */
#include "proto/omtp_limits.h"

#include <stdio.h>
#include <string.h>

#include "proto/omtp_errors.h"

const omtp_field_limit omtp_field_limits[] = {
    {"MsgReq", "pushInfo", OMTP_LIMIT_PUSHINFO},
    {"UserInfo", "name", OMTP_LIMIT_NAME},
    {"UserInfo", "avator", OMTP_LIMIT_AVATAR},
    {"UserInfo", "mobile", OMTP_LIMIT_MOBILE},
    {"GroupChatInfo", "name", OMTP_LIMIT_NAME},
    {"GroupChatInfo", "avatar", OMTP_LIMIT_AVATAR},
    {"GroupChatInfo", "desc", OMTP_LIMIT_DESC},
    {"FriendInfo", "remark", OMTP_LIMIT_REMARK},
    {"UserAttribute", "attrName", OMTP_LIMIT_ATTR_NAME},
    {"UserAttribute", "attrValue", OMTP_LIMIT_ATTR_VALUE},
    {"SessionAttrSetReq", "attrName", OMTP_LIMIT_ATTR_NAME},
    {"SessionAttrSetReq", "attrValue", OMTP_LIMIT_ATTR_VALUE},
    {"LoginReq", "deviceName", OMTP_LIMIT_NAME},
    {"LoginReq", "version", OMTP_LIMIT_VERSION},
    {"LoginReq", "deviceId", OMTP_LIMIT_DEVICE_ID},
    {"KickOutReq", "deviceId", OMTP_LIMIT_DEVICE_ID},
    {"GroupChatSyncReq", "after", OMTP_LIMIT_CURSOR},
    {"GroupChatMemberGetReq", "after", OMTP_LIMIT_CURSOR},
    {"FriendSyncReq", "after", OMTP_LIMIT_CURSOR},
    {"ReactionReq", "emoji", OMTP_LIMIT_EMOJI},
    {"ReactionNotice", "emoji", OMTP_LIMIT_EMOJI},
    {"MsgSearchReq", "query", OMTP_LIMIT_SEARCH_QUERY},
    {NULL, NULL, 0},
};

const omtp_field_limit omtp_count_limits[] = {
    {"MsgReq", "mentions", OMTP_LIMIT_MENTIONS},
    {"MsgReq", "reactions", OMTP_LIMIT_REACTION_EMOJIS},
    {NULL, NULL, 0},
};

static uint32_t count_limit_of(const char *strct, const char *field)
{
    for (const omtp_field_limit *l = omtp_count_limits; l->strct; l++)
        if (strcmp(l->strct, strct) == 0 && strcmp(l->field, field) == 0)
            return l->max;
    return 0;
}

static int too_many(const tars_struct_desc *d, const tars_field *f, uint32_t n, char *why,
                    size_t whylen)
{
    uint32_t max = count_limit_of(d->name, f->name);
    if (!max || n <= max)
        return 0;
    snprintf(why, whylen, "%s.%s has %u entries; at most %u are allowed", d->name, f->name, n, max);
    return OMTP_EINVAL;
}

/* map<string, vector<string>> of reactions: the entry count, each key's
 * bytes and each list's length. */
static int check_strs_map(const tars_struct_desc *d, const tars_field *f, const tars_strs_map *m,
                          char *why, size_t whylen)
{
    if (too_many(d, f, m->n, why, whylen))
        return OMTP_EINVAL;
    for (uint32_t k = 0; k < m->n; k++) {
        if (m->keys[k].len > OMTP_LIMIT_EMOJI) {
            snprintf(why, whylen, "a key of %s.%s is %u bytes; at most %u are allowed", d->name,
                     f->name, m->keys[k].len, OMTP_LIMIT_EMOJI);
            return OMTP_EINVAL;
        }
        if (m->vals[k].n > OMTP_LIMIT_REACTORS) {
            snprintf(why, whylen, "a list of %s.%s has %u entries; at most %u are allowed", d->name,
                     f->name, m->vals[k].n, OMTP_LIMIT_REACTORS);
            return OMTP_EINVAL;
        }
    }
    return 0;
}

uint32_t omtp_field_limit_of(const char *strct, const char *field)
{
    for (const omtp_field_limit *l = omtp_field_limits; l->strct; l++)
        if (strcmp(l->strct, strct) == 0 && strcmp(l->field, field) == 0)
            return l->max;
    return 0;
}

int omtp_limits_check(const tars_struct_desc *d, const void *obj, char *why, size_t whylen)
{
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        const char *p = (const char *)obj + f->offset;
        if (f->kind == TK_STR) {
            uint32_t max = omtp_field_limit_of(d->name, f->name);
            const tars_str *s = (const tars_str *)(const void *)p;
            if (max && s->len > max) {
                snprintf(why, whylen, "%s.%s is %zu bytes; at most %u are allowed", d->name,
                         f->name, (size_t)s->len, max);
                return OMTP_EINVAL;
            }
        } else if (f->kind == TK_LIST_STR) {
            if (too_many(d, f, ((const tars_str_list *)(const void *)p)->n, why, whylen))
                return OMTP_EINVAL;
        } else if (f->kind == TK_MAP_STR_STRS) {
            if (check_strs_map(d, f, (const tars_strs_map *)(const void *)p, why, whylen))
                return OMTP_EINVAL;
        } else if (f->kind == TK_STRUCT) {
            if (omtp_limits_check(f->sub, p, why, whylen))
                return OMTP_EINVAL;
        } else if (f->kind == TK_LIST_STRUCT) {
            const tars_list *l = (const tars_list *)(const void *)p;
            for (uint32_t k = 0; k < l->n; k++)
                if (omtp_limits_check(f->sub, (const char *)l->items + k * f->sub->size, why,
                                      whylen))
                    return OMTP_EINVAL;
        }
    }
    return 0;
}
