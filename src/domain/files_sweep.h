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
#include <stdint.h>

#include "core/server.h"

#define OMTP_FILES_SWEEP_CHUNK 100

int omtp_files_start(omtp_server *s, char *why, size_t whylen);
/* Before the store closes: no new chunk; the state is freed once a chunk in
 * flight and the timer's close completed. */
void omtp_files_stop(omtp_server *s, uint64_t budget_ms);
/* At free: closes the file store (the HTTP threads are gone), after the
 * byte deletions still running on libuv's pool finished (bounded wait). */
void omtp_files_free(omtp_server *s);
/* Byte deletions queued on libuv's pool (files.c, files_sweep.c) count
 * themselves here, so free never closes the store under one. */
void omtp_files_work_begin(void);
void omtp_files_work_end(void);

/* Counters for /metrics (omtp_files_*; any thread). */
enum omtp_files_counter {
    OMTP_FC_STORED = 0,   /* uploads recorded */
    OMTP_FC_BYTES,        /* their bytes */
    OMTP_FC_TOO_LARGE,    /* refused: max_file_size */
    OMTP_FC_STORAGE_FULL, /* refused: the file store is full */
    OMTP_FC_QUOTA,        /* refused: file_quota_bytes */
    OMTP_FC_RATE,         /* refused: file_upload_rate */
    OMTP_FC_ABORTED,      /* the client stopped mid-upload */
    OMTP_FC_ORPHANS,      /* removed by the sweeper */
    OMTP_FC_N
};
void omtp_files_count(int counter, uint64_t n);

#endif
