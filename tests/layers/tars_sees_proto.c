/*
 * Layer probe: src/tars must not see the proto layer. Built only by
 * tests/scripts/layers.sh (target layer_probe_tars_sees_proto, linked like the
 * library omtp_tars), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "tars/tars.h"

/* must fail: "proto/omtp_proto.h: No such file or directory" */
#include "proto/omtp_proto.h"
