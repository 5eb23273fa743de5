/*
 * fuzz_files.c - the decoders of uploaded files on hostile input
 * (docs/files.md): a media message's content JSON by contentType
 * (omtp_files_content_check), a client's file name (omtp_file_name_clean),
 * a Range header (http_parse_range) and a bearer token's user
 * (http_user_token). Properties: nothing crashes or leaks; an accepted name
 * holds no '/', '\', NUL or control byte and is not "." or ".."; a range is
 * inside the file; a token is never accepted with a made-up secret.
 * Input: the first byte picks the decoder (and a contentType / file size),
 * the rest is the text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/files.h"
#include "http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t pick = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    char *z = malloc(n + 1); /* NUL-terminated copy for the C-string decoders */
    if (!z)
        return 0;
    memcpy(z, text, n);
    z[n] = 0;
    switch (pick % 4) {
    case 0: {
        char desc[320];
        int rc = omtp_files_content_check(pick / 4 % 10, text, n, desc, sizeof(desc));
        if (rc != 0 && rc != OMTP_EC_PARAM)
            abort();
        break;
    }
    case 1: {
        char out[OMTP_FILE_NAME_MAX + 1];
        if (omtp_file_name_clean(text, n, out, sizeof(out))) {
            size_t l = strlen(out);
            if (l != n || strchr(out, '/') || strchr(out, '\\') || !strcmp(out, ".") ||
                !strcmp(out, ".."))
                abort();
            for (size_t i = 0; i < l; i++)
                if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
                    abort();
        }
        break;
    }
    case 2: {
        uint64_t fsize = (uint64_t)(pick / 4) * 1000, off = 0, len = 0;
        int rc = http_parse_range(z, fsize, &off, &len);
        if (rc == 1 && (len == 0 || off >= fsize || len > fsize - off))
            abort();
        break;
    }
    default: {
        static const uint8_t secret[32] = {1, 2, 3};
        char user[OMTP_ID_MAX + 1];
        bool expired;
        if (http_user_token(secret, z, user, sizeof(user), &expired))
            abort(); /* a forged MAC never passes */
        break;
    }
    }
    free(z);
    return 0;
}
