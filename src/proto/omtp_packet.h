/*
 * omtp_packet.h - building and parsing whole OMTP packets.
 *
 * Sending: omtp_packet_encode() writes one complete frame (length prefix,
 * OTIMPack with header and payload), applying the compress/encrypt flags.
 * Receiving: omtp_packet_decode() takes the bytes of one frame (as returned
 * by the frame reader), decodes the OTIMPack, undoes the transforms and
 * decodes the payload with the struct the type table names for
 * (type, ACK). The two stages report errors separately, because the rulings
 * differ: a frame whose OTIMPack does not decode closes the connection, a
 * payload that does not decode gets an error reply and the connection stays.
 *
 * Ownership: omtp_packet owns its header strings and body; free with
 * omtp_packet_free(). When decoded with omtp_decode_opts.arena, the header
 * strings, the body struct and everything in it live in that arena instead
 * (no malloc per string): they stay valid until the arena is reset or freed,
 * and omtp_packet_free() only forgets them. Threading: reentrant.
 */
#ifndef OMTP_PACKET_H
#define OMTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "omtp_errors.h"
#include "omtp_frame.h"
#include "omtp_msg.h"
#include "omtp_proto.h"
#include "omtp_transform.h"

typedef struct omtp_packet {
    omtp_OTIMHeader header;
    const tars_struct_desc *desc; /* payload struct per the type table; NULL if none */
    void *body;                   /* decoded payload (desc's C type), NULL if none or empty */
    size_t payload_len;           /* plain payload length after unwrap */
    bool in_arena;                /* header and body live in opts->arena */
} omtp_packet;

/* Result stages of omtp_packet_decode. */
enum omtp_decode_stage {
    OMTP_STAGE_OK = 0,
    OMTP_STAGE_FRAME = 1,   /* the OTIMPack itself is broken: close */
    OMTP_STAGE_PAYLOAD = 2, /* header fine, payload broken: reply with an error */
};

typedef struct omtp_decode_opts {
    const omtp_crypto_key *key; /* for CRYPTO=1, may be NULL */
    size_t max_payload;         /* decompression cap; 0 = OMTP_DEFAULT_MAX_FRAME */
    bool skip_body;             /* decode header only, leave payload bytes unparsed */
    tars_arena *arena;          /* NULL: the packet owns its data; else it lives here */
    /* a client decoding what the server sent: a push whose struct differs
     * from the request of the same type (PT_TYPING: TypingNotice,
     * PT_MSG_REACTION: ReactionNotice) decodes as the push (omtp_push_desc) */
    bool from_server;
} omtp_decode_opts;

/*
 * Decodes one frame body. Returns OMTP_OK, or an OMTP_E* with *stage saying
 * which stage failed and `why` a one-line reason (naming field, tag, offset
 * for Tars errors). On a payload-stage failure p->header is valid.
 * A payload that is empty where the table names a struct leaves body NULL
 * (only valid for PT_USERATTRIBUTE_GET; handlers decide).
 */
int omtp_packet_decode(const uint8_t *frame, size_t len, const omtp_decode_opts *opts,
                       omtp_packet *p, int *stage, char *why, size_t whylen);
/* Releases what the packet owns (nothing for an arena-decoded packet) and
 * leaves it empty. */
void omtp_packet_free(omtp_packet *p);

/*
 * Appends one full frame to `out`: 4-byte length, OTIMPack{header, payload}.
 * `desc`/`body` may be NULL for an empty payload. `flags` may carry
 * COMPRESS/CRYPTO bits, which are applied to the payload. `max_frame`
 * (0 = default) bounds the result: OMTP_ETOOBIG if exceeded.
 */
int omtp_packet_encode(tars_buf *out, int type, int64_t flags, const char *pack_id,
                       const tars_struct_desc *desc, const void *body, const omtp_crypto_key *key,
                       uint32_t max_frame);

/* Same, with an already-encoded (plain) payload. */
int omtp_packet_encode_raw(tars_buf *out, int type, int64_t flags, const char *pack_id,
                           const uint8_t *payload, size_t payload_len, const omtp_crypto_key *key,
                           uint32_t max_frame);

/* Encodes a payload struct (top level) into a new tars_bytes (for nesting
 * OTIMPacks in lists such as HotSessionItem.lastMsgs). */
int omtp_payload_to_bytes(const tars_struct_desc *desc, const void *body, tars_bytes *out);

/* Writes a random RFC 4122 version-4 UUID string (36 chars + NUL). */
void omtp_uuid(char out[37]);

/* Milliseconds / microseconds since the Unix epoch (wall clock). */
int64_t omtp_now_ms(void);
int64_t omtp_now_us(void);

#endif
