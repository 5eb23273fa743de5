/*
 * domain/files_pins.h - the hashes of the file store that must not be
 * deleted right now (docs/files.md "Shared bytes").
 *
 * The file store is content addressed: identical uploads share one object,
 * named by its SHA-256. An object is deleted when no files row names it (a
 * refused upload, the orphan sweeper). Without coordination an upload of
 * the same bytes could commit ("already there", nothing written) between
 * the "no row names it" answer and the delete, and its files row would
 * then name bytes that are gone. The rule, in this process:
 *
 *   - an upload PINS its hash (and its thumbnail's) before its commit looks
 *     at the store, and keeps the pin until its files row is decided
 *     (omtp_dom_file_upload_done releases it, whatever the outcome);
 *   - a deleter CLAIMS the hash on the store thread BEFORE it asks the
 *     database whether a row names it: the claim fails while an upload
 *     other than the deleter's own holds a pin (`own`: pins the caller
 *     itself holds); a claimed hash is deleted only if no row names it,
 *     and the claim is released after the delete (or the decision not to);
 *   - a pin of a claimed hash waits until the claim is released (then the
 *     commit finds no object and writes it again), bounded by
 *     OMTP_PIN_WAIT_MS (then OMTP_EIO: the upload fails, "retry").
 *
 * Why this is enough: a row inserted before the claim is seen by the
 * store-thread check that follows it (the same thread, in order); an upload
 * pinned before the claim makes the claim fail; one that pins after it
 * waits for the delete. Across nodes sharing one S3 bucket the pins are
 * not shared: docs/files.md states the cross-node rule and what is left.
 *
 * Threading: any thread (a mutex and a condition variable; the set holds
 * only hashes in flight, a handful). omtp_files_pin may block: never on the
 * loop thread.
 */
#ifndef OMTP_DOMAIN_FILES_PINS_H
#define OMTP_DOMAIN_FILES_PINS_H

#include <stdbool.h>

#define OMTP_PIN_WAIT_MS 10000

/* Upload side: 0, or OMTP_EIO when the hash stayed claimed for
 * OMTP_PIN_WAIT_MS (or memory ran out). "" is a no-op (0). */
int omtp_files_pin(const char *sha);
void omtp_files_unpin(const char *sha);

/* Deleter side: true when sha is now claimed for deletion (at most `own`
 * pins on it, and no other claim); false: leave the bytes. */
bool omtp_files_delete_claim(const char *sha, int own);
void omtp_files_delete_release(const char *sha);

/* For tests: pins currently held on sha. */
int omtp_files_pins_of(const char *sha);

#endif
