/*
 * mqtt.h - a minimal MQTT 3.1.1 client connection on libuv, for comparing
 * omtpd with an MQTT broker under the same workload (omtp-bench --protocol
 * mqtt).
 *
 * Why hand-written and not libmosquitto: the comparison is only fair when
 * both protocols are driven the same way -- every connection of the process
 * on ONE event loop, one write per packet, no thread per client -- and this
 * keeps the MQTT side exactly as lean as the OMTP side (fewer allocations,
 * if anything: the broker is not disadvantaged). It speaks what the
 * benchmark needs and nothing else: CONNECT (clean session), SUBSCRIBE to one
 * topic at QoS 1, PUBLISH at QoS 1 with PUBACK both ways, PINGREQ.
 *
 * Ownership: a connection copies its strings; payloads handed to callbacks
 * are borrowed for the call. Threading: the loop's thread only.
 */
#ifndef OMTP_BENCH_MQTT_H
#define OMTP_BENCH_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct mqtt_conn mqtt_conn;

typedef struct mqtt_callbacks {
    /* online: CONNACK accepted and SUBACK granted QoS 1. Offline: err says
     * why (the connection is closed; mqtt_conn_free it). */
    void (*on_state)(mqtt_conn *m, bool online, const char *err, void *ud);
    /* the broker acknowledged one of our QoS 1 publishes */
    void (*on_puback)(mqtt_conn *m, void *ud);
    /* a message on our subscription (already acknowledged to the broker) */
    void (*on_message)(mqtt_conn *m, const char *payload, size_t len, void *ud);
} mqtt_callbacks;

/* Connects to host:port (a numeric address), sends CONNECT as client_id and
 * SUBSCRIBE to `topic` at QoS 1. keepalive_s 0 = no PINGREQ. */
int mqtt_conn_start(uv_loop_t *loop, const char *host, int port, const char *client_id,
                    const char *topic, int keepalive_s, const mqtt_callbacks *cb, void *ud,
                    mqtt_conn **out);
/* PUBLISH at QoS 1 (0, or -1 when not online / out of memory). */
int mqtt_conn_publish(mqtt_conn *m, const char *topic, const void *payload, size_t len);
/* Sends DISCONNECT if online, closes, frees once libuv released the handle.
 * No callback runs after this call. */
void mqtt_conn_free(mqtt_conn *m);

#endif
