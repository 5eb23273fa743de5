/*
 * harness.h - start and stop a real omtpd for integration tests.
 *
 * Every integration test drives build/omtpd (path from $OMTPD, set by
 * ctest) over TCP. h_server_start() makes a fresh mktemp data directory,
 * starts omtpd with `--listen 127.0.0.1:0 --port-file F` plus the caller's
 * settings, and returns once the port file appeared (the server listens).
 * The server's stderr goes to <dir>/omtpd.log; it is printed by
 * h_server_free (ctest --output-on-failure shows it for failing tests) and
 * by h_teardown when an assertion jumped out of a test.
 *
 * Typical use (cmocka):
 *
 *   static void test_x(void **st) {
 *       h_server *s = h_server_start(NULL, "keepalive_s = 1\n");
 *       h_user_add(s, "alice", "pw-alice");
 *       omtp_sync *c = h_connect(s);
 *       ... assertions ...
 *       omtp_sync_close(c);
 *       assert_int_equal(h_server_stop(s), 0);   // SIGTERM -> exit status
 *       h_server_free(s);
 *   }
 *   cmocka_unit_test_teardown(test_x, h_teardown)
 *
 * If an assertion fails, cmocka jumps out of the test; h_teardown() then
 * prints the log of every server the test did not free and kills it.
 * Threading: test thread only. All functions fail the test (cmocka fail())
 * on harness errors, so callers need not check.
 */
#ifndef OMTP_HARNESS_H
#define OMTP_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "client/omtp_sync.h"

typedef struct h_server {
    char dir[256];       /* mktemp dir: data/, omtpd.conf, omtpd.log, port */
    char data_dir[300];  /* dir/data */
    char conf_path[300]; /* dir/omtpd.conf (the caller's settings) */
    char log_path[300];  /* dir/omtpd.log (stderr of every run, appended) */
    char port_path[300];
    const char *bin; /* $OMTPD */
    char *args[32];  /* extra command-line arguments */
    int nargs;
    pid_t pid;  /* 0 when not running */
    int port;   /* OMTP port of the current run */
    int status; /* wait status of the last run that ended */
} h_server;

/*
 * Starts omtpd. `conf` (may be NULL) is config-file text ("key = value"
 * lines) written to omtpd.conf and passed with --config; `args` (may be
 * NULL) is a NULL-terminated list of extra command-line arguments.
 */
/* H_EXTRA_CONF (environment), when set, is appended to every server's
 * configuration after `conf`: runs a test again on another path (e.g.
 * "message_log = false", tests/CMakeLists.txt). */
h_server *h_server_start(const char *conf, const char *const *args);
/* Starts it again on the same data directory and config (after stop/kill). */
void h_server_restart(h_server *s);
/* Starts it again like h_server_restart, but a server that refuses to start
 * is not a failure: returns -1 once it listens, or its exit code if it
 * exited during start-up (its words are in the log: h_server_log). */
int h_server_try_restart(h_server *s);
/* Same, but listening on the port of the previous run (clients that
 * reconnect to a fixed address find it again). Fails the test if the port
 * cannot be bound again. */
void h_server_restart_same_port(h_server *s);
/* SIGTERM, wait (up to 20 s, then SIGKILL). Returns the exit code, or
 * 128+signal if it died from a signal. */
int h_server_stop(h_server *s);
/* SIGKILL and reap. */
void h_server_kill9(h_server *s);
/* Whether the process is still running (reaps it if it exited). */
bool h_server_alive(h_server *s);
/* Stops if running, prints the log's tail to stderr (ctest shows it only
 * when the test failed; H_QUIET=1 silences it), removes the directory. */
void h_server_free(h_server *s);
/* The end of a test's server: stops it, asserts exit code 0 (printing the
 * log first when not), frees it. NULL is a no-op. */
void h_server_stop_free(h_server *s);
/* Prints the server's log to stderr. */
void h_server_dump_log(h_server *s);
/* Reads the log into a malloc'd string (caller frees). */
char *h_server_log(h_server *s);

/*
 * Runs `omtpd ARGS... --data-dir D --config C` (an admin command) and waits.
 * Returns its exit code; its stdout is copied to out (may be NULL).
 * `user add` / `user bulk` run `omtpd init` first (admin commands never
 * create a store; init does nothing on an existing one).
 */
int h_admin(h_server *s, char *out, size_t outlen, const char *const *args);
/* omtpd user add USER --password PW; fails the test if it fails. */
void h_user_add(h_server *s, const char *user, const char *password);
/* omtpd token issue USER --ttl TTL into tok (>= 300 bytes). */
void h_token(h_server *s, const char *user, long ttl, char *tok, size_t toklen);

/* A blocking client connected to the server (fails the test if not). */
omtp_sync *h_connect(h_server *s);
/* Connect and log in with a password; asserts LoginResp code 0. */
omtp_sync *h_login(h_server *s, const char *user, const char *password, int device_type);

/* A raw TCP socket to the server (blocking), for hostile-input tests. */
int h_raw_connect(h_server *s);
/* The same from source address src_ip (e.g. "127.0.0.7": every 127.x.y.z is
 * this machine), for per-address limits. Returns -1 if the connect failed
 * (errno set) instead of failing the test. */
int h_raw_connect_from(h_server *s, const char *src_ip);
/* Appends one frame exactly as given: 4-byte length, OTIMPack{header{type,
 * version 1, flags, packId}, payload bytes untouched} -- no transform is
 * applied whatever the flags say and no size limit is checked, so tests can
 * craft hostile frames. */
void h_raw_frame(tars_buf *b, int type, int64_t flags, const char *packId, const void *payload,
                 size_t len);
/* Reads until the peer closes or timeout_ms passes; returns bytes read
 * into buf (up to len), -1 on timeout without close. */
ssize_t h_raw_read_until_close(int fd, void *buf, size_t len, int timeout_ms);

/* cmocka teardown: dumps the log of, and kills, every server not freed. */
int h_teardown(void **state);

/* Milliseconds on a monotonic clock. */
int64_t h_now_ms(void);

#endif
