/*
 * auth.h - passwords, login tokens and the token secret.
 *
 * Password hashes (omtp_user_rec.pwHash) are scrypt strings
 *   "$scrypt$ln=14,r=8,p=1$<salt hex>$<key hex>"
 * with a random 16-byte salt and a 32-byte key. N = 2^14, r = 8, p = 1 costs
 * 16 MiB and ~40 ms per check: slow enough that a stolen database is
 * expensive to guess against, cheap enough for interactive logins. The
 * parameters travel in the string, so raising them later keeps old hashes
 * valid. Checks run off the loop thread (libuv's thread pool).
 *
 * Tokens: "v1.<userId>.<expiryUnix>.<hex HMAC-SHA256(secret, "v1.<userId>.<expiryUnix>")>",
 * accepted as a login password until expiry. The 32-byte secret comes from
 * the config (token_secret_hex) or is generated once and kept in the store's
 * meta table under "token_secret".
 *
 * Threading: every function is reentrant.
 */
#ifndef OMTP_AUTH_H
#define OMTP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define OMTP_PWHASH_MAX  160
#define OMTP_TOKEN_MAX   (OMTP_ID_MAX_AUTH + 100)
#define OMTP_ID_MAX_AUTH 128

#define OMTP_SCRYPT_LN 14 /* log2 of scrypt's N for new hashes */

/* Hashes a password into out (>= OMTP_PWHASH_MAX). Returns 0 or OMTP_E*. */
int omtp_auth_hash_password(const char *password, char *out, size_t outlen);
/* Same with scrypt N = 2^ln (4..20); lower than OMTP_SCRYPT_LN only for
 * load-test users (`omtpd user bulk --cost`). */
int omtp_auth_hash_password_cost(const char *password, int ln, char *out, size_t outlen);
/* 0 if password matches hash, OMTP_EINVAL if not (or the hash is malformed). */
int omtp_auth_verify_password(const char *hash, const char *password);
/* Whether s looks like a token ("v1." prefix). */
int omtp_auth_is_token(const char *s);
/* Writes a token for userId valid until expiry (Unix seconds). */
int omtp_auth_token_issue(const uint8_t secret[32], const char *userId, int64_t expiry, char *out,
                          size_t outlen);
/* 0 if token is valid for userId at `now` (Unix seconds); OMTP_EINVAL if
 * malformed or forged, OMTP_ETIMEDOUT if expired. */
int omtp_auth_token_verify(const uint8_t secret[32], const char *token, const char *userId,
                           int64_t now);
/* The token secret: cfg->token_secret_hex, else the store's (generated and
 * saved on first use). Opens the store briefly (not on the loop). */
int omtp_auth_load_secret(const omtp_config *cfg, uint8_t out[32], char *why, size_t whylen);

#endif
