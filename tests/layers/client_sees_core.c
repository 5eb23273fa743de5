/*
 * Layer probe: src/client must not see the server core (src/core). Built only by
 * tests/scripts/layers.sh (target layer_probe_client_sees_core, linked like the
 * library omtp_client), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "client/omtp_client.h"

/* must fail: "core/server.h: No such file or directory" */
#include "core/server.h"
