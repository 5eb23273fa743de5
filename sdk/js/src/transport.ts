/**
 * transport.ts - how the client reaches omtpd: a Connector opens one
 * connection and reports bytes and the close. The bytes are OMTP frames
 * (4-byte length included) whatever the transport:
 *
 *  - WebSocket (browsers; Node through the `ws` package, see node.ts):
 *    subprotocol `omtp`, one frame per binary message, byte for byte as on
 *    TCP (DESIGN "WebSocket", docs/websocket.md). Received messages are fed
 *    to the same frame reader as TCP reads, so a message holding a part of
 *    a frame or several frames would still work.
 *  - TCP / TLS: Node only (node.ts), kept out of the browser bundle.
 *
 * A Connector must call exactly one of h.close() per connection, after
 * h.open() or instead of it; conn.close() must not call h.close()
 * synchronously twice. Everything runs on the JS event loop (no threads).
 */

export interface Target {
    /** ws:// or wss:// URL (WebSocket) */
    url?: string;
    host?: string;
    port?: number;
    /** TCP only: TLS (Node), with `tlsCa` (PEM) or `tlsNoVerify` for tests */
    tls?: boolean;
    tlsCa?: string | Uint8Array;
    tlsNoVerify?: boolean;
}

export interface ConnHandlers {
    open(): void;
    data(bytes: Uint8Array): void;
    /** The connection is gone; `reason` says why in words. */
    close(reason: string): void;
}

export interface Conn {
    send(frame: Uint8Array): void;
    close(): void;
}

export type Connector = (t: Target, h: ConnHandlers) => Conn;

/** The subset of the WebSocket API the client uses (browser's or `ws`'s). */
export interface WebSocketLike {
    binaryType: string;
    readyState: number;
    onopen: ((ev: any) => void) | null;
    onmessage: ((ev: any) => void) | null;
    onclose: ((ev: any) => void) | null;
    onerror: ((ev: any) => void) | null;
    send(data: Uint8Array): void;
    close(code?: number, reason?: string): void;
}
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** A Connector over WebSocket; `ctor` defaults to globalThis.WebSocket. */
export function webSocketConnector(ctor?: WebSocketCtor): Connector {
    return (t, h) => {
        const WS: WebSocketCtor | undefined = ctor || (globalThis as any).WebSocket;
        if (!WS) throw new Error('no WebSocket implementation: in Node import "@omtp/client" (it uses the ws package)');
        if (!t.url) throw new Error('a WebSocket connection needs a url (ws://host:port/ws)');
        let done = false;
        const finish = (why: string) => {
            if (done) return;
            done = true;
            h.close(why);
        };
        const ws = new WS(t.url, 'omtp');
        ws.binaryType = 'arraybuffer';
        ws.onopen = () => h.open();
        ws.onmessage = (ev: any) => {
            const d = ev.data;
            if (typeof d === 'string') {
                finish('the server sent a text message (OMTP over WebSocket is binary only)');
                ws.close(1003);
                return;
            }
            h.data(d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        };
        ws.onerror = () => {
            /* the close event follows and says more */
        };
        ws.onclose = (ev: any) => finish(`WebSocket closed (code ${ev && ev.code}${ev && ev.reason ? ': ' + ev.reason : ''})`);
        return {
            send(frame) {
                if (ws.readyState === 1) ws.send(frame);
            },
            close() {
                try {
                    ws.close(1000);
                } catch {
                    /* not open yet */
                }
                finish('closed by the client');
            },
        };
    };
}
