/*
 * metrics.c - renders srv->metrics, the store's statistics, the registered
 * metrics sources (the HTTP API's counters among them: server.h) and the
 * process's memory as Prometheus text (GET /metrics).
 *
 * Every packet type the protocol defines gets a line for in and out (zeros
 * included), so dashboards see a series from the first scrape; error codes
 * only appear once they occurred. Rendering is a few kilobytes of snprintf
 * on the loop thread: cheap at scrape intervals.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "guard.h"
#include "proto/omtp_proto.h"
#include "transport.h"

typedef struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
} tbuf;

static void out(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(tbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static void head(tbuf *b, const char *name, const char *type, const char *help)
{
    out(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(tbuf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    head(b, name, type, help);
    out(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A histogram over the store's latency buckets (store.h: cumulative counts,
 * the last one +Inf). */
static void histogram(tbuf *b, const char *name, const char *help, const uint64_t bucket[12],
                      uint64_t sum_us)
{
    static const char *const le[12] = {"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                       "0.005",   "0.01",   "0.025",   "0.05",   "0.1",   "+Inf"};
    head(b, name, "histogram", help);
    for (int i = 0; i < 12; i++)
        out(b, "%s_bucket{le=\"%s\"} %llu\n", name, le[i], (unsigned long long)bucket[i]);
    out(b, "%s_sum %.6f\n", name, (double)sum_us / 1e6);
    out(b, "%s_count %llu\n", name, (unsigned long long)bucket[11]);
}

/* One sample per transport (transport.h), zeros included. */
static void by_transport(tbuf *b, const char *name, const char *type, const char *help,
                         const uint64_t v[OMTP_TRANSPORTS_MAX])
{
    head(b, name, type, help);
    for (int k = 0; k < OMTP_TP_KINDS; k++)
        out(b, "%s{transport=\"%s\"} %llu\n", name, omtp_transport_name(k),
            (unsigned long long)v[k]);
}

uint64_t omtp_metrics_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

/* One sample per type the protocol defines; every other type (slot 0 and
 * the undefined slots below OMTP_PT_MAX) adds to type="other", so no two
 * samples share the label PT_UNKNOWN. */
static void packets(tbuf *b, const char *name, const char *help, const uint64_t *by_type)
{
    head(b, name, "counter", help);
    uint64_t other = by_type[0];
    for (int t = 1; t < OMTP_PT_MAX; t++) {
        if (omtp_pack_type_known(t))
            out(b, "%s{type=\"%s\"} %llu\n", name, omtp_pack_type_name(t),
                (unsigned long long)by_type[t]);
        else
            other += by_type[t];
    }
    out(b, "%s{type=\"other\"} %llu\n", name, (unsigned long long)other);
}

char *omtp_metrics_render(omtp_server *srv, size_t *len)
{
    const omtp_metrics *m = &srv->metrics;
    tbuf b = {.cap = 8192};
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';

    one(&b, "omtp_connections_open", "gauge", "OMTP connections open now", m->conns_open);
    one(&b, "omtp_connections_total", "counter", "OMTP connections accepted", m->conns_total);
    one(&b, "omtp_connections_rejected_total", "counter",
        "OMTP connections refused (max_conns, shutdown)", m->conns_rejected);
    head(&b, "omtp_logins_total", "counter", "login attempts by result");
    out(&b, "omtp_logins_total{result=\"ok\"} %llu\n", (unsigned long long)m->logins_ok);
    out(&b, "omtp_logins_total{result=\"failed\"} %llu\n", (unsigned long long)m->logins_failed);
    static const char *const lf_names[OMTP_LF_N] = {"credentials", "token", "throttled", "fields",
                                                    "server"};
    head(&b, "omtp_login_failures_total", "counter",
         "failed logins by reason (credentials = wrong user id or password)");
    for (int i = 0; i < OMTP_LF_N; i++)
        out(&b, "omtp_login_failures_total{reason=\"%s\"} %llu\n", lf_names[i],
            (unsigned long long)m->login_failures[i]);
    head(&b, "omtp_logins_delayed_total", "counter",
         "logins held before their check by recent failures (of the address, of the account)");
    out(&b, "omtp_logins_delayed_total{by=\"address\"} %llu\n",
        (unsigned long long)m->logins_delayed_addr);
    out(&b, "omtp_logins_delayed_total{by=\"account\"} %llu\n",
        (unsigned long long)m->logins_delayed_acct);
    one(&b, "omtp_login_password_checks_total", "counter",
        "password hashes checked at login (an unknown user id is checked against a dummy hash)",
        m->login_kdf);
    one(&b, "omtp_kicks_total", "counter", "devices kicked out (replaced or removed)", m->kicks);
    packets(&b, "omtp_packets_in_total", "packets received by type", m->packets_in);
    packets(&b, "omtp_packets_out_total", "packets sent by type", m->packets_out);
    by_transport(&b, "omtp_conns", "gauge", "OMTP connections open now, by transport", m->tp_conns);
    by_transport(&b, "omtp_bytes_in_total", "counter",
                 "bytes received on OMTP connections, by transport (TLS: as on the wire)",
                 m->tp_bytes_in);
    by_transport(&b, "omtp_bytes_out_total", "counter",
                 "bytes sent on OMTP connections, by transport (TLS: as on the wire)",
                 m->tp_bytes_out);
    one(&b, "omtp_messages_stored_total", "counter", "messages stored (chat, group, biz)",
        m->msgs_stored);
    one(&b, "omtp_messages_duplicate_total", "counter",
        "sends answered from dedup (already stored)", m->msgs_dup);
    one(&b, "omtp_pushes_total", "counter", "packets pushed to devices", m->pushes);
    head(&b, "omtp_errors_total", "counter", "replies with a non-zero protocol code, by code");
    for (int code = 1; code < 64; code++)
        if (m->errors_by_code[code])
            out(&b, "omtp_errors_total{code=\"%d\",name=\"%s\"} %llu\n", code,
                omtp_error_code_name(code), (unsigned long long)m->errors_by_code[code]);
    one(&b, "omtp_slow_reader_closes_total", "counter",
        "connections closed because their output backed up", m->slow_reader_closes);
    one(&b, "omtp_frame_errors_total", "counter", "frames that did not decode", m->frame_errors);
    one(&b, "omtp_requests_rate_limited_total", "counter",
        "requests refused with SERVER_REFUSED by the per-connection rate limit (req_rate)",
        m->rate_limited);
    one(&b, "omtp_rate_limit_closes_total", "counter",
        "connections closed for exceeding the rate limit persistently (req_refusals_max)",
        m->rate_limit_closes);
    head(&b, "omtp_conns_shed_total", "counter",
         "connections closed or refused by the resource guards, by reason (docs/server-core.md)");
    for (int r = 0; r < OMTP_SHED_NREASONS; r++)
        out(&b, "omtp_conns_shed_total{reason=\"%s\"} %llu\n", omtp_shed_reason_name(r),
            (unsigned long long)m->conns_shed[r]);
    one(&b, "omtp_pending_frame_bytes", "gauge",
        "bytes held by partial frames of all connections (max_pending_bytes)",
        m->pending_frame_bytes);
    one(&b, "omtp_fields_too_long_total", "counter",
        "requests refused with PARAM: a text field over its limit (docs/protocol.md, Field limits)",
        m->fields_too_long);
    one(&b, "omtp_replies_paged_total", "counter",
        "list replies cut short to fit max_frame (the client continues with the cursor)",
        m->replies_paged);
    one(&b, "omtp_replies_too_big_total", "counter",
        "replies not sent because their frame would exceed max_frame (a bug: see the WARN log)",
        m->replies_too_big);
    one(&b, "omtp_hp_pruned_total", "counter",
        "high-priority queue entries removed by retention (hp_retention_days)", m->hp_pruned);

    if (srv->store) {
        omtp_store_stats st;
        memset(&st, 0, sizeof(st));
        omtp_store_get_stats(srv->store, &st);
        head(&b, "omtp_store_info", "gauge", "the storage backend");
        out(&b, "omtp_store_info{backend=\"%s\"} 1\n", omtp_store_backend(srv->store));
        one(&b, "omtp_store_queue_depth", "gauge", "store work items waiting", st.queued);
        one(&b, "omtp_store_items_total", "counter", "store work items executed", st.executed);
        one(&b, "omtp_store_commits_total", "counter", "store transactions committed", st.commits);
        one(&b, "omtp_store_commit_failures_total", "counter", "store transactions that failed",
            st.commit_fail);
        one(&b, "omtp_store_disk_full_total", "counter",
            "store work items refused because the disk is full (answered DB_ERROR, 5)",
            st.disk_full);
        histogram(&b, "omtp_store_commit_seconds",
                  "time to commit one group-commit transaction (with SQLite FULL: without its "
                  "fsync, see omtp_store_sync_seconds)",
                  st.commit_us_bucket, st.commit_us_sum);
        histogram(&b, "omtp_store_sync_seconds",
                  "time of one fsync making committed batches durable (SQLite FULL only)",
                  st.sync_us_bucket, st.sync_us_sum);
        histogram(&b, "omtp_store_item_seconds",
                  "time one work item held the store thread (every other write waits meanwhile)",
                  st.item_us_bucket, st.item_us_sum);
        head(&b, "omtp_store_item_seconds_max", "gauge",
             "the longest a single work item held the store thread since start");
        out(&b, "omtp_store_item_seconds_max %.6f\n", (double)st.item_us_max / 1e6);
        one(&b, "omtp_store_items_slow_total", "counter",
            "work items that held the store thread longer than 100 ms", st.items_slow);
        one(&b, "omtp_store_round_trips_total", "counter",
            "requests the store thread sent to the database server and waited for (PostgreSQL; "
            "per batch: divide by omtp_store_commits_total)",
            st.round_trips);
        one(&b, "omtp_store_append_statements_total", "counter",
            "batch appends: statements that checked and stored several sends at once "
            "(PostgreSQL)",
            st.append_batches);
        one(&b, "omtp_store_append_rows_total", "counter",
            "sends carried by batch append statements", st.append_rows);
    }

    if (srv->cluster) {
        omtp_cluster_stats cs;
        omtp_cluster_get_stats(srv->cluster, &cs);
        head(&b, "omtp_cluster_info", "gauge", "this node in the cluster; up = Redis reachable");
        out(&b, "omtp_cluster_info{node=\"%s\"} 1\n", omtp_cluster_node_id(srv->cluster));
        one(&b, "omtp_cluster_up", "gauge", "1 while both Redis connections are established",
            cs.up ? 1 : 0);
        one(&b, "omtp_cluster_published_total", "counter",
            "PUBLISH commands sent to other nodes (one per node per push)", cs.published);
        one(&b, "omtp_cluster_received_total", "counter",
            "messages received on this node's channel", cs.received);
        one(&b, "omtp_cluster_remote_pushes_total", "counter",
            "(user, node) deliveries routed to other nodes", cs.remote_push);
        one(&b, "omtp_cluster_dropped_total", "counter",
            "cross-node pushes dropped while Redis was down (clients catch up by sync)",
            cs.dropped);
        one(&b, "omtp_cluster_kicks_sent_total", "counter", "kick-outs sent to other nodes",
            cs.kicks_sent);
        one(&b, "omtp_cluster_kicks_received_total", "counter",
            "kick-outs received from other nodes", cs.kicks_received);
        one(&b, "omtp_cluster_reconnects_total", "counter", "Redis reconnections", cs.reconnects);
        one(&b, "omtp_cluster_group_notices_sent_total", "counter",
            "group membership change notices sent", cs.group_sent);
        one(&b, "omtp_cluster_group_notices_received_total", "counter",
            "group membership change notices received", cs.group_received);
        one(&b, "omtp_cluster_monitor_pushes_sent_total", "counter",
            "pushes forwarded to session monitors on other nodes", cs.monitor_sent);
        one(&b, "omtp_cluster_monitor_pushes_received_total", "counter",
            "pushes received for this node's session monitors", cs.monitor_received);
    }

    for (int k = 0; k < srv->nmetrics_sources; k++) { /* e.g. the HTTP API's */
        char *t = srv->metrics_sources[k].fn(srv->metrics_sources[k].arg);
        if (!t) {
            b.oom = true;
            break;
        }
        out(&b, "%s", t);
        free(t);
    }

    one(&b, "process_resident_memory_bytes", "gauge", "resident memory size in bytes",
        omtp_metrics_rss_bytes());

    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

int omtp_metrics_add_source(omtp_server *s, omtp_metrics_source_fn fn, void *arg)
{
    if (s->nmetrics_sources >= OMTP_METRICS_SOURCES_MAX)
        return OMTP_ENOMEM;
    s->metrics_sources[s->nmetrics_sources].fn = fn;
    s->metrics_sources[s->nmetrics_sources].arg = arg;
    s->nmetrics_sources++;
    return 0;
}
