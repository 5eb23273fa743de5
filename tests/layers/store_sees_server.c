/*
 * Layer probe: src/store must not see the server layer. Built only by
 * tests/scripts/layers.sh (target layer_probe_store_sees_server, linked like the
 * library omtp_store), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "store/store.h"

/* must fail: "server/server.h: No such file or directory" */
#include "server/server.h"
