/*
 * omtp_files.h - files over HTTP for OMTP clients (issue #16, docs/files.md):
 * upload a file's bytes to omtpd (POST /v1/files?name=&mime=), download
 * them (GET /v1/files/{fileId}, resumable with Range), and the content JSON
 * of a media message that references an uploaded file (DESIGN "Media
 * messages": contentType 2 voice, 3 image, 6 video, 7 file).
 *
 * Authentication: "Authorization: Bearer <token>" with a user's login token
 * (`omtpd token issue`, POST /v1/users/{id}/token, or the fresh token a
 * password login hands back in LoginResp.extraData: omtp_file_login_token)
 * or, for a business backend, an API key.
 *
 * Memory: bytes are streamed in libcurl-sized pieces (<= 64 KiB) between
 * the file descriptor and the socket; nothing holds a whole file.
 *
 * Threading: every call BLOCKS the calling thread until the transfer ends
 * (or the connect / idle timeout passes): call them from a tool's main
 * thread or a worker thread, NEVER from an event loop's thread (libuv
 * client callbacks included). Distinct calls may run on distinct threads at
 * once; they share nothing but libcurl's global init (done once, thread
 * safe). Ownership: the caller owns every buffer it passes; results are
 * written into caller-provided structs.
 *
 * Errors: 0, or a negative OMTP_E* (proto/omtp_errors.h): OMTP_EIO (could
 * not connect, transfer broken, local write failed: errno kept in
 * res->sys_errno), OMTP_ETIMEDOUT, OMTP_EINVAL (bad argument), OMTP_ENOMEM,
 * OMTP_EDECODE (the server's answer is not the JSON expected), OMTP_ECLOSED
 * (the progress callback asked to stop). An HTTP refusal (4xx/5xx) is
 * OMTP_EIO too with res->status, res->code ("too_large", "unknown_file",
 * "unauthorized", ...) and res->message (the server's words) filled.
 */
#ifndef OMTP_CLIENT_FILES_H
#define OMTP_CLIENT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OMTP_FILE_ID_MAX 64 /* bytes of a fileId we accept from a server */

/* Called as bytes move: `done` of `total` (0 = not known yet). A non-zero
 * return stops the transfer (OMTP_ECLOSED). Runs on the calling thread. */
typedef int (*omtp_file_progress_fn)(void *arg, uint64_t done, uint64_t total);

typedef struct omtp_file_opts {
    const char *base_url;           /* "http://127.0.0.1:9080" (the HTTP API or ws_listen) */
    const char *token;              /* Bearer token (login token or API key); NULL = none */
    const char *ca_file;            /* https: a CA bundle (NULL = the system's) */
    bool insecure;                  /* https without certificate checks (tests only) */
    int connect_timeout_ms;         /* 0 = 10,000 */
    int idle_timeout_s;             /* no byte for this long = OMTP_ETIMEDOUT; 0 = 30 */
    omtp_file_progress_fn progress; /* NULL = none */
    void *progress_arg;
} omtp_file_opts;

/* What the server says about an uploaded file. */
typedef struct omtp_file_info {
    char fileId[OMTP_FILE_ID_MAX + 1];
    char sha256[65];
    uint64_t size;
    char mime[128];
    char name[256];
    int32_t width, height;              /* images (and video) when the server knows; else 0 */
    int64_t durationMs;                 /* voice/video when known; else 0 */
    char thumbId[OMTP_FILE_ID_MAX + 1]; /* "" = none */
} omtp_file_info;

/* How a transfer ended on the HTTP side. */
typedef struct omtp_file_result {
    long status;       /* HTTP status, 0 when no answer came */
    char code[64];     /* the server's error code, "" */
    char message[512]; /* the server's words, or what failed locally */
    int sys_errno;     /* a local I/O error's errno, else 0 */
} omtp_file_result;

/* Uploads the bytes readable from fd (a regular file: its size is sent as
 * Content-Length from the current offset; a pipe: chunked) as `name`
 * (shown to the peer; required) with `mime_hint` (NULL: the server sniffs
 * anyway and the served type is always the sniffed one). *out gets the
 * server's JSON fields. */
int omtp_file_upload_fd(const omtp_file_opts *o, int fd, const char *name, const char *mime_hint,
                        omtp_file_info *out, omtp_file_result *res);
/* The same for a path; name NULL = the path's last component. */
int omtp_file_upload_path(const omtp_file_opts *o, const char *path, const char *name,
                          const char *mime_hint, omtp_file_info *out, omtp_file_result *res);

/* Downloads fileId into fd, writing at fd's current position. offset > 0
 * asks for the bytes from there on (Range) -- the caller has the first
 * `offset` bytes already; a server that answers the whole file instead
 * (200) makes the call start over at 0 (fd must then be seekable: it is
 * truncated). *total (may be NULL) gets the file's full size, *mime (may be
 * NULL, mimelen bytes) its served type. Asking from offset == size is 0
 * with nothing written (the server's 416 for a complete file). */
int omtp_file_download_fd(const omtp_file_opts *o, const char *fileId, int fd, uint64_t offset,
                          uint64_t *total, char *mime, size_t mimelen, omtp_file_result *res);
/* Downloads into path (created 0644). resume: a partial file already there
 * is continued from its size (Range) instead of being replaced. On failure
 * the bytes received so far stay in path, so the same call with resume
 * continues. */
int omtp_file_download_path(const omtp_file_opts *o, const char *fileId, const char *path,
                            bool resume, uint64_t *total, omtp_file_result *res);

/* ---- media messages (no I/O) */

/* The contentType of a media message for a served mime type: image/... 3,
 * audio/... 2 (voice), video/... 6, anything else 7 (file). */
int omtp_file_content_type(const char *mime);
/* The content JSON of a media message for f (DESIGN "Media messages":
 * fileId, name, size, mime, sha256; width/height when known; durationMs
 * when known; thumbId when there is one), malloc'd into *out (the caller
 * frees it). 0 or OMTP_ENOMEM. */
int omtp_file_content_json(const omtp_file_info *f, char **out);
/* Parses a media message's content into *out: 0, or OMTP_EDECODE when it is
 * not a JSON object with a fileId. */
int omtp_file_content_parse(const char *content, size_t len, omtp_file_info *out);
/* One line for a media message, for terminals: "[image 640×480 cat.jpg
 * 120 KB]", "[voice 0:12 memo.ogg 40 KB]", "[file report.pdf 1.2 MB]",
 * "[location Café, 48.85,2.35]". Returns false (buf "") when contentType is
 * not a media type or the content does not parse. Control characters of
 * the name are shown as '?'. */
bool omtp_file_summary(int contentType, const char *content, size_t len, char *buf, size_t n);
/* "120 KB", "1.2 MB", "999 B" (powers of 1024) into buf. */
void omtp_file_size_text(uint64_t size, char *buf, size_t n);

/* The file token a password login handed back in LoginResp.extraData
 * (omtp_sync_login_desc, omtp_client's login reply), copied into buf:
 * true when extraData carries one ({"fileToken":"..."} or a bare
 * "v1.<user>.<expiry>.<mac>" token). */
bool omtp_file_login_token(const char *extraData, char *buf, size_t n);

#endif
