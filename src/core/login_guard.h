/*
 * login_guard.h - the per-account login backoff and the memory of devices
 * that logged in before.
 *
 * The per-address delay (server.c) does not stop a guesser that rotates
 * source addresses. This module slows down password guessing at ONE
 * account, whatever the addresses: after n recent failures of an account,
 * its next password check may start only backoff(n) = min(base x 2^(n-1),
 * max) after the previous one. Attempts arriving in parallel reserve slots
 * one backoff apart (at least `base` apart, even for an account without
 * failures: so many connections do not guess faster than one); an attempt
 * whose slot is more than `max` ms away is refused at once instead of
 * waiting, which bounds the logins waiting per account.
 *
 * So that an attacker cannot lock the real user out, a password login from
 * a device that logged in successfully to that account before is never
 * delayed: the device is (user, deviceType, LoginReq.deviceId) with a
 * non-empty deviceId, remembered on every successful login (password or
 * token). Token logins are not passed through the guard at all (an HMAC
 * token cannot be guessed). The rule is docs/server-core.md,
 * "Authentication".
 *
 * Memory is fixed whatever the number of account names an attacker sends:
 * accounts live in LG_SETS x LG_WAYS entries (a keyed 64-bit hash of the
 * user id, failure count, stamps: 32 bytes each, 128 KiB), a failure of a
 * new name evicts, within its set, an entry whose failures are forgotten
 * (no failure for LG_FORGET_MS), else the one with the fewest failures: an
 * account under a long attack outlives a flood of one-guess names. Known
 * devices are LG_KNOWN keyed 64-bit hashes (512 KiB), direct-mapped: a
 * collision forgets a device, which is then only delayed while its account
 * is being attacked. The hash key is random per process, so which names
 * share a set cannot be computed from outside. Per node: nodes of a
 * cluster keep their own tables (a guesser spreading over N nodes gets N
 * times the rate), and a restart forgets everything.
 *
 * Threading: none of its own; the loop thread calls it (auth.c). Time is
 * passed in (loop milliseconds), so the unit test drives it with a fake
 * clock.
 */
#ifndef OMTP_LOGIN_GUARD_H
#define OMTP_LOGIN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_SETS      1024
#define LG_WAYS      4
#define LG_KNOWN     65536
#define LG_FORGET_MS (15u * 60u * 1000u) /* failures forgotten after 15 min without one */

typedef struct omtp_login_guard omtp_login_guard;

enum omtp_lg_verdict {
    OMTP_LG_GO = 0,     /* check the password now (*wait_ms 0) */
    OMTP_LG_WAIT = 1,   /* check it after *wait_ms */
    OMTP_LG_REFUSE = 2, /* refuse without checking; retry after *wait_ms */
};

/* A guard with backoff base_ms doubling per failure up to max_ms.
 * base_ms 0 = never delay (devices are still remembered). NULL on OOM. */
omtp_login_guard *omtp_login_guard_new(uint32_t base_ms, uint32_t max_ms);
void omtp_login_guard_free(omtp_login_guard *g);
/* A password login for userId from (deviceType, deviceId) arrives at now:
 * go, wait, or refuse. A wait reserves the account's next slot; a slot
 * more than max_wait_ms away (and never more than the guard's max) is
 * refused instead (the caller's connection would time out waiting). */
int omtp_login_guard_admit(omtp_login_guard *g, const char *userId, int deviceType,
                           const char *deviceId, uint64_t now, uint32_t max_wait_ms,
                           uint32_t *wait_ms);
/* A password check for userId failed at now. */
void omtp_login_guard_failed(omtp_login_guard *g, const char *userId, uint64_t now);
/* userId logged in from (deviceType, deviceId): the device is remembered
 * (when deviceId is not empty), and with `clear` the account's failures are
 * forgotten. auth.c clears only after a password login that went through
 * the backoff (from a device not known before): a token or a known device
 * logging in says nothing about who is guessing from elsewhere, and
 * clearing then would hand the guesser a fresh ramp of fast guesses at
 * every reconnect of the real user. */
void omtp_login_guard_succeeded(omtp_login_guard *g, const char *userId, int deviceType,
                                const char *deviceId, bool clear);
/* Whether (userId, deviceType, deviceId) logged in successfully before. */
bool omtp_login_guard_known(const omtp_login_guard *g, const char *userId, int deviceType,
                            const char *deviceId);
/* Recent failures of userId (0 when not tracked or forgotten). */
uint32_t omtp_login_guard_failures(const omtp_login_guard *g, const char *userId, uint64_t now);
/* Bytes the guard holds (fixed at creation). */
size_t omtp_login_guard_size(void);

#endif
