/*
 * fuzz_s3_xml.c - the reader of S3's XML replies (src/store/s3_xml.c) on
 * hostile bytes: what an S3 endpoint (or something pretending to be one)
 * sends back. Every element found must lie inside the input, every text
 * copied must be terminated within its buffer, and walking a listing must
 * end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = {"Error",        "Code",        "Message",
                                   "UploadId",     "Contents",    "Key",
                                   "LastModified", "IsTruncated", "NextContinuationToken",
                                   "ETag"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *tag = tags[data[0] % (sizeof tags / sizeof tags[0])];
    const char *xml = (const char *)data + 1;
    size_t len = size - 1;
    char out[64];
    memset(out, 'Z', sizeof out);
    size_t outlen = 1 + data[0] % 63;
    s3_xml_text(xml, len, tag, out, outlen);
    if (memchr(out, '\0', outlen) == NULL)
        abort();
    size_t pos = 0, ilen = 0, steps = 0;
    const char *in = NULL;
    while (s3_xml_next(xml, len, &pos, "Contents", &in, &ilen)) {
        if (in < xml || in + ilen > xml + len || pos > len || ++steps > len + 1)
            abort();
        char key[32];
        s3_xml_text(in, ilen, "Key", key, sizeof key);
        if (memchr(key, '\0', sizeof key) == NULL)
            abort();
    }
    return 0;
}
