/*
 * omtp_transform.c - zlib and AES-256-GCM payload transforms (OpenSSL, zlib).
 */
#include "omtp_transform.h"
#include "omtp_errors.h"
#include "omtp_proto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int omtp_crypto_key_from_hex(omtp_crypto_key *k, const char *hex)
{
    if (!hex || strlen(hex) != OMTP_AES_KEY_LEN * 2)
        return OMTP_EINVAL;
    for (int i = 0; i < OMTP_AES_KEY_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return OMTP_EINVAL;
        k->key[i] = (uint8_t)(hi << 4 | lo);
    }
    k->set = true;
    return OMTP_OK;
}

static int zlib_compress(const uint8_t *in, size_t len, tars_buf *out)
{
    uLong bound = compressBound((uLong)len);
    if (!tars_buf_reserve(out, bound))
        return OMTP_ENOMEM;
    uLongf n = bound;
    if (compress2(out->data + out->len, &n, in, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK)
        return OMTP_ECOMPRESS;
    out->len += n;
    return OMTP_OK;
}

static int aes_encrypt(const uint8_t *in, size_t len, const omtp_crypto_key *key, tars_buf *out)
{
    if (!key || !key->set)
        return OMTP_ECRYPTO;
    if (len > INT32_MAX - 64 || !tars_buf_reserve(out, len + OMTP_AES_NONCE_LEN + OMTP_AES_TAG_LEN))
        return OMTP_ENOMEM;
    uint8_t *nonce = out->data + out->len;
    uint8_t *ct = nonce + OMTP_AES_NONCE_LEN;
    if (RAND_bytes(nonce, OMTP_AES_NONCE_LEN) != 1)
        return OMTP_ECRYPTO;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = OMTP_ECRYPTO;
    if (c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->key, nonce) == 1 &&
        EVP_EncryptUpdate(c, ct, &n, in, (int)len) == 1 &&
        EVP_EncryptFinal_ex(c, ct + n, &fin) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OMTP_AES_TAG_LEN, ct + n + fin) == 1) {
        out->len += OMTP_AES_NONCE_LEN + (size_t)n + (size_t)fin + OMTP_AES_TAG_LEN;
        rc = OMTP_OK;
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int omtp_payload_wrap(int64_t flags, const uint8_t *in, size_t len, const omtp_crypto_key *key,
                      tars_buf *out)
{
    int comp = omtp_flags_compress(flags), cry = omtp_flags_crypto(flags);
    if (comp > OMTP_COMPRESS_ZLIB)
        return OMTP_ECOMPRESS;
    if (cry > OMTP_CRYPTO_AES)
        return OMTP_ECRYPTO;
    if (!comp && !cry) {
        tars_buf_put(out, in, len);
        return tars_buf_ok(out) ? OMTP_OK : OMTP_ENOMEM;
    }
    if (comp && !cry)
        return zlib_compress(in, len, out);
    if (!comp)
        return aes_encrypt(in, len, key, out);
    tars_buf tmp;
    tars_buf_init(&tmp);
    int rc = zlib_compress(in, len, &tmp);
    if (rc == OMTP_OK)
        rc = aes_encrypt(tmp.data, tmp.len, key, out);
    tars_buf_free(&tmp);
    return rc;
}

static int aes_decrypt(const uint8_t *in, size_t len, const omtp_crypto_key *key, uint8_t **out,
                       size_t *out_len, char *why, size_t whylen)
{
    if (!key || !key->set) {
        snprintf(why, whylen, "payload is AES-encrypted but no key is configured");
        return OMTP_ECRYPTO;
    }
    if (len < OMTP_AES_NONCE_LEN + OMTP_AES_TAG_LEN || len > INT32_MAX) {
        snprintf(why, whylen, "encrypted payload of %zu bytes is too short for nonce and tag", len);
        return OMTP_ECRYPTO;
    }
    size_t ctlen = len - OMTP_AES_NONCE_LEN - OMTP_AES_TAG_LEN;
    uint8_t *pt = malloc(ctlen + 1);
    if (!pt)
        return OMTP_ENOMEM;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = OMTP_ECRYPTO;
    uint8_t tag[OMTP_AES_TAG_LEN];
    memcpy(tag, in + len - OMTP_AES_TAG_LEN, OMTP_AES_TAG_LEN);
    if (c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->key, in) == 1 &&
        EVP_DecryptUpdate(c, pt, &n, in + OMTP_AES_NONCE_LEN, (int)ctlen) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OMTP_AES_TAG_LEN, tag) == 1 &&
        EVP_DecryptFinal_ex(c, pt + n, &fin) == 1) {
        rc = OMTP_OK;
        pt[n + fin] = 0;
        *out = pt;
        *out_len = (size_t)n + (size_t)fin;
    } else {
        snprintf(why, whylen, "AES-GCM authentication failed (wrong key or tampered payload)");
        free(pt);
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static int zlib_inflate_capped(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                               size_t *out_len, char *why, size_t whylen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        return OMTP_ENOMEM;
    size_t cap = len * 4 + 64;
    if (cap > max_out + 1)
        cap = max_out + 1;
    uint8_t *buf = malloc(cap + 1);
    int rc = OMTP_ECOMPRESS;
    if (!buf) {
        inflateEnd(&zs);
        return OMTP_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    size_t have = 0;
    for (;;) {
        zs.next_out = buf + have;
        zs.avail_out = (uInt)(cap - have);
        int z = inflate(&zs, Z_NO_FLUSH);
        have = cap - zs.avail_out;
        if (have > max_out) {
            snprintf(why, whylen, "decompressed payload exceeds the %zu-byte limit", max_out);
            break;
        }
        if (z == Z_STREAM_END) {
            if (zs.avail_in != 0) {
                snprintf(why, whylen, "trailing bytes after the zlib stream");
                break;
            }
            rc = OMTP_OK;
            break;
        }
        if (z == Z_BUF_ERROR && zs.avail_in == 0) {
            snprintf(why, whylen, "zlib stream is truncated");
            break;
        }
        if (z != Z_OK && z != Z_BUF_ERROR) {
            snprintf(why, whylen, "bad zlib stream (%s)", zs.msg ? zs.msg : "corrupt");
            break;
        }
        if (zs.avail_out == 0) {
            size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
            if (ncap <= cap) {
                snprintf(why, whylen, "decompressed payload exceeds the %zu-byte limit", max_out);
                break;
            }
            uint8_t *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = OMTP_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
    }
    inflateEnd(&zs);
    if (rc != OMTP_OK) {
        free(buf);
        return rc;
    }
    buf[have] = 0;
    *out = buf;
    *out_len = have;
    return OMTP_OK;
}

int omtp_payload_unwrap(int64_t flags, const uint8_t *in, size_t len, const omtp_crypto_key *key,
                        size_t max_out, uint8_t **out, size_t *out_len, bool *owned, char *why,
                        size_t whylen)
{
    int comp = omtp_flags_compress(flags), cry = omtp_flags_crypto(flags);
    if (comp > OMTP_COMPRESS_ZLIB) {
        snprintf(why, whylen, "unknown compression %d in header flags (only 1 = zlib)", comp);
        return OMTP_ECOMPRESS;
    }
    if (cry > OMTP_CRYPTO_AES) {
        snprintf(why, whylen, "unknown cipher %d in header flags (only 1 = AES)", cry);
        return OMTP_ECRYPTO;
    }
    *owned = false;
    *out = (uint8_t *)in;
    *out_len = len;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (cry) {
        int rc = aes_decrypt(in, len, key, &plain, &plain_len, why, whylen);
        if (rc)
            return rc;
        *out = plain;
        *out_len = plain_len;
        *owned = true;
    }
    if (comp) {
        uint8_t *z;
        size_t zl;
        int rc = zlib_inflate_capped(*out, *out_len, max_out, &z, &zl, why, whylen);
        free(plain);
        if (rc) {
            *owned = false;
            return rc;
        }
        *out = z;
        *out_len = zl;
        *owned = true;
    }
    return OMTP_OK;
}
