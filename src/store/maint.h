/*
 * maint.h - store maintenance for admin commands (`omtpd user rename`) and
 * the server's start-up check, once for every backend (maint.c, on
 * omtp_db_sql).
 *
 * Threading: like every omtp_db use, one thread at a time; the server runs
 * omtp_store_bad_ids before its store thread starts.
 */
#ifndef OMTP_STORE_MAINT_H
#define OMTP_STORE_MAINT_H

#include "store.h"

/* Up to max ids held in the store that are not valid ids (DESIGN: ids never
 * contain the session separator): user ids, and app ids of business
 * sessions. *out is initialised here; free it with omtp_str_list_free. */
int omtp_store_bad_ids(omtp_db *db, tars_str_list *out, int max);

typedef struct omtp_rename_stats {
    int moved_sessions; /* conversations whose session id changed, numbers kept */
    int split_sessions; /* session ids two conversations shared, taken apart */
} omtp_rename_stats;

/*
 * Renames user (or app) `from` to `to` in every table: the user row (with
 * password, role, profile), membership rows and read cursors, session
 * attributes, messages' from/to, single-chat and business session ids
 * (a whole conversation keeps its seqIds; a session id two conversations
 * shared is split, and each part gets seqIds 1..n in its own order, read
 * cursors mapped, so every session stays gap-free), session parties,
 * high-priority queues (and the sender mark of group high-priority
 * entries), group creator and membership history, friends (both
 * directions) and user attributes (both sides). Run it inside begin/commit; on failure roll back.
 * Returns 0, OMTP_ENOTFOUND (no `from`), OMTP_EEXIST (`to` already has
 * data, or a target session exists), or OMTP_EDB; *why says which. `to`
 * must be a valid id (the caller checks). stats may be NULL.
 */
int omtp_store_user_rename(omtp_db *db, const char *from, const char *to, char *why, size_t whylen,
                           omtp_rename_stats *stats);

#endif
