/*
 * Layer probe: src/core must not see the OMTP handlers (src/omtp): they register. Built only by
 * tests/scripts/layers.sh (target layer_probe_core_sees_omtp, compiled like the library
 * omtpd_core), which passes only if the compiler finds the layer's own header and not the one above
 * it.
 */
#include "core/server.h"

/* must fail: "omtp/handlers.h: No such file or directory" */
#include "omtp/handlers.h"
