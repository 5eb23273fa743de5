/*
 * msglog_metrics.h - the message log's latency histograms in /metrics:
 * where the send path's time goes (the loop's pwritev per append, the
 * loop's busy time per turn, the sync thread's fdatasyncs, the messages
 * that waited for their session counter's load), for finding a
 * latency tail without a quiet machine (docs/metrics.md).
 *
 * Threading: the loop thread (a /metrics source, core/server.h).
 * Ownership: the returned text is malloc'd; the caller frees it.
 */
#ifndef OMTP_DOMAIN_MSGLOG_METRICS_H
#define OMTP_DOMAIN_MSGLOG_METRICS_H

#include "domain/seqgen.h"
#include "store/msglog.h"

/* Prometheus text for `log` and the session counters' loads (NULL: none);
 * NULL when out of memory. */
char *omtp_msglog_metrics_text(const omtp_msglog *log, const seqgen *seq);

#endif
