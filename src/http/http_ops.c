/*
 * http_ops.c - GET /healthz and GET /metrics (no API key). Loop thread.
 *
 * /healthz makes one trivial store round trip (a meta read through the
 * group-commit executor, so a stuck store thread or a dead database shows)
 * and answers 503 if it fails or takes longer than HTTP_HEALTH_TIMEOUT_MS.
 */
#include "http_internal.h"
#include "core/metrics.h"
#include "omtp_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_HEALTH_TIMEOUT_MS 2000

typedef struct health_ctx {
    http_req *r;
    omtp_server *srv;
    uv_timer_t timer;
    int pending; /* store completion + timer close */
    bool replied;
    char backend[32];
} health_ctx;

static void health_unref(health_ctx *c)
{
    if (--c->pending == 0)
        free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    health_unref(h->data);
}

static void health_reply(health_ctx *c, int status, const char *why)
{
    if (c->replied)
        return;
    c->replied = true;
    if (status == 0)
        http_reply_json(c->r, 200,
                        json_pack("{s:s,s:s,s:s}", "status", "ok", "store", c->backend, "version",
                                  OMTP_BUILD_VERSION));
    else
        http_reply_json(c->r, 503,
                        json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "status", "unavailable", "store",
                                  c->backend, "version", OMTP_BUILD_VERSION, "error", "code",
                                  "store_unavailable", "message", why));
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static int health_work(omtp_db *db, void *arg)
{
    tars_str v = {0};
    int rc = omtp_db_meta_get(db, "healthz", &v);
    tars_str_clear(&v);
    return rc == OMTP_ENOTFOUND ? 0 : rc;
}

static void health_done(void *arg, int status)
{
    health_ctx *c = arg;
    health_reply(c, status, status ? omtp_strerror(status) : "");
    health_unref(c);
}

static void health_timeout(uv_timer_t *t)
{
    health_reply(t->data, OMTP_ETIMEDOUT, "the store did not answer in time");
}

void http_ep_healthz(http_req *r)
{
    omtp_server *srv = r->srv;
    if (!srv->store) {
        http_reply_json(r, 503, json_pack("{s:s}", "status", "unavailable"));
        return;
    }
    health_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    c->r = r;
    c->srv = srv;
    snprintf(c->backend, sizeof(c->backend), "%s", omtp_store_backend(srv->store));
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->pending = 2;
    int rc = omtp_store_submit(srv->store, health_work, health_done, c);
    if (rc < 0) {
        c->pending = 1; /* no completion will come */
        health_reply(c, rc, omtp_strerror(rc));
        return;
    }
    uv_timer_start(&c->timer, health_timeout, HTTP_HEALTH_TIMEOUT_MS, 0);
}

/* The HTTP API's series for /metrics, a metrics source (core/server.h)
 * registered by omtp_http_start. */
char *http_metrics_text(void *arg)
{
    omtp_server *srv = arg;
    uint64_t hc[6], hto, hfull, hip;
    http_counts(srv, hc);
    http_guard_stats(srv, &hto, &hfull, &hip);
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return NULL;
    fprintf(f, "# HELP omtp_http_responses_total HTTP API responses by status class\n"
               "# TYPE omtp_http_responses_total counter\n");
    for (int i = 1; i < 6; i++)
        fprintf(f, "omtp_http_responses_total{class=\"%dxx\"} %llu\n", i,
                (unsigned long long)hc[i]);
    fprintf(f, "# HELP omtp_http_conns_shed_total HTTP connections shut down: no whole request "
               "within http_timeout_s (timeout), the longest-waiting one at http_max_conns "
               "(full), over http_max_conns_per_ip (per_ip)\n"
               "# TYPE omtp_http_conns_shed_total counter\n");
    fprintf(f, "omtp_http_conns_shed_total{reason=\"timeout\"} %llu\n", (unsigned long long)hto);
    fprintf(f, "omtp_http_conns_shed_total{reason=\"full\"} %llu\n", (unsigned long long)hfull);
    fprintf(f, "omtp_http_conns_shed_total{reason=\"per_ip\"} %llu\n", (unsigned long long)hip);
    fprintf(f,
            "# HELP omtp_http_conns_refused_total HTTP connections libmicrohttpd refused itself "
            "(its limit, a little above http_max_conns, or out of resources)\n"
            "# TYPE omtp_http_conns_refused_total counter\n"
            "omtp_http_conns_refused_total %llu\n",
            (unsigned long long)http_refused(srv));
    if (fclose(f) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void http_ep_metrics(http_req *r)
{
    size_t len = 0;
    char *text = omtp_metrics_render(r->srv, &len);
    if (!text) {
        http_reply_error(r, 500, "internal", "out of memory");
        return;
    }
    http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
