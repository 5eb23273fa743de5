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

#define OMTP_LOGREC_MSG 1 /* an accepted message (single, group, business) */

/* Appends the record of m (seqId and timestamp assigned) to *out (a
 * tars_buf the caller initialised and frees). 0 or OMTP_ENOMEM. */
int omtp_logrec_encode(const omtp_msg_rec *m, tars_buf *out);

/* Decodes a record of type OMTP_LOGREC_MSG into out (initialised here,
 * owned by the caller: omtp_msg_rec_free, also after a failure). 0, or
 * OMTP_EDECODE (OMTP_ENOMEM) with `why` saying which field is wrong. */
int omtp_logrec_decode(const uint8_t *p, size_t n, omtp_msg_rec *out, char *why, size_t whylen);

#endif
