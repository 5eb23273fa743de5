/*
 * omtp_msg.c - field descriptors for every struct of omtp_schema.def.
 */
#include "omtp_msg.h"

#include <stddef.h>
#include <string.h>

#define REQ true
#define OPT false

#define S_BEGIN(N) static const tars_field N##_fields[] = {
#define S_END(N)                                                                                   \
    }                                                                                              \
    ;                                                                                              \
    const tars_struct_desc omtp_##N##_desc = {#N, sizeof(omtp_##N), N##_fields,                    \
                                              sizeof(N##_fields) / sizeof(N##_fields[0])};
#define F_INT(S, T, R, K, N, D) {#N, offsetof(omtp_##S, N), T, TK_##K, R, D, NULL},
#define F_STR(S, T, R, N)       {#N, offsetof(omtp_##S, N), T, TK_STR, R, 0, NULL},
#define F_BYTES(S, T, R, N)     {#N, offsetof(omtp_##S, N), T, TK_BYTES, R, 0, NULL},
#define F_STRUCT(S, T, R, N, SUB)                                                                  \
    {#N, offsetof(omtp_##S, N), T, TK_STRUCT, R, 0, &omtp_##SUB##_desc},
#define F_LIST(S, T, R, N, SUB)                                                                    \
    {#N, offsetof(omtp_##S, N), T, TK_LIST_STRUCT, R, 0, &omtp_##SUB##_desc},
#define F_STRS(S, T, R, N)    {#N, offsetof(omtp_##S, N), T, TK_LIST_STR, R, 0, NULL},
#define F_MAPSTRS(S, T, R, N) {#N, offsetof(omtp_##S, N), T, TK_MAP_STR_STRS, R, 0, NULL},
#include "omtp_schema.def"
#undef S_BEGIN
#undef S_END
#undef F_INT
#undef F_STR
#undef F_BYTES
#undef F_STRUCT
#undef F_LIST
#undef F_STRS
#undef F_MAPSTRS

#define S_BEGIN(N) &omtp_##N##_desc,
#define S_END(N)
#define F_INT(S, T, R, K, N, D)
#define F_STR(S, T, R, N)
#define F_BYTES(S, T, R, N)
#define F_STRUCT(S, T, R, N, SUB)
#define F_LIST(S, T, R, N, SUB)
#define F_STRS(S, T, R, N)
#define F_MAPSTRS(S, T, R, N)
const tars_struct_desc *const omtp_all_descs[] = {
#include "omtp_schema.def"
};
const unsigned omtp_all_descs_count = sizeof(omtp_all_descs) / sizeof(omtp_all_descs[0]);

const tars_struct_desc *omtp_desc_by_name(const char *name)
{
    for (unsigned i = 0; i < omtp_all_descs_count; i++)
        if (strcmp(omtp_all_descs[i]->name, name) == 0)
            return omtp_all_descs[i];
    return NULL;
}
