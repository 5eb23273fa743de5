/* sample_msg.c - see sample_msg.h. */
#include "sample_msg.h"

#include <stdbool.h>
#include <stdlib.h>

static size_t elem_size(const tars_field *f)
{
    switch (f->kind) {
    case TK_LIST_STR:
        return sizeof(tars_str);
    case TK_LIST_I64:
        return sizeof(int64_t);
    default:
        return f->sub->size;
    }
}

void sample_fill(const tars_struct_desc *d, void *obj, const sample_ops *ops, int depth)
{
    tars_init(d, obj);
    for (unsigned i = 0; i < d->nfields; i++) {
        const tars_field *f = &d->fields[i];
        char *p = (char *)obj + f->offset;
        switch (f->kind) {
        case TK_BOOL:
            *(bool *)(void *)p = ops->integer(ops->ctx, f) != 0;
            break;
        case TK_I8:
            *(int8_t *)(void *)p = (int8_t)ops->integer(ops->ctx, f);
            break;
        case TK_I16:
            *(int16_t *)(void *)p = (int16_t)ops->integer(ops->ctx, f);
            break;
        case TK_I32:
            *(int32_t *)(void *)p = (int32_t)ops->integer(ops->ctx, f);
            break;
        case TK_I64:
            *(int64_t *)(void *)p = ops->integer(ops->ctx, f);
            break;
        case TK_STRUCT:
            sample_fill(f->sub, p, ops, depth + 1);
            break;
        case TK_LIST_STR:
        case TK_LIST_I64:
        case TK_LIST_STRUCT: {
            tars_list *l = (tars_list *)(void *)p;
            uint32_t n = ops->count(ops->ctx, f, depth);
            if (!n)
                break;
            size_t es = elem_size(f);
            l->items = calloc(n, es);
            for (uint32_t k = 0; k < n; k++) {
                void *e = (char *)l->items + k * es;
                if (f->kind == TK_LIST_STRUCT)
                    sample_fill(f->sub, e, ops, depth + 1);
                else if (f->kind == TK_LIST_STR)
                    ops->value(ops->ctx, f, TK_STR, e);
                else
                    *(int64_t *)e = ops->integer(ops->ctx, f);
                l->n = k + 1;
            }
            break;
        }
        case TK_MAP_STR_STR: {
            tars_str_map *m = (tars_str_map *)(void *)p;
            uint32_t n = ops->count(ops->ctx, f, depth);
            if (!n)
                break;
            m->keys = calloc(n, sizeof(tars_str));
            m->vals = calloc(n, sizeof(tars_str));
            for (uint32_t k = 0; k < n; k++) {
                ops->value(ops->ctx, f, TK_STR, &m->keys[k]);
                ops->value(ops->ctx, f, TK_STR, &m->vals[k]);
                m->n = k + 1;
            }
            break;
        }
        case TK_MAP_STR_STRS: {
            tars_strs_map *m = (tars_strs_map *)(void *)p;
            uint32_t n = ops->count(ops->ctx, f, depth);
            if (!n)
                break;
            m->keys = calloc(n, sizeof(tars_str));
            m->vals = calloc(n, sizeof(tars_str_list));
            for (uint32_t k = 0; k < n; k++) {
                ops->value(ops->ctx, f, TK_STR, &m->keys[k]);
                uint32_t nv = ops->count(ops->ctx, f, depth + 1);
                m->vals[k].items = nv ? calloc(nv, sizeof(tars_str)) : NULL;
                for (uint32_t v = 0; v < nv; v++) {
                    ops->value(ops->ctx, f, TK_STR, &m->vals[k].items[v]);
                    m->vals[k].n = v + 1;
                }
                m->n = k + 1;
            }
            break;
        }
        default:
            ops->value(ops->ctx, f, f->kind, p);
            break;
        }
    }
}
