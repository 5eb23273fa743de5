/*
 * omtp_json.h - Tars structs <-> JSON, by walking the schema descriptors.
 *
 * One generic mapping for every struct of omtp_schema.def (and any other
 * tars_struct_desc), used by the `omtp codec` tool, tests and the HTTP API:
 *
 *   struct            JSON object, keys = field names as in the schema
 *                     (camelCase, e.g. "sessionId")
 *   short/int/long    JSON integer (int64 exactly, no float rounding)
 *   bool              true / false
 *   float/double      JSON real
 *   string            JSON string; bytes that are not valid UTF-8 become
 *                     {"hex":"..."} so nothing is lost
 *   vector<byte>      lowercase hex string
 *   vector<T>         JSON array
 *   map<string,string> JSON object
 *
 * OTIMPack is special-cased wherever it appears (a frame, or an element of
 * HotSessionItem.lastMsgs etc.): its payload is unwrapped (zlib/AES per the
 * header flags, with opts->key), decoded with the struct the packet type
 * table names for (header.type, ACK bit) and shown as an object. When no
 * struct applies, or unwrapping/decoding fails, the payload stays a hex
 * string of the bytes as they are on the wire, and the pack gets a
 * "payloadError" string saying why (only when something failed).
 *
 * The reverse (JSON -> struct) accepts exactly that shape: a payload given
 * as an object is encoded with the table's struct and then wrapped per the
 * header flags; given as a hex string it is used as is (already wrapped).
 * Absent keys keep the field's default; unknown keys, wrong JSON types and
 * integers outside the field's C range are errors naming the field path
 * (e.g. "HotSessionResp.sessions[2].readSeqId: expected an integer").
 *
 * Ownership: returned json_t references belong to the caller (json_decref).
 * omtp_json_to_struct initialises `obj`, which then owns its contents
 * (release with tars_free) also on failure. Threading: reentrant.
 */
#ifndef OMTP_JSON_H
#define OMTP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tars/tars.h"
#include "omtp_transform.h"

typedef struct omtp_json_opts {
    const omtp_crypto_key *key; /* for CRYPTO=1 payloads; may be NULL */
    size_t max_payload;         /* decompression cap; 0 = OMTP_DEFAULT_MAX_FRAME */
    bool raw_payload;           /* never decode OTIMPack payloads: always hex */
} omtp_json_opts;

/* Converts a struct to a new JSON object. `opts` may be NULL. Returns NULL
 * only when memory runs out. */
json_t *omtp_json_from_struct(const tars_struct_desc *d, const void *obj,
                              const omtp_json_opts *opts);

/* Fills `obj` (initialised here) from a JSON object. Returns 0, or
 * OMTP_EINVAL / OMTP_ENOMEM / OMTP_ECOMPRESS / OMTP_ECRYPTO with a message
 * naming the field in `why`. */
int omtp_json_to_struct(const tars_struct_desc *d, const json_t *j, void *obj,
                        const omtp_json_opts *opts, char *why, size_t whylen);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void omtp_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes hex digits (whitespace between digit pairs ignored) into a new
 * malloc'd buffer. Returns 0, OMTP_EINVAL (odd count or non-hex) or
 * OMTP_ENOMEM. */
int omtp_hex_decode(const char *hex, size_t len, uint8_t **out, size_t *out_len);

#endif
