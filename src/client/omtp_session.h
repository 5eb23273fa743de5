/*
 * omtp_session.h - session id conventions shared by the client tools.
 *
 * The server decides session ids (DESIGN: single chat "SC_<lower>_<higher>"
 * of the two user ids in byte order, a group chat is its group id "GC_...",
 * business notices "BM_<appId>_<userId>"). Clients compute the same spelling
 * to address history, read cursors and control commands.
 *
 * Threading: pure functions, reentrant.
 */
#ifndef OMTP_SESSION_H
#define OMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

/* Writes "SC_<lower>_<higher>" of users a and b into buf (truncated to n). */
void omtp_session_id_single(const char *a, const char *b, char *buf, size_t n);
/* True for a group-chat session / group id ("GC_" prefix). */
bool omtp_session_is_group(const char *session_id);
/*
 * The other user of a single-chat session id seen by `me`, copied to buf;
 * false if session_id is not "SC_<me>_<x>" or "SC_<x>_<me>".
 */
bool omtp_session_peer(const char *session_id, const char *me, char *buf, size_t n);

#endif
