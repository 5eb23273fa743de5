/*
 * ws_static.c - which file of web_root a request names, opened without
 * leaving the root, and the head of its answer (ws_static.h).
 */
#include "ws_static.h"
#include "ws_http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"woff2", "font/woff2"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
};

const char *omtp_ws_content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot)
        for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
            if (!strcasecmp(dot + 1, types[k].ext))
                return types[k].type;
    return "application/octet-stream";
}

static void not_found(omtp_ws_file *f)
{
    f->fd = -1;
    f->status = 404;
}

/* Opens root + path when it is a regular file inside root; -1 otherwise. */
static int open_under(const char *root_real, const char *root, const char *path, struct stat *st)
{
    char full[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >= sizeof(full))
        return -1;
    if (!realpath(full, real))
        return -1;
    size_t rl = strlen(root_real);
    if (strncmp(real, root_real, rl) || (real[rl] != '/' && !(rl == 1 && root_real[0] == '/')))
        return -1; /* a symlink (or anything) leading out of the root */
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) || !S_ISREG(st->st_mode)) { /* no directory listing */
        close(fd);
        return -1;
    }
    return fd;
}

void omtp_ws_static_open(const char *root, const char *url, const char *inm, omtp_ws_file *f)
{
    memset(f, 0, sizeof(*f));
    char path[1024], root_real[PATH_MAX];
    if (!root || !root[0] || !realpath(root, root_real) ||
        omtp_ws_req_path(url, path, sizeof(path))) {
        not_found(f);
        return;
    }
    if (!strcmp(path, "/"))
        snprintf(path, sizeof(path), "/index.html");
    struct stat st;
    int fd = open_under(root_real, root, path, &st);
    if (fd < 0) {
        const char *last = strrchr(path, '/');
        if (strchr(last, '.')) { /* a file name: a real 404 */
            not_found(f);
            return;
        }
        snprintf(path, sizeof(path), "/index.html"); /* an app route */
        fd = open_under(root_real, root, path, &st);
        if (fd < 0) {
            not_found(f);
            return;
        }
    }
    char etag[64];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *cache =
        !strncmp(path, "/assets/", 8) ? "public, max-age=31536000, immutable" : "no-cache";
    bool match = inm && inm[0] && (strstr(inm, etag) || !strcmp(inm, "*"));
    f->size = (uint64_t)st.st_size;
    f->status = match ? 304 : 200;
    int n;
    if (match) {
        close(fd);
        f->fd = -1;
        n = snprintf(f->head, sizeof(f->head),
                     "HTTP/1.1 304 Not Modified\r\nETag: %s\r\nCache-Control: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
                     etag, cache);
    } else {
        f->fd = fd;
        n = snprintf(f->head, sizeof(f->head),
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
                     "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\n\r\n",
                     omtp_ws_content_type(path), (unsigned long long)st.st_size, etag, cache);
    }
    f->head_len = (size_t)n;
}
