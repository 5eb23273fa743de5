/*
 * s3_xml.c - element text out of S3's XML replies (s3_xml.h).
 */
#include "s3_xml.h"

#include <string.h>

static const char *find(const char *h, size_t hlen, const char *n, size_t nlen)
{
    if (nlen == 0 || hlen < nlen)
        return NULL;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nlen) == 0)
            return h + i;
    return NULL;
}

int s3_xml_next(const char *xml, size_t len, size_t *pos, const char *tag, const char **inner,
                size_t *ilen)
{
    size_t tlen = strlen(tag);
    if (!xml || tlen == 0 || tlen > 64 || *pos > len)
        return 0;
    char close[70];
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tlen);
    close[tlen + 2] = '>';
    size_t at = *pos;
    while (at < len) {
        const char *lt = memchr(xml + at, '<', len - at);
        if (!lt)
            return 0;
        size_t o = (size_t)(lt - xml);
        /* "<tag>" or "<tag " (attributes) */
        if (o + 1 + tlen < len && memcmp(lt + 1, tag, tlen) == 0 &&
            (lt[1 + tlen] == '>' || lt[1 + tlen] == ' ')) {
            const char *gt = memchr(lt, '>', len - o);
            if (!gt)
                return 0;
            if (gt > lt && gt[-1] == '/') { /* <tag/>: empty */
                *inner = gt + 1;
                *ilen = 0;
                *pos = (size_t)(gt + 1 - xml);
                return 1;
            }
            size_t start = (size_t)(gt + 1 - xml);
            const char *end = find(xml + start, len - start, close, tlen + 3);
            if (!end)
                return 0;
            *inner = xml + start;
            *ilen = (size_t)(end - (xml + start));
            *pos = (size_t)(end - xml) + tlen + 3;
            return 1;
        }
        at = o + 1;
    }
    return 0;
}

static const struct {
    const char *name;
    char c;
} entities[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};

int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
    size_t pos = 0, ilen = 0;
    const char *in = NULL;
    if (outlen == 0)
        return 0;
    out[0] = '\0';
    if (!s3_xml_next(xml, len, &pos, tag, &in, &ilen))
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < ilen && o + 1 < outlen;) {
        char c = in[i];
        size_t step = 1;
        if (c == '&') {
            for (size_t e = 0; e < sizeof entities / sizeof entities[0]; e++) {
                size_t el = strlen(entities[e].name);
                if (i + el <= ilen && memcmp(in + i, entities[e].name, el) == 0) {
                    c = entities[e].c;
                    step = el;
                    break;
                }
            }
        }
        out[o++] = c;
        i += step;
    }
    out[o] = '\0';
    return 1;
}
