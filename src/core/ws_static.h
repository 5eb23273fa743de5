/*
 * ws_static.h - the web app's files served by the WebSocket listener at `/`
 * (docs/websocket.md, "Static files"): which file a request path names under
 * web_root, opened safely, and the answer head for it.
 *
 * Rules: "/" is index.html; a path whose last segment has no extension and
 * names no file is the app's index.html (single-page-app fallback); no
 * directory listing (a directory is 404); nothing outside the root: the path
 * is checked segment by segment (ws_http.h, omtp_ws_req_path), then the
 * file's realpath must lie under the root's realpath and it is opened with
 * O_NOFOLLOW (a symlink leading out is 404).
 *
 * Ownership: an open file descriptor is handed to the caller (closed by
 * it). No state of its own; threading: the loop thread calls it (the open
 * and fstat are the only blocking calls, the body is read in bounded
 * chunks by transport_ws.c).
 */
#ifndef OMTP_WS_STATIC_H
#define OMTP_WS_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct omtp_ws_file {
    int fd;          /* open for reading, -1 when status != 200 */
    int status;      /* 200, 304, 404 */
    uint64_t size;   /* bytes of the file */
    char head[1024]; /* the answer head (status line .. blank line) */
    size_t head_len;
} omtp_ws_file;

/* Resolves `url` (the request target) under `root` and fills f, with
 * If-None-Match `inm` ("" = none). */
void omtp_ws_static_open(const char *root, const char *url, const char *inm, omtp_ws_file *f);
/* "text/html; charset=utf-8" etc. by the file name's extension. */
const char *omtp_ws_content_type(const char *name);

#endif
