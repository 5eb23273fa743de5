/*
 * tars.h - a table-driven codec for the Tars (JCE) binary wire format.
 *
 * Design: every struct of a protocol is described once by a `tars_struct_desc`
 * (a table of `tars_field`s giving tag, kind, required/optional, default and
 * the field's offset in the C struct). One generic encoder and one generic
 * decoder walk those tables; there is no hand-written code per message.
 *
 * Wire facts (see docs/protocol.md): a head is (tag << 4 | type) for tags
 * below 15, else 0xF0 | type followed by a tag byte; integers are written in
 * the narrowest width and 0 as ZeroTag; strings up to 255 bytes use String1;
 * vector<byte> is a SimpleList; a top-level struct is its fields alone, a
 * nested one is wrapped in StructBegin/StructEnd. Encoders write every field,
 * optional ones included (as @tars/stream does), in ascending tag order.
 *
 * Decoding is hostile-input code: every length is checked against the bytes
 * present before it is used, nesting is limited to TARS_MAX_DEPTH, containers
 * grow as elements actually decode (never sized by a declared count), and a
 * failure fills a `tars_err` naming the struct, field, tag and byte offset.
 *
 * Ownership: a struct decoded by tars_decode() owns every string, byte array
 * and list it points to; release it with tars_free(). A struct decoded by
 * tars_decode_arena() owns nothing: all of it lives in a tars_arena and is
 * released by tars_arena_reset()/tars_arena_free() -- never tars_free() it.
 * Either way strings and byte arrays are always followed by a NUL byte (not
 * counted in len) so text can be used as a C string; binary content may
 * still hold NULs, so use len. Decoded data never points into the input.
 *
 * Threading: all functions are reentrant; descriptors are immutable.
 */
#ifndef OMTP_TARS_H
#define OMTP_TARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wire type codes (low nibble of a head). */
enum tars_type {
    TARS_INT1 = 0,
    TARS_INT2 = 1,
    TARS_INT4 = 2,
    TARS_INT8 = 3,
    TARS_FLOAT = 4,
    TARS_DOUBLE = 5,
    TARS_STRING1 = 6,
    TARS_STRING4 = 7,
    TARS_MAP = 8,
    TARS_LIST = 9,
    TARS_STRUCT_BEGIN = 10,
    TARS_STRUCT_END = 11,
    TARS_ZERO = 12,
    TARS_SIMPLE_LIST = 13,
};

/* C error returns of this module (negative, never protocol codes). */
enum {
    TARS_OK = 0,
    TARS_ENOMEM = -1,   /* allocation failed */
    TARS_ETRUNC = -2,   /* input ends inside a head or value */
    TARS_ETYPE = -3,    /* wire type does not fit the declared field */
    TARS_EMISSING = -4, /* a required field is absent */
    TARS_EDEPTH = -5,   /* nesting deeper than TARS_MAX_DEPTH */
    TARS_EINVAL = -6,   /* invalid wire type code, negative length, bad tag */
    TARS_ERANGE = -7,   /* value or length out of the field's range */
};

#define TARS_MAX_DEPTH 32
#define TARS_MAX_TAG   255

/* Owned, NUL-terminated byte string (len excludes the NUL). */
typedef struct tars_str {
    char *data;
    uint32_t len;
} tars_str;

/* Owned byte array (vector<byte>); also NUL-terminated for convenience. */
typedef struct tars_bytes {
    uint8_t *data;
    uint32_t len;
} tars_bytes;

/* A list: `items` is an array of `n` elements of the field's element type. */
#define TARS_LIST_OF(T)                                                                            \
    struct {                                                                                       \
        T *items;                                                                                  \
        uint32_t n;                                                                                \
    }
typedef TARS_LIST_OF(void) tars_list;
typedef TARS_LIST_OF(tars_str) tars_str_list;
typedef TARS_LIST_OF(int64_t) tars_i64_list;

/* map<string,string>: keys[i] -> vals[i]. */
typedef struct tars_str_map {
    tars_str *keys;
    tars_str *vals;
    uint32_t n;
} tars_str_map;

/* map<string, vector<string>>: keys[i] -> vals[i] (a list of strings).
 * Decoding refuses a map whose keys repeat (TARS_EINVAL): a value is never
 * silently dropped. */
typedef struct tars_strs_map {
    tars_str *keys;
    tars_str_list *vals;
    uint32_t n;
} tars_strs_map;

/* What a field holds in C. */
enum tars_kind {
    TK_BOOL,         /* bool */
    TK_I8,           /* int8_t  (byte) */
    TK_I16,          /* int16_t (short) */
    TK_I32,          /* int32_t (int, enum) */
    TK_I64,          /* int64_t (long) */
    TK_F32,          /* float */
    TK_F64,          /* double */
    TK_STR,          /* tars_str */
    TK_BYTES,        /* tars_bytes (vector<byte>, SimpleList) */
    TK_STRUCT,       /* nested struct, by value; `sub` describes it */
    TK_LIST_STR,     /* tars_str_list */
    TK_LIST_I64,     /* tars_i64_list */
    TK_LIST_STRUCT,  /* TARS_LIST_OF(sub's C type) */
    TK_MAP_STR_STR,  /* tars_str_map */
    TK_MAP_STR_STRS, /* tars_strs_map: map<string, vector<string>> */
};

struct tars_struct_desc;

typedef struct tars_field {
    const char *name; /* as in the IDL, e.g. "sessionId" */
    uint16_t offset;  /* offsetof() in the C struct */
    uint8_t tag;
    uint8_t kind; /* enum tars_kind */
    bool required;
    int64_t def;                        /* default of an integer field */
    const struct tars_struct_desc *sub; /* TK_STRUCT / TK_LIST_STRUCT */
} tars_field;

typedef struct tars_struct_desc {
    const char *name;
    size_t size; /* sizeof the C struct */
    const tars_field *fields;
    unsigned nfields; /* sorted by ascending tag */
} tars_struct_desc;

/* Where and why a decode failed. */
typedef struct tars_err {
    int code;          /* TARS_E* */
    size_t offset;     /* byte offset in the input */
    int tag;           /* tag being read, -1 if none */
    const char *strct; /* struct name, or NULL */
    const char *field; /* field name, or NULL */
    char msg[160];     /* human-readable, e.g. "MsgReq.from (tag 3): required field missing" */
} tars_err;

/* Growable output buffer. A failed allocation sets `oom`, an unencodable
 * value (tag above 255, string over 4 GiB) sets `err` (TARS_EINVAL or
 * TARS_ERANGE); either makes later writes no-ops, so callers check once at
 * the end (tars_buf_ok). */
typedef struct tars_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
    int err;
} tars_buf;

void tars_buf_init(tars_buf *b);
void tars_buf_free(tars_buf *b);
void tars_buf_reset(tars_buf *b); /* len = 0, keeps memory */
bool tars_buf_reserve(tars_buf *b, size_t extra);
void tars_buf_put(tars_buf *b, const void *p, size_t n);
static inline bool tars_buf_ok(const tars_buf *b)
{
    return !b->oom && !b->err;
}

/* ---- low-level writers (used by the generic encoder and by tests) ----
 * A tag above TARS_MAX_TAG is refused: nothing is written and the buffer
 * latches err = TARS_EINVAL. */
void tars_put_head(tars_buf *b, unsigned tag, unsigned type);
void tars_put_int(tars_buf *b, unsigned tag, int64_t v); /* narrowest width */
void tars_put_float(tars_buf *b, unsigned tag, float v);
void tars_put_double(tars_buf *b, unsigned tag, double v);
void tars_put_string(tars_buf *b, unsigned tag, const void *s, size_t len);
void tars_put_bytes(tars_buf *b, unsigned tag, const void *p, size_t len); /* SimpleList */

/* ---- arena: a chunked bump allocator for decoded data ----
 *
 * tars_decode_arena() takes every string, byte array, list (and, in
 * omtp_packet_decode, the payload struct itself) from an arena instead of
 * one malloc each, so a decoded message costs no allocation in the steady
 * state and is released all at once. Allocations come from the caller's
 * optional first block (`buf`, e.g. space inside the object the decoded data
 * belongs to), then from heap chunks of at least TARS_ARENA_CHUNK bytes
 * that grow by doubling. tars_arena_reset() releases everything allocated
 * and keeps one heap chunk of at most `keep` bytes (TARS_ARENA_KEEP unless
 * the caller changes it after init) for reuse, so a long-lived arena neither
 * allocates per use nor holds on to the memory of one unusually large input.
 *
 * An arena is not thread-safe; use one per thread (or per object). Nothing
 * allocated from it may be passed to free(), realloc() or tars_free(). Call
 * tars_arena_free() before the first block's memory is used for anything
 * else (under AddressSanitizer the arena poisons its unused space). */
#define TARS_ARENA_CHUNK 4096
#define TARS_ARENA_KEEP  65536

typedef struct tars_arena {
    uint8_t *cur, *end;              /* free space of the current block */
    uint8_t *last;                   /* start of the latest allocation (grow in place) */
    uint8_t *buf;                    /* caller's first block (not owned), or NULL */
    size_t buflen;                   /* its size */
    struct tars_arena_chunk *chunks; /* heap chunks in use, newest first */
    struct tars_arena_chunk *spare;  /* one chunk kept by reset, or NULL */
    size_t heap;                     /* bytes of heap chunks held (in use + spare) */
    size_t keep;                     /* reset keeps one chunk up to this size */
} tars_arena;

/* Initialises an empty arena; `buf`/`buflen` (may be NULL/0) is a first
 * block used before any heap chunk. Never allocates. */
void tars_arena_init(tars_arena *a, void *buf, size_t buflen);
/* n bytes aligned for any type (max_align_t); NULL if out of memory.
 * n == 0 returns a valid unique pointer. */
void *tars_arena_alloc(tars_arena *a, size_t n);
/* Resizes the allocation p of old_n bytes to new_n (>= old_n) bytes,
 * preserving its contents: in place when p is the latest allocation and the
 * block has room, else by copying (the old bytes stay in the arena until
 * reset). p == NULL behaves like tars_arena_alloc. NULL if out of memory
 * (p is then unchanged). */
void *tars_arena_grow(tars_arena *a, void *p, size_t old_n, size_t new_n);
/* Releases everything allocated (invalidating every pointer it returned);
 * keeps the first block and at most one heap chunk for reuse. */
void tars_arena_reset(tars_arena *a);
/* Releases all heap memory; the arena may be re-initialised or reused
 * (it is left empty, with its first block). */
void tars_arena_free(tars_arena *a);

/* ---- low-level reader ---- */
typedef struct tars_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    unsigned depth;
    tars_err *err;     /* may be NULL */
    tars_arena *arena; /* NULL: decoded data is owned (malloc); else from here */
} tars_reader;

void tars_reader_init(tars_reader *r, const void *p, size_t len, tars_err *err);
/* Reads a head without consuming it. Returns 0, or TARS_ETRUNC/TARS_EINVAL. */
int tars_peek_head(tars_reader *r, unsigned *tag, unsigned *type, size_t *head_len);
/* Skips one value of wire type `type` whose head was already consumed. */
int tars_skip_value(tars_reader *r, unsigned type);

/* ---- generic struct codec ---- */

/* Sets every field to its declared default (0, "", empty). */
void tars_init(const tars_struct_desc *d, void *obj);
/* Frees everything the struct owns and re-initialises it. */
void tars_free(const tars_struct_desc *d, void *obj);
/* Frees everything the struct owns without re-initialising it: for a struct
 * whose memory is about to be freed or re-initialised anyway. */
void tars_release(const tars_struct_desc *d, void *obj);
/* Deep copy: dst must be uninitialised or freed. Returns TARS_OK/ENOMEM. */
int tars_copy(const tars_struct_desc *d, void *dst, const void *src);

/* Appends the struct's encoding. `top_level` omits StructBegin/End (frames,
 * payloads); `tag` is used only when !top_level. Returns TARS_OK or
 * TARS_ENOMEM / TARS_ERANGE (string over 4 GiB) / TARS_EINVAL (tag > 255);
 * also when the buffer already held such an error. */
int tars_encode(tars_buf *b, const tars_struct_desc *d, const void *obj, bool top_level,
                unsigned tag);

/* Decodes a top-level struct occupying all of [p, p+len). On success `obj`
 * is initialised and owns its contents; on failure it is left initialised
 * and empty, and *err (if given) says what went wrong. */
int tars_decode(const tars_struct_desc *d, void *obj, const void *p, size_t len, tars_err *err);

/* Same as tars_decode, but every string, byte array and list of `obj` is
 * allocated from `arena` (obj itself is the caller's). On success and on
 * failure alike, release by resetting or freeing the arena, never with
 * tars_free/tars_release; on failure obj is initialised and empty (what the
 * failed decode allocated stays in the arena until reset). The input may be
 * released right after the call. Same checks and errors as tars_decode, plus
 * TARS_ENOMEM when the arena cannot grow. */
int tars_decode_arena(const tars_struct_desc *d, void *obj, const void *p, size_t len,
                      tars_arena *arena, tars_err *err);

/* Decodes a top-level struct from the reader's current position, stopping at
 * the end of input (used for nesting and tests). With r->arena set, the
 * arena rules of tars_decode_arena apply. */
int tars_decode_fields(tars_reader *r, const tars_struct_desc *d, void *obj);

/* Decodes the fields of a nested struct whose StructBegin head the reader
 * has already consumed, up to and including its StructEnd. `obj` must be
 * initialised; on failure it may hold partial contents (tars_free it, or,
 * with r->arena set, reset the arena). */
int tars_decode_nested(tars_reader *r, const tars_struct_desc *d, void *obj);

/* Reads a SimpleList value (its head already consumed) without copying:
 * *p points into the reader's input. Returns TARS_OK, TARS_ETRUNC or
 * TARS_EINVAL. */
int tars_read_bytes_ref(tars_reader *r, const uint8_t **p, size_t *len);

/* Small string helpers. An empty string never allocates: it points to a
 * shared static "" (so never write through a tars_str's data). */
int tars_str_set(tars_str *s, const char *cstr);              /* copies */
int tars_str_setn(tars_str *s, const void *p, size_t len);    /* copies */
int tars_bytes_set(tars_bytes *b, const void *p, size_t len); /* copies */
void tars_str_clear(tars_str *s);
bool tars_str_eq(const tars_str *s, const char *cstr);
const char *tars_err_name(int code);

#endif
