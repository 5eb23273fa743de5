/*
 * omtp_transform.h - payload compression (zlib) and encryption (AES-256-GCM).
 *
 * The header's COMPRESS bits (6-8) and CRYPTO bits (9-11) say what was done
 * to the payload bytes. Sending: compress first, then encrypt. Receiving:
 * decrypt, then decompress. Encrypted payload = 12-byte random nonce ||
 * ciphertext || 16-byte GCM tag; the key is the deployment's 32-byte key.
 *
 * Decompression is capped (`max_out`, normally max_frame): a zlib bomb is
 * refused with OMTP_ECOMPRESS after at most max_out bytes were produced.
 *
 * Threading: reentrant; the key struct is read-only after setup.
 */
#ifndef OMTP_TRANSFORM_H
#define OMTP_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tars/tars.h"

#define OMTP_AES_KEY_LEN   32
#define OMTP_AES_NONCE_LEN 12
#define OMTP_AES_TAG_LEN   16

typedef struct omtp_crypto_key {
    bool set;
    uint8_t key[OMTP_AES_KEY_LEN];
} omtp_crypto_key;

/* Parses 64 hex digits into a key. Returns 0 or OMTP_EINVAL. */
int omtp_crypto_key_from_hex(omtp_crypto_key *k, const char *hex);

/*
 * Applies the transforms named in `flags` to `in` and appends the result to
 * `out`. With no transform bits the bytes are copied. Returns 0,
 * OMTP_ECOMPRESS (unknown compression value), OMTP_ECRYPTO (unknown cipher or
 * no key) or OMTP_ENOMEM.
 */
int omtp_payload_wrap(int64_t flags, const uint8_t *in, size_t len, const omtp_crypto_key *key,
                      tars_buf *out);

/*
 * Undoes the transforms named in `flags`. On success *out is a new malloc'd
 * buffer of *out_len bytes (plus a NUL) the caller frees, or points to `in`
 * itself when no transform applies (*owned = false). `why` gets a one-line
 * reason on failure. Returns 0, OMTP_ECOMPRESS, OMTP_ECRYPTO or OMTP_ENOMEM.
 */
int omtp_payload_unwrap(int64_t flags, const uint8_t *in, size_t len, const omtp_crypto_key *key,
                        size_t max_out, uint8_t **out, size_t *out_len, bool *owned, char *why,
                        size_t whylen);

#endif
