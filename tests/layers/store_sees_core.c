/*
 * Layer probe: src/store must not see the server core (src/core). Built only by
 * tests/scripts/layers.sh (target layer_probe_store_sees_core, linked like the
 * library omtp_store), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "store/store.h"

/* must fail: "core/server.h: No such file or directory" */
#include "core/server.h"
