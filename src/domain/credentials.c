/*
 * credentials.c - scrypt password hashes, HMAC login tokens and the token
 * secret (domain/credentials.h).
 */
#include "domain/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/omtp_errors.h"
#include "store/store.h"

#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define KEY_LEN  32

/* ------------------------------------------------------------ crypto */

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char ch = s[i];
        int v = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static int scrypt_key(const char *pw, const uint8_t *salt, size_t saltlen, int ln, int r, int p,
                      uint8_t *key, size_t keylen)
{
    uint64_t N = 1ull << ln;
    uint64_t maxmem = 128ull * (uint64_t)r * N + (1u << 20) + 128ull * r * p;
    return EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, N, (uint64_t)r, (uint64_t)p, maxmem, key,
                          keylen) == 1
               ? 0
               : OMTP_EINVAL;
}

int omtp_auth_hash_password(const char *password, char *out, size_t outlen)
{
    return omtp_auth_hash_password_cost(password, OMTP_SCRYPT_LN, out, outlen);
}

int omtp_auth_hash_password_cost(const char *password, int ln, char *out, size_t outlen)
{
    if (ln < 4 || ln > 20)
        return OMTP_EINVAL;
    uint8_t salt[SALT_LEN], key[KEY_LEN];
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return OMTP_EIO;
    if (scrypt_key(password, salt, sizeof(salt), ln, SCRYPT_R, SCRYPT_P, key, sizeof(key)))
        return OMTP_ENOMEM;
    char hs[2 * SALT_LEN + 1], hk[2 * KEY_LEN + 1];
    hex(salt, sizeof(salt), hs);
    hex(key, sizeof(key), hk);
    int n = snprintf(out, outlen, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", ln, SCRYPT_R, SCRYPT_P, hs, hk);
    OPENSSL_cleanse(key, sizeof(key));
    return n > 0 && (size_t)n < outlen ? 0 : OMTP_EINVAL;
}

int omtp_auth_verify_password(const char *hash, const char *password)
{
    int ln, r, p, used = 0;
    if (sscanf(hash, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &used) != 3 || !used)
        return OMTP_EINVAL;
    if (ln < 1 || ln > 22 || r < 1 || r > 32 || p < 1 || p > 16)
        return OMTP_EINVAL;
    const char *salt_hex = hash + used;
    const char *dollar = strchr(salt_hex, '$');
    if (!dollar)
        return OMTP_EINVAL;
    uint8_t salt[64], want[KEY_LEN], got[KEY_LEN];
    size_t sl = (size_t)(dollar - salt_hex) / 2;
    if (sl == 0 || sl > sizeof(salt) || unhex(salt_hex, (size_t)(dollar - salt_hex), salt, sl) ||
        unhex(dollar + 1, strlen(dollar + 1), want, KEY_LEN))
        return OMTP_EINVAL;
    if (scrypt_key(password, salt, sl, ln, r, p, got, sizeof(got)))
        return OMTP_EINVAL;
    int ok = CRYPTO_memcmp(got, want, KEY_LEN) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok ? 0 : OMTP_EINVAL;
}

int omtp_auth_is_token(const char *s)
{
    return strncmp(s, "v1.", 3) == 0;
}

static void token_mac(const uint8_t secret[32], const char *msg, size_t len, char out[65])
{
    uint8_t mac[32];
    unsigned ml = sizeof(mac);
    HMAC(EVP_sha256(), secret, 32, (const uint8_t *)msg, len, mac, &ml);
    hex(mac, 32, out);
}

int omtp_auth_token_issue(const uint8_t secret[32], const char *userId, int64_t expiry, char *out,
                          size_t outlen)
{
    if (!omtp_id_valid(userId))
        return OMTP_EINVAL;
    char msg[OMTP_ID_MAX + 64];
    int n = snprintf(msg, sizeof(msg), "v1.%s.%lld", userId, (long long)expiry);
    char mac[65];
    token_mac(secret, msg, (size_t)n, mac);
    int m = snprintf(out, outlen, "%s.%s", msg, mac);
    return m > 0 && (size_t)m < outlen ? 0 : OMTP_EINVAL;
}

int omtp_auth_token_verify(const uint8_t secret[32], const char *token, const char *userId,
                           int64_t now)
{
    if (!omtp_auth_is_token(token))
        return OMTP_EINVAL;
    const char *last = strrchr(token, '.');
    if (!last || last - token < 4 || strlen(last + 1) != 64)
        return OMTP_EINVAL;
    char mac[65];
    token_mac(secret, token, (size_t)(last - token), mac);
    if (CRYPTO_memcmp(mac, last + 1, 64) != 0)
        return OMTP_EINVAL;
    /* authentic: now check the fields. "v1.<userId>.<expiry>": the expiry
     * is digits only, so the user id (which may hold '.') ends at the dot
     * before it, whatever the id */
    const char *uid = token + 3;
    size_t ul = strlen(userId);
    if ((size_t)(last - uid) <= ul + 1 || memcmp(uid, userId, ul) != 0 || uid[ul] != '.')
        return OMTP_EINVAL;
    const char *dot = uid + ul;
    char *end;
    long long exp = strtoll(dot + 1, &end, 10);
    if (end != last)
        return OMTP_EINVAL;
    return exp >= now ? 0 : OMTP_ETIMEDOUT;
}

int omtp_auth_load_secret(const omtp_config *cfg, uint8_t out[32], char *why, size_t whylen)
{
    if (cfg->token_secret_hex[0]) {
        if (unhex(cfg->token_secret_hex, strlen(cfg->token_secret_hex), out, 32)) {
            snprintf(why, whylen,
                     "token_secret_hex must be 64 hex digits (e.g. from `openssl rand -hex 32`)");
            return OMTP_EINVAL;
        }
        return 0;
    }
    omtp_store_config sc = {.data_dir = cfg->data_dir,
                            .uri = cfg->store_uri[0] ? cfg->store_uri : NULL,
                            .synchronous = cfg->sync_level};
    omtp_db *db;
    int rc = omtp_db_open(&sc, &db, why, whylen);
    if (rc)
        return rc;
    tars_str v = {0};
    rc = omtp_db_meta_get(db, "token_secret", &v);
    if (rc == 0 && unhex(v.data, v.len, out, 32) == 0)
        goto done;
    if (rc != 0 && rc != OMTP_ENOTFOUND) {
        snprintf(why, whylen, "cannot read the token secret from the store: %s", db->errmsg);
        goto done;
    }
    /* first run (or unreadable value): make one and keep it */
    char h[65];
    if (RAND_bytes(out, 32) != 1) {
        rc = OMTP_EIO;
        snprintf(why, whylen, "no randomness for the token secret");
        goto done;
    }
    hex(out, 32, h);
    rc = omtp_db_begin(db);
    if (!rc)
        rc = omtp_db_meta_set(db, "token_secret", h);
    if (!rc)
        rc = omtp_db_commit(db);
    else
        omtp_db_rollback(db);
    if (rc)
        snprintf(why, whylen, "cannot save the token secret in the store: %s", db->errmsg);
done:
    tars_str_clear(&v);
    omtp_db_close(db);
    return rc;
}
