/*
 * wiring.c - which subsystems run above the core, and when: the parts table
 * omtp_server_init starts, ticks and stops (core/server.h, "parts"). The
 * core includes none of these folders; this file is where they meet.
 *
 * Order within a phase is table order, and it matters:
 *   CONFIG  the login-token secret and the dummy hash unknown users' logins
 *           are checked against, then the OMTP dispatch table;
 *   STORE   session monitors, webhooks (close observer, worker thread), and
 *           files (the file store into s->filestore, the orphan sweeper);
 *   BOUND   the cluster (announces this node's client port);
 *   LAST    presence (its close observer after the cluster's), the HTTP
 *           API, then the high-priority retention job.
 * Stop: the cluster first (our devices leave the presence table before the
 * listeners close), the HTTP API once the listeners closed (1/5 of the
 * budget for its last answers), webhooks and retention before the store
 * closes (pending before-send checks still submit their message), the
 * group member cache and the check caches after it.
 *
 * Threading: loop thread (omtp_server_init / stop / free).
 */
#include "wiring.h"

#include <openssl/rand.h>
#include <stdio.h>

#include "domain/check_cache.h"
#include "domain/files_sweep.h"
#include "domain/group_state.h"
#include "domain/hp_retention.h"
#include "domain/msgpath.h"
#include "domain/presence.h"
#include "domain/typing.h"
#include "hooks/webhook.h"
#include "http/http.h"
#include "http/http_wsfiles.h"
#include "omtp/auth.h"
#include "omtp/cluster_hooks.h"
#include "omtp/handlers.h"
#include "omtp/monitor.h"

static int auth_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_auth_load_secret(s->cfg, s->token_secret, why, whylen);
    if (rc)
        return rc;
    /* the hash an unknown user id's password is checked against: same KDF,
     * same cost as a new user's, matching no password anyone sends */
    uint8_t rnd[32];
    char pw[65];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(why, whylen, "no randomness for the login dummy hash");
        return OMTP_EIO;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    if (omtp_auth_hash_password(pw, s->login_dummy_hash, sizeof(s->login_dummy_hash))) {
        snprintf(why, whylen, "cannot compute the login dummy hash (out of memory?)");
        return OMTP_ENOMEM;
    }
    return 0;
}

static int monitor_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_monitor_init(s);
    if (rc)
        snprintf(why, whylen, "cannot watch connection closes for monitors: %s", omtp_strerror(rc));
    return rc;
}

static char *webhook_metrics(void *arg)
{
    return omtp_webhook_metrics(arg);
}

static int webhook_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_webhook_init(s); /* offline push / before-send (webhook.h) */
    if (!rc)
        rc = omtp_metrics_add_source(s, webhook_metrics, s);
    if (rc)
        snprintf(why, whylen, "cannot start the webhook worker: %s", omtp_strerror(rc));
    return rc;
}

static void webhook_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_webhook_close(s);
}

static int cluster_start(omtp_server *s, char *why, size_t whylen)
{
    /* Redis presence + bus (no-op without redis_url) */
    return omtp_server_cluster_start(s, omtp_server_port(s), why, whylen);
}

static void cluster_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_server_cluster_stop(s);
}

static int http_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_http_start(s); /* no-op without http_listen */
    if (rc)
        snprintf(why, whylen, "cannot start the HTTP API on %s: %s", s->cfg->http_listen,
                 omtp_strerror(rc));
    return rc;
}

static void http_stop(omtp_server *s, uint64_t budget_ms)
{
    omtp_http_stop(s, budget_ms / 5);
}

static int retention_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_hp_retention_start(s); /* high-priority queue retention */
    if (rc)
        snprintf(why, whylen, "cannot start the retention job: %s", omtp_strerror(rc));
    return rc;
}

static void retention_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_hp_retention_stop(s); /* a chunk in flight completes as the store drains */
}

static int presence_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_dom_presence_start(s); /* close observer, notice timer */
    if (rc)
        snprintf(why, whylen, "cannot start presence: %s", omtp_strerror(rc));
    return rc;
}

static void presence_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_dom_presence_stop(s);
}

static void presence_free(omtp_server *s)
{
    omtp_dom_presence_free(s);
    omtp_dom_typing_free(s);
}

static void groups_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_groups_close(s); /* group fan-out queue and member cache */
}

static int wsfiles_start(omtp_server *s, char *why, size_t whylen)
{
    (void)why, (void)whylen;
    omtp_http_wsfiles_register(s); /* /v1/files on ws_listen (core/ws_api.h) */
    return 0;
}

static int msgpath_start(omtp_server *s, char *why, size_t whylen)
{
    return omtp_msgpath_start(s, why, whylen); /* the message log: replay, then open */
}

static void msgpath_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_stop(s); /* the pending records go to the store before it closes */
}

static void msgpath_close(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_msgpath_close(s); /* the log's last sync answers the last acks */
}

static int check_cache_start(omtp_server *s, char *why, size_t whylen)
{
    int rc = omtp_metrics_add_source(s, omtp_cc_metrics, s);
    if (rc)
        snprintf(why, whylen, "cannot report the check caches: %s", omtp_strerror(rc));
    return rc;
}

static void check_cache_stop(omtp_server *s, uint64_t budget_ms)
{
    (void)budget_ms;
    omtp_cc_close(s); /* no store read is in flight any more */
}

static const omtp_server_part parts[] = {
    {.name = "login tokens", .start_at = OMTP_START_CONFIG, .start = auth_start},
    {.name = "OMTP handlers", .start_at = OMTP_START_CONFIG, .start = omtp_handlers_register},
    /* first with the store open: the log's tail is in the tables before
     * anything reads them */
    {.name = "message log",
     .start_at = OMTP_START_STORE,
     .start = msgpath_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = msgpath_stop,
     .free = omtp_msgpath_close},
    {.name = "message log close", .stop_at = OMTP_STOP_AFTER_STORE, .stop = msgpath_close},
    {.name = "session monitors", .start_at = OMTP_START_STORE, .start = monitor_start},
    /* after the cluster: its close observer (the presence entry leaves
     * Redis) runs before ours (other nodes are told) */
    {.name = "presence",
     .start_at = OMTP_START_LAST,
     .start = presence_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = presence_stop,
     .free = presence_free},
    {.name = "webhooks",
     .start_at = OMTP_START_STORE,
     .start = webhook_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = webhook_stop,
     .free = omtp_webhook_close,
     .reload = omtp_webhook_reload},
    {.name = "cluster",
     .start_at = OMTP_START_BOUND,
     .start = cluster_start,
     .stop_at = OMTP_STOP_FIRST,
     .stop = cluster_stop},
    /* before the HTTP API (its file endpoints use s->filestore); closed at
     * free, after the HTTP threads are gone */
    {.name = "files",
     .start_at = OMTP_START_STORE,
     .start = omtp_files_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = omtp_files_stop,
     .free = omtp_files_free},
    {.name = "HTTP API",
     .start_at = OMTP_START_LAST,
     .start = http_start,
     .stop_at = OMTP_STOP_UNLISTENED,
     .stop = http_stop,
     .tick = omtp_http_tick,
     .reload = omtp_http_reload},
    {.name = "high-priority retention",
     .start_at = OMTP_START_LAST,
     .start = retention_start,
     .stop_at = OMTP_STOP_BEFORE_STORE,
     .stop = retention_stop},
    {.name = "ws file endpoints", .start_at = OMTP_START_STORE, .start = wsfiles_start},
    {.name = "group state",
     .start_at = OMTP_START_LAST,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = groups_stop},
    {.name = "check caches",
     .start_at = OMTP_START_LAST,
     .start = check_cache_start,
     .stop_at = OMTP_STOP_AFTER_STORE,
     .stop = check_cache_stop},
};

const omtp_server_part *omtpd_parts(size_t *n)
{
    *n = sizeof(parts) / sizeof(parts[0]);
    return parts;
}
