/*
 * filestore_s3.c - the S3-compatible backend of the file store
 * (filestore_int.h). Placeholder: the backend is another change (`fs3`),
 * which replaces this file; until then an s3:// file_store is refused at
 * start with a reason.
 */
#include <stdio.h>

#include "filestore_int.h"
#include "proto/omtp_errors.h"

int omtp_filestore_s3_open(const char *bucket, const omtp_filestore_config *cfg,
                           omtp_filestore **out, char *why, size_t whylen)
{
    (void)cfg;
    *out = NULL;
    snprintf(why, whylen,
             "file_store s3://%s: this build has no S3 backend; use file_store = local", bucket);
    return OMTP_EINVAL;
}
