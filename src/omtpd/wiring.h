/*
 * wiring.h - the subsystems omtpd runs above the core (wiring.c), as the
 * parts table omtp_server_init takes (core/server.h). Static, read-only.
 */
#ifndef OMTPD_WIRING_H
#define OMTPD_WIRING_H

#include <stddef.h>

#include "core/server.h"

/* The parts in start order; *n = their number. */
const omtp_server_part *omtpd_parts(size_t *n);

#endif
