/*
 * omtp_session.h - the id rules of OMTP, written once for the server, the
 * client library and the tools.
 *
 * User ids and app ids (DESIGN.md, "Ids never contain the session
 * separator") are 1..OMTP_ID_MAX bytes of ASCII letters, digits and
 * '.' '-' '@' '+': no '_' (the session separator), no '/', no control
 * characters, no NUL. Session ids are then unambiguous:
 *
 *   single chat   "SC_<lower>_<higher>" of the two user ids in byte order
 *   group chat    the group id, "GC_..." (chosen by the server)
 *   business      "BM_<appId>_<userId>"
 *
 * The server never reads a user id back out of a session id to decide who
 * may see it: a session's members are stored with it (docs/protocol.md).
 * omtp_session_peer and omtp_session_names exist for display (a client's
 * conversation title) and for a session that holds nothing yet.
 *
 * Threading: pure functions, reentrant.
 */
#ifndef OMTP_PROTO_SESSION_H
#define OMTP_PROTO_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "omtp_proto.h" /* OMTP_ID_MAX: longest user, app or group id, in bytes */
/* A buffer for any session id built here, with its NUL. */
#define OMTP_SESSION_ID_MAX (2 * OMTP_ID_MAX + 8)

/* The rule in words, for error messages. */
#define OMTP_ID_RULE "1..128 bytes of letters, digits and . - @ + (no _ / spaces or control bytes)"

/* Whether s (NUL-terminated) is a valid user or app id. NULL is not. */
bool omtp_id_valid(const char *s);
/* The same for n bytes at p (binary-safe: a NUL inside is invalid). */
bool omtp_id_valid_n(const char *p, size_t n);

/* Writes "SC_<lower>_<higher>" of users a and b into out (n bytes). Returns
 * 0, or OMTP_EINVAL (out set to "") if an id is invalid or out too small. */
int omtp_session_single(const char *a, const char *b, char *out, size_t n);
/* Writes "BM_<appId>_<userId>"; 0 or OMTP_EINVAL as above. */
int omtp_session_biz(const char *appId, const char *userId, char *out, size_t n);
/* True for a group-chat session / group id ("GC_" prefix). */
bool omtp_session_is_group(const char *sessionId);

/*
 * The other user of single-chat session sessionId as seen by `me`, copied to
 * buf: true only if sessionId is exactly omtp_session_single(me, peer) for a
 * valid peer id. For display; never an authority check.
 */
bool omtp_session_peer(const char *sessionId, const char *me, char *buf, size_t n);
/* Whether sessionId is, by construction, one of userId's own ids: a single
 * chat of userId and a valid peer, or a business session BM_<valid app>_<userId>. */
bool omtp_session_names(const char *sessionId, const char *userId);

#endif
