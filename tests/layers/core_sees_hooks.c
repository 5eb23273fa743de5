/*
 * Layer probe: src/core must not see the webhooks (src/hooks). Built only by
 * tests/scripts/layers.sh (target layer_probe_core_sees_hooks, compiled like the library
 * omtpd_core), which passes only if the compiler finds the layer's own header and not the one above
 * it.
 */
#include "core/server.h"

/* must fail: "hooks/webhook.h: No such file or directory" */
#include "hooks/webhook.h"
