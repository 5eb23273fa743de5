/*
 * h_s3.h - a local S3-compatible server for tests: tests/s3/s3server.js
 * (s3rver, pinned in tests/s3/package-lock.json, plus the SigV4 check and
 * AbortMultipartUpload it lacks), installed by tests/s3/prepare.sh (npm ci)
 * and started on 127.0.0.1, a free port, a fresh mktemp directory.
 *
 *   h_s3 *s3 = h_s3_start("omtp", "AKTEST", "SKTEST");
 *   ... file_store = s3://omtp, s3_endpoint = s3->endpoint ...
 *   assert_int_equal(h_s3_count(s3, "PUT", "partNumber=", 200), 3);
 *   h_s3_stop(s3);
 *
 * The server logs each request as "METHOD /bucket/key?query STATUS"
 * (s3->log_path), which the counting helpers read. Test thread only;
 * harness errors fail the test (cmocka).
 */
#ifndef OMTP_H_S3_H
#define OMTP_H_S3_H

#include <stddef.h>
#include <sys/types.h>

typedef struct h_s3 {
    char dir[256];        /* mktemp dir */
    char data_dir[300];   /* dir/data: the buckets (s3rver's files) */
    char log_path[300];   /* dir/requests.log */
    char out_path[300];   /* dir/s3server.out: its stdout and stderr */
    char port_path[300];  /* dir/port */
    char fault_path[300]; /* dir/fault: see h_s3_fault */
    char bucket[64];
    char access_key[64];
    char secret_key[64];
    char endpoint[64]; /* "http://127.0.0.1:PORT" */
    int port;
    pid_t pid;
} h_s3;

/* Installs (once) and starts the server with one bucket and one key pair;
 * returns once it listens (at most 30 s). */
h_s3 *h_s3_start(const char *bucket, const char *access_key, const char *secret_key);
/* Requests logged so far with this method whose "path?query" contains
 * `part` ("" = any) and, if status > 0, that status. */
int h_s3_count(h_s3 *s, const char *method, const char *part, int status);
/* Multipart uploads begun and neither completed nor aborted. */
int h_s3_uploads_pending(h_s3 *s);
/* Keys in the bucket under prefix (a signed ListObjectsV2 over libcurl);
 * -1 on error. */
int h_s3_list(h_s3 *s, const char *prefix);
/* From now on the server answers 500 InternalError to every UploadPart
 * ("part") or CompleteMultipartUpload ("complete"), or 200 with an ETag of
 * 126 '"' to every UploadPart ("etag"); "" = no fault. */
void h_s3_fault(h_s3 *s, const char *what);
/* SIGTERM, wait, remove the directory; prints the server's output if
 * `dump`. Frees s. */
void h_s3_stop(h_s3 *s, int dump);

#endif
