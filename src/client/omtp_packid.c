/*
 * omtp_packid.c - time-ordered (UUIDv7) packIds, see omtp_packid.h.
 *
 * Layout (RFC 9562): unix_ts_ms (48) | ver=7 (4) | rand_a (12) | var=10 (2) |
 * rand_b (62). rand_a holds a counter that restarts at a random value below
 * 2048 every millisecond (and carries into the timestamp if it overflows), so
 * ids of one thread increase strictly; rand_b comes from a splitmix64
 * generator seeded once per thread from the OS (OpenSSL RAND_bytes).
 *
 * fork(): a child inherits its parent's generator state, so without care a
 * parent and its children (or two children) would produce the SAME ids in
 * the same millisecond -- and the server, which deduplicates by (from,
 * packId), would answer a different message with the original's ack. A
 * pthread_atfork child handler forces a reseed in the child.
 */
#include "omtp_packid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static _Thread_local uint64_t rng_state;
static _Thread_local int rng_seeded;
static _Thread_local uint64_t last_ms;
static _Thread_local uint32_t counter;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Runs in the child, in the thread that forked: the only thread there. */
static void reseed_in_child(void)
{
    rng_seeded = 0;
    last_ms = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, reseed_in_child);
}

static uint64_t next_rand(void)
{
    if (!rng_seeded) {
        pthread_once(&atfork_once, register_atfork);
        if (RAND_bytes((unsigned char *)&rng_state, sizeof(rng_state)) != 1) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rng_state = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec;
        }
        rng_seeded = 1;
    }
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void omtp_packid_new(char out[37])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (ms > last_ms) {
        last_ms = ms;
        counter = (uint32_t)(next_rand() & 0x7FF);
    } else if (++counter > 0xFFF) {
        last_ms++; /* counter overflow (or the clock stepped back): borrow the next ms */
        counter = 0;
    }
    ms = last_ms;
    uint64_t rb = next_rand();
    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0F));
    b[7] = (uint8_t)counter;
    b[8] = (uint8_t)(0x80 | ((rb >> 56) & 0x3F));
    for (int i = 9; i < 16; i++)
        b[i] = (uint8_t)(rb >> (8 * (15 - i)));
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}
