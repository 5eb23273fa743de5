/*
 * hp_retention.h - the retention job of the per-user high-priority queues.
 *
 * Every HIGHPRJ message and every revoke/delete/edit notice adds one
 * hp_queue row per recipient (one hp_group row per message in a group);
 * this job deletes the rows older than
 * hp_retention_days (hp_retention_s when set, for tests), so the table stops
 * growing forever. A libuv timer on the loop starts a pass shortly after
 * start-up and then every hp_prune_interval_s; a pass submits the store's
 * hp_prune op through the executor in chunks of OMTP_HP_PRUNE_CHUNK rows,
 * the next chunk when the previous one completed, until a chunk comes back
 * short. Each chunk is one small work item in a group-commit batch, so
 * message appends never wait behind a long delete. Removed entries are
 * counted in srv->metrics.hp_pruned (omtp_hp_pruned_total); a pass that
 * removed something logs the count and its duration at INFO.
 *
 * The timer never keeps the loop alive (uv_unref). Threading: loop thread
 * only.
 */
#ifndef OMTP_HP_RETENTION_H
#define OMTP_HP_RETENTION_H

#include "core/server.h"

#define OMTP_HP_PRUNE_CHUNK 500 /* rows per hp_prune call */

/* Starts the job (nothing when retention is off: hp_retention_days = 0 and
 * hp_retention_s = 0). Call after the store is open. Returns 0 or
 * OMTP_ENOMEM. */
int omtp_hp_retention_start(omtp_server *s);
/* Stops it before the store closes: no new chunk is submitted; a chunk in
 * flight completes while the store drains, and the state is freed once both
 * that completion and the timer's close have run. Idempotent. */
void omtp_hp_retention_stop(omtp_server *s);

#endif
