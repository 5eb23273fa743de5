/*
 * http_fields.c - reading JSON body fields with one 400 per bad field, and
 * mapping protocol/store errors to HTTP errors. Loop thread.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domain/caller.h"
#include "proto/omtp_proto.h"

static json_t *field(http_req *r, const char *key)
{
    return r->json ? json_object_get(r->json, key) : NULL;
}

static bool missing(http_req *r, const char *key)
{
    http_reply_error(r, 400, "missing_field", "the field \"%s\" is required", key);
    return false;
}

bool http_valid_id(const char *s)
{
    return omtp_id_valid(s);
}

bool http_valid_group_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OMTP_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/')
            return false;
    }
    return true;
}

bool http_get_str(http_req *r, const char *key, bool required, size_t maxlen, const char **out)
{
    json_t *v = field(r, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? missing(r, key) : true;
    if (!json_is_string(v)) {
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" must be a string", key);
        return false;
    }
    if (json_string_length(v) > maxlen) {
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" is longer than %zu bytes", key,
                         maxlen);
        return false;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" contains a NUL character", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool http_get_id(http_req *r, const char *key, bool required, const char **out)
{
    if (!http_get_str(r, key, required, OMTP_ID_MAX, out))
        return false;
    if (*out && !http_valid_id(*out)) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"%s\" must be a user or app id: " OMTP_ID_RULE, key);
        return false;
    }
    return true;
}

bool http_get_group_id(http_req *r, const char *key, bool required, const char **out)
{
    if (!http_get_str(r, key, required, OMTP_ID_MAX, out))
        return false;
    if (*out && !http_valid_group_id(*out)) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"%s\" must be a group id of 1..%d bytes without '/' or "
                         "control characters",
                         key, OMTP_ID_MAX);
        return false;
    }
    return true;
}

bool http_get_int(http_req *r, const char *key, bool required, int64_t def, int64_t *out)
{
    json_t *v = field(r, key);
    *out = def;
    if (!v || json_is_null(v))
        return required ? missing(r, key) : true;
    if (!json_is_integer(v)) {
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" must be an integer", key);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

void http_str_list_free(tars_str_list *l)
{
    for (uint32_t i = 0; i < l->n; i++)
        tars_str_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int http_str_list_push(tars_str_list *l, const char *s)
{
    /* geometric growth: the array is full when n is 0 or a power of two
     * (one realloc per id copied a 10,000-id list ~10,000 times) */
    if ((l->n & (l->n - 1)) == 0) {
        uint32_t cap = l->n < 4 ? 4 : l->n * 2;
        tars_str *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return OMTP_ENOMEM;
        l->items = items;
    }
    tars_str *items = l->items;
    memset(&items[l->n], 0, sizeof(items[l->n]));
    if (tars_str_set(&items[l->n], s) != 0)
        return OMTP_ENOMEM;
    l->n++;
    return 0;
}

static const tars_str *g_dedup_items; /* loop thread only: qsort has no context argument */

static int cmp_idx(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(g_dedup_items[x].data, g_dedup_items[y].data);
    return c ? c : x < y ? -1 : x > y;
}

/* Drops repeated ids, keeping the first of each in its place: O(n log n)
 * (a scan per id cost 10,000 x 10,000 comparisons on the loop thread, and
 * blocked every connection, for one 10,000-member group call). */
static int dedup(tars_str_list *l)
{
    if (l->n < 2)
        return 0;
    uint32_t *idx = malloc(l->n * sizeof(*idx));
    bool *dup = calloc(l->n, sizeof(*dup));
    if (!idx || !dup) {
        free(idx);
        free(dup);
        return OMTP_ENOMEM;
    }
    for (uint32_t i = 0; i < l->n; i++)
        idx[i] = i;
    g_dedup_items = l->items;
    qsort(idx, l->n, sizeof(*idx), cmp_idx);
    for (uint32_t i = 1; i < l->n; i++)
        if (strcmp(l->items[idx[i]].data, l->items[idx[i - 1]].data) == 0)
            dup[idx[i]] = true; /* a later copy: the sort keeps equal ids in input order */
    uint32_t w = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (dup[i])
            tars_str_clear(&l->items[i]);
        else
            l->items[w++] = l->items[i];
    }
    l->n = w;
    free(idx);
    free(dup);
    return 0;
}

bool http_get_ids(http_req *r, const char *key, bool required, uint32_t max, tars_str_list *out)
{
    memset(out, 0, sizeof(*out));
    json_t *v = field(r, key);
    if (!v || json_is_null(v))
        return required ? missing(r, key) : true;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v)) {
        http_reply_error(r, 400, "invalid_field",
                         "the field \"%s\" must be an id or an array of ids", key);
        return false;
    }
    if (n == 0 && required)
        return missing(r, key);
    if (n > max) {
        http_reply_error(r, 400, "invalid_field", "the field \"%s\" has more than %u ids", key,
                         max);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        if (!s || strlen(s) != json_string_length(e) || !http_valid_id(s)) {
            http_str_list_free(out);
            http_reply_error(r, 400, "invalid_field",
                             "the field \"%s\" must hold user ids: " OMTP_ID_RULE, key);
            return false;
        }
        if (http_str_list_push(out, s) != 0) {
            http_str_list_free(out);
            http_reply_error(r, 500, "internal", "out of memory");
            return false;
        }
    }
    if (dedup(out) != 0) {
        http_str_list_free(out);
        http_reply_error(r, 500, "internal", "out of memory");
        return false;
    }
    return true;
}

void http_reply_store_err(http_req *r, int err)
{
    switch (err) {
    case OMTP_ENOTFOUND:
        http_reply_error(r, 404, "not_found", "no such object");
        break;
    case OMTP_EEXIST:
        http_reply_error(r, 409, "conflict", "it already exists");
        break;
    case OMTP_ENOMEM:
        http_reply_error(r, 500, "internal", "out of memory");
        break;
    case OMTP_ENOSPC:
        http_reply_error(
            r, 507, "storage_full",
            "the server's disk is full: nothing was stored; retry once space is freed");
        break;
    default:
        http_reply_error(r, 503, "store_error", "the store failed: %s", omtp_strerror(err));
        break;
    }
}

void http_reply_ec(http_req *r, int ec, const char *desc)
{
    const char *name = omtp_error_code_name(ec);
    unsigned status;
    switch (ec) {
    case OMTP_EC_GROUP_USER_NOTEXIST:
        http_reply_error(r, 404, "unknown_user", "%s", desc && *desc ? desc : "no such user");
        return;
    case OMTP_EC_GROUP_NOT_EXIST:
    case OMTP_EC_GROUP_ID_EMPTY:
        http_reply_error(r, 404, "unknown_group", "%s", desc && *desc ? desc : "no such group");
        return;
    case OMTP_EC_MSG_NOT_EXIST:
        status = 404;
        break;
    case OMTP_EC_MSG_FORBIDDEN:
    case OMTP_EC_GROUP_NO_PRIVILEGE:
    case OMTP_EC_USER_RELATION_INVALID:
    case OMTP_EC_CONN_ACCESS_DENIED:
    case OMTP_EC_SENSI_MATCH:
        status = 403;
        break;
    case OMTP_EC_GROUP_MEMBER_LIMIT:
    case OMTP_EC_MSG_REPEATED: /* an idempotency id reused with another body */
        status = 409;
        break;
    case OMTP_EC_DB_ERROR:
    case OMTP_EC_SERVICE_UNAVAILABLE:
    case OMTP_EC_SERVER_REFUSED:
        status = 503;
        break;
    case OMTP_EC_SERVER_EXCEPTION:
    case OMTP_EC_UNKNOWN:
        status = 500;
        break;
    default: /* PARAM, MSG_TOO_SHORT/LONG, INVALID_FORMAT, ... */
        status = 400;
        break;
    }
    char code[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof(code); i++)
        code[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] - 'A' + 'a' : name[i]);
    code[i] = '\0';
    http_reply_error(r, status, code, "%s", desc && *desc ? desc : name);
}

/* ------------------------------------------------ query-string arguments */

const char *http_arg(http_req *r, const char *name, size_t *len)
{
    json_t *v = r->args ? json_object_get(r->args, name) : NULL;
    if (!v)
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

bool http_arg_int(http_req *r, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = http_arg(r, name, NULL);
    if (!s || !*s)
        return true;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        http_reply_error(r, 400, "invalid_field", "%s must be a number from %lld to %lld", name,
                         (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

json_t *http_msg_json(const omtp_msg_rec *m)
{
    const omtp_MsgReq *q = &m->msg;
    bool revoked = q->status == MC_REVOKE;
    return json_pack("{s:s%,s:I,s:I,s:s%,s:s%,s:i,s:s%,s:i,s:I,s:s%}", "sessionId",
                     q->sessionId.data ? q->sessionId.data : "", (size_t)q->sessionId.len, "seqId",
                     (json_int_t)q->seqId, "timestamp", (json_int_t)q->timestamp, "from",
                     q->from.data ? q->from.data : "", (size_t)q->from.len, "to",
                     q->to.data ? q->to.data : "", (size_t)q->to.len, "contentType",
                     (int)q->contentType, "content",
                     revoked || !q->content.data ? "" : q->content.data,
                     revoked ? (size_t)0 : (size_t)q->content.len, "status", (int)q->status,
                     "flags", (json_int_t)m->flags, "packId", m->packId.data ? m->packId.data : "",
                     (size_t)m->packId.len);
}

/* The HTTP status of a domain refusal's reason (domain/caller.h). */
static unsigned reason_status(const char *reason)
{
    static const struct {
        const char *reason;
        unsigned status;
    } map[] = {
        {"unknown_group", 404}, {"unknown_user", 404}, {"unknown_session", 404},
        {"not_member", 404},    {"is_creator", 409},   {"group_exists", 409},
        {"member_limit", 409},  {"user_exists", 409},  {"no_privilege", 403},
        {"internal", 500},      {"unavailable", 503},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].reason, reason) == 0)
            return map[i].status;
    return 400;
}

bool http_reply_refused(http_req *r, const omtp_dom_outcome *res)
{
    if (!res->code)
        return false;
    if (res->err < 0) {
        http_reply_store_err(r, res->err);
        return true;
    }
    const char *why = res->reason ? res->reason : "internal";
    http_reply_error(r, reason_status(why), why, "%s", res->desc);
    return true;
}
