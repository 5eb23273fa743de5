/*
 * omtp_frame.c - incremental frame reader (see omtp_frame.h).
 *
 * Buffer policy: consumed bytes are reclaimed lazily by moving the unread
 * tail to the front when more space is asked for, so a burst of small
 * frames in one read costs one memmove, not one per frame.
 */
#include "omtp_frame.h"
#include "omtp_errors.h"

#include <stdlib.h>
#include <string.h>

void omtp_frame_reader_init(omtp_frame_reader *r, uint32_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame ? max_frame : OMTP_DEFAULT_MAX_FRAME;
}

void omtp_frame_reader_free(omtp_frame_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->start = r->end = 0;
}

size_t omtp_frame_reader_pending(const omtp_frame_reader *r)
{
    return r->end - r->start;
}

int omtp_frame_reader_space(omtp_frame_reader *r, size_t want, uint8_t **p, size_t *n)
{
    if (r->start > 0) {
        size_t pend = r->end - r->start;
        if (pend)
            memmove(r->buf, r->buf + r->start, pend);
        r->start = 0;
        r->end = pend;
    }
    if (r->cap - r->end < want) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap - r->end < want)
            cap *= 2;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return OMTP_ENOMEM;
        r->buf = nb;
        r->cap = cap;
    }
    *p = r->buf + r->end;
    *n = r->cap - r->end;
    return OMTP_OK;
}

void omtp_frame_reader_commit(omtp_frame_reader *r, size_t n)
{
    r->end += n;
}

int omtp_frame_reader_feed(omtp_frame_reader *r, const void *data, size_t n)
{
    uint8_t *p;
    size_t room;
    if (n == 0)
        return OMTP_OK;
    int rc = omtp_frame_reader_space(r, n, &p, &room);
    if (rc)
        return rc;
    memcpy(p, data, n);
    r->end += n;
    return OMTP_OK;
}

int omtp_frame_reader_next(omtp_frame_reader *r, const uint8_t **frame, size_t *len)
{
    size_t pend = r->end - r->start;
    if (pend < OMTP_FRAME_HDR)
        return 0;
    const uint8_t *h = r->buf + r->start;
    uint32_t flen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (flen < OMTP_FRAME_HDR || flen > r->max_frame) {
        r->bad_len = flen;
        return OMTP_EFRAME;
    }
    if (pend < flen)
        return 0;
    *frame = h + OMTP_FRAME_HDR;
    *len = flen - OMTP_FRAME_HDR;
    r->start += flen;
    if (r->start == r->end)
        r->start = r->end = 0; /* fully drained: next read lands at the front */
    return 1;
}
