/*
 * omtp_msg.h - the C types of every OMTP message, and their descriptors.
 *
 * Generated at compile time from omtp_schema.def (the one declaration of the
 * wire schema). For a struct Name you get:
 *
 *   omtp_Name            the C struct; fields keep the document's names
 *   omtp_Name_desc       its tars_struct_desc for the generic codec
 *   omtp_Name_list       TARS_LIST_OF(omtp_Name), used by vector<Name> fields
 *
 * Field types: short -> int16_t, int -> int32_t, long -> int64_t,
 * string -> tars_str, vector<byte> -> tars_bytes, vector<string> ->
 * tars_str_list, map<string, vector<string>> -> tars_strs_map, nested struct -> by value,
 * vector<Struct> -> omtp_Struct_list.
 *
 * Life cycle: omtp_msg_init(&omtp_Name_desc, &v) before use (or tars_decode),
 * omtp_msg_free(...) after. A struct owns all memory it points to.
 */
#ifndef OMTP_MSG_H
#define OMTP_MSG_H

#include "tars/tars.h"

#define OMTP_CT_I16 int16_t
#define OMTP_CT_I32 int32_t
#define OMTP_CT_I64 int64_t

/* forward declarations of every struct and its list type */
#define S_BEGIN(N)                                                                                 \
    typedef struct omtp_##N omtp_##N;                                                              \
    typedef TARS_LIST_OF(struct omtp_##N) omtp_##N##_list;                                         \
    extern const tars_struct_desc omtp_##N##_desc;
#define S_END(N)
#define F_INT(S, T, R, K, N, D)
#define F_STR(S, T, R, N)
#define F_BYTES(S, T, R, N)
#define F_STRUCT(S, T, R, N, SUB)
#define F_LIST(S, T, R, N, SUB)
#define F_STRS(S, T, R, N)
#define F_MAPSTRS(S, T, R, N)
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

/* the struct bodies */
#define S_BEGIN(N) struct omtp_##N {
#define S_END(N)                                                                                   \
    }                                                                                              \
    ;
#define F_INT(S, T, R, K, N, D)   OMTP_CT_##K N;
#define F_STR(S, T, R, N)         tars_str N;
#define F_BYTES(S, T, R, N)       tars_bytes N;
#define F_STRUCT(S, T, R, N, SUB) omtp_##SUB N;
#define F_LIST(S, T, R, N, SUB)   omtp_##SUB##_list N;
#define F_STRS(S, T, R, N)        tars_str_list N;
#define F_MAPSTRS(S, T, R, N)     tars_strs_map N;
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

/* Every descriptor, for tools that walk the whole schema (tests, JSON). */
extern const tars_struct_desc *const omtp_all_descs[];
extern const unsigned omtp_all_descs_count;
/* Looks a descriptor up by struct name ("MsgReq"); NULL if unknown. */
const tars_struct_desc *omtp_desc_by_name(const char *name);

static inline void omtp_msg_init(const tars_struct_desc *d, void *obj)
{
    tars_init(d, obj);
}
static inline void omtp_msg_free(const tars_struct_desc *d, void *obj)
{
    tars_free(d, obj);
}

#endif
