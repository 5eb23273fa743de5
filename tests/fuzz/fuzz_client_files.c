/*
 * fuzz_client_files.c - libomtp's media-message decoders on hostile input
 * (client/omtp_files.h): a peer's message content is parsed for display
 * (omtp_file_content_parse, omtp_file_summary for every media type) and a
 * server's LoginResp.extraData for a file token (omtp_file_login_token).
 * Properties: no crash, no leak, outputs always NUL-terminated within their
 * buffers, and a summary never holds a control byte (it goes to a terminal).
 * Input: the first byte picks the contentType, the rest is the content.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/omtp_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const int types[] = {1, 2, 3, 5, 6, 7, 8, 0};
    int ct = types[data[0] % 8];
    const char *content = (const char *)data + 1;
    size_t len = size - 1;
    omtp_file_info fi;
    if (omtp_file_content_parse(content, len, &fi) == 0) {
        if (!memchr(fi.fileId, 0, sizeof(fi.fileId)) || !memchr(fi.name, 0, sizeof(fi.name)))
            abort();
    }
    char buf[300];
    if (omtp_file_summary(ct, content, len, buf, sizeof(buf))) {
        size_t n = strnlen(buf, sizeof(buf));
        if (n == sizeof(buf))
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
                abort();
    }
    char *z = malloc(len + 1);
    if (!z)
        return 0;
    memcpy(z, content, len);
    z[len] = '\0';
    char tok[64];
    if (omtp_file_login_token(z, tok, sizeof(tok)) && !memchr(tok, 0, sizeof(tok)))
        abort();
    free(z);
    return 0;
}
