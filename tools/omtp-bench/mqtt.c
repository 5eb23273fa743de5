/*
 * mqtt.c - minimal MQTT 3.1.1 QoS 1 client on libuv (see mqtt.h).
 *
 * Wire (MQTT 3.1.1, OASIS standard): a packet is one byte of type<<4|flags,
 * the remaining length as a base-128 varint (at most 4 bytes), then the
 * variable header and payload. Strings are a 2-byte big-endian length and
 * bytes. Cost per message: one malloc + one write per packet sent (as the
 * OMTP client), parsing in place from one growable read buffer.
 */
#include "mqtt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MQ_CONNECT = 1,
    MQ_CONNACK = 2,
    MQ_PUBLISH = 3,
    MQ_PUBACK = 4,
    MQ_SUBSCRIBE = 8,
    MQ_SUBACK = 9,
    MQ_PINGREQ = 12,
    MQ_PINGRESP = 13,
    MQ_DISCONNECT = 14,
};

struct mqtt_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t ping;
    uv_loop_t *loop;
    mqtt_callbacks cb;
    void *ud;
    char *client_id, *topic;
    int keepalive_s;
    bool online, dead, freed;
    int handles; /* open libuv handles */
    uint16_t next_id;
    uint8_t *rbuf;
    size_t rlen, rcap;
};

typedef struct mq_write {
    uv_write_t w;
    uv_buf_t buf;
    uint8_t data[];
} mq_write;

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows up as a read error */
    free(w->data);
}

static size_t put_varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v % 128);
        v /= 128;
        if (v)
            b |= 0x80;
        p[n++] = b;
    } while (v);
    return n;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len)
{
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, s, len);
    return p + 2 + len;
}

/* Sends one packet: header byte, then `body` of `blen` bytes. */
static int send_packet(mqtt_conn *m, uint8_t first, const uint8_t *body, size_t blen)
{
    if (m->dead)
        return -1;
    mq_write *w = malloc(sizeof(*w) + 5 + blen);
    if (!w)
        return -1;
    w->data[0] = first;
    size_t h = 1 + put_varint(w->data + 1, blen);
    memcpy(w->data + h, body, blen);
    w->buf = uv_buf_init((char *)w->data, (unsigned)(h + blen));
    w->w.data = w;
    if (uv_write(&w->w, (uv_stream_t *)&m->tcp, &w->buf, 1, on_written)) {
        free(w);
        return -1;
    }
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    mqtt_conn *m = h->data;
    if (--m->handles > 0)
        return;
    free(m->rbuf);
    free(m->client_id);
    free(m->topic);
    free(m);
}

static void go_dead(mqtt_conn *m, const char *why)
{
    if (m->dead)
        return;
    m->dead = true;
    m->online = false;
    uv_timer_stop(&m->ping);
    uv_read_stop((uv_stream_t *)&m->tcp);
    if (m->cb.on_state && !m->freed)
        m->cb.on_state(m, false, why, m->ud);
}

static int handle_packet(mqtt_conn *m, uint8_t first, const uint8_t *p, size_t n)
{
    int type = first >> 4;
    switch (type) {
    case MQ_CONNACK:
        if (n < 2 || p[1] != 0) {
            go_dead(m, n < 2 ? "short CONNACK" : "the broker refused CONNECT");
            return -1;
        } else {
            size_t tl = strlen(m->topic);
            uint8_t *b = malloc(2 + 2 + tl + 1);
            if (!b)
                return -1;
            b[0] = 0;
            b[1] = 1; /* packet id 1 */
            uint8_t *q = put_str(b + 2, m->topic, tl);
            *q++ = 1; /* QoS 1 */
            int rc = send_packet(m, (MQ_SUBSCRIBE << 4) | 0x2, b, (size_t)(q - b));
            free(b);
            return rc;
        }
    case MQ_SUBACK:
        if (n < 3 || p[2] != 1) {
            go_dead(m, "the broker did not grant the subscription at QoS 1");
            return -1;
        }
        m->online = true;
        if (m->cb.on_state)
            m->cb.on_state(m, true, NULL, m->ud);
        return 0;
    case MQ_PUBACK:
        if (m->cb.on_puback)
            m->cb.on_puback(m, m->ud);
        return 0;
    case MQ_PUBLISH: {
        int qos = (first >> 1) & 3;
        if (n < 2)
            return -1;
        size_t tl = ((size_t)p[0] << 8) | p[1];
        size_t off = 2 + tl;
        uint8_t id[2] = {0, 0};
        if (qos > 0) {
            if (off + 2 > n)
                return -1;
            id[0] = p[off];
            id[1] = p[off + 1];
            off += 2;
        }
        if (off > n)
            return -1;
        if (qos == 1 && send_packet(m, MQ_PUBACK << 4, id, 2))
            return -1;
        if (m->cb.on_message)
            m->cb.on_message(m, (const char *)p + off, n - off, m->ud);
        return 0;
    }
    case MQ_PINGRESP:
        return 0;
    default:
        return 0; /* not used by the benchmark */
    }
}

static void parse(mqtt_conn *m)
{
    size_t pos = 0;
    while (!m->dead && !m->freed) {
        if (m->rlen - pos < 2)
            break;
        size_t len = 0, mul = 1, i = 1;
        bool done = false;
        for (; i < 5 && pos + i < m->rlen; i++) {
            len += (size_t)(m->rbuf[pos + i] & 0x7f) * mul;
            mul *= 128;
            if (!(m->rbuf[pos + i] & 0x80)) {
                done = true;
                i++;
                break;
            }
        }
        if (!done) {
            if (i >= 5) {
                go_dead(m, "bad remaining length from the broker");
                return;
            }
            break; /* length bytes incomplete */
        }
        if (m->rlen - pos < i + len)
            break;
        if (handle_packet(m, m->rbuf[pos], m->rbuf + pos + i, len)) {
            go_dead(m, "bad packet from the broker");
            return;
        }
        pos += i + len;
    }
    if (pos) {
        memmove(m->rbuf, m->rbuf + pos, m->rlen - pos);
        m->rlen -= pos;
    }
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *buf)
{
    (void)sugg;
    mqtt_conn *m = h->data;
    if (m->rcap - m->rlen < 16384) {
        size_t nc = m->rcap ? m->rcap * 2 : 65536;
        uint8_t *nb = realloc(m->rbuf, nc);
        if (!nb) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        m->rbuf = nb;
        m->rcap = nc;
    }
    *buf = uv_buf_init((char *)m->rbuf + m->rlen, (unsigned)(m->rcap - m->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    mqtt_conn *m = s->data;
    if (nread < 0) {
        go_dead(m, nread == UV_EOF ? "the broker closed the connection" : uv_strerror((int)nread));
        return;
    }
    m->rlen += (size_t)nread;
    parse(m);
}

static void on_ping(uv_timer_t *t)
{
    mqtt_conn *m = t->data;
    send_packet(m, MQ_PINGREQ << 4, NULL, 0);
}

static void on_connected(uv_connect_t *req, int status)
{
    mqtt_conn *m = req->data;
    if (m->freed)
        return;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "cannot connect to the broker: %s", uv_strerror(status));
        go_dead(m, why);
        return;
    }
    uv_tcp_nodelay(&m->tcp, 1);
    uv_read_start((uv_stream_t *)&m->tcp, on_alloc, on_read);
    size_t cl = strlen(m->client_id);
    uint8_t *b = malloc(12 + cl);
    if (!b) {
        go_dead(m, "out of memory");
        return;
    }
    uint8_t *q = put_str(b, "MQTT", 4);
    *q++ = 4;    /* protocol level 3.1.1 */
    *q++ = 0x02; /* clean session */
    *q++ = (uint8_t)(m->keepalive_s >> 8);
    *q++ = (uint8_t)m->keepalive_s;
    q = put_str(q, m->client_id, cl);
    send_packet(m, MQ_CONNECT << 4, b, (size_t)(q - b));
    free(b);
    if (m->keepalive_s > 0)
        uv_timer_start(&m->ping, on_ping, (uint64_t)m->keepalive_s * 1000,
                       (uint64_t)m->keepalive_s * 1000);
}

int mqtt_conn_start(uv_loop_t *loop, const char *host, int port, const char *client_id,
                    const char *topic, int keepalive_s, const mqtt_callbacks *cb, void *ud,
                    mqtt_conn **out)
{
    *out = NULL;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
        return -1;
    mqtt_conn *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    m->loop = loop;
    m->cb = *cb;
    m->ud = ud;
    m->keepalive_s = keepalive_s;
    m->client_id = strdup(client_id);
    m->topic = strdup(topic);
    if (!m->client_id || !m->topic)
        goto err;
    uv_tcp_init(loop, &m->tcp);
    uv_timer_init(loop, &m->ping);
    m->tcp.data = m->ping.data = m->creq.data = m;
    m->handles = 2;
    m->next_id = 1;
    if (uv_tcp_connect(&m->creq, &m->tcp, (struct sockaddr *)&ss, on_connected)) {
        m->dead = true;
        m->freed = true;
        uv_close((uv_handle_t *)&m->tcp, on_handle_closed);
        uv_close((uv_handle_t *)&m->ping, on_handle_closed);
        return -1;
    }
    *out = m;
    return 0;
err:
    free(m->client_id);
    free(m->topic);
    free(m);
    return -1;
}

int mqtt_conn_publish(mqtt_conn *m, const char *topic, const void *payload, size_t len)
{
    if (!m->online)
        return -1;
    size_t tl = strlen(topic);
    uint8_t stackbuf[1024];
    size_t need = 2 + tl + 2 + len;
    uint8_t *b = need <= sizeof(stackbuf) ? stackbuf : malloc(need);
    if (!b)
        return -1;
    uint8_t *q = put_str(b, topic, tl);
    if (++m->next_id == 0)
        m->next_id = 2; /* 0 is invalid, 1 is the SUBSCRIBE's */
    *q++ = (uint8_t)(m->next_id >> 8);
    *q++ = (uint8_t)m->next_id;
    memcpy(q, payload, len);
    int rc = send_packet(m, (MQ_PUBLISH << 4) | (1 << 1), b, need);
    if (b != stackbuf)
        free(b);
    return rc;
}

void mqtt_conn_free(mqtt_conn *m)
{
    if (!m || m->freed)
        return;
    if (m->online)
        send_packet(m, MQ_DISCONNECT << 4, NULL, 0);
    m->freed = true;
    m->dead = true;
    m->online = false;
    uv_timer_stop(&m->ping);
    uv_close((uv_handle_t *)&m->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&m->ping, on_handle_closed);
}
