/*
 * Layer probe: src/util must not see the proto layer. Built only by
 * tests/scripts/layers.sh (target layer_probe_util_sees_proto, linked like the
 * library omtp_util), which passes only if the compiler finds the layer's own
 * header and not the one above it.
 */
#include "util/log.h"

/* must fail: "proto/omtp_proto.h: No such file or directory" */
#include "proto/omtp_proto.h"
