/*
 * Layer probe: src/core must not see the HTTP API (src/http). Built only by tests/scripts/layers.sh
 * (target layer_probe_core_sees_http, compiled like the library omtpd_core), which passes only if
 * the compiler finds the layer's own header and not the one above it.
 */
#include "core/server.h"

/* must fail: "http/http.h: No such file or directory" */
#include "http/http.h"
