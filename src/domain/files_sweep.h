/*
 * domain/files_sweep.h - the "files" part of the server (omtpd/wiring.c):
 * opens the file store (store/filestore.h, file_store setting) into
 * s->filestore, starts libvips, removes temporary objects a crash left, and
 * runs the orphan sweeper.
 *
 * The sweeper: files that no message references and that are older than
 * file_orphan_days (file_orphan_s for tests) are removed -- their rows, and
 * their bytes when no other file shares them. A libuv timer starts a pass
 * shortly after start-up and then every hp_prune_interval_s (the retention
 * job's period); a pass works in chunks of OMTP_FILES_SWEEP_CHUNK files, one
 * store work item each (the next once the previous completed), and deletes
 * the bytes off the loop (uv_queue_work). Removed files are logged per pass.
 *
 * Threading: loop thread.
 */
#ifndef OMTP_DOMAIN_FILES_SWEEP_H
#define OMTP_DOMAIN_FILES_SWEEP_H

#include <stddef.h>

#include "core/server.h"

#define OMTP_FILES_SWEEP_CHUNK 100

int omtp_files_start(omtp_server *s, char *why, size_t whylen);
/* Before the store closes: no new chunk; the state is freed once a chunk in
 * flight and the timer's close completed. */
void omtp_files_stop(omtp_server *s, uint64_t budget_ms);
/* At free: closes the file store (the HTTP threads are gone). */
void omtp_files_free(omtp_server *s);

#endif
