/*
 * idlist.c - sorted id lists and the "do these users exist" check.
 *
 * omtp_ids_missing asks the store for the profiles of all ids at once (one
 * query however long the list) and binary-searches the answer, so checking
 * the 10,000 ids of a bulk join is O(n log n), not n round trips.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlist.h"

static int cmp_str(const void *a, const void *b)
{
    const tars_str *x = a, *y = b;
    return strcmp(x->data, y->data);
}

void omtp_ids_free(tars_str_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void omtp_ids_move(tars_str_list *dst, tars_str_list *src)
{
    omtp_ids_free(dst);
    *dst = *src;
    src->items = NULL;
    src->n = 0;
}

void omtp_ids_sort(tars_str_list *l)
{
    if (l->n < 2)
        return;
    qsort(l->items, l->n, sizeof(tars_str), cmp_str);
    uint32_t w = 1;
    for (uint32_t i = 1; i < l->n; i++) {
        if (strcmp(l->items[i].data, l->items[w - 1].data) == 0)
            tars_str_clear(&l->items[i]);
        else
            l->items[w++] = l->items[i];
    }
    l->n = w;
}

int omtp_ids_normalize(const tars_str_list *in, const char *extra, tars_str_list *out, char *why,
                       size_t whylen)
{
    out->items = NULL;
    out->n = 0;
    uint32_t n = in ? in->n : 0;
    out->items = calloc((size_t)n + 1, sizeof(tars_str));
    if (!out->items)
        return OMTP_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const tars_str *s = &in->items[i];
        if (!omtp_id_valid_n(s->data, s->len)) {
            snprintf(why, whylen, "user id #%u is %s", i + 1,
                     s->len == 0 ? "empty" : "not a valid user id (" OMTP_ID_RULE ")");
            omtp_ids_free(out);
            return OMTP_EINVAL;
        }
        if (tars_str_setn(&out->items[out->n], s->data, s->len)) {
            omtp_ids_free(out);
            return OMTP_ENOMEM;
        }
        out->n++;
    }
    if (extra && tars_str_set(&out->items[out->n++], extra)) {
        omtp_ids_free(out);
        return OMTP_ENOMEM;
    }
    omtp_ids_sort(out);
    return 0;
}

bool omtp_ids_contains(const tars_str_list *sorted, const char *id)
{
    tars_str key = {.data = (char *)id, .len = (uint32_t)strlen(id)};
    return sorted->n && bsearch(&key, sorted->items, sorted->n, sizeof(tars_str), cmp_str);
}

static int cmp_info(const void *a, const void *b)
{
    const omtp_UserInfo *x = a, *y = b;
    return strcmp(x->userId.data, y->userId.data);
}

int omtp_ids_missing(omtp_db *db, const tars_str_list *ids, int *nmissing, char *missing,
                     size_t missinglen)
{
    *nmissing = 0;
    if (missinglen)
        missing[0] = 0;
    if (ids->n == 0)
        return 0;
    omtp_UserInfo_list found = {0};
    int rc = omtp_db_user_info_get(db, ids, &found);
    if (rc)
        return rc;
    if (found.n < ids->n) {
        if (found.n > 1)
            qsort(found.items, found.n, sizeof(omtp_UserInfo), cmp_info);
        for (uint32_t i = 0; i < ids->n; i++) {
            omtp_UserInfo key = {.userId = ids->items[i]};
            if (!found.n || !bsearch(&key, found.items, found.n, sizeof(omtp_UserInfo), cmp_info)) {
                if ((*nmissing)++ == 0 && missinglen)
                    snprintf(missing, missinglen, "%s", ids->items[i].data);
            }
        }
    }
    omtp_list_free(&omtp_UserInfo_desc, &found);
    return 0;
}

char *omtp_json_kv(const char *k1, ...)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    va_list ap;
    va_start(ap, k1);
    for (const char *k = k1; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        json_object_set_new(o, k, json_string(v ? v : ""));
    }
    va_end(ap);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}
