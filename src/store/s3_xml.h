/*
 * s3_xml.h - reading the few fields omtpd needs out of S3's XML replies
 * (error Code/Message, UploadId, the keys of a listing). Not an XML parser:
 * S3's replies are flat documents of <Tag>text</Tag>, so a reader of
 * elements by name, with the five predefined entities decoded, is enough.
 * Hostile or truncated input gives "not found", never a read past `len`
 * (tests/fuzz/fuzz_s3_xml.c).
 *
 * Pure functions; any thread.
 */
#ifndef OMTP_STORE_S3_XML_H
#define OMTP_STORE_S3_XML_H

#include <stddef.h>

/* Finds the next element <tag>...</tag> (or <tag attr="..">...</tag>) at or
 * after *pos in xml[0..len); on success sets *inner and *ilen to its content,
 * moves *pos past it and returns 1; returns 0 when there is none. */
int s3_xml_next(const char *xml, size_t len, size_t *pos, const char *tag, const char **inner,
                size_t *ilen);

/* The text of the first <tag> in xml[0..len), entities decoded, into out
 * (cut to outlen - 1 bytes, always terminated). Returns 1 if found. */
int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen);

#endif
