/*
 * datadir_lock.h - one data directory, one server.
 *
 * A running omtpd holds an exclusive flock(2) on "<data_dir>/omtpd.pid"
 * (SQLite in the data directory; "<file>.omtpd.pid" next to a sqlite:PATH
 * store) for its whole life and writes its pid there. A second omtpd on the
 * same directory finds the lock taken and refuses ("./var is in use by omtpd
 * pid N"). The kernel drops the lock when the process ends, however it ends
 * (also kill -9): a stale pid file never blocks a start. Admin commands
 * (`omtpd user ...`, `omtpd token ...`) do not take it; they work beside the
 * server (user rename has its own, stricter, store lock: store/maint.h).
 *
 * PostgreSQL stores: the server takes a session advisory lock per node id
 * instead (pg_try_advisory_lock on a key derived from "omtpd node <node_id>"),
 * so two omtpd with the same node id (or two single-node servers) on one
 * database refuse, while cluster nodes with distinct node ids share it. A
 * cluster node without node_id (named HOSTNAME:PORT once bound) takes none.
 *
 * Main thread only, before the loop runs; the lock lives until exit.
 */
#ifndef OMTPD_DATADIR_LOCK_H
#define OMTPD_DATADIR_LOCK_H

#include <stddef.h>

#include "core/config.h"

/* Takes the lock for cfg's store. 0 on success (also when the directory
 * cannot be written: the store then reports that in its own words);
 * otherwise *why says who holds it and what to do, and the caller exits. */
int omtpd_datadir_lock(const omtp_config *cfg, char *why, size_t whylen);

/* Whether cfg names an existing store. SQLite: the database file exists.
 * PostgreSQL: always true (the server says whether it can connect). When
 * false, *where names the missing place for the message. */
int omtpd_store_exists(const omtp_config *cfg, char *where, size_t wherelen);

#endif
