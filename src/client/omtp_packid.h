/*
 * omtp_packid.h - packIds for the messages a client sends.
 *
 * A message's packId is its idempotency key: the server deduplicates sends
 * by (sender, packId) and keeps an index on that pair. With random (v4)
 * UUIDs every stored message lands on a random leaf of that index, so a
 * commit of N messages dirties ~N index pages (write amplification: the WAL
 * and the checkpoints carry N x 4 KiB per batch). Time-ordered UUIDs
 * (RFC 9562 version 7: 48-bit Unix milliseconds, then a per-process
 * counter, then random bits) make one sender's packIds increase, so its
 * entries are appended next to each other and a batch dirties about one
 * page per active sender. They remain valid, unique UUIDs: any server that
 * treats packIds as opaque strings is unaffected.
 *
 * Threading: thread-safe (thread-local state).
 */
#ifndef OMTP_PACKID_H
#define OMTP_PACKID_H

/* Writes a fresh time-ordered UUID (version 7), 36 chars + NUL. Strictly
 * increasing (as a string) across the calls of one thread. */
void omtp_packid_new(char out[37]);

#endif
