/*
 * Layer probe: src/core must not see the domain (src/domain). Built only by tests/scripts/layers.sh
 * (target layer_probe_core_sees_domain, compiled like the library omtpd_core), which passes only if
 * the compiler finds the layer's own header and not the one above it.
 */
#include "core/server.h"

/* must fail: "domain/group_state.h: No such file or directory" */
#include "domain/group_state.h"
