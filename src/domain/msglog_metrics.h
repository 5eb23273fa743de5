/*
 * msglog_metrics.h - the message log's latency histograms in /metrics:
 * where the send path's time goes (the loop's pwritev per append, the
 * loop's busy time per turn, the sync thread's fdatasyncs), for finding a
 * latency tail without a quiet machine (docs/metrics.md).
 *
 * Threading: the loop thread (a /metrics source, core/server.h).
 * Ownership: the returned text is malloc'd; the caller frees it.
 */
#ifndef OMTP_DOMAIN_MSGLOG_METRICS_H
#define OMTP_DOMAIN_MSGLOG_METRICS_H

#include "store/msglog.h"

/* Prometheus text for `log` (NULL log: ""); NULL when out of memory. */
char *omtp_msglog_metrics_text(const omtp_msglog *log);

#endif
