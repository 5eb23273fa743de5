/*
 * domain/files_ingest.h - the upload pipeline: the bytes of one upload from
 * the network into the file store, with what the server learns of them.
 *
 *   omtp_ingest_begin     opens a put on the file store (filestore.h)
 *   omtp_ingest_write     streams bytes; keeps the first ones for libmagic;
 *                         refuses (OMTP_ETOOBIG) past max_file_size, so a
 *                         too-large body never reaches the disk whole
 *   omtp_ingest_finish    sniffs the type (libmagic), commits (fsync +
 *                         rename), and for images reads width/height from
 *                         the header and -- when width*height is at most
 *                         thumb_max_pixels -- makes a thumbnail of at most
 *                         320 px on the long side (libvips), stored as its
 *                         own object. Fills an omtp_dom_file without fileId
 *                         and uploader (domain/files.h records it).
 *   omtp_ingest_abort     drops everything written (nothing stays on disk)
 *
 * Decompression bombs (ruling, docs/files.md): an image whose header
 * declares more than thumb_max_pixels pixels is never decoded. The upload is
 * still accepted and stored as a file (it is the user's file), with its
 * declared width/height and no thumbnail.
 *
 * Threading: blocking; call from an HTTP thread or a worker, NEVER the
 * loop thread. One ingest belongs to one thread at a time. libmagic handles
 * are per ingest (magic_t is not thread-safe); libvips is initialised once
 * (omtp_ingest_global_init, from main before threads start).
 */
#ifndef OMTP_DOMAIN_FILES_INGEST_H
#define OMTP_DOMAIN_FILES_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "domain/files.h"
#include "store/filestore.h"

#define OMTP_THUMB_MAX_SIDE 320
/* A store without local descriptors (S3): an image's header is read from
 * its first 256 KiB (one ranged read, in memory); a thumbnail is made only
 * of an image of at most this many bytes, from a temporary copy of it (so
 * no upload is ever copied here whole past this bound). */
#define OMTP_THUMB_SPOOL_MAX (16u * 1024 * 1024)

typedef struct omtp_ingest omtp_ingest;

typedef struct omtp_ingest_limits {
    uint64_t max_size;   /* max_file_size: bytes; 0 = no limit */
    uint64_t max_pixels; /* thumb_max_pixels: width*height decoded at most; 0 = no
                          * thumbnails (never "no limit"); capped at OMTP_THUMB_PIXELS_HARD */
} omtp_ingest_limits;

/* Process start, before any thread: libvips. Returns 0 or OMTP_EIO. */
int omtp_ingest_global_init(const char *argv0);

int omtp_ingest_begin(omtp_filestore *fs, const omtp_ingest_limits *lim, uint64_t size_hint,
                      omtp_ingest **out);
/* OMTP_ETOOBIG past max_size, OMTP_ENOSPC disk full, OMTP_EIO: the caller
 * then aborts. */
int omtp_ingest_write(omtp_ingest *in, const void *data, size_t n);
uint64_t omtp_ingest_size(const omtp_ingest *in);
/* Commits and fills *out (sha256, size, mime, width, height, thumb,
 * thumbSize; name copied from `name`). Frees the ingest, whatever the
 * result. On success out->sha256 and out->thumb are PINNED
 * (domain/files_pins.h): omtp_dom_file_upload_done releases them, or the
 * caller does with omtp_ingest_unpin when it never records the upload. */
int omtp_ingest_finish(omtp_ingest *in, const char *name, omtp_dom_file *out);
void omtp_ingest_abort(omtp_ingest *in);
/* Releases the pins omtp_ingest_finish left on f's bytes and thumbnail. */
void omtp_ingest_unpin(const omtp_dom_file *f);

/* The type libmagic sees in the first bytes of a file (a MIME type, never
 * empty: "application/octet-stream" when unknown). Any thread. */
void omtp_ingest_sniff(const void *head, size_t n, char *mime, size_t mimelen);

#endif
