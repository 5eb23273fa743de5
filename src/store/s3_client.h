/*
 * s3_client.h - one S3 request at a time over libcurl, for the S3 file store
 * (filestore_s3.c; docs/files.md "S3").
 *
 * Signing is libcurl's own AWS Signature Version 4 (CURLOPT_AWS_SIGV4
 * "aws:amz:REGION:s3"); this file writes no signing code. Every request
 * carries x-amz-content-sha256: the body's real SHA-256 when the caller
 * knows it, else UNSIGNED-PAYLOAD (streamed bodies: the signature then covers
 * the headers, not the bytes; TLS protects the bytes in transit). Queries
 * are handed in already in canonical order (sorted, encoded), which is what
 * SigV4 signs: the libcurl of Debian 12 (7.88) signs the query as given.
 *
 * Connections: a small pool of curl handles (at most S3_POOL idle ones);
 * a request takes one, a finished request puts it back, so calls from
 * several threads each get their own handle and keep-alive connections are
 * reused. Everything here is safe to call from any thread but the event
 * loop (it blocks on the network).
 *
 * Secrets: the access and secret keys are handed to libcurl only; nothing
 * here logs them (the `why` texts name the setting to check, never its
 * value).
 */
#ifndef OMTP_STORE_S3_CLIENT_H
#define OMTP_STORE_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define S3_POOL            8  /* idle curl handles kept */
#define S3_CONNECT_TIMEOUT 10 /* seconds to connect (TCP + TLS) */
#define S3_LOW_SPEED_TIME  30 /* a transfer under S3_LOW_SPEED_BYTES/s this long fails */
#define S3_LOW_SPEED_BYTES 1024
#define S3_SLOW_TIMEOUT    900 /* seconds a slow_ok request may take at most */
#define S3_ATTEMPTS        3   /* tries of a request that failed with 500/503 or no connection */

typedef struct s3_client s3_client;

typedef struct s3_client_config {
    const char
        *endpoint;      /* "http://127.0.0.1:9000"; NULL or "" = https://s3.REGION.amazonaws.com */
    const char *region; /* NULL or "" = us-east-1 */
    const char *bucket;
    const char *access_key;
    const char *secret_key;
    int path_style; /* 1 = ENDPOINT/BUCKET/KEY, 0 = BUCKET.HOST/KEY, -1 = path style when an
                       endpoint is given, else virtual-hosted (AWS) */
} s3_client_config;

/* Receives a 2xx reply's body in order; non-zero stops the transfer and
 * s3_do returns that value. */
typedef int (*s3_sink)(void *arg, const void *data, size_t n);
/* A sink's "keep these bytes for later" (s3_stream's flow control). */
#define S3_SINK_PAUSE 0x5053 /* "PS" */

typedef struct s3_req {
    const char *method;      /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *key;         /* object key ("sha256/ab/cd..."); "" = the bucket itself */
    const char *query;       /* canonical query ("uploads=", "partNumber=1&uploadId=..") or NULL */
    const char *payload_sha; /* hex SHA-256 of the body, or NULL = UNSIGNED-PAYLOAD */
    const void *body;        /* PUT/POST body in memory ... */
    size_t body_len;
    int body_fd; /* ... or body_len bytes of this file from body_off (-1 = none) */
    uint64_t body_off;
    const char *copy_src; /* x-amz-copy-source key (same bucket), or NULL */
    uint64_t range_off;   /* GET: Range bytes=range_off-(range_off+range_len-1) ... */
    uint64_t range_len;   /* ... when range_len > 0 (UINT64_MAX: to the end) */
    int slow_ok;          /* a request the service may answer slowly (CopyObject,
                             CompleteMultipartUpload: S3 keeps the reply alive with
                             spaces for minutes): no low-speed limit, S3_SLOW_TIMEOUT */
    s3_sink sink;         /* GET: where a 2xx body goes (else it is kept in resp->body) */
    void *sink_arg;
} s3_req;

typedef struct s3_resp {
    long status;     /* HTTP status, 0 when no reply came */
    uint64_t length; /* Content-Length of the reply (HEAD: the object's size) */
    char etag[128];  /* ETag header, quotes kept */
    char *body;      /* the reply body when not sunk (at most 1 MiB kept), NUL-ended */
    size_t body_len;
    char code[64];     /* S3 error code ("NoSuchKey") of a non-2xx reply, if any */
    char message[256]; /* and its message */
} s3_resp;

/* Checks the settings and makes the client; on error writes what to fix. */
int s3_client_new(const s3_client_config *cfg, s3_client **out, char *why, size_t whylen);
void s3_client_free(s3_client *c);
const char *s3_client_bucket(const s3_client *c);
/* The URL every key is appended to ("http://127.0.0.1:9000/BUCKET",
 * "https://BUCKET.s3.eu-west-1.amazonaws.com"): for logs and tests. */
const char *s3_client_base(const s3_client *c);

/* Runs one request (retrying S3_ATTEMPTS times on 500/502/503/504 and failed
 * connections while nothing reached a sink). Returns 0 on a 2xx reply (also a
 * 200 that carries an <Error>, which CopyObject and CompleteMultipartUpload
 * may send, counts as an error); else a negative OMTP_E*: OMTP_ENOTFOUND
 * (404 NoSuchKey / HEAD 404), OMTP_ENOSPC (507 / storage full codes),
 * OMTP_ETIMEDOUT, OMTP_EIO, or the sink's own value. `why` gets a sentence
 * such as "S3 PUT tmp/..: 403 SignatureDoesNotMatch (The request signature
 * ...) -- check s3_secret_key". resp is filled either way; free it with
 * s3_resp_free. */
int s3_do(s3_client *c, const s3_req *rq, s3_resp *resp, char *why, size_t whylen);
void s3_resp_free(s3_resp *resp);

/* ---- streamed GET, pulled by the reader (an HTTP response callback):
 * one request for the whole range, at most 256 KiB buffered; the network
 * is read only as fast as the reader reads (the transfer pauses). One
 * stream belongs to one thread at a time. */
typedef struct s3_stream s3_stream;
/* Sends GET key with Range [off, off+len) (len UINT64_MAX = to the end) and
 * waits for the reply's status: an error (404, 403, ...) is returned here,
 * as s3_do returns it. */
int s3_stream_open(s3_client *c, const char *key, uint64_t off, uint64_t len, s3_stream **out,
                   char *why, size_t whylen);
/* Up to max bytes: > 0 bytes read, 0 at the end, < 0 OMTP_E* (why says
 * what happened). Blocks until some bytes came or the transfer ended. */
ssize_t s3_stream_read(s3_stream *st, void *buf, size_t max, char *why, size_t whylen);
void s3_stream_close(s3_stream *st);

#endif
