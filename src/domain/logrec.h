/*
 * domain/logrec.h - the message log's records of the send path (docs/
 * storage.md, "Delivery path"): what the loop appends for an accepted
 * message and what the apply and the start-up replay read back.
 *
 * A record of type OMTP_LOGREC_MSG is an OTIMPack, Tars-encoded with the
 * project's codec: header {type (single, group, business), version,
 * flags (HIGHPRJ, COUNTER), packId}, payload = the MsgReq as assigned by
 * the loop (sessionId, seqId, timestamp, from, to, pushInfo, contentType,
 * content, replyTo, mentions). The framing (length, crc) is the log's
 * (store/msglog.h).
 *
 * Decoding checks everything a stored message must satisfy (a record that
 * fails is corrupt: the replay stops there and says why). Reentrant: any
 * thread.
 */
#ifndef OMTP_DOMAIN_LOGREC_H
#define OMTP_DOMAIN_LOGREC_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define OMTP_LOGREC_MSG   1 /* an accepted message (single, group, business) */
#define OMTP_LOGREC_CTRL  2 /* a message revoked, deleted or edited (MsgControl) */
#define OMTP_LOGREC_READ  3 /* a read cursor moved forward */
#define OMTP_LOGREC_REACT 4 /* a reaction added or removed */

/* Appends the record of m (seqId and timestamp assigned) to *out (a
 * tars_buf the caller initialised and frees). 0 or OMTP_ENOMEM. */
int omtp_logrec_encode(const omtp_msg_rec *m, tars_buf *out);

/* Decodes a record of type OMTP_LOGREC_MSG into out (initialised here,
 * owned by the caller: omtp_msg_rec_free, also after a failure). 0, or
 * OMTP_EDECODE (OMTP_ENOMEM) with `why` saying which field is wrong. */
int omtp_logrec_decode(const uint8_t *p, size_t n, omtp_msg_rec *out, char *why, size_t whylen);

/*
 * The other operations' records (types CTRL, READ, REACT): one Tars struct,
 * "LogOp", version 1 (a record of another version is corrupt for this
 * build: the replay stops there and says so):
 *
 *   0 version    int     1
 *   1 sessionId  string  the session
 *   2 seqId      long    the message (CTRL, REACT) / the cursor now (READ)
 *   3 user       string  who acted (operator, reader, reactor)
 *   4 op         int     MC_REVOKE/MC_DELETE/MC_OVERRIDE (CTRL), 1 add /
 *                        2 remove (REACT), 0 (READ)
 *   5 text       string  the new content (CTRL edit) / the emoji (REACT)
 *   6 noticeId   string  CTRL: packId of the notice queued and pushed
 *   7 packId     string  CTRL: the message's own packId
 *   8 msgType    int     CTRL: the message's packet type
 *   9 timestamp  long    when the loop accepted it (ms)
 *
 * Decoding checks what the apply relies on (ids in range, no NUL, the op
 * known for its type, an edit's content present, an emoji valid).
 */
typedef struct omtp_logop {
    int32_t version;
    tars_str sessionId;
    int64_t seqId;
    tars_str user;
    int32_t op;
    tars_str text;
    tars_str noticeId;
    tars_str packId;
    int32_t msgType;
    int64_t timestamp;
} omtp_logop;

#define OMTP_LOGOP_VERSION 1

void omtp_logop_init(omtp_logop *o);
void omtp_logop_free(omtp_logop *o);
/* Appends o's encoding to *out (o->version is written as OMTP_LOGOP_VERSION).
 * 0 or OMTP_ENOMEM. */
int omtp_logop_encode(const omtp_logop *o, tars_buf *out);
/* Decodes and checks a record of `type` (CTRL, READ or REACT) into out
 * (initialised here, owned by the caller: omtp_logop_free, also after a
 * failure). 0, or OMTP_EDECODE with `why`. */
int omtp_logop_decode(uint8_t type, const uint8_t *p, size_t n, omtp_logop *out, char *why,
                      size_t whylen);

#endif
