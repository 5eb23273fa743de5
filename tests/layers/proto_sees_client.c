/*
 * Layer probe: src/proto must not see the client layer. Built only by
 * tests/scripts/layers.sh (target layer_probe_proto_sees_client, linked like the
 * library omtp_proto), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "proto/omtp_proto.h"

/* must fail: "client/omtp_client.h: No such file or directory" */
#include "client/omtp_client.h"
