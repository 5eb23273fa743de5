/*
 * fuzz_files_http.c - the file endpoints' header and query parsers
 * (src/http/files_http.c) on hostile bytes: Range against a few sizes (the
 * answer always lies inside the file), If-None-Match, query values (the
 * decoded length never passes the buffer), Content-Disposition of any name,
 * the Bearer token check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/files_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    static const uint64_t sizes[] = {0, 1, 10, 1000, UINT64_MAX / 2};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint64_t off = 0, len = 0;
        int r = omtp_files_http_range(s, sizes[k], &off, &len);
        if (r > 0 && (len == 0 || off >= sizes[k] || len > sizes[k] - off))
            abort();
    }
    omtp_files_http_inm_match(s, "\"abc\"");
    char out[64];
    size_t n = 0;
    if (omtp_files_http_query(s, "name", out, sizeof(out), &n) && n >= sizeof(out))
        abort();
    char disp[1024];
    omtp_files_http_disposition(s, "image/png", disp, sizeof(disp));
    omtp_files_http_disposition(s, "text/html", disp, sizeof(disp));
    static const uint8_t secret[32] = {1};
    char user[129], why[160];
    omtp_files_http_bearer(secret, s, user, sizeof(user), why, sizeof(why));
    const char *tm = omtp_files_http_thumb_mime(data, size); /* a thumbnail's head */
    if (strcmp(tm, "image/png") && strcmp(tm, "image/jpeg"))
        abort();
    free(s);
    return 0;
}
