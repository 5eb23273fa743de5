/*
 * wire.c - an encoded packet shared by many connections (see server.h).
 *
 * The payload is Tars-encoded once; the full frame of each transform variant
 * (plain, zlib, AES, zlib+AES) is built the first time a connection that
 * needs it is sent the wire, and kept until the last reference goes. A push
 * to 10,000 plain connections is one encoding and 10,000 references.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static omtp_wire *wire_alloc(int type, int64_t flags, const char *packId)
{
    omtp_wire *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->refs = 1;
    w->type = type;
    w->flags = flags & ~(OMTP_F_COMPRESS_MASK | OMTP_F_CRYPTO_MASK);
    if (packId)
        snprintf(w->packId, sizeof(w->packId), "%s", packId);
    else
        omtp_uuid(w->packId);
    tars_buf_init(&w->payload);
    for (int i = 0; i < 4; i++)
        tars_buf_init(&w->frame[i]);
    return w;
}

omtp_wire *omtp_wire_new(int type, int64_t flags, const char *packId, const tars_struct_desc *desc,
                         const void *body)
{
    omtp_wire *w = wire_alloc(type, flags, packId);
    if (!w)
        return NULL;
    if (desc && body && tars_encode(&w->payload, desc, body, true, 0) != TARS_OK)
        goto err;
    if (!tars_buf_ok(&w->payload))
        goto err;
    return w;
err:
    omtp_wire_unref(w);
    return NULL;
}

omtp_wire *omtp_wire_new_raw(int type, int64_t flags, const char *packId, const uint8_t *payload,
                             size_t len)
{
    omtp_wire *w = wire_alloc(type, flags, packId);
    if (!w)
        return NULL;
    tars_buf_put(&w->payload, payload, len);
    if (!tars_buf_ok(&w->payload)) {
        omtp_wire_unref(w);
        return NULL;
    }
    return w;
}

void omtp_wire_ref(omtp_wire *w)
{
    w->refs++;
}

void omtp_wire_unref(omtp_wire *w)
{
    if (!w || --w->refs > 0)
        return;
    tars_buf_free(&w->payload);
    for (int i = 0; i < 4; i++)
        tars_buf_free(&w->frame[i]);
    free(w);
}

int omtp_wire_frame(omtp_wire *w, int v, const omtp_crypto_key *key, uint32_t max_frame,
                    const uint8_t **p, size_t *n)
{
    if (v < 0 || v > 3)
        return OMTP_EINVAL;
    if (w->state[v] == 0) {
        int64_t flags = omtp_flags_with(w->flags, (v & OMTP_V_ZLIB) ? OMTP_COMPRESS_ZLIB : 0,
                                        (v & OMTP_V_AES) ? OMTP_CRYPTO_AES : 0);
        int rc = omtp_packet_encode_raw(&w->frame[v], w->type, flags, w->packId,
                                        w->payload.data ? w->payload.data : (const uint8_t *)"",
                                        w->payload.len, key, max_frame);
        w->state[v] = rc ? -1 : 1;
        if (rc)
            return rc;
    }
    if (w->state[v] < 0)
        return OMTP_ETOOBIG;
    *p = w->frame[v].data;
    *n = w->frame[v].len;
    return 0;
}
