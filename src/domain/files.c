/*
 * files.c - the rules of uploaded files (domain/files.h): recording an
 * upload (quota, rate, a fresh fileId), the read rule, and the checks and
 * references of media messages.
 *
 * Threading: omtp_dom_file_* on the loop thread, with one store work item
 * each (callbacks on the loop); omtp_files_send_check / _refs_record on the
 * store thread inside the send's work item; omtp_files_content_check and the
 * helpers anywhere.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "domain/files.h"
#include "domain/files_ingest.h"
#include "domain/files_pins.h"
#include "domain/files_sweep.h"
#include "domain/msg.h"
#include "store/filestore.h"

#define REF_SESSIONS_MAX 1000 /* sessions without members looked at for the read rule */

/* ---------------------------------------------------------------- helpers */

bool omtp_file_id_valid(const char *s)
{
    size_t i = 0;
    for (; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s && i == OMTP_FILE_ID_LEN;
}

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

bool omtp_file_name_clean(const char *in, size_t len, char *out, size_t outlen)
{
    out[0] = 0;
    if (len > OMTP_FILE_NAME_MAX || len + 1 > outlen)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    if ((len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.'))
        return false;
    if (!utf8_ok((const unsigned char *)in, len))
        return false;
    memcpy(out, in, len);
    out[len] = 0;
    return true;
}

static void outcome_set(omtp_dom_outcome *o, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void outcome_set(omtp_dom_outcome *o, int code, const char *reason, const char *fmt, ...)
{
    va_list ap;
    o->code = code;
    o->reason = reason;
    va_start(ap, fmt);
    vsnprintf(o->desc, sizeof(o->desc), fmt, ap);
    va_end(ap);
}

static void outcome_store(omtp_dom_outcome *o, int status)
{
    outcome_set(o, status == OMTP_EDB ? OMTP_EC_SERVICE_UNAVAILABLE : OMTP_EC_DB_ERROR,
                status == OMTP_EDB || status == OMTP_ECLOSED ? "unavailable" : "storage",
                "storage failed (%s); retry later", omtp_strerror(status));
    o->err = status;
}

/* ------------------------------------------------------------ read rule */

/* Store thread: whether `user` may read f (uploader, or a member of a
 * session holding a message that references it). The membership is one
 * indexed query (file_refs joined with members), so it holds for a user in
 * any number of sessions and a file in any number of them. Only when that
 * finds nothing are the sessions without stored members looked at (a chat
 * whose first message referencing the file is not stored: the users its id
 * names may read, docs/files.md "The read rule"); REF_SESSIONS_MAX bounds
 * that look, never the membership answer. */
static int may_read(omtp_db *db, const char *user, const omtp_file_rec *f, bool *yes)
{
    *yes = false;
    if (!user || strcmp(f->uploader, user) == 0) {
        *yes = true;
        return 0;
    }
    int rc = omtp_db_file_ref_member(db, f->fileId, user, yes);
    if (rc != 0 || *yes)
        return rc;
    tars_str_list sids;
    rc = omtp_db_file_ref_sessions(db, f->fileId, REF_SESSIONS_MAX, &sids);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < sids.n && !*yes && rc == 0; i++)
        rc = omtp_chat_session_access(db, user, sids.items[i].data, yes);
    omtp_str_list_free(&sids);
    return rc;
}

typedef struct file_job {
    omtp_server *srv;
    char user[OMTP_ID_MAX + 1];
    bool admin;
    omtp_file_rec f;
    omtp_dom_outcome out;
    omtp_dom_file_done cb;
    omtp_dom_check_done check_cb;
    void *arg;
    uint64_t size_hint;
    bool unused;       /* upload refused: its bytes (f.sha256) are no one else's */
    bool thumb_unused; /* ... and its thumbnail (f.thumb) is no one else's either */
    bool sha_claimed;  /* f.sha256 is claimed for deletion (files_pins.h) */
    bool thumb_claimed;
} file_job;

static file_job *job_new(omtp_server *s, const omtp_dom_caller *who, void *arg)
{
    file_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->srv = s;
    j->arg = arg;
    j->admin = omtp_dom_is_admin(who);
    if (!j->admin && who->user)
        snprintf(j->user, sizeof(j->user), "%s", who->user);
    return j;
}

static int get_work(omtp_db *db, void *arg)
{
    file_job *j = arg;
    char id[sizeof(j->f.fileId)];
    memcpy(id, j->f.fileId, sizeof(id));
    int rc = omtp_db_file_get(db, id, &j->f);
    bool yes = false;
    if (rc == 0)
        rc = may_read(db, j->admin ? NULL : j->user, &j->f, &yes);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && !yes)) {
        outcome_set(&j->out, OMTP_EC_PARAM, "unknown_file",
                    "no file %s (or it is not yours to read)", id);
        return 0;
    }
    return rc;
}

static void get_done(void *arg, int status)
{
    file_job *j = arg;
    if (status != 0)
        outcome_store(&j->out, status);
    j->cb(j->arg, &j->out, j->out.code == 0 ? &j->f : NULL);
    free(j);
}

void omtp_dom_file_get(omtp_server *s, const omtp_dom_caller *who, const char *fileId,
                       omtp_dom_file_done cb, void *arg)
{
    omtp_dom_outcome o = {0};
    if (!omtp_file_id_valid(fileId)) {
        outcome_set(&o, OMTP_EC_PARAM, "unknown_file", "no file %.64s (a fileId is %d hex digits)",
                    fileId ? fileId : "", OMTP_FILE_ID_LEN);
        cb(arg, &o, NULL);
        return;
    }
    file_job *j = job_new(s, who, arg);
    if (!j) {
        outcome_set(&o, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        cb(arg, &o, NULL);
        return;
    }
    j->cb = cb;
    snprintf(j->f.fileId, sizeof(j->f.fileId), "%s", fileId);
    int rc = omtp_dom_run(s, who, get_work, get_done, j);
    if (rc != 0) {
        outcome_store(&j->out, rc);
        cb(arg, &j->out, NULL);
        free(j);
    }
}

/* -------------------------------------------------------------- uploads */

/* Store thread: the uploader's quota and rate for `size` more bytes
 * (size 0: unknown yet). */
static int limits_check(omtp_db *db, file_job *j, uint64_t size)
{
    const omtp_config *c = j->srv->cfg;
    if (j->admin || (!c->file_quota_bytes && !c->file_upload_rate))
        return 0;
    uint64_t bytes = 0;
    int64_t recent = 0;
    int rc = omtp_db_file_usage(db, j->user, omtp_now_ms() - 60000, &bytes, &recent);
    if (rc != 0)
        return rc;
    if (c->file_upload_rate && recent >= (int64_t)c->file_upload_rate)
        outcome_set(&j->out, OMTP_EC_SERVER_REFUSED, "rate_limited",
                    "%" PRId64 " uploads in the last minute; the limit is %u per minute "
                    "(file_upload_rate): retry in a minute",
                    recent, c->file_upload_rate);
    else if (c->file_quota_bytes && bytes + size > c->file_quota_bytes)
        outcome_set(&j->out, OMTP_EC_SERVER_REFUSED, "quota_exceeded",
                    "your files take %" PRIu64 " bytes; with this one (%" PRIu64
                    ") that passes your quota of %" PRIu64
                    " bytes (file_quota_bytes): delete messages with files or ask the operator",
                    bytes, size, c->file_quota_bytes);
    return 0;
}

static int begin_work(omtp_db *db, void *arg)
{
    file_job *j = arg;
    return limits_check(db, j, j->size_hint);
}

static void begin_done(void *arg, int status)
{
    file_job *j = arg;
    if (status != 0)
        outcome_store(&j->out, status);
    j->check_cb(j->arg, &j->out);
    free(j);
}

void omtp_dom_file_upload_begin(omtp_server *s, const omtp_dom_caller *who, uint64_t size_hint,
                                omtp_dom_check_done cb, void *arg)
{
    omtp_dom_outcome o = {0};
    const omtp_config *c = s->cfg;
    if (c->max_file_size && size_hint > c->max_file_size) {
        outcome_set(&o, OMTP_EC_PARAM, "too_large",
                    "the file has %" PRIu64 " bytes; the limit is %" PRIu64 " (max_file_size)",
                    size_hint, c->max_file_size);
        cb(arg, &o);
        return;
    }
    file_job *j = job_new(s, who, arg);
    if (!j) {
        outcome_set(&o, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        cb(arg, &o);
        return;
    }
    if (j->admin || (!c->file_quota_bytes && !c->file_upload_rate)) {
        cb(arg, &o);
        free(j);
        return;
    }
    j->check_cb = cb;
    j->size_hint = size_hint;
    int rc = omtp_dom_run(s, who, begin_work, begin_done, j);
    if (rc != 0) {
        outcome_store(&j->out, rc);
        cb(arg, &j->out);
        free(j);
    }
}

static int done_work(omtp_db *db, void *arg)
{
    file_job *j = arg;
    int rc = limits_check(db, j, j->f.size);
    if (rc != 0)
        return rc;
    if (j->out.code == 0) {
        for (int tries = 0; tries < 4; tries++) {
            unsigned char rnd[OMTP_FILE_ID_LEN / 2];
            if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return OMTP_EIO;
            for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(j->f.fileId + 2 * i, 3, "%02x", rnd[i]);
            rc = omtp_db_file_put(db, &j->f);
            if (rc != OMTP_EEXIST)
                return rc;
        }
        return OMTP_EIO;
    }
    /* refused: are the bytes anyone else's? (if not, they go). Claimed
     * first (files_pins.h: our own pin is the one allowed), so an identical
     * upload in flight keeps them, and one that starts now waits for the
     * delete. The thumbnail is asked on its own: another file's image may
     * have the same one. */
    bool used = false;
    rc = 0;
    if (!j->sha_claimed)
        j->sha_claimed = omtp_files_delete_claim(j->f.sha256, 1);
    if (j->sha_claimed) {
        rc = omtp_db_file_sha_used(db, j->f.sha256, &used);
        j->unused = rc == 0 && !used;
    }
    if (rc == 0 && j->f.thumb[0]) {
        if (!j->thumb_claimed)
            j->thumb_claimed = omtp_files_delete_claim(j->f.thumb, 1);
        if (j->thumb_claimed) {
            used = false;
            rc = omtp_db_file_sha_used(db, j->f.thumb, &used);
            j->thumb_unused = rc == 0 && !used;
        }
    }
    return rc;
}

/* Off the loop: removes a refused upload's bytes. */
typedef struct discard_job {
    uv_work_t w;
    omtp_filestore *fs;
    char sha[65], thumb[65];
} discard_job;

static void discard_work(uv_work_t *w)
{
    discard_job *d = w->data;
    if (d->sha[0])
        omtp_fs_delete(d->fs, d->sha);
    if (d->thumb[0])
        omtp_fs_delete(d->fs, d->thumb);
    omtp_files_delete_release(d->sha); /* uploads of these bytes may go on */
    omtp_files_delete_release(d->thumb);
    omtp_files_work_end();
}

static void discard_after(uv_work_t *w, int status)
{
    (void)status;
    free(w->data);
}

/* sha and thumb: the objects to remove ("" for none), claimed for deletion
 * (released once deleted, or now if they cannot be). */
static void discard(omtp_server *s, const char *sha, const char *thumb)
{
    discard_job *d = s->filestore && s->loop ? calloc(1, sizeof(*d)) : NULL;
    if (!d) {
        omtp_files_delete_release(sha);
        omtp_files_delete_release(thumb);
        return;
    }
    d->fs = s->filestore;
    d->w.data = d;
    snprintf(d->sha, sizeof(d->sha), "%s", sha);
    snprintf(d->thumb, sizeof(d->thumb), "%s", thumb);
    omtp_files_work_begin();
    if (uv_queue_work(s->loop, &d->w, discard_work, discard_after) != 0) {
        omtp_files_work_end();
        omtp_files_delete_release(sha);
        omtp_files_delete_release(thumb);
        free(d);
    }
}

static void upload_done_cb(void *arg, int status)
{
    file_job *j = arg;
    if (status != 0)
        outcome_store(&j->out, status);
    /* deleted only when refused, committed and no row names them; claims
     * not used for a delete go at once */
    bool del = status == 0 && j->out.code != 0;
    bool del_sha = del && j->unused, del_thumb = del && j->thumb_unused;
    if (j->sha_claimed && !del_sha)
        omtp_files_delete_release(j->f.sha256);
    if (j->thumb_claimed && !del_thumb)
        omtp_files_delete_release(j->f.thumb);
    if (del_sha || del_thumb)
        discard(j->srv, del_sha ? j->f.sha256 : "", del_thumb ? j->f.thumb : "");
    omtp_ingest_unpin(&j->f); /* the row is decided (files_pins.h) */
    if (j->out.code == 0) {
        omtp_files_count(OMTP_FC_STORED, 1);
        omtp_files_count(OMTP_FC_BYTES, j->f.size);
    } else if (j->out.reason && !strcmp(j->out.reason, "quota_exceeded")) {
        omtp_files_count(OMTP_FC_QUOTA, 1);
    } else if (j->out.reason && !strcmp(j->out.reason, "rate_limited")) {
        omtp_files_count(OMTP_FC_RATE, 1);
    }
    if (j->out.code == 0)
        LOG_INFO("files: %s stored: %" PRIu64 " bytes, %s, sha256 %s, by %s%s", j->f.fileId,
                 j->f.size, j->f.mime, j->f.sha256, j->f.uploader[0] ? j->f.uploader : "the API",
                 j->f.thumb[0] ? ", with a thumbnail" : "");
    j->cb(j->arg, &j->out, j->out.code == 0 ? &j->f : NULL);
    free(j);
}

void omtp_dom_file_upload_done(omtp_server *s, const omtp_dom_caller *who, const omtp_dom_file *in,
                               omtp_dom_file_done cb, void *arg)
{
    omtp_dom_outcome o = {0};
    file_job *j = job_new(s, who, arg);
    if (!j) {
        omtp_ingest_unpin(in);
        outcome_set(&o, OMTP_EC_SERVER_EXCEPTION, "internal", "out of memory");
        cb(arg, &o, NULL);
        return;
    }
    j->cb = cb;
    j->f = *in;
    j->f.fileId[0] = 0;
    snprintf(j->f.uploader, sizeof(j->f.uploader), "%s", j->admin ? "" : j->user);
    if (!j->f.name[0])
        snprintf(j->f.name, sizeof(j->f.name), "file");
    j->f.created = omtp_now_ms();
    int rc = omtp_dom_run(s, who, done_work, upload_done_cb, j);
    if (rc != 0) {
        omtp_ingest_unpin(in);
        outcome_store(&j->out, rc);
        cb(arg, &j->out, NULL);
        free(j);
    }
}

/* -------------------------------------------------------- media messages */

static bool is_file_type(int ct)
{
    return ct == OMTP_CT_VOICE || ct == OMTP_CT_IMAGE || ct == OMTP_CT_VIDEO || ct == OMTP_CT_FILE;
}

bool omtp_files_may_reference(int contentType)
{
    return is_file_type(contentType) || contentType == OMTP_CT_RICH;
}

static const char *type_name(int ct)
{
    switch (ct) {
    case OMTP_CT_VOICE:
        return "voice";
    case OMTP_CT_IMAGE:
        return "image";
    case OMTP_CT_LOCATION:
        return "location";
    case OMTP_CT_VIDEO:
        return "video";
    case OMTP_CT_FILE:
        return "file";
    case OMTP_CT_RICH:
        return "rich media";
    }
    return "?";
}

static bool int_field(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return false;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        *bad = true;
    return true;
}

static bool str_field(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return false;
    if (!json_is_string(v))
        *bad = true;
    return true;
}

/* The content as a JSON object of a media type, or NULL with desc set
 * (desc may be NULL: no words wanted). Text and unknown types: NULL with
 * desc "" (nothing to check). */
static json_t *content_parse(int ct, const char *content, size_t len, char *desc, size_t desclen)
{
    if (desc)
        desc[0] = 0;
    if (!is_file_type(ct) && ct != OMTP_CT_LOCATION && ct != OMTP_CT_RICH)
        return NULL;
    json_error_t je;
    json_t *o = json_loadb(content, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        if (desc)
            snprintf(desc, desclen,
                     "contentType %d (%s) needs a JSON object as content (docs/files.md, "
                     "\"Media messages\")%s%s",
                     ct, type_name(ct), o ? "" : ": ", o ? "" : je.text);
        if (o)
            json_decref(o);
        return NULL;
    }
    return o;
}

int omtp_files_content_check(int contentType, const char *content, size_t len, char *desc,
                             size_t desclen)
{
    json_t *o = content_parse(contentType, content, len, desc, desclen);
    if (!o)
        return desc[0] ? OMTP_EC_PARAM : 0;
    int ct = contentType;
    bool bad = false;
    const char *why = NULL;
    if (ct == OMTP_CT_LOCATION) {
        json_t *lat = json_object_get(o, "lat"), *lng = json_object_get(o, "lng");
        if (!json_is_number(lat) || !json_is_number(lng) || fabs(json_number_value(lat)) > 90 ||
            fabs(json_number_value(lng)) > 180)
            why = "a location is {\"lat\": -90..90, \"lng\": -180..180, \"name\": text}";
        else if (str_field(o, "name", &bad) && bad)
            why = "location \"name\" must be text";
    } else {
        json_t *id = json_object_get(o, "fileId");
        bool need = is_file_type(ct);
        if (!id && need)
            why = "a media message names its file: {\"fileId\": the id POST /v1/files "
                  "answered, ...}";
        else if (id && (!json_is_string(id) || !omtp_file_id_valid(json_string_value(id))))
            why = "\"fileId\" is not a file id (32 hex digits, as POST /v1/files answered)";
        else if (need) {
            str_field(o, "name", &bad);
            str_field(o, "mime", &bad);
            str_field(o, "thumbId", &bad);
            int_field(o, "size", &bad);
            if (str_field(o, "sha256", &bad) && !bad &&
                strlen(json_string_value(json_object_get(o, "sha256"))) != 64)
                bad = true;
            int_field(o, "width", &bad);
            int_field(o, "height", &bad);
            int_field(o, "durationMs", &bad);
            if (bad)
                why = "name, mime, sha256 and thumbId are text; size, width, height and "
                      "durationMs are whole numbers >= 0";
        }
    }
    json_decref(o);
    if (!why)
        return 0;
    snprintf(desc, desclen, "contentType %d (%s): %s", ct, type_name(ct), why);
    return OMTP_EC_PARAM;
}

/* The fileId a media message's content references, or false. */
static bool content_file(int ct, const char *content, size_t len, char id[OMTP_FILE_ID_LEN + 1],
                         json_t **obj)
{
    json_t *o = content_parse(ct, content, len, NULL, 0);
    if (!o)
        return false;
    json_t *v = json_object_get(o, "fileId");
    bool ok = json_is_string(v) && omtp_file_id_valid(json_string_value(v));
    if (ok)
        snprintf(id, OMTP_FILE_ID_LEN + 1, "%s", json_string_value(v));
    if (ok && obj)
        *obj = o;
    else
        json_decref(o);
    return ok;
}

int omtp_files_send_check(omtp_db *db, const char *sender, int contentType, const char *content,
                          size_t len, int *code, char *desc, size_t desclen)
{
    char id[OMTP_FILE_ID_LEN + 1];
    json_t *o = NULL;
    *code = 0;
    if (!content_file(contentType, content, len, id, &o))
        return 0;
    omtp_file_rec f;
    bool yes = false;
    int rc = omtp_db_file_get(db, id, &f);
    if (rc == 0)
        rc = may_read(db, sender, &f, &yes);
    if (rc == OMTP_ENOTFOUND || (rc == 0 && !yes)) {
        *code = OMTP_EC_PARAM;
        snprintf(desc, desclen,
                 "content.fileId %s is not a file you may send: upload it first (POST "
                 "/v1/files) or forward one you can read",
                 id);
        rc = 0;
    } else if (rc == 0) {
        json_t *sz = json_object_get(o, "size"), *sha = json_object_get(o, "sha256");
        if (sz && json_is_integer(sz) && (uint64_t)json_integer_value(sz) != f.size) {
            *code = OMTP_EC_PARAM;
            snprintf(desc, desclen, "content.size %" PRId64 " is not file %s's size %" PRIu64,
                     (int64_t)json_integer_value(sz), id, f.size);
        } else if (sha && json_is_string(sha) && strcmp(json_string_value(sha), f.sha256) != 0) {
            *code = OMTP_EC_PARAM;
            snprintf(desc, desclen, "content.sha256 is not file %s's (%s)", id, f.sha256);
        }
    }
    json_decref(o);
    return rc;
}

int omtp_files_refs_record(omtp_db *db, const char *sid, int64_t seq, int contentType,
                           const char *content, size_t len)
{
    char id[OMTP_FILE_ID_LEN + 1];
    if (!content_file(contentType, content, len, id, NULL))
        return 0;
    return omtp_db_file_ref_add(db, id, sid, seq);
}
