/*
 * test_transform.c - zlib and AES-256-GCM payload transforms: round trips,
 * the decompression cap (bombs), garbage and truncated input, wrong keys,
 * tampering, short ciphertexts, both together, unknown flag values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "proto/omtp_errors.h"
#include "proto/omtp_frame.h"
#include "proto/omtp_proto.h"
#include "proto/omtp_transform.h"

static omtp_crypto_key key, key2;
static const int64_t ZLIB = 1LL << OMTP_F_COMPRESS_SHIFT;
static const int64_t AES = 1LL << OMTP_F_CRYPTO_SHIFT;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(omtp_crypto_key_from_hex(
                         &key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                     0);
    assert_int_equal(omtp_crypto_key_from_hex(
                         &key2, "FF0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"),
                     0);
    return 0;
}

static int unwrap(int64_t flags, const tars_buf *in, const omtp_crypto_key *k, size_t cap,
                  uint8_t **out, size_t *out_len, char *why)
{
    bool owned = false;
    int rc = omtp_payload_unwrap(flags, in->data, in->len, k, cap, out, out_len, &owned, why, 200);
    if (rc == 0 && !owned) {
        /* copy so that callers can always free */
        uint8_t *c = malloc(*out_len + 1);
        if (*out_len)
            memcpy(c, *out, *out_len);
        *out = c;
    }
    return rc;
}

static void roundtrip(int64_t flags, size_t n)
{
    uint8_t *src = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i % 7 == 0 ? i : 'a');
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(flags, src, n, &key, &w), OMTP_OK);
    if (omtp_flags_crypto(flags))
        assert_int_equal(w.len >= n + 28 || omtp_flags_compress(flags), true);
    uint8_t *out;
    size_t out_len;
    char why[200];
    assert_int_equal(unwrap(flags, &w, &key, n + 1, &out, &out_len, why), OMTP_OK);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, src, n);
    free(out);
    tars_buf_free(&w);
    free(src);
}

static void test_roundtrips(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 100000};
    int64_t flags[] = {0, ZLIB, AES, ZLIB | AES, ZLIB | AES | OMTP_F_ACK | OMTP_F_DUP};
    for (size_t f = 0; f < 5; f++)
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
            roundtrip(flags[f], lens[l]);
}

static void test_zlib_compresses_and_is_rfc1950(void **state)
{
    (void)state;
    static uint8_t src[10000];
    memset(src, 'x', sizeof(src));
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(ZLIB, src, sizeof(src), NULL, &w), OMTP_OK);
    assert_true(w.len < 200);
    /* a plain zlib stream: zlib's own uncompress reads it */
    uint8_t out[10000];
    uLongf ol = sizeof(out);
    assert_int_equal(uncompress(out, &ol, w.data, w.len), Z_OK);
    assert_int_equal(ol, sizeof(src));
    tars_buf_free(&w);
}

static void test_zlib_bomb(void **state)
{
    (void)state;
    /* 4 MiB of zeros compresses to ~4 KiB; the cap is 1 MiB */
    size_t n = 4 << 20;
    uint8_t *z = calloc(1, n);
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(ZLIB, z, n, NULL, &w), OMTP_OK);
    assert_true(w.len < 10000);
    uint8_t *out;
    size_t ol;
    char why[200];
    assert_int_equal(unwrap(ZLIB, &w, NULL, OMTP_DEFAULT_MAX_FRAME, &out, &ol, why),
                     OMTP_ECOMPRESS);
    assert_non_null(strstr(why, "limit"));
    /* exactly at the cap is fine, one byte over is not */
    tars_buf_reset(&w);
    assert_int_equal(omtp_payload_wrap(ZLIB, z, 1000, NULL, &w), OMTP_OK);
    assert_int_equal(unwrap(ZLIB, &w, NULL, 1000, &out, &ol, why), OMTP_OK);
    assert_int_equal(ol, 1000);
    free(out);
    assert_int_equal(unwrap(ZLIB, &w, NULL, 999, &out, &ol, why), OMTP_ECOMPRESS);
    tars_buf_free(&w);
    free(z);
}

static void test_zlib_garbage_and_truncated(void **state)
{
    (void)state;
    tars_buf g;
    tars_buf_init(&g);
    tars_buf_put(&g, "this is not zlib", 16);
    uint8_t *out;
    size_t ol;
    char why[200];
    assert_int_equal(unwrap(ZLIB, &g, NULL, 1 << 20, &out, &ol, why), OMTP_ECOMPRESS);
    assert_true(why[0] != 0);
    /* empty input */
    tars_buf_reset(&g);
    assert_int_equal(unwrap(ZLIB, &g, NULL, 1 << 20, &out, &ol, why), OMTP_ECOMPRESS);

    static uint8_t src[5000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7919 >> 3);
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(ZLIB, src, sizeof(src), NULL, &w), OMTP_OK);
    /* every truncation fails cleanly */
    for (size_t k = 0; k < w.len; k++) {
        tars_buf t = {.data = w.data, .len = k};
        assert_int_equal(unwrap(ZLIB, &t, NULL, 1 << 20, &out, &ol, why), OMTP_ECOMPRESS);
    }
    /* trailing bytes after the stream */
    tars_buf_put(&w, "xx", 2);
    assert_int_equal(unwrap(ZLIB, &w, NULL, 1 << 20, &out, &ol, why), OMTP_ECOMPRESS);
    assert_non_null(strstr(why, "trailing"));
    /* a flipped byte in the middle */
    w.len -= 2;
    w.data[w.len / 2] ^= 0x55;
    int rc = unwrap(ZLIB, &w, NULL, 1 << 20, &out, &ol, why);
    if (rc == OMTP_OK)
        free(out); /* a flip may still inflate (adler32 catches most) */
    else
        assert_int_equal(rc, OMTP_ECOMPRESS);
    tars_buf_free(&w);
    tars_buf_free(&g);
}

static void test_aes_errors(void **state)
{
    (void)state;
    const char *msg = "hello, encrypted world";
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(AES, (const uint8_t *)msg, strlen(msg), &key, &w), OMTP_OK);
    assert_int_equal(w.len, strlen(msg) + OMTP_AES_NONCE_LEN + OMTP_AES_TAG_LEN);
    uint8_t *out;
    size_t ol;
    char why[200];
    /* wrong key */
    assert_int_equal(unwrap(AES, &w, &key2, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
    assert_non_null(strstr(why, "authentication"));
    /* no key */
    assert_int_equal(unwrap(AES, &w, NULL, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
    assert_non_null(strstr(why, "no key"));
    omtp_crypto_key unset = {0};
    assert_int_equal(unwrap(AES, &w, &unset, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
    /* tampering with any byte: nonce, ciphertext, tag */
    for (size_t i = 0; i < w.len; i++) {
        w.data[i] ^= 1;
        assert_int_equal(unwrap(AES, &w, &key, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
        w.data[i] ^= 1;
    }
    assert_int_equal(unwrap(AES, &w, &key, 1 << 20, &out, &ol, why), OMTP_OK);
    free(out);
    /* too short for nonce + tag */
    for (size_t k = 0; k < OMTP_AES_NONCE_LEN + OMTP_AES_TAG_LEN; k++) {
        tars_buf t = {.data = w.data, .len = k};
        assert_int_equal(unwrap(AES, &t, &key, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
        assert_non_null(strstr(why, "short"));
    }
    /* every truncation */
    for (size_t k = 0; k < w.len; k++) {
        tars_buf t = {.data = w.data, .len = k};
        assert_int_equal(unwrap(AES, &t, &key, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
    }
    /* nonces differ between two encryptions */
    tars_buf w2;
    tars_buf_init(&w2);
    assert_int_equal(omtp_payload_wrap(AES, (const uint8_t *)msg, strlen(msg), &key, &w2), OMTP_OK);
    assert_memory_not_equal(w.data, w2.data, OMTP_AES_NONCE_LEN);
    /* wrapping without a key */
    tars_buf_reset(&w2);
    assert_int_equal(omtp_payload_wrap(AES, (const uint8_t *)msg, 3, NULL, &w2), OMTP_ECRYPTO);
    tars_buf_free(&w2);
    tars_buf_free(&w);
}

static void test_compress_then_encrypt(void **state)
{
    (void)state;
    static uint8_t src[20000];
    memset(src, 'q', sizeof(src));
    tars_buf w;
    tars_buf_init(&w);
    assert_int_equal(omtp_payload_wrap(ZLIB | AES, src, sizeof(src), &key, &w), OMTP_OK);
    assert_true(w.len < 500); /* compressed before encrypting */
    uint8_t *out;
    size_t ol;
    char why[200];
    /* decrypting alone yields the zlib stream */
    assert_int_equal(unwrap(AES, &w, &key, 1 << 20, &out, &ol, why), OMTP_OK);
    uLongf n = sizeof(src);
    uint8_t *plain = malloc(n);
    assert_int_equal(uncompress(plain, &n, out, ol), Z_OK);
    assert_int_equal(n, sizeof(src));
    free(plain);
    free(out);
    /* the bomb cap also applies after decryption */
    assert_int_equal(unwrap(ZLIB | AES, &w, &key, 1000, &out, &ol, why), OMTP_ECOMPRESS);
    /* wrong key on the combination */
    assert_int_equal(unwrap(ZLIB | AES, &w, &key2, 1 << 20, &out, &ol, why), OMTP_ECRYPTO);
    tars_buf_free(&w);
}

static void test_unknown_values(void **state)
{
    (void)state;
    tars_buf w, in;
    tars_buf_init(&w);
    tars_buf_init(&in);
    tars_buf_put(&in, "abc", 3);
    uint8_t *out;
    size_t ol;
    char why[200];
    for (int v = 2; v <= 7; v++) {
        int64_t cf = omtp_flags_with(0, v, 0), ef = omtp_flags_with(0, 0, v);
        assert_int_equal(omtp_flags_compress(cf), v);
        assert_int_equal(omtp_flags_crypto(ef), v);
        assert_int_equal(omtp_payload_wrap(cf, in.data, in.len, &key, &w), OMTP_ECOMPRESS);
        assert_int_equal(omtp_payload_wrap(ef, in.data, in.len, &key, &w), OMTP_ECRYPTO);
        assert_int_equal(unwrap(cf, &in, &key, 100, &out, &ol, why), OMTP_ECOMPRESS);
        assert_non_null(strstr(why, "unknown compression"));
        assert_int_equal(unwrap(ef, &in, &key, 100, &out, &ol, why), OMTP_ECRYPTO);
        assert_non_null(strstr(why, "unknown cipher"));
    }
    /* bits outside compress/crypto do not matter */
    assert_int_equal(
        unwrap(OMTP_F_ACK | OMTP_F_HIGHPRJ | (1LL << 40), &in, NULL, 100, &out, &ol, why), OMTP_OK);
    free(out);
    tars_buf_free(&w);
    tars_buf_free(&in);
}

static void test_key_from_hex(void **state)
{
    (void)state;
    omtp_crypto_key k;
    assert_int_equal(omtp_crypto_key_from_hex(&k, NULL), OMTP_EINVAL);
    assert_int_equal(omtp_crypto_key_from_hex(&k, "00"), OMTP_EINVAL);
    assert_int_equal(omtp_crypto_key_from_hex(
                         &k, "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1"),
                     OMTP_EINVAL);
    assert_int_equal(omtp_crypto_key_from_hex(
                         &k, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00"),
                     OMTP_EINVAL);
    assert_true(key.set);
    assert_int_equal(key.key[31], 0x1f);
    assert_int_equal(key2.key[0], 0xff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_zlib_compresses_and_is_rfc1950),
        cmocka_unit_test(test_zlib_bomb),
        cmocka_unit_test(test_zlib_garbage_and_truncated),
        cmocka_unit_test(test_aes_errors),
        cmocka_unit_test(test_compress_then_encrypt),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_key_from_hex),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
