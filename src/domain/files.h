/*
 * domain/files.h - the rules of uploaded files (docs/files.md): metadata,
 * who may read a file, quota and upload rate, the check a media message's
 * send makes, and the references a stored media message records.
 *
 * Where the pieces live:
 *   bytes            store/filestore.h (blocking; never on the loop thread)
 *   metadata, refs   the database (store.h: file_put, file_get, file_ref_add,
 *                    file_refs, file_usage, file_orphans, file_del)
 *   upload pipeline  domain/files_ingest.h (blocking, any thread but the
 *                    loop: stream -> sniff (libmagic) -> commit -> image
 *                    size and thumbnail (libvips))
 *   rules            here (loop thread, outcome callbacks)
 *
 * A file: fileId (32 lowercase hex digits, random, one per upload even when
 * the bytes are shared), sha256 of the bytes, size, mime (sniffed from the
 * bytes, never the client's claim), name (the client's, sanitised:
 * omtp_file_name_clean), uploader (a user id; "" when the business backend
 * uploaded it), created (ms), width/height (images; 0 otherwise), thumb
 * (sha256 of the thumbnail's bytes in the file store, "" for none).
 *
 * Read rule (omtp_dom_file_get): OMTP_DOM_API and OMTP_DOM_ADMIN read every
 * file. A user reads a file they uploaded, or one referenced by a message
 * of a session they may read (single chat: its two users; group: its
 * members; business: its user). Everyone else gets "unknown_file" (HTTP
 * 404, never 403: a file id's existence is not disclosed).
 *
 * Upload limits (omtp_dom_file_upload_begin): the size (max_file_size, also
 * enforced while streaming), the user's quota (file_quota_bytes: the sum of
 * the sizes of the files they uploaded, 0 = none) and upload rate
 * (file_upload_rate uploads per minute per user, 0 = none). The business
 * backend (API) has no quota or rate.
 *
 * Media messages (DESIGN "Media messages"): contentType 2 voice, 3 image,
 * 6 video, 7 file carry {"fileId","name","size","mime","sha256"} (+ width,
 * height for image/video, durationMs for voice/video, thumbId optional);
 * 5 location carries {"lat","lng","name"}; 8 rich media is a JSON object
 * that may carry a "fileId". omtp_files_content_check validates the JSON
 * (no database); omtp_files_send_check (store thread, inside the send's
 * work item) refuses a file the sender may not read; omtp_files_refs_record
 * (store thread, after the append) remembers the message's reference, which
 * is what lets the session's members read the file.
 */
#ifndef OMTP_DOMAIN_FILES_H
#define OMTP_DOMAIN_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/caller.h"
#include "proto/omtp_proto.h"
#include "store/store.h"

#define OMTP_FILE_ID_LEN   32  /* hex digits of a fileId */
#define OMTP_FILE_NAME_MAX 255 /* bytes of a (sanitised) original name */
#define OMTP_FILE_MIME_MAX 127

/* Content types of DESIGN "Media messages" (MsgReq.contentType). */
enum {
    OMTP_CT_TEXT = 1,
    OMTP_CT_VOICE = 2,
    OMTP_CT_IMAGE = 3,
    OMTP_CT_LOCATION = 5,
    OMTP_CT_VIDEO = 6,
    OMTP_CT_FILE = 7,
    OMTP_CT_RICH = 8,
};

/* A file's metadata: the store's record (store.h, omtp_file_rec). */
typedef omtp_file_rec omtp_dom_file;

typedef void (*omtp_dom_file_done)(void *arg, const omtp_dom_outcome *res,
                                   const omtp_dom_file *file);
typedef void (*omtp_dom_check_done)(void *arg, const omtp_dom_outcome *res);

/* Before an upload's bytes are accepted: the caller's quota and rate
 * (size_hint: Content-Length, 0 = unknown). Refusals: "too_large" (413),
 * "quota_exceeded" (HTTP 413: the uploader's quota would be exceeded),
 * "rate_limited" (429). Loop thread; the callback on it. */
void omtp_dom_file_upload_begin(omtp_server *s, const omtp_dom_caller *who, uint64_t size_hint,
                                omtp_dom_check_done cb, void *arg);

/* After the bytes are committed to the file store (files_ingest.h):
 * records the metadata of `in` (fileId is made here; uploader from `who`)
 * and calls back with the stored file. Releases the pins
 * omtp_ingest_finish left on in->sha256 and in->thumb (files_pins.h),
 * whatever the outcome. "storage" on a database failure (the
 * caller may then delete the object if no other file shares it: the
 * sweeper would otherwise). Loop thread. */
void omtp_dom_file_upload_done(omtp_server *s, const omtp_dom_caller *who, const omtp_dom_file *in,
                               omtp_dom_file_done cb, void *arg);

/* The file's metadata if `who` may read it (the read rule above), else
 * "unknown_file". Loop thread. */
void omtp_dom_file_get(omtp_server *s, const omtp_dom_caller *who, const char *fileId,
                       omtp_dom_file_done cb, void *arg);

/* ---- the send path (domain/msg.c) */

/* Validates `content` for contentType (no database). Returns 0 when the
 * message may go on (text and unknown types pass untouched), else
 * OMTP_EC_PARAM with desc saying what is wrong. */
int omtp_files_content_check(int contentType, const char *content, size_t len, char *desc,
                             size_t desclen);
/* Whether a message of this contentType may reference a file (2 voice,
 * 3 image, 6 video, 7 file, 8 rich media): such a send needs the per-message
 * store work (omtp_files_send_check, omtp_files_refs_record), not a batched
 * append. */
bool omtp_files_may_reference(int contentType);
/* Store thread, inside the send's work item: a media message's fileId must
 * exist and be readable by `sender` (NULL: the business backend, which
 * reads everything). Returns a negative OMTP_E* on a database failure, 0
 * otherwise with *code = OMTP_EC_SUCCESS or OMTP_EC_PARAM (desc filled). */
int omtp_files_send_check(omtp_db *db, const char *sender, int contentType, const char *content,
                          size_t len, int *code, char *desc, size_t desclen);
/* Store thread, after the append: records that message (sid, seq)
 * references the media message's file. No-op for other types. */
int omtp_files_refs_record(omtp_db *db, const char *sid, int64_t seq, int contentType,
                           const char *content, size_t len);

/* ---- helpers shared by the adapters */

/* Whether s is a fileId (OMTP_FILE_ID_LEN lowercase hex digits). */
bool omtp_file_id_valid(const char *s);
/* Checks a client's file name and copies it to out: refused (false) when it
 * holds '/', '\\', NUL or a control character (< 0x20, 0x7f), is "." or
 * "..", is not UTF-8, or is longer than OMTP_FILE_NAME_MAX bytes. An empty
 * name is allowed (served as "file"). Ruling: refused, not rewritten, so
 * what a client names a file is what its peer sees. */
bool omtp_file_name_clean(const char *in, size_t len, char *out, size_t outlen);

#endif
