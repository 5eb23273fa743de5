/*
 * ratelimit.c - the per-connection token bucket (ratelimit.h).
 */
#include "ratelimit.h"

uint32_t omtp_ratelimit_burst(uint32_t rate, uint32_t burst)
{
    if (burst)
        return burst;
    uint64_t b = 2ull * rate;
    if (b > OMTP_RL_MAX)
        b = OMTP_RL_MAX;
    return b ? (uint32_t)b : 1;
}

void omtp_ratelimit_init(omtp_ratelimit *rl, uint32_t burst, uint64_t now_ms)
{
    rl->last_ms = (uint32_t)now_ms;
    rl->milli = (burst > OMTP_RL_MAX ? OMTP_RL_MAX : burst) * 1000u;
    rl->window_ms = (uint32_t)now_ms;
    rl->refused = 0;
}

void omtp_ratelimit_refill(omtp_ratelimit *rl, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
    uint32_t now = (uint32_t)now_ms;
    uint64_t elapsed = (uint32_t)(now - rl->last_ms);
    uint64_t cap = (uint64_t)(burst > OMTP_RL_MAX ? OMTP_RL_MAX : burst) * 1000u;
    rl->last_ms = now;
    if (rl->milli >= cap) {
        rl->milli = (uint32_t)cap; /* also shrinks a bucket above a lowered cap */
        return;
    }
    /* rate tokens per second = rate thousandths per millisecond; elapsed is
     * below 2^32 and rate at most 10^6, so the product fits */
    uint64_t m = rl->milli + elapsed * (rate > OMTP_RL_MAX ? OMTP_RL_MAX : rate);
    rl->milli = (uint32_t)(m > cap ? cap : m);
}

int omtp_ratelimit_take(omtp_ratelimit *rl, uint32_t rate, uint32_t burst, uint32_t refusals_max,
                        uint64_t now_ms)
{
    if (!rate)
        return OMTP_RL_OK;
    omtp_ratelimit_refill(rl, rate, burst, now_ms);
    if (rl->milli >= 1000u) {
        rl->milli -= 1000u;
        return OMTP_RL_OK;
    }
    uint32_t now = (uint32_t)now_ms;
    if (rl->refused == 0 || (uint32_t)(now - rl->window_ms) >= OMTP_RL_WINDOW_MS) {
        rl->window_ms = now;
        rl->refused = 0;
    }
    if (rl->refused < UINT32_MAX)
        rl->refused++;
    return refusals_max && rl->refused > refusals_max ? OMTP_RL_ABUSE : OMTP_RL_REFUSE;
}
