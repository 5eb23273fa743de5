/*
 * omtp_frame.h - incremental OMTP frame reader.
 *
 * A frame is a 4-byte big-endian length that counts itself, followed by a
 * top-level Tars OTIMPack. Bytes may arrive in any split: one byte at a time
 * or many frames in one read. The reader keeps one growable buffer; callers
 * either copy bytes in (omtp_frame_reader_feed) or read straight into its free
 * space (omtp_frame_reader_space / _commit, for libuv's alloc callback).
 *
 * A declared length below 4 or above max_frame is an error, reported as soon
 * as the 4 length bytes are there, before any body byte is buffered: a peer
 * cannot make the reader allocate more than max_frame + one read.
 *
 * Ownership: the frame pointer returned by _next stays valid until the next
 * call to _feed, _space or _free. Threading: one reader per connection, used
 * by one thread.
 */
#ifndef OMTP_FRAME_H
#define OMTP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define OMTP_FRAME_HDR         4
#define OMTP_DEFAULT_MAX_FRAME (1024 * 1024)

typedef struct omtp_frame_reader {
    uint8_t *buf;
    size_t cap;
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last buffered byte */
    uint32_t max_frame;
    uint32_t bad_len; /* the offending length after OMTP_EFRAME */
} omtp_frame_reader;

void omtp_frame_reader_init(omtp_frame_reader *r, uint32_t max_frame);
void omtp_frame_reader_free(omtp_frame_reader *r);
/* Copies bytes in. Returns 0 or OMTP_ENOMEM. */
int omtp_frame_reader_feed(omtp_frame_reader *r, const void *p, size_t n);
/* Gives at least `want` bytes of free space to read into. */
int omtp_frame_reader_space(omtp_frame_reader *r, size_t want, uint8_t **p, size_t *n);
/* Marks n bytes of the space as filled. */
void omtp_frame_reader_commit(omtp_frame_reader *r, size_t n);
/*
 * Returns 1 and sets *frame and *len to the OTIMPack bytes (after the length
 * prefix) of the next complete frame; 0 if more bytes are needed;
 * OMTP_EFRAME if the declared length is outside 4..max_frame (the reader is
 * then unusable: close the connection).
 */
int omtp_frame_reader_next(omtp_frame_reader *r, const uint8_t **frame, size_t *len);
/* Bytes buffered but not yet returned as frames. */
size_t omtp_frame_reader_pending(const omtp_frame_reader *r);

#endif
