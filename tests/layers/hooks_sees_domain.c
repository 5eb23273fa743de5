/*
 * Layer probe: src/hooks must not see the domain (src/domain): the domain calls the hooks. Built
 * only by tests/scripts/layers.sh (target layer_probe_hooks_sees_domain, compiled like the library
 * omtp_hooks), which passes only if the compiler finds the layer's own header and not the one above
 * it.
 */
#include "hooks/webhook.h"

/* must fail: "domain/group_state.h: No such file or directory" */
#include "domain/group_state.h"
