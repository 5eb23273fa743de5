/*
 * omtp_errors.h - C error returns shared by libomtp modules.
 *
 * Functions return 0 or a negative OMTP_E* value (libuv style). These never
 * travel on the wire: protocol error codes are OMTP_EC_* in omtp_proto.h.
 */
#ifndef OMTP_ERRORS_H
#define OMTP_ERRORS_H

enum {
    OMTP_OK = 0,
    OMTP_ENOMEM = -1,     /* allocation failed */
    OMTP_EFRAME = -2,     /* frame length outside 4..max_frame */
    OMTP_EDECODE = -3,    /* Tars decode failed (see the tars_err) */
    OMTP_ECOMPRESS = -4,  /* unknown compression, bad zlib stream, or over the cap */
    OMTP_ECRYPTO = -5,    /* unknown cipher, no key, or authentication failed */
    OMTP_ETOOBIG = -6,    /* an encoded frame would exceed the limit */
    OMTP_EINVAL = -7,     /* bad argument */
    OMTP_EIO = -8,        /* I/O error */
    OMTP_ETIMEDOUT = -9,  /* request timed out */
    OMTP_ECLOSED = -10,   /* connection closed */
    OMTP_ENOTFOUND = -11, /* no such object */
    OMTP_EEXIST = -12,    /* already exists */
    OMTP_EDB = -13,       /* storage failure */
    OMTP_EAGAIN = -14,    /* store work item: run me again in a fresh transaction */
    OMTP_EBUSY = -15,     /* held by someone else (e.g. a running server holds the store) */
    OMTP_ENOSPC = -16,    /* storage full: the disk (or the database's quota) is full */
};

/* A short English description of an OMTP_E* value. */
const char *omtp_strerror(int err);

#endif
