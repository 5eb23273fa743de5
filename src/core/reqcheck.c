/*
 * reqcheck.c - identifiers in a decoded request must be text without NUL.
 *
 * Tars strings may hold any byte, NUL included, and content (MsgReq.content,
 * names, remarks, attribute values) is opaque and kept byte for byte. But
 * identifiers -- user, group, session, device and packet ids, `to`, `from`,
 * the password and attribute names -- are used as C strings by the handlers
 * and the store: "alice\0x" would silently become "alice" (a login, a
 * revoke in another session, a monitor on another session). So dispatch
 * refuses such a request with PARAM naming the field, before any handler
 * sees it. Which fields are identifiers is decided from the schema's field
 * names (…Id, …Ids, to, from, userName, password, attrName), so new structs
 * are covered without a list to maintain.
 *
 * Threading: loop thread (pure function, reentrant).
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_id_field(const tars_field *f)
{
    static const char *const names[] = {"to", "from", "userName", "password", "attrName"};
    if (f->kind == TK_LIST_STR)
        return ends_with(f->name, "Ids");
    if (f->kind != TK_STR)
        return false;
    if (ends_with(f->name, "Id"))
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(f->name, names[i]) == 0)
            return true;
    return false;
}

static bool has_nul(const tars_str *s)
{
    return s->len && memchr(s->data, 0, s->len) != NULL;
}

int omtp_req_check_ids(const tars_struct_desc *d, const void *obj, char *why, size_t whylen)
{
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        const char *p = (const char *)obj + f->offset;
        if (is_id_field(f) && f->kind == TK_STR) {
            if (has_nul((const tars_str *)(const void *)p)) {
                snprintf(why, whylen, "%s.%s contains a NUL byte", d->name, f->name);
                return OMTP_EINVAL;
            }
        } else if (is_id_field(f)) {
            const tars_str_list *l = (const tars_str_list *)(const void *)p;
            for (uint32_t k = 0; k < l->n; k++)
                if (has_nul(&l->items[k])) {
                    snprintf(why, whylen, "%s.%s[%u] contains a NUL byte", d->name, f->name, k);
                    return OMTP_EINVAL;
                }
        } else if (f->kind == TK_STRUCT) {
            if (omtp_req_check_ids(f->sub, p, why, whylen))
                return OMTP_EINVAL;
        } else if (f->kind == TK_LIST_STRUCT) {
            const tars_list *l = (const tars_list *)(const void *)p;
            for (uint32_t k = 0; k < l->n; k++)
                if (omtp_req_check_ids(f->sub, (const char *)l->items + k * f->sub->size, why,
                                       whylen))
                    return OMTP_EINVAL;
        }
    }
    return 0;
}
