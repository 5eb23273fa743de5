/*
 * files_ingest.c - the upload pipeline (domain/files_ingest.h): bytes into
 * the file store with the SHA-256 (filestore.c) and the first bytes kept for
 * libmagic; at the end the type, and for images the size from the header
 * and a thumbnail (libvips).
 *
 * Memory: the head (OMTP_INGEST_HEAD bytes) per upload; the bytes go
 * straight to the file store. libvips reads the committed object through a
 * file descriptor (the local store's, or a spooled copy for other backends)
 * and its operation cache is off, so nothing of a file stays in memory
 * after its upload.
 *
 * Threading: blocking; any thread but the loop. libmagic's handle is not
 * thread-safe: one shared handle under a mutex (a sniff is microseconds).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <magic.h>
#include <vips/vips.h>

#include "core/config.h"
#include "domain/files_ingest.h"
#include "domain/files_pins.h"
#include "proto/omtp_errors.h"
#include "util/log.h"

#define OMTP_INGEST_HEAD (64 * 1024)  /* bytes libmagic looks at */
#define OMTP_PROBE_HEAD  (256 * 1024) /* bytes of a non-local image read for its header */

struct omtp_ingest {
    omtp_filestore *fs;
    omtp_fs_put *put;
    omtp_ingest_limits lim;
    unsigned char head[OMTP_INGEST_HEAD];
    size_t headlen;
    uint64_t size;
};

static pthread_mutex_t magic_mu = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_h;
static bool vips_ok;

int omtp_ingest_global_init(const char *argv0)
{
    if (!vips_ok) {
        if (VIPS_INIT(argv0 ? argv0 : "omtpd") != 0) {
            LOG_ERROR("files: libvips failed to start: %s (images get no thumbnails)",
                      vips_error_buffer());
            vips_error_clear();
            return OMTP_EIO;
        }
        vips_cache_set_max(0); /* no operation cache: nothing of a file outlives its upload */
        vips_concurrency_set(1);
        vips_ok = true;
    }
    return 0;
}

void omtp_ingest_sniff(const void *head, size_t n, char *mime, size_t mimelen)
{
    const char *t = NULL;
    pthread_mutex_lock(&magic_mu);
    if (!magic_h) {
        magic_h = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
        if (magic_h && magic_load(magic_h, NULL) != 0) {
            LOG_ERROR("files: libmagic cannot load its database: %s (every file is "
                      "application/octet-stream)",
                      magic_error(magic_h));
            magic_close(magic_h);
            magic_h = NULL;
        }
    }
    if (magic_h)
        t = n ? magic_buffer(magic_h, head, n) : "application/x-empty";
    snprintf(mime, mimelen, "%s", t && *t ? t : "application/octet-stream");
    pthread_mutex_unlock(&magic_mu);
}

int omtp_ingest_begin(omtp_filestore *fs, const omtp_ingest_limits *lim, uint64_t size_hint,
                      omtp_ingest **out)
{
    *out = NULL;
    if (lim && lim->max_size && size_hint > lim->max_size)
        return OMTP_ETOOBIG;
    omtp_ingest *in = calloc(1, sizeof(*in));
    if (!in)
        return OMTP_ENOMEM;
    in->fs = fs;
    if (lim)
        in->lim = *lim;
    int rc = omtp_fs_put_begin(fs, size_hint, &in->put);
    if (rc != 0) {
        free(in);
        return rc;
    }
    *out = in;
    return 0;
}

int omtp_ingest_write(omtp_ingest *in, const void *data, size_t n)
{
    if (in->lim.max_size && in->size + n > in->lim.max_size)
        return OMTP_ETOOBIG;
    if (in->headlen < OMTP_INGEST_HEAD) {
        size_t k = OMTP_INGEST_HEAD - in->headlen;
        if (k > n)
            k = n;
        memcpy(in->head + in->headlen, data, k);
        in->headlen += k;
    }
    int rc = omtp_fs_put_write(in->put, data, n);
    if (rc == 0)
        in->size += n;
    return rc;
}

uint64_t omtp_ingest_size(const omtp_ingest *in)
{
    return in->size;
}

void omtp_ingest_abort(omtp_ingest *in)
{
    if (!in)
        return;
    omtp_fs_put_abort(in->put);
    free(in);
}

void omtp_ingest_unpin(const omtp_dom_file *f)
{
    omtp_files_unpin(f->sha256);
    omtp_files_unpin(f->thumb);
}

/* ---- images */

/* Appends what a read hands to a bounded memory buffer. */
typedef struct mem_sink {
    unsigned char *b;
    size_t n, cap;
} mem_sink;

static int sink_mem(void *arg, const void *data, size_t n)
{
    mem_sink *m = arg;
    if (n > m->cap - m->n)
        n = m->cap - m->n;
    memcpy(m->b + m->n, data, n);
    m->n += n;
    return 0;
}

/* A read-only descriptor of the object for libvips: the local store's own;
 * for other stores (S3) a copy spooled to a temporary file (unlinked at
 * once), only when the object has at most OMTP_THUMB_SPOOL_MAX bytes (-2:
 * larger, no copy made). */
static int sink_fd(void *arg, const void *data, size_t n)
{
    int fd = *(int *)arg;
    const char *b = data;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return OMTP_EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int local_fd(omtp_filestore *fs, const char *sha)
{
    int fd = -1;
    return omtp_fs_open_fd(fs, sha, &fd, NULL) == 0 ? fd : -1;
}

static int spooled_fd(omtp_filestore *fs, const char *sha, uint64_t size)
{
    if (size > OMTP_THUMB_SPOOL_MAX)
        return -2;
    char path[] = "/tmp/omtp-thumb-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -1;
    unlink(path);
    if (omtp_fs_get(fs, sha, 0, size, sink_fd, &fd) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Width, height and alpha from the header: the local object through its
 * descriptor; another store's from its first OMTP_PROBE_HEAD bytes (one
 * ranged read into memory: nothing spooled, nothing decoded). */
static bool image_header(omtp_ingest *in, omtp_dom_file *out, int fd, bool *alpha)
{
    VipsImage *img = NULL;
    VipsSource *src = NULL;
    mem_sink m = {0};
    if (fd >= 0) {
        src = vips_source_new_from_descriptor(fd);
        img = src ? vips_image_new_from_source(src, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL)
                  : NULL;
    } else {
        m.cap = out->size < OMTP_PROBE_HEAD ? (size_t)out->size : OMTP_PROBE_HEAD;
        m.b = malloc(m.cap ? m.cap : 1);
        if (m.b && omtp_fs_get(in->fs, out->sha256, 0, m.cap, sink_mem, &m) == 0)
            img = vips_image_new_from_buffer(m.b, m.n, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    }
    if (img) {
        out->width = vips_image_get_width(img);
        out->height = vips_image_get_height(img);
        *alpha = vips_image_hasalpha(img);
        g_object_unref(img);
    } else {
        LOG_DEBUG("files: %s (%s): not an image libvips reads: %s", out->sha256, out->mime,
                  vips_error_buffer());
    }
    if (src)
        g_object_unref(src);
    free(m.b);
    return img != NULL;
}

/* Width and height from the header (nothing decoded); then, within the
 * pixel limit, a thumbnail stored as its own object. Failures leave the
 * upload a plain file (logged at debug: a corrupt image is the user's). */
static void image_probe(omtp_ingest *in, omtp_dom_file *out)
{
    if (!vips_ok || strncmp(out->mime, "image/", 6) != 0)
        return;
    int fd = local_fd(in->fs, out->sha256);
    VipsSource *src = NULL;
    bool alpha = false;
    if (!image_header(in, out, fd, &alpha))
        goto done;
    uint64_t pixels = (uint64_t)out->width * (uint64_t)out->height;
    /* 0 is "no thumbnails", never "no limit"; no setting passes the hard
     * ceiling (docs/files.md "Decompression bombs") */
    uint64_t cap =
        in->lim.max_pixels < OMTP_THUMB_PIXELS_HARD ? in->lim.max_pixels : OMTP_THUMB_PIXELS_HARD;
    if (cap == 0) {
        LOG_INFO("files: %s is %dx%d: stored without a thumbnail, never decoded "
                 "(thumb_max_pixels = 0: thumbnails are off)",
                 out->sha256, out->width, out->height);
        goto done;
    }
    if (out->width <= 0 || out->height <= 0 || pixels > cap) {
        LOG_INFO("files: %s is %dx%d (%llu pixels, above thumb_max_pixels %llu): stored "
                 "without a thumbnail, never decoded",
                 out->sha256, out->width, out->height, (unsigned long long)pixels,
                 (unsigned long long)cap);
        goto done;
    }
    if (fd < 0) { /* another store: a bounded copy, or no thumbnail */
        fd = spooled_fd(in->fs, out->sha256, out->size);
        if (fd == -2)
            LOG_INFO("files: %s is %dx%d but has %llu bytes, more than %u: no thumbnail "
                     "from the %s store (the image is not copied here whole)",
                     out->sha256, out->width, out->height, (unsigned long long)out->size,
                     OMTP_THUMB_SPOOL_MAX, omtp_filestore_kind(in->fs));
        if (fd < 0)
            goto done;
    } else if (lseek(fd, 0, SEEK_SET) != 0) { /* the header read moved it */
        goto done;
    }
    if (!(src = vips_source_new_from_descriptor(fd)))
        goto done;
    VipsImage *th = NULL;
    if (vips_thumbnail_source(src, &th, OMTP_THUMB_MAX_SIDE, "height", OMTP_THUMB_MAX_SIDE, "size",
                              VIPS_SIZE_DOWN, NULL) != 0) {
        LOG_DEBUG("files: %s: no thumbnail: %s", out->sha256, vips_error_buffer());
        goto done;
    }
    void *buf = NULL;
    size_t len = 0;
    int rc = alpha ? vips_image_write_to_buffer(th, ".png", &buf, &len, NULL)
                   : vips_image_write_to_buffer(th, ".jpg", &buf, &len, "Q", 80, NULL);
    g_object_unref(th);
    if (rc != 0) {
        LOG_DEBUG("files: %s: thumbnail not encoded: %s", out->sha256, vips_error_buffer());
        goto done;
    }
    omtp_fs_put *p = NULL;
    char sha[OMTP_FS_SHA_HEX];
    uint64_t size = 0;
    if (omtp_fs_put_begin(in->fs, len, &p) == 0) {
        /* pinned before the commit looks for it (files_pins.h) */
        if (omtp_fs_put_write(p, buf, len) != 0 || omtp_fs_put_digest(p, sha) != 0 ||
            omtp_files_pin(sha) != 0)
            omtp_fs_put_abort(p);
        else if (omtp_fs_put_commit(p, sha, &size) >= 0) {
            memcpy(out->thumb, sha, sizeof(out->thumb));
            out->thumbSize = size;
        } else {
            omtp_files_unpin(sha);
        }
    }
    g_free(buf);
done:
    vips_error_clear();
    if (src)
        g_object_unref(src);
    if (fd >= 0)
        close(fd);
}

int omtp_ingest_finish(omtp_ingest *in, const char *name, omtp_dom_file *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    omtp_ingest_sniff(in->head, in->headlen, out->mime, sizeof(out->mime));
    /* the name is pinned before the commit looks for it: a deletion of
     * identical bytes either ends first or leaves them (files_pins.h) */
    int rc = omtp_fs_put_digest(in->put, out->sha256);
    if (rc == 0)
        rc = omtp_files_pin(out->sha256);
    if (rc != 0) {
        omtp_fs_put_abort(in->put);
        free(in);
        memset(out->sha256, 0, sizeof(out->sha256));
        return rc;
    }
    rc = omtp_fs_put_commit(in->put, out->sha256, &out->size);
    in->put = NULL;
    if (rc >= 0) {
        rc = 0;
        image_probe(in, out);
    } else {
        omtp_files_unpin(out->sha256);
    }
    free(in);
    return rc;
}
