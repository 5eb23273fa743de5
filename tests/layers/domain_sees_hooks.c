/*
 * Layer probe: src/domain must not see the webhooks (src/hooks): the hooks
 * register into the domain (s->msg_hooks). Built only by
 * tests/scripts/layers.sh (target layer_probe_domain_sees_hooks, compiled
 * like the library omtp_domain), which passes only if the compiler finds the
 * layer's own header and not the one above it.
 */
#include "domain/group_state.h"

/* must fail: "hooks/webhook.h: No such file or directory" */
#include "hooks/webhook.h"
