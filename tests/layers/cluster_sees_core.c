/*
 * Layer probe: src/cluster must not see the server core (src/core) (it reaches the
 * server only through the host interface, cluster/cluster_host.h). Built
 * only by tests/scripts/layers.sh (target layer_probe_cluster_sees_core,
 * linked like the library omtp_cluster), which passes only if the compiler
 * finds the layer's own header and not the one above it.
 */
#include "cluster/cluster.h"

/* must fail: "core/server.h: No such file or directory" */
#include "core/server.h"
