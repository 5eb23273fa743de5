/*
 * auth.c - PT_LOGIN, PT_LOGOUT, PT_KICKOUT, PT_PING. Password hashes and
 * tokens are domain/credentials.c (formats and the cost of the KDF there).
 *
 * Login: validate fields (code 20 and close if clientId, password or
 * deviceType is missing, or deviceType is not one of the enum's 1..6: each
 * device type is a presence slot, so a client must not invent them) ->
 * optional slowdown when the peer's address failed recently, or (password
 * logins from a device not known to the account) when the account failed
 * recently (login_guard.h: exponential backoff; refused with
 * SERVER_REFUSED when the account's queue is too long) -> fetch the user
 * record on the store thread -> check the token (HMAC, on the loop:
 * microseconds) or the scrypt hash (on libuv's thread pool, never on the
 * loop nor the store thread, which group-commits messages; an unknown id is
 * checked against a dummy hash of the same cost) -> on success kick the
 * user's previous connection of the same deviceType, enter the presence
 * table, reply LoginResp{0, clientId}.
 *
 * Tokens are accepted for user ids the store does not know: the business
 * backend that holds the secret vouches for its users. Such users have the
 * plain user role.
 */
#include "auth.h"
#include "core/core.h"
#include "core/login_guard.h"
#include "handlers.h"
#include "cluster_hooks.h"
#include "domain/presence.h"
#include "util/thread_prio.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ handlers */

void handle_ping(omtp_req *req)
{
    omtp_reply_empty(req);
}

void handle_logout(omtp_req *req)
{
    omtp_conn *c = req->conn;
    omtp_conn_ref(c);
    omtp_reply_empty(req);
    omtp_conn_close(c, "logout");
    omtp_conn_unref(c);
}

/* Sends KickOutReq{deviceType, deviceId of `by`} to victim and closes it. */
static void kick(omtp_conn *victim, const omtp_conn *by, const char *why)
{
    omtp_KickOutReq k;
    omtp_msg_init(&omtp_KickOutReq_desc, &k);
    k.deviceType = by->deviceType;
    if (tars_str_set(&k.deviceId, by->deviceId) == 0) {
        omtp_wire *w = omtp_wire_new(PT_KICKOUT, 0, NULL, &omtp_KickOutReq_desc, &k);
        if (w) {
            omtp_conn_send_wire(victim, w);
            omtp_wire_unref(w);
        }
    }
    omtp_msg_free(&omtp_KickOutReq_desc, &k);
    victim->srv->metrics.kicks++;
    LOG_INFO("conn %llu kick user=%s dev=%s: %s (conn %llu)", (unsigned long long)victim->id,
             victim->userId, omtp_log_device(victim->deviceType), why, (unsigned long long)by->id);
    omtp_conn_close(victim, why);
}

void handle_kickout(omtp_req *req)
{
    omtp_conn *c = req->conn;
    const omtp_KickOutReq *k = req->body;
    if (!k || k->deviceType == 0) {
        omtp_reply_code(req, OMTP_EC_PARAM, "KickOutReq.deviceType is required");
        return;
    }
    omtp_conn *d = omtp_presence_first(c->srv, c->userId);
    while (d) {
        omtp_conn *next = d->next_device;
        if (d != c && d->deviceType == k->deviceType &&
            (k->deviceId.len == 0 || strcmp(d->deviceId, k->deviceId.data) == 0))
            kick(d, c, "kicked out by the user's own device");
        d = next;
    }
    /* cluster: the same device on another node */
    omtp_server_cluster_kick_device(c, k->deviceType, k->deviceId.data);
    omtp_reply_empty(req);
}

struct login_job {
    omtp_req *req;
    omtp_user_rec user;
    bool found;
    bool ok;
    bool checked;     /* a password was checked (real or dummy hash): a guess */
    bool guarded;     /* a password login from an unknown device: the account backoff applied */
    const char *hash; /* what kdf_work checks against (user's or the dummy) */
    int reason;       /* enum omtp_login_fail of a failure */
    int store_rc;
    uv_work_t work;
    uv_timer_t delay;
};

/* A client-supplied word (LoginReq.deviceName, .version) made safe for a
 * log line: at most 48 printable, non-space bytes, "-" when empty. */
static const char *log_word(const tars_str *s, char *buf, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; s->data && i < s->len && k + 1 < n && k < 48; i++) {
        unsigned char ch = (unsigned char)s->data[i];
        buf[k++] = ch > ' ' && ch < 0x7f ? (char)ch : '?';
    }
    if (!k && n > 1)
        buf[k++] = '-';
    buf[k] = 0;
    return buf;
}

static void job_free(struct login_job *j)
{
    omtp_user_rec_free(&j->user);
    free(j);
}

/* login_finish's text on a password login's success: hand out a token */
#define OMTP_LOGIN_FILE_TOKEN     "file-token"
#define OMTP_LOGIN_FILE_TOKEN_TTL (24 * 3600) /* seconds */

static void login_reply(omtp_req *req, int code, const char *text)
{
    omtp_LoginResp r;
    omtp_msg_init(&omtp_LoginResp_desc, &r);
    r.code = code;
    const omtp_LoginReq *lr = req->body;
    if (lr)
        tars_str_set(&r.clientId, lr->clientId.data ? lr->clientId.data : "");
    if (text)
        tars_str_set(&r.extraData, text);
    if (code)
        req->conn->srv->metrics.errors_by_code[code < 64 ? code : 0]++;
    omtp_reply(req, &omtp_LoginResp_desc, &r);
    omtp_msg_free(&omtp_LoginResp_desc, &r);
}

static void login_finish(struct login_job *j, int code, const char *text, const char *how)
{
    omtp_req *req = j->req;
    omtp_conn *c = req->conn;
    omtp_server *s = c->srv;
    const omtp_LoginReq *lr = req->body;
    if (!omtp_conn_is_open(c)) {
        omtp_req_free(req);
        job_free(j);
        return;
    }
    if (code != OMTP_EC_SUCCESS) {
        s->metrics.logins_failed++;
        s->metrics.login_failures[j->reason]++;
        if (j->reason != OMTP_LF_SERVER && j->reason != OMTP_LF_THROTTLED) /* not a guess */
            omtp_login_failed(s, c->peer);
        if (j->checked) { /* a wrong password, known id or not: the account's backoff */
            uint64_t now = uv_now(s->loop);
            omtp_login_guard_failed(s->login_guard, lr->clientId.data, now);
            uint32_t n = omtp_login_guard_failures(s->login_guard, lr->clientId.data, now);
            if (n == 10 || n == 100 || n == 1000 || n == 10000) /* a few lines per attack */
                LOG_WARN("login: %u failed passwords in a row for user=%s (the last from %s): "
                         "someone may be guessing; its password logins from new devices are "
                         "slowed down (up to one per %u ms), known devices and tokens are not",
                         n, lr->clientId.data, c->peer, s->cfg->login_account_delay_max_ms);
        }
        LOG_INFO("conn %llu login failed %s user=%s dev=%s: %s", (unsigned long long)c->id, c->peer,
                 lr->clientId.data, omtp_log_device((int)lr->deviceType), text);
        c->state = OMTP_CONN_NEW;
        login_reply(req, code, text);
        job_free(j);
        return;
    }
    snprintf(c->userId, sizeof(c->userId), "%s", lr->clientId.data);
    c->deviceType = lr->deviceType;
    snprintf(c->deviceId, sizeof(c->deviceId), "%s", lr->deviceId.data ? lr->deviceId.data : "");
    c->loginMs = omtp_now_ms();
    c->monitor_role = j->found && j->user.role == OMTP_ROLE_MONITOR;
    /* one live connection per (user, deviceType); observers share theirs
     * (docs/protocol.md "Observers") */
    omtp_conn *d = omtp_presence_first(s, c->userId);
    while (d) {
        omtp_conn *next = d->next_device;
        if (d != c && d->deviceType == c->deviceType && c->deviceType != DEVICE_OBSERVER)
            kick(d, c, "replaced by a new login on the same device type");
        d = next;
    }
    if (c->deviceType == DEVICE_OBSERVER) { /* bounded: the oldest leaves */
        unsigned n = 0;
        omtp_conn *oldest = NULL;
        for (d = omtp_presence_first(s, c->userId); d; d = d->next_device)
            if (d != c && d->deviceType == DEVICE_OBSERVER && d->state == OMTP_CONN_ONLINE) {
                n++;
                if (!oldest || d->loginMs < oldest->loginMs ||
                    (d->loginMs == oldest->loginMs && d->id < oldest->id))
                    oldest = d;
            }
        if (n >= OMTP_OBSERVERS_PER_USER && oldest)
            kick(oldest, c, "replaced: a user has at most 16 observers (OMTP_OBSERVERS_PER_USER)");
    }
    c->state = OMTP_CONN_ONLINE;
    omtp_conn_logged_in(c); /* full max_frame; leaves the unauthenticated counts */
    omtp_presence_add(s, c);
    /* cluster: publish presence; the same device type on another node is kicked there */
    omtp_server_cluster_login(c);
    omtp_dom_presence_changed(s, c->userId); /* watchers (domain/presence.h) */
    s->metrics.logins_ok++;
    omtp_login_succeeded(s, c->peer);
    omtp_login_guard_succeeded(s->login_guard, c->userId, c->deviceType, lr->deviceId.data,
                               j->guarded);
    char cname[64], cver[64];
    LOG_INFO("conn %llu login %s dev=%s (%s)%s client=%s/%s", (unsigned long long)c->id, c->userId,
             omtp_log_device(c->deviceType), how, c->monitor_role ? " monitor" : "",
             log_word(&lr->deviceName, cname, sizeof(cname)),
             log_word(&lr->version, cver, sizeof(cver)));
    /* a password login gets a fresh login token in extraData, for the file
     * endpoints' Authorization: Bearer (docs/protocol.md, "Login";
     * docs/files.md); a token login already holds one */
    char extra[OMTP_TOKEN_MAX + 80] = "";
    if (text && !strcmp(text, OMTP_LOGIN_FILE_TOKEN)) {
        char tok[OMTP_TOKEN_MAX + 1];
        int64_t exp = omtp_now_ms() / 1000 + OMTP_LOGIN_FILE_TOKEN_TTL;
        if (omtp_auth_token_issue(s->token_secret, c->userId, exp, tok, sizeof(tok)) == 0)
            snprintf(extra, sizeof(extra), "{\"fileToken\":\"%s\",\"expiresAt\":%lld}", tok,
                     (long long)exp);
    }
    login_reply(req, OMTP_EC_SUCCESS, extra[0] ? extra : NULL);
    job_free(j);
}

static void kdf_work(uv_work_t *w)
{
    struct login_job *j = w->data;
    const omtp_LoginReq *lr = j->req->body;
    omtp_thread_background(); /* a login storm must not starve chat */
    j->ok = omtp_auth_verify_password(j->hash, lr->password.data) == 0;
}

static void kdf_done(uv_work_t *w, int status)
{
    struct login_job *j = w->data;
    if (status == 0 && j->ok && j->found) { /* the dummy hash never logs anyone in */
        login_finish(j, OMTP_EC_SUCCESS, OMTP_LOGIN_FILE_TOKEN, "password");
        return;
    }
    j->checked = status == 0;
    j->reason = status == 0 ? OMTP_LF_CREDENTIALS : OMTP_LF_SERVER;
    login_finish(j, status == 0 ? OMTP_EC_CONN_USERNAME_OR_PASSWORD : OMTP_EC_SERVICE_UNAVAILABLE,
                 status == 0 ? "wrong user id or password" : "server busy, try again", NULL);
}

static int lookup_work(omtp_db *db, void *arg)
{
    struct login_job *j = arg;
    const omtp_LoginReq *lr = j->req->body;
    int rc = omtp_db_user_get(db, lr->clientId.data, &j->user);
    j->found = rc == 0;
    j->store_rc = rc == OMTP_ENOTFOUND ? 0 : rc;
    return 0;
}

static void lookup_done(void *arg, int status)
{
    struct login_job *j = arg;
    omtp_server *s = j->req->conn->srv;
    const omtp_LoginReq *lr = j->req->body;
    if (status || j->store_rc) {
        /* the store unreachable (OMTP_EDB: e.g. PostgreSQL down) is
         * SERVICE_UNAVAILABLE, as for sends; anything else DB_ERROR */
        bool down = status == OMTP_EDB || j->store_rc == OMTP_EDB;
        j->reason = OMTP_LF_SERVER;
        login_finish(j, down ? OMTP_EC_SERVICE_UNAVAILABLE : OMTP_EC_DB_ERROR,
                     down ? "storage unavailable, try again" : "storage error, try again", NULL);
        return;
    }
    if (omtp_auth_is_token(lr->password.data)) {
        int rc = omtp_auth_token_verify(s->token_secret, lr->password.data, lr->clientId.data,
                                        omtp_now_ms() / 1000);
        j->reason = OMTP_LF_TOKEN;
        if (rc == 0)
            login_finish(j, OMTP_EC_SUCCESS, NULL, "token");
        else
            login_finish(j, OMTP_EC_CONN_USERNAME_OR_PASSWORD,
                         rc == OMTP_ETIMEDOUT ? "token expired" : "invalid token", NULL);
        return;
    }
    /* An unknown id (or a user without a password) is checked against a
     * dummy hash of the same KDF and cost: the reply takes as long as for a
     * wrong password, so timing does not tell which accounts exist. */
    if (!j->found || j->user.pwHash.len == 0) {
        j->found = false;
        j->hash = s->login_dummy_hash;
    } else {
        j->hash = j->user.pwHash.data;
    }
    j->work.data = j;
    s->metrics.login_kdf++;
    if (uv_queue_work(s->loop, &j->work, kdf_work, kdf_done) != 0) {
        j->reason = OMTP_LF_SERVER;
        login_finish(j, OMTP_EC_SERVICE_UNAVAILABLE, "server busy, try again", NULL);
    }
}

static void lookup_start(struct login_job *j)
{
    omtp_server *s = j->req->conn->srv;
    j->reason = OMTP_LF_SERVER;
    if (!s->store || !omtp_conn_is_open(j->req->conn) ||
        omtp_store_submit(s->store, lookup_work, lookup_done, j) != 0)
        login_finish(j, OMTP_EC_SERVICE_UNAVAILABLE, "server is shutting down, try again", NULL);
}

static void delay_closed(uv_handle_t *h)
{
    lookup_start(h->data);
}

static void delay_fired(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, delay_closed);
}

void handle_login(omtp_req *req)
{
    omtp_conn *c = req->conn;
    omtp_server *s = c->srv;
    const omtp_LoginReq *lr = req->body;
    if (c->state == OMTP_CONN_ONLINE) {
        login_reply(req, OMTP_EC_CONN_ACCESS_DENIED, "already logged in on this connection");
        return;
    }
    if (c->state == OMTP_CONN_AUTHING) {
        login_reply(req, OMTP_EC_CONN_ACCESS_DENIED, "a login is already in progress");
        return;
    }
    char text[160] = "";
    if (!lr)
        snprintf(text, sizeof(text), "LoginReq.clientId, password and deviceType are required");
    else if (lr->clientId.len == 0 || lr->password.len == 0 || lr->deviceType == 0)
        snprintf(text, sizeof(text), "LoginReq.%s is required",
                 lr->clientId.len == 0   ? "clientId"
                 : lr->password.len == 0 ? "password"
                                         : "deviceType");
    else if (!omtp_id_valid_n(lr->clientId.data, lr->clientId.len))
        snprintf(text, sizeof(text), "LoginReq.clientId is not a valid user id (%s)", OMTP_ID_RULE);
    else if (lr->deviceType < 1 || lr->deviceType > OMTP_DEVICE_MAX)
        snprintf(text, sizeof(text), "LoginReq.deviceType %d is not a device type (1..%d)",
                 (int)lr->deviceType, OMTP_DEVICE_MAX);
    if (text[0]) {
        s->metrics.logins_failed++;
        s->metrics.login_failures[OMTP_LF_FIELDS]++;
        omtp_conn_ref(c);
        login_reply(req, OMTP_EC_CONN_INDICATE, text);
        omtp_conn_close(c, text);
        omtp_conn_unref(c);
        return;
    }
    struct login_job *j = calloc(1, sizeof(*j));
    if (!j) {
        login_reply(req, OMTP_EC_SERVER_EXCEPTION, "out of memory");
        return;
    }
    j->req = req;
    omtp_user_rec_init(&j->user);
    c->state = OMTP_CONN_AUTHING;
    uint32_t delay = omtp_login_delay_ms(s, c->peer), acct = 0;
    if (delay)
        s->metrics.logins_delayed_addr++;
    if (!omtp_auth_is_token(lr->password.data)) { /* tokens cannot be guessed */
        j->guarded = !omtp_login_guard_known(s->login_guard, lr->clientId.data, (int)lr->deviceType,
                                             lr->deviceId.data);
        /* wait at most half the pre-login timeout: longer, and the connection
         * would be closed before its answer */
        uint32_t max_wait =
            s->cfg->prelogin_timeout_s ? s->cfg->prelogin_timeout_s * 500u : UINT32_MAX;
        int v = omtp_login_guard_admit(s->login_guard, lr->clientId.data, (int)lr->deviceType,
                                       lr->deviceId.data, uv_now(s->loop), max_wait, &acct);
        if (v == OMTP_LG_REFUSE) {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "too many failed logins for this account: retry in %u s (a device that "
                     "logged in before, or a token, is not delayed)",
                     (acct + 999) / 1000);
            j->reason = OMTP_LF_THROTTLED;
            login_finish(j, OMTP_EC_SERVER_REFUSED, msg, NULL);
            return;
        }
        if (acct)
            s->metrics.logins_delayed_acct++;
    }
    if (acct > delay)
        delay = acct;
    if (delay) {
        LOG_DEBUG("conn %llu login delayed %u ms after recent failures (from %s: %s)",
                  (unsigned long long)c->id, delay, c->peer,
                  acct >= delay ? "this account" : "this address");
        uv_timer_init(s->loop, &j->delay);
        j->delay.data = j;
        uv_timer_start(&j->delay, delay_fired, delay, 0);
        return;
    }
    lookup_start(j);
}
