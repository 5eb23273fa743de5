/*
 * files_http.h - the HTTP side of the file endpoints (docs/files.md), the
 * same for both listeners that serve them: the HTTP API (libmicrohttpd,
 * http_files.c) and the public WebSocket listener (http_wsfiles.c through
 * core/ws_api.h). The rules (who reads what, limits) are domain/files.h;
 * this is only how they look on HTTP: the Bearer token, Range, ETag,
 * Content-Disposition, the status of a refusal, the upload's JSON answer.
 *
 * Pure functions (no I/O, no server state but the token secret), any
 * thread; the fuzz target tests/fuzz/fuzz_files_http.c drives the parsers.
 */
#ifndef OMTP_HTTP_FILES_HTTP_H
#define OMTP_HTTP_FILES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/files.h"

/* Authorization: "Bearer <login token>" -> the user it was issued for.
 * 0 (user filled), or -1 with why filled: no header, not Bearer, malformed,
 * forged or expired ("401 Unauthorized"). */
int omtp_files_http_bearer(const uint8_t secret[32], const char *authorization, char *user,
                           size_t userlen, char *why, size_t whylen);

/* A Range header against a file of `size` bytes: 0 = serve it whole (no
 * header, or one this server ignores: several ranges, another unit), 1 =
 * serve [*off, *off + *len) with 206, -1 = not satisfiable (416). */
int omtp_files_http_range(const char *range, uint64_t size, uint64_t *off, uint64_t *len);

/* The ETag of a file's bytes (its sha256, quoted). */
void omtp_files_http_etag(const char *sha256, char *out, size_t outlen);
/* Whether If-None-Match `inm` matches `etag` ("*" or one of a list). */
bool omtp_files_http_inm_match(const char *inm, const char *etag);

/* Content-Disposition for the original name (RFC 6266: an ASCII fallback
 * (non-ASCII, quotes, backslashes and '%' as '_')
 * filename= plus filename*=UTF-8''percent-encoded); inline for images,
 * audio and video (not SVG), attachment for everything else. */
void omtp_files_http_disposition(const char *name, const char *mime, char *out, size_t outlen);

/* The HTTP status of a domain refusal (omtp_dom_outcome.reason). */
int omtp_files_http_status(const char *reason);

/* The upload's answer: {"fileId","size","mime","sha256","name"[,"width",
 * "height","thumbId"]} (thumbId: the thumbnail's sha256, present when
 * GET /v1/files/{id}/thumb has one; as on the HTTP API listener).
 * Returns a malloc'd string (NULL on no memory). */
char *omtp_files_http_json(const omtp_dom_file *f);

/* The value of `key` in a query string (after '?'), percent-decoded ('+'
 * is a space); false when absent or malformed (a bad escape, longer than
 * out), *len then SIZE_MAX when present but malformed. *len gets the
 * decoded length (a %00 stays in it: the name check refuses it). */
bool omtp_files_http_query(const char *query, const char *key, char *out, size_t outlen,
                           size_t *len);

/* The headers every file answer carries (nosniff, a sandboxing CSP: an
 * uploaded HTML or SVG file never runs on this origin), and its caching:
 * the names and values once, for both listeners (the HTTP API adds them
 * one by one to libmicrohttpd's response, the WebSocket listener writes
 * OMTP_FILES_HTTP_SAFE_HEADERS into its head). */
#define OMTP_FILES_HTTP_NOSNIFF  "nosniff"
#define OMTP_FILES_HTTP_CSP      "default-src 'none'; sandbox"
#define OMTP_FILES_HTTP_REFERRER "no-referrer"
#define OMTP_FILES_HTTP_CACHE    "private, max-age=86400"
#define OMTP_FILES_HTTP_SAFE_HEADERS                                                               \
    "X-Content-Type-Options: " OMTP_FILES_HTTP_NOSNIFF "\r\n"                                      \
    "Content-Security-Policy: " OMTP_FILES_HTTP_CSP "\r\n"                                         \
    "Referrer-Policy: " OMTP_FILES_HTTP_REFERRER "\r\n"

/* A thumbnail's type from its first bytes (files_ingest.c writes JPEG, or
 * PNG when the image had alpha). */
const char *omtp_files_http_thumb_mime(const unsigned char *head, size_t n);

#endif
