/*
 * Layer probe: src/domain must not see the HTTP API (src/http). Built only by
 * tests/scripts/layers.sh (target layer_probe_domain_sees_http, compiled like the library
 * omtp_domain), which passes only if the compiler finds the layer's own header and not the one
 * above it.
 */
#include "domain/group_state.h"

/* must fail: "http/http.h: No such file or directory" */
#include "http/http.h"
