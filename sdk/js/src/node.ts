/**
 * node.ts - the Node entry of @omtp/client: everything of index.ts, plus
 * the TCP (node:net) and TLS (node:tls) transport and, where Node has no
 * global WebSocket (Node 20), the `ws` package for ws:// URLs. Importing it
 * sets OmtpClient.defaultConnectors, so `new OmtpClient({host, port, ...})`
 * speaks TCP and `new OmtpClient({url: 'ws://...'})` WebSocket.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import WebSocket from 'ws';
import { OmtpClient } from './client.js';
import { webSocketConnector, type Connector, type WebSocketCtor } from './transport.js';

export * from './index.js';

/** TCP (or TLS with `tls: true`) connector. */
export const tcpConnector: Connector = (t, h) => {
    let done = false;
    const finish = (why: string) => {
        if (done) return;
        done = true;
        h.close(why);
    };
    const sock: net.Socket = t.tls
        ? tls.connect({ host: t.host, port: t.port, ca: t.tlsCa as any, rejectUnauthorized: !t.tlsNoVerify, servername: t.host && net.isIP(t.host) ? undefined : t.host }, () => h.open())
        : net.connect({ host: t.host, port: t.port! }, () => h.open());
    sock.setNoDelay(true);
    sock.on('data', (b: Buffer) => h.data(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    sock.on('error', (e) => finish(`${t.host}:${t.port}: ${e.message}`));
    sock.on('close', () => finish(`${t.host}:${t.port}: connection closed by the server`));
    return {
        send(frame) {
            if (!sock.destroyed) sock.write(frame);
        },
        close() {
            finish('closed by the client');
            sock.destroy();
        },
    };
};

/**
 * WebSocket connector on the `ws` package, with the target's TLS options
 * for wss:// (`tlsCa`, `tlsNoVerify`) and no Origin header (not a browser).
 */
export const wsConnector: Connector = (t, h) => {
    const opts = { ca: t.tlsCa as any, rejectUnauthorized: !t.tlsNoVerify };
    class NodeWs extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, opts);
        }
    }
    return webSocketConnector(NodeWs as unknown as WebSocketCtor)(t, h);
};

OmtpClient.defaultConnectors.tcp = tcpConnector;
OmtpClient.defaultConnectors.ws = wsConnector;
