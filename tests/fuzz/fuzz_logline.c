/*
 * fuzz_logline.c - omtpd's JSON log line (util/log.h) on hostile bytes. Log
 * messages carry what clients send (user ids, device names, paths, the
 * moderation hook's desc), so whatever the bytes, a JSON record must be one
 * line holding one valid JSON object with ts, level, msg and fields (an
 * object of strings), and a text record one line.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int level = data[0] & 3;
    const char *msg = (const char *)data + 1;
    size_t mlen = size - 1;
    char buf[4096];
    size_t n = omtp_log_format_line(buf, sizeof(buf), OMTP_LOG_JSON, level, msg, mlen);
    if (n == 0 || n > sizeof(buf) || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1))
        abort();
    json_error_t je;
    json_t *o = json_loadb(buf, n - 1, 0, &je);
    if (!o || !json_is_object(o) || json_object_size(o) != 4 ||
        !json_is_string(json_object_get(o, "ts")) || !json_is_string(json_object_get(o, "level")) ||
        !json_is_string(json_object_get(o, "msg")) || !json_is_object(json_object_get(o, "fields")))
        abort();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "fields"), k, v)
    {
        if (!json_is_string(v))
            abort();
    }
    json_decref(o);
    n = omtp_log_format_line(buf, sizeof(buf), OMTP_LOG_TEXT, level, msg, mlen);
    if (n == 0 || n > sizeof(buf) || buf[n - 1] != '\n')
        abort();
    return 0;
}
