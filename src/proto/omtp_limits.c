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
    {"MsgSearchReq", "query", OMTP_LIMIT_SEARCH_QUERY},
    {NULL, NULL, 0},
};

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
