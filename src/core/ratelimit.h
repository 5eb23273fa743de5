/*
 * ratelimit.h - the per-connection request rate limit (a token bucket).
 *
 * Each logged-in connection owns one omtp_ratelimit (16 bytes, inside the
 * connection's single allocation: conn.c). A request costs one token;
 * tokens come back at `rate` per second up to `burst`. Time is the loop's
 * cached clock (uv_now, milliseconds) read when the request arrives: there
 * is no timer per connection. The bucket keeps tokens in thousandths, so a
 * refill of `rate` per second is exactly `rate` thousandths per millisecond
 * and nothing is lost to rounding.
 *
 * A refused request is counted in a fixed window of OMTP_RL_WINDOW_MS that
 * starts with the first refusal; more than `refusals_max` refusals within
 * one window is abuse (the caller closes the connection). Which packets are
 * charged, and what a refusal looks like on the wire, is dispatch.c's
 * business (docs/server-core.md, "Request rate limit").
 *
 * Stamps are the low 32 bits of the loop clock; differences are taken
 * modulo 2^32, exact while the gaps stay under 49 days (the caller refills
 * on every packet of a logged-in connection, and keepalive closes a silent
 * one long before that).
 *
 * Threading: none of its own (loop thread, like the connection). Pure: the
 * unit test drives it with a fake clock.
 */
#ifndef OMTP_RATELIMIT_H
#define OMTP_RATELIMIT_H

#include <stdint.h>

#define OMTP_RL_WINDOW_MS 10000u   /* refusals are counted per 10 s window */
#define OMTP_RL_MAX       1000000u /* largest req_rate and req_burst */

typedef struct omtp_ratelimit {
    uint32_t last_ms;   /* loop clock of the last refill */
    uint32_t milli;     /* tokens x 1000 */
    uint32_t window_ms; /* loop clock when the current refusal window began */
    uint32_t refused;   /* refusals in that window */
} omtp_ratelimit;

enum omtp_rl_verdict {
    OMTP_RL_OK = 0,     /* a token was taken: serve the request */
    OMTP_RL_REFUSE = 1, /* no token: refuse the request */
    OMTP_RL_ABUSE = 2,  /* no token, and more than refusals_max in the window */
};

/* A full bucket (`burst` tokens) as of now_ms, no refusals. */
void omtp_ratelimit_init(omtp_ratelimit *rl, uint32_t burst, uint64_t now_ms);
/* Adds the tokens earned since the last refill (capped at burst). */
void omtp_ratelimit_refill(omtp_ratelimit *rl, uint32_t rate, uint32_t burst, uint64_t now_ms);
/* Refills, then takes one token. rate 0 = unlimited (always OMTP_RL_OK).
 * refusals_max 0 = never OMTP_RL_ABUSE. */
int omtp_ratelimit_take(omtp_ratelimit *rl, uint32_t rate, uint32_t burst, uint32_t refusals_max,
                        uint64_t now_ms);
/* The bucket size in effect: burst, or 2 x rate when burst is 0 (at least 1). */
uint32_t omtp_ratelimit_burst(uint32_t rate, uint32_t burst);

#endif
