/*
 * metrics.h - the server's counters in the Prometheus text format.
 *
 * Counters live in srv->metrics and are bumped on the loop thread by the
 * code that sees the event (connections, dispatch, replies, chat, pushes);
 * the store's own statistics come from omtp_store_get_stats(). Rendering
 * reads them on the loop thread too, so no counter needs to be atomic.
 */
#ifndef OMTP_METRICS_H
#define OMTP_METRICS_H

#include <stddef.h>

#include "server.h"

/* Renders every metric (exposition format 0.0.4). Loop thread only.
 * Returns a malloc'ed NUL-terminated text (*len = its length), or NULL on
 * out of memory. */
char *omtp_metrics_render(omtp_server *srv, size_t *len);

/* Resident set size of this process in bytes (/proc/self/statm), 0 if
 * unknown. Any thread. */
uint64_t omtp_metrics_rss_bytes(void);

#endif
