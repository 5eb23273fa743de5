/*
 * idlist.h - small helpers on lists of user ids, shared by the group,
 * friend and user handlers.
 *
 * Lists are tars_str_list (owned strings). A normalised list is sorted by
 * byte order with duplicates removed, so membership tests are a binary
 * search. omtp_ids_missing() runs on the store thread (it queries the db).
 */
#ifndef OMTP_IDLIST_H
#define OMTP_IDLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* Copies `in` (plus `extra` if not NULL) into *out sorted and unique. Every id
 * must be a valid user id (omtp_id_valid): else OMTP_EINVAL and `why` names the bad one.
 * *out is initialised in every case; free it with omtp_ids_free. */
int omtp_ids_normalize(const tars_str_list *in, const char *extra, tars_str_list *out, char *why,
                       size_t whylen);
/* Binary search in a normalised list. */
bool omtp_ids_contains(const tars_str_list *sorted, const char *id);
/* Sorts and de-duplicates a list in place (e.g. one the store returned). */
void omtp_ids_sort(tars_str_list *l);
void omtp_ids_free(tars_str_list *l);
/* Moves src into dst (dst freed first; src left empty). */
void omtp_ids_move(tars_str_list *dst, tars_str_list *src);

/* Store thread: how many of `ids` are not users (*nmissing) and the first
 * of them in `missing`. Returns 0 or a negative OMTP_E*. */
int omtp_ids_missing(omtp_db *db, const tars_str_list *ids, int *nmissing, char *missing,
                     size_t missinglen);

/* A compact JSON object {"k1":"v1",...} from NULL-terminated key/value
 * pairs, for SyncDataReq.content. Returns a malloc'ed string or NULL. */
char *omtp_json_kv(const char *k1, ...) __attribute__((sentinel));

#endif
