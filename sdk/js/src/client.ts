/**
 * client.ts - OmtpClient: one logical login (user, device) that stays
 * online. The contract is libomtp's (src/client/omtp_client.h):
 *
 *  - connect() opens the connection, logs in and resolves once online; it
 *    rejects (and the client is 'closed') when that first attempt fails or
 *    the login is refused. Once online, a drop is repaired by itself:
 *    state 'reconnecting', backoff 0, 1, 2, 4, 8, 16, 16 ... s (each +-25 %
 *    jitter), login again, catch-up.
 *  - catch-up after every login (libomtp's sequence): hot sessions from the
 *    last cursor (paged until empty); for each session whose last seqId is
 *    above the last one delivered, history pulls fill the gap and the missed
 *    messages are emitted oldest first with `catchup: true`; then the
 *    high-priority queue from the last seq (control notices, HIGHPRJ
 *    messages). Pushes arriving meanwhile are held and emitted after it.
 *    Every message is emitted at most once per (session, seqId). The very
 *    first sync only records where sessions are (a UI loads history
 *    itself).
 *  - send() is reliable: the message waits in an outbox until its MsgAck.
 *    After a reconnect, or when no ack came within the request timeout, it
 *    is sent again with the DUP flag and the SAME packId (the server
 *    deduplicates by sender + packId), so the peer sees it exactly once;
 *    it gives up after `giveUpMs` (default 5 min). A SERVER_REFUSED (7)
 *    ack (rate limit: not executed) is retried after a second. Other
 *    requests are not retried: they reject with ETIMEDOUT or ECLOSED.
 *  - heartbeat: PING every keepaliveMs; a connection silent for twice that
 *    is dropped (and reconnected).
 *
 * Threading: plain JS event loop; every callback and event runs on it.
 * Ownership: objects handed to listeners are fresh; keep them if you like.
 */
import { Emitter } from './emitter.js';
import { EC, OmtpError } from './errors.js';
import { CONTENT_TYPE, FileError, fileTokenOf, fileUrl as fileUrlOf, filesBaseOf, kindOf, mediaContent, upload as uploadFile } from './files.js';
import type { MediaKind, UploadOptions, UploadedFile } from './files.js';
import * as S from './gen/schema.js';
import { CTRL, DEFAULT_MAX_FRAME, DEVICE, FLAG, FrameReader, PT, SYNC, VERSION, compressOf, cryptoOf, decodePack, decodePayload, encodeFrame, payloadDesc, registerPayload } from './packet.js';
import { bizSessionId, isGroupId, singleSessionId } from './session.js';
import { decode, encode, make, type StructDesc } from './tars.js';
import { webSocketConnector, type Conn, type Connector, type Target } from './transport.js';
import { uuid4 } from './uuid.js';

export type ClientState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'closed';

/** Extension packet types (spec omtp-ext.tars, docs/protocol.md "Extensions"). */
export const PT_EXT = { PRESENCE_SUB: 100, PRESENCE: 101, TYPING: 102, MSG_REACTION: 103, MSG_SEARCH: 104, MSG_READERS: 105 } as const;

/**
 * The generated interface of an extension struct, or a loose object while
 * the schema (src/proto/omtp_schema.def) does not declare it yet: the
 * extension methods compile either way and are typed once it does.
 */
export type ExtStruct<N extends string> = N extends keyof typeof S ? ((typeof S)[N] extends StructDesc<infer T> ? T : never) : { [field: string]: any };

/** The descriptor of an extension struct, if the schema declares it. */
function extDesc(name: string): StructDesc<any> | undefined {
    return S.ALL_STRUCTS[name];
}

// what the client decodes for the extension types (pushes are ACK 0)
for (const [type, req, ack] of [
    [PT_EXT.PRESENCE_SUB, 'PresenceSubReq', 'PresenceSubResp'],
    [PT_EXT.PRESENCE, 'PresenceNotice', ''],
    [PT_EXT.TYPING, 'TypingNotice', 'CommonErrorCode'],
    [PT_EXT.MSG_REACTION, 'ReactionNotice', 'CommonErrorCode'],
    [PT_EXT.MSG_SEARCH, 'MsgSearchReq', 'MsgSearchResp'],
    [PT_EXT.MSG_READERS, 'MsgReadersReq', 'MsgReadersResp'],
] as [number, string, string][]) {
    const r = extDesc(req);
    const a = ack ? extDesc(ack) : undefined;
    if (r || a) registerPayload(type, r || null, a || null);
}

/** Payload transforms (zlib, AES-256-GCM): optional module `@omtp/client/transforms`. */
export interface PayloadTransforms {
    compress(b: Uint8Array): Promise<Uint8Array>;
    decompress(b: Uint8Array, maxOut: number): Promise<Uint8Array>;
    encrypt(b: Uint8Array): Promise<Uint8Array>;
    decrypt(b: Uint8Array): Promise<Uint8Array>;
    /** whether encrypt/decrypt have a key */
    readonly hasKey: boolean;
}

export interface OmtpClientOptions extends Target {
    user: string;
    /** the password, or a login token issued by the business backend */
    password?: string;
    /** same as password: a token (`omtpd token issue`, POST /v1/tokens) */
    token?: string;
    /** DEVICE.* (1..5); default DEVICE.LINUX (5), like libomtp */
    deviceType?: number;
    /** stable id of this install (persist it: docs/server-core.md); default: random per client */
    deviceId?: string;
    deviceName?: string;
    /** per-request timeout; default 10000 */
    requestTimeoutMs?: number;
    /** connect + login of one attempt; default 5000 */
    connectTimeoutMs?: number;
    /** PING interval; default 30000; 0 = no heartbeat */
    keepaliveMs?: number;
    /** outbox: give up a send this long after it was queued; default 300000 */
    giveUpMs?: number;
    /** reconnect after a drop (default true) */
    reconnect?: boolean;
    /** first non-zero reconnect delay (default 1000) and the cap (default 16000) */
    backoffBaseMs?: number;
    backoffMaxMs?: number;
    /** run the catch-up after each login (default true) */
    catchup?: boolean;
    /** resume catch-up from persisted cursors (see cursors()) */
    hotCursor?: number;
    hpSeq?: number;
    maxFrame?: number;
    /** how to connect; default: WebSocket for `url`, TCP (Node entry) for host+port */
    connector?: Connector;
    /** zlib / AES payload transforms and whether requests use them */
    transforms?: PayloadTransforms;
    compress?: boolean;
    encrypt?: boolean;
    /** HTTP base of the file endpoints (http://host:port); default: the `url`'s host over http(s) */
    filesUrl?: string;
    /** Bearer token for the file endpoints; default: `token`, else the one LoginResp.extraData hands out */
    fileToken?: string;
}

/** A chat, group or business message as stored by the server. */
export interface Message extends S.MsgReq {
    /** 14 single, 15 group, 16 business notice */
    type: number;
    flags: number;
    packId: string;
    revoked: boolean;
    edited: boolean;
    highPriority: boolean;
    /** true when delivered by the catch-up after a (re)login */
    catchup: boolean;
}

export interface ControlNotice extends S.MsgControl {
    /** 'revoke' | 'delete' | 'edit' (command 1, 2, 3) */
    action: 'revoke' | 'delete' | 'edit' | 'unknown';
    catchup: boolean;
}

export interface HotSession {
    sessionId: string;
    readSeqId: number;
    unreadCount: number;
    /** the last visible message, if any */
    lastMsg: Message | null;
    /** the user's session attributes (pin, mute, ...), parsed JSON object */
    attributes: { [name: string]: string };
    /** extension fields (e.g. mentionSeqId) as the schema has them */
    raw: S.HotSessionItem;
}

export interface SendResult {
    sessionId: string;
    seqId: number;
    timestamp: number;
    packId: string;
}

/** What send() hands to onPending at once, before anything is on the wire. */
export interface PendingMessage {
    packId: string;
    type: number;
    sessionId: string;
    to: string;
    from: string;
    content: string;
    contentType: number;
    timestamp: number;
}

export interface SendOptions {
    /** 14 single (default for user ids), 15 group (default for GC_ ids), 16 business */
    type?: number;
    /** extra header flags: FLAG.HIGHPRJ, FLAG.COUNTER */
    flags?: number;
    /** called synchronously with the queued message (show it as pending) */
    onPending?: (m: PendingMessage) => void;
}

export interface StateEvent {
    state: ClientState;
    /** reconnect attempt (reconnecting), 0 on the first connect */
    attempt: number;
    /** reconnecting: time until the next attempt */
    delayMs: number;
    /** why the connection dropped / the client stopped ('' if none) */
    reason: string;
    /** protocol code (login refusal, kickout) or 0 */
    code: number;
}

export interface ClientEvents {
    state: (e: StateEvent) => void;
    message: (m: Message) => void;
    msgctrl: (c: ControlNotice) => void;
    read: (r: S.MsgReaded) => void;
    kickout: (k: S.KickOutReq) => void;
    /** group changes (sync-data command 3): {groupId, op: create|join|quit|dismiss|creator|info} */
    group: (g: { groupId: string; op: string; raw: S.SyncDataReq }) => void;
    syncdata: (s: S.SyncDataReq) => void;
    /** a message or control notice of a session this connection monitors */
    monitor: (m: Message | ControlNotice) => void;
    /** presence changes of subscribed users (extension, PT_PRESENCE 101) */
    presence: (users: ExtStruct<'PresenceInfo'>[]) => void;
    /** someone is typing / stopped in a session (extension, PT_TYPING 102) */
    typing: (t: ExtStruct<'TypingNotice'>) => void;
    /** a reaction was added (op 1) or removed (op 2) (extension, PT_MSG_REACTION 103) */
    reaction: (r: ExtStruct<'ReactionNotice'>) => void;
    /** one page of hot sessions seen by the catch-up (libomtp's on_hot_sessions) */
    hotsessions: (page: HotSession[]) => void;
    /** catch-up finished after a login (err null) or failed */
    catchup: (err: Error | null) => void;
    /** any other packet the server pushed */
    packet: (p: { header: S.OTIMHeader; body: any }) => void;
    /** a problem that did not stop the client (undecodable push, ...) */
    error: (e: Error) => void;
}

interface Pending {
    resolve: (r: { header: S.OTIMHeader; desc: StructDesc<any> | null; body: any }) => void;
    reject: (e: Error) => void;
    timer: ReturnType<typeof setTimeout>;
}

interface OutboxEntry {
    packId: string;
    type: number;
    flags: number;
    payload: Uint8Array;
    sessionId: string;
    sent: boolean;
    inflight: boolean;
    first: number;
    timer: ReturnType<typeof setTimeout> | null;
    resolve: (r: SendResult) => void;
    reject: (e: Error) => void;
}

const now = () => Date.now();

function jitter(ms: number): number {
    return Math.round(ms * (0.75 + Math.random() * 0.5));
}

function toMessage(header: S.OTIMHeader, m: S.MsgReq, catchup: boolean): Message {
    return {
        ...m,
        type: header.type,
        flags: header.flags,
        packId: header.packId,
        revoked: (header.flags & FLAG.REVOKE) !== 0 || m.status === CTRL.REVOKE,
        edited: (header.flags & FLAG.OVERRIDE) !== 0,
        highPriority: (header.flags & FLAG.HIGHPRJ) !== 0,
        catchup,
    };
}

function toControl(c: S.MsgControl, catchup: boolean): ControlNotice {
    const action = c.command === CTRL.REVOKE ? 'revoke' : c.command === CTRL.DELETE ? 'delete' : c.command === CTRL.EDIT ? 'edit' : 'unknown';
    return { ...c, action, catchup };
}

/** Decodes a nested OTIMPack (history item, lastMsgs, high-priority entry): plain payload. */
export function innerDecode(p: S.OTIMPack): { header: S.OTIMHeader; desc: StructDesc<any> | null; body: any } {
    const { desc, body } = decodePayload(p.header.type, (p.header.flags & FLAG.ACK) !== 0, p.payload);
    return { header: p.header, desc, body };
}

function innerMessage(p: S.OTIMPack, catchup = false): Message | null {
    try {
        const d = innerDecode(p);
        return d.desc === S.MsgReq ? toMessage(p.header, d.body, catchup) : null;
    } catch {
        return null;
    }
}

function codeOf(body: any): { code: number; desc: string } {
    if (!body) return { code: 0, desc: '' };
    if (body.errorCode) return body.errorCode;
    return { code: body.code || 0, desc: body.desc || '' };
}

export class OmtpClient extends Emitter<ClientEvents> {
    /** Connectors used when options.connector is absent (the Node entry sets `tcp`, and `ws` when needed). */
    static defaultConnectors: { tcp?: Connector; ws?: Connector } = {};

    readonly opts: Required<Pick<OmtpClientOptions, 'requestTimeoutMs' | 'connectTimeoutMs' | 'keepaliveMs' | 'giveUpMs' | 'backoffBaseMs' | 'backoffMaxMs' | 'maxFrame'>> & OmtpClientOptions;
    readonly user: string;
    readonly deviceId: string;
    private st: ClientState = 'idle';
    private conn: Conn | null = null;
    private gen = 0;
    private reader: FrameReader;
    private pending = new Map<string, Pending>();
    private outbox: OutboxEntry[] = [];
    private attempt = 0;
    private everOnline = false;
    private stopping = false;
    private connectP: { resolve: () => void; reject: (e: Error) => void } | null = null;
    private connectTimer: ReturnType<typeof setTimeout> | null = null;
    private retryTimer: ReturnType<typeof setTimeout> | null = null;
    private pingTimer: ReturnType<typeof setInterval> | null = null;
    private lastRx = 0;
    private rxChain: Promise<void> = Promise.resolve();
    private rxQueued = 0;
    private counters = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, transformedIn: 0, reconnects: 0, resends: 0 };
    private txChain: Promise<void> = Promise.resolve();
    // catch-up
    private hotCursor: number;
    private hpSeq: number;
    private synced = false;
    private catchingUp = false;
    private held: { header: S.OTIMHeader; desc: StructDesc<any>; body: any }[] = [];
    private seqs = new Map<string, number>();
    private own = new Set<string>();
    /** sessions monitored / users whose presence is subscribed: renewed after every login */
    private monitored = new Set<string>();
    private presenceWanted: string[] = [];
    /** the login token for the file endpoints (options, or the last LoginResp.extraData) */
    private fileTok = '';

    constructor(options: OmtpClientOptions) {
        super();
        if (!options || !options.user) throw new Error('OmtpClient: options.user is required');
        if (!options.url && !(options.host && options.port))
            throw new Error('OmtpClient: give url (ws://host:port/ws) or host and port (TCP, Node)');
        this.opts = {
            requestTimeoutMs: 10000,
            connectTimeoutMs: 5000,
            keepaliveMs: 30000,
            giveUpMs: 300000,
            backoffBaseMs: 1000,
            backoffMaxMs: 16000,
            maxFrame: DEFAULT_MAX_FRAME,
            ...options,
        };
        this.user = options.user;
        this.deviceId = options.deviceId || 'js-' + uuid4();
        this.hotCursor = options.hotCursor || 0;
        this.hpSeq = options.hpSeq || 0;
        this.reader = new FrameReader(this.opts.maxFrame);
    }

    // ------------------------------------------------------------ state

    get state(): ClientState {
        return this.st;
    }

    /** The catch-up cursors, for an application that persists them. */
    cursors(): { hotCursor: number; hpSeq: number } {
        return { hotCursor: this.hotCursor, hpSeq: this.hpSeq };
    }

    /** The last seqId delivered (or acked) for a session (0 if none). */
    sessionSeq(sessionId: string): number {
        return this.seqs.get(sessionId) || 0;
    }

    /** Counters since construction: frames and bytes each way, frames that came compressed/encrypted, reconnect attempts, DUP resends. */
    stats(): { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number; transformedIn: number; reconnects: number; resends: number } {
        return { ...this.counters };
    }

    /** Messages queued or in flight (not yet acked), oldest first. */
    pendingSends(): { packId: string; sessionId: string; type: number; sent: boolean }[] {
        return this.outbox.map((e) => ({ packId: e.packId, sessionId: e.sessionId, type: e.type, sent: e.sent }));
    }

    private setState(state: ClientState, extra: Partial<StateEvent> = {}): void {
        this.st = state;
        this.emit('state', { state, attempt: this.attempt, delayMs: 0, reason: '', code: 0, ...extra });
    }

    /** Connects and logs in; resolves once online. */
    connect(): Promise<void> {
        if (this.st === 'online') return Promise.resolve();
        if (this.connectP || this.st === 'connecting' || this.st === 'reconnecting') {
            // already on its way: wait for the outcome
            return this.once('state', (e) => e.state === 'online' || e.state === 'closed').then((e) => {
                if (e.state !== 'online') throw e.code ? new OmtpError(e.code, e.reason) : new OmtpError('ECLOSED', e.reason);
            });
        }
        this.stopping = false;
        this.everOnline = false;
        this.attempt = 0;
        return new Promise<void>((resolve, reject) => {
            this.connectP = { resolve, reject };
            this.open();
        });
    }

    /** Logs out (if online), closes, stops reconnecting. Pending requests and queued sends reject with ECLOSED. */
    close(): void {
        this.stopping = true;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = null;
        if (this.conn && this.st === 'online') this.sendFrame(PT.LOGOUT, 0, uuid4(), null, null);
        this.lose('closed by the application', 0);
        const ob = this.outbox;
        this.outbox = [];
        for (const e of ob) {
            if (e.timer) clearTimeout(e.timer);
            e.reject(new OmtpError('ECLOSED', 'the client was closed before the message was acknowledged'));
        }
    }

    /** For tests: drops the connection now as if the network broke (the client reconnects). */
    drop(): void {
        if (this.conn) this.lose('dropped by drop()', 0);
    }

    private target(): Target {
        return this.opts;
    }

    private connector(): Connector {
        if (this.opts.connector) return this.opts.connector;
        if (this.opts.url) return OmtpClient.defaultConnectors.ws || webSocketConnector();
        const tcp = OmtpClient.defaultConnectors.tcp;
        if (!tcp) throw new OmtpError('ECLOSED', 'TCP needs Node: import "@omtp/client" in Node, or give a ws:// url');
        return tcp;
    }

    private open(): void {
        const gen = ++this.gen;
        this.reader = new FrameReader(this.opts.maxFrame);
        this.setState('connecting');
        this.connectTimer = setTimeout(() => {
            if (gen === this.gen) this.lose(`no login within ${this.opts.connectTimeoutMs} ms`, 0);
        }, this.opts.connectTimeoutMs);
        try {
            const conn = this.connector()(this.target(), {
                open: () => {
                    if (gen === this.gen) this.sendLogin(gen);
                },
                data: (b) => {
                    if (gen === this.gen) this.onBytes(b, gen);
                },
                close: (why) => {
                    if (gen === this.gen) this.lose(why, 0);
                },
            });
            if (gen === this.gen) this.conn = conn;
            else conn.close(); // it failed while being opened
        } catch (e) {
            this.conn = null;
            this.lose((e as Error).message, 0);
        }
    }

    private lose(reason: string, code: number): void {
        this.gen++;
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.connectTimer = null;
        if (this.pingTimer) clearInterval(this.pingTimer);
        this.pingTimer = null;
        const c = this.conn;
        this.conn = null;
        if (c) c.close();
        this.catchingUp = false;
        for (const [, p] of this.pending) {
            clearTimeout(p.timer);
            p.reject(new OmtpError('ECLOSED', `connection lost: ${reason}`));
        }
        this.pending.clear();
        for (const e of this.outbox) {
            e.inflight = false;
            if (e.timer) clearTimeout(e.timer);
            e.timer = null;
            this.armGiveUp(e);
        }
        if (this.st === 'closed' && !this.connectP) return;
        const fatal = this.stopping || this.opts.reconnect === false || !this.everOnline;
        if (fatal) {
            this.setState('closed', { reason, code });
            const cp = this.connectP;
            this.connectP = null;
            if (cp) cp.reject(code ? new OmtpError(code, reason) : new OmtpError('ECLOSED', reason));
            return;
        }
        this.attempt++;
        this.counters.reconnects++;
        const base = this.attempt <= 1 ? 0 : Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** (this.attempt - 2));
        const delayMs = jitter(base);
        this.setState('reconnecting', { delayMs, reason, code });
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            if (!this.stopping) this.open();
        }, delayMs);
    }

    // ------------------------------------------------------------ wire

    private xflags(): number {
        let f = 0;
        if (this.opts.transforms && this.opts.compress) f |= 1 << FLAG.COMPRESS_SHIFT;
        if (this.opts.transforms && this.opts.encrypt) f |= 1 << FLAG.CRYPTO_SHIFT;
        return f;
    }

    /** Encodes and writes one packet (transforms applied in order when configured). */
    private sendFrame(type: number, flags: number, packId: string, desc: StructDesc<any> | null, body: any, raw?: Uint8Array): void {
        const conn = this.conn;
        if (!conn) return;
        const plain = raw || (desc ? encode(desc, body || {}) : new Uint8Array(0));
        const header = { type, version: VERSION, flags: flags | this.xflags(), packId };
        const tr = this.opts.transforms;
        if (!tr || !(this.opts.compress || this.opts.encrypt)) {
            this.write(conn, encodeFrame(header, plain));
            return;
        }
        const gen = this.gen;
        this.txChain = this.txChain.then(async () => {
            let p = plain;
            if (this.opts.compress) p = await tr.compress(p);
            if (this.opts.encrypt) p = await tr.encrypt(p);
            if (gen === this.gen && this.conn === conn) this.write(conn, encodeFrame(header, p));
        }).catch((e) => this.emit('error', e));
    }

    private write(conn: Conn, frame: Uint8Array): void {
        this.counters.framesOut++;
        this.counters.bytesOut += frame.length;
        conn.send(frame);
    }

    private onBytes(b: Uint8Array, gen: number): void {
        this.counters.bytesIn += b.length;
        let frames: Uint8Array[];
        try {
            frames = this.reader.push(b);
        } catch (e) {
            this.lose((e as Error).message, 0);
            return;
        }
        this.lastRx = now();
        for (const f of frames) {
            if (gen !== this.gen) return;
            let pack: S.OTIMPack;
            try {
                pack = decodePack(f);
            } catch (e) {
                this.lose(`the server sent a frame that does not decode: ${(e as Error).message}`, 0);
                return;
            }
            this.counters.framesIn++;
            const needs = compressOf(pack.header.flags) || cryptoOf(pack.header.flags);
            if (needs) this.counters.transformedIn++;
            if (!needs && this.rxQueued === 0) {
                this.onPack(pack);
                continue;
            }
            this.rxQueued++;
            this.rxChain = this.rxChain
                .then(async () => {
                    if (gen !== this.gen) return;
                    let p: S.OTIMPack;
                    try {
                        p = await this.unwrap(pack);
                    } catch (e) {
                        // a reply that cannot be unwrapped fails its request now, not at the timeout
                        const pend = (pack.header.flags & FLAG.ACK) !== 0 ? this.pending.get(pack.header.packId) : undefined;
                        if (!pend) throw e;
                        this.pending.delete(pack.header.packId);
                        clearTimeout(pend.timer);
                        pend.reject(new OmtpError('EDECODE', `reply of type ${pack.header.type}: ${(e as Error).message}`));
                        return;
                    }
                    if (gen === this.gen) this.onPack(p);
                })
                .catch((e) => this.emit('error', e))
                .finally(() => {
                    this.rxQueued--;
                });
        }
    }

    private async unwrap(p: S.OTIMPack): Promise<S.OTIMPack> {
        const c = compressOf(p.header.flags),
            k = cryptoOf(p.header.flags);
        if (!c && !k) return p;
        const tr = this.opts.transforms;
        if (!tr) throw new Error(`packet type ${p.header.type} is compressed/encrypted: load the transforms module (@omtp/client/transforms)`);
        if (c > 1 || k > 1) throw new Error(`packet type ${p.header.type}: unknown COMPRESS/CRYPTO value`);
        let b = p.payload;
        if (k) b = await tr.decrypt(b);
        if (c) b = await tr.decompress(b, this.opts.maxFrame);
        return { header: p.header, payload: b };
    }

    private onPack(pack: S.OTIMPack): void {
        const h = pack.header;
        const ack = (h.flags & FLAG.ACK) !== 0;
        let desc: StructDesc<any> | null = null;
        let body: any = null;
        let err: Error | null = null;
        try {
            ({ desc, body } = decodePayload(h.type, ack, pack.payload));
        } catch (e) {
            err = e as Error;
        }
        if (ack) {
            this.onReply(h, desc, body, err);
            return;
        }
        if (err) {
            this.emit('error', new Error(`push of type ${h.type} does not decode: ${err.message}`));
            return;
        }
        this.onPush(h, desc, body);
    }

    private onReply(h: S.OTIMHeader, desc: StructDesc<any> | null, body: any, err: Error | null): void {
        const p = this.pending.get(h.packId);
        if (p) {
            this.pending.delete(h.packId);
            clearTimeout(p.timer);
            if (err) p.reject(new OmtpError('EDECODE', `reply of type ${h.type} does not decode: ${err.message}`));
            else p.resolve({ header: h, desc, body });
            return;
        }
        const i = this.outbox.findIndex((e) => e.packId === h.packId);
        if (i < 0) return; // a PING reply, or a late reply to a timed-out request
        const e = this.outbox[i];
        if (e.timer) clearTimeout(e.timer);
        e.timer = null;
        e.inflight = false;
        if (err) {
            this.outbox.splice(i, 1);
            e.reject(new OmtpError('EDECODE', `MsgAck does not decode: ${err.message}`));
            return;
        }
        const { code, desc: why } = codeOf(body);
        if (code === EC.SERVER_REFUSED && now() - e.first < this.opts.giveUpMs) {
            // rate limit: not executed; resend later with the same packId
            e.timer = setTimeout(() => {
                e.timer = null;
                if (this.st === 'online') this.outboxSend(e);
            }, jitter(1000));
            return;
        }
        this.outbox.splice(i, 1);
        if (code !== 0) {
            e.reject(new OmtpError(code, why || `the server refused the message (code ${code})`));
            return;
        }
        const ack = body as S.MsgAck;
        const sid = ack.sessionId || e.sessionId;
        this.ownAdd(sid, ack.seqId);
        e.resolve({ sessionId: sid, seqId: ack.seqId, timestamp: ack.timestamp, packId: e.packId });
    }

    private onPush(h: S.OTIMHeader, desc: StructDesc<any> | null, body: any): void {
        switch (h.type) {
            case PT.MSG_SINGLE_CHAT:
            case PT.MSG_GROUP_CHAT:
            case PT.MSG_BIZ_NOTIFY:
            case PT.MSG_CTRL:
                if (desc && body) {
                    if (this.catchingUp) this.held.push({ header: h, desc, body });
                    else this.deliver(h, desc, body, false);
                    return;
                }
                break;
            case PT.MSG_READ:
                if (body) {
                    this.emit('read', body);
                    return;
                }
                break;
            case PT.KICKOUT:
                this.stopping = true; // do not fight the device that replaced us
                if (body) this.emit('kickout', body);
                this.lose('kicked out: this user logged in on another device of the same type', EC.CONN_KICKOUT);
                return;
            case PT_EXT.PRESENCE:
                if (body && desc !== S.CommonErrorCode) {
                    this.emit('presence', body.users || []);
                    return;
                }
                break;
            case PT_EXT.TYPING:
                if (body && desc !== S.CommonErrorCode) {
                    this.emit('typing', body);
                    return;
                }
                break;
            case PT_EXT.MSG_REACTION:
                if (body && desc !== S.CommonErrorCode) {
                    this.emit('reaction', body);
                    return;
                }
                break;
            case PT.SYNC_DATA_CMD:
                this.sendFrame(PT.SYNC_DATA_CMD, FLAG.ACK, h.packId, S.CommonErrorCode, { code: 0, desc: '' });
                if (body) {
                    const s = body as S.SyncDataReq;
                    this.emit('syncdata', s);
                    if (s.command === SYNC.GROUPS) {
                        let g: any = {};
                        try {
                            g = JSON.parse(s.content || '{}');
                        } catch {
                            /* content is optional details */
                        }
                        this.emit('group', { groupId: g.groupId || '', op: g.op || '', raw: s });
                    }
                    return;
                }
                break;
        }
        this.emit('packet', { header: h, body });
    }

    /** Emits a message or control notice once per (session, seqId). */
    private deliver(h: S.OTIMHeader, desc: StructDesc<any>, body: any, catchup: boolean): void {
        if (desc === S.MsgReq) {
            const m = body as S.MsgReq;
            if (m.seqId > 0) {
                if (m.seqId <= (this.seqs.get(m.sessionId) || 0)) return;
                this.seqs.set(m.sessionId, m.seqId);
                if (this.own.has(`${m.sessionId}\n${m.seqId}`)) return; // our own send, acked here
            }
            const msg = toMessage(h, m, catchup);
            this.emit('message', msg);
            if (this.monitored.has(m.sessionId)) this.emit('monitor', msg);
        } else if (desc === S.MsgControl) {
            const c = toControl(body, catchup);
            this.emit('msgctrl', c);
            if (this.monitored.has(c.sessionId)) this.emit('monitor', c);
        }
    }

    private ownAdd(sid: string, seq: number): void {
        if (!(seq > 0)) return;
        this.own.add(`${sid}\n${seq}`);
        if (this.own.size > 10000) {
            const first = this.own.values().next().value as string;
            this.own.delete(first);
        }
    }

    // ------------------------------------------------------------ login

    private sendLogin(gen: number): void {
        const packId = uuid4();
        const body: S.LoginReq = {
            clientId: this.user,
            userName: this.user,
            password: this.opts.token || this.opts.password || '',
            deviceType: this.opts.deviceType || DEVICE.LINUX,
            deviceName: this.opts.deviceName || 'omtp-js',
            deviceId: this.deviceId,
            version: '1',
        };
        this.rawRequest(PT.LOGIN, 0, S.LoginReq, body, this.opts.connectTimeoutMs, packId, true)
            .then((r) => {
                if (gen !== this.gen) return;
                const resp = r.body as S.LoginResp | null;
                const code = resp ? resp.code : EC.PROTOCOL;
                if (code !== 0) {
                    const why =
                        code === EC.CONN_USERNAME_OR_PASSWORD
                            ? 'wrong user name, password or token'
                            : code === EC.SERVER_REFUSED
                              ? `login refused for now: retry in ${resp?.extraData || 'a few'} s`
                              : `login refused (code ${code}${resp && resp.extraData ? ': ' + resp.extraData : ''})`;
                    if (code !== EC.SERVER_REFUSED) this.stopping = true;
                    this.lose(why, code);
                    return;
                }
                const ft = fileTokenOf(resp?.extraData);
                if (ft) this.fileTok = ft;
                this.online(gen);
            })
            .catch((e) => {
                if (gen === this.gen) this.lose(`login: ${(e as Error).message}`, 0);
            });
    }

    private online(gen: number): void {
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.connectTimer = null;
        this.everOnline = true;
        const attempt = this.attempt;
        this.attempt = 0;
        this.lastRx = now();
        if (this.opts.keepaliveMs > 0) {
            this.pingTimer = setInterval(() => {
                if (gen !== this.gen) return;
                if (now() - this.lastRx > 2 * this.opts.keepaliveMs) {
                    this.lose(`no data from the server for ${2 * this.opts.keepaliveMs} ms`, 0);
                    return;
                }
                this.sendFrame(PT.PING, 0, uuid4(), null, null);
            }, this.opts.keepaliveMs);
        }
        this.catchingUp = this.opts.catchup !== false;
        this.st = 'online';
        this.emit('state', { state: 'online', attempt, delayMs: 0, reason: '', code: 0 });
        const cp = this.connectP;
        this.connectP = null;
        if (cp) cp.resolve();
        if (gen !== this.gen) return;
        for (const e of this.outbox) if (!e.inflight) this.outboxSend(e);
        // subscriptions belong to a connection: renew them on the new one
        for (const sid of this.monitored)
            this.call(PT.SESSION_MONITOR_START, { sessionId: sid }).catch((e) => this.emit('error', new Error(`monitoring ${sid} again after the reconnect: ${(e as Error).message}`)));
        if (this.presenceWanted.length)
            this.ext(PT_EXT.PRESENCE_SUB, 'PresenceSubReq', { userIds: this.presenceWanted }).then(
                (r: any) => this.emit('presence', r.users || []),
                (e) => this.emit('error', new Error(`presence subscription after the reconnect: ${(e as Error).message}`)),
            );
        if (this.catchingUp) void this.runCatchup(gen);
    }

    // ------------------------------------------------------------ requests

    private rawRequest(type: number, flags: number, desc: StructDesc<any> | null, body: any, timeoutMs: number, packId: string, prelogin = false): Promise<{ header: S.OTIMHeader; desc: StructDesc<any> | null; body: any }> {
        if (!this.conn || (!prelogin && this.st !== 'online')) return Promise.reject(new OmtpError('ECLOSED', `not online (state ${this.st})`));
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                if (this.pending.delete(packId)) reject(new OmtpError('ETIMEDOUT', `no reply to packet type ${type} within ${timeoutMs} ms`));
            }, timeoutMs);
            this.pending.set(packId, { resolve, reject, timer });
            this.sendFrame(type, flags, packId, desc, body);
        });
    }

    /**
     * Sends any request and resolves with the decoded reply (header, body),
     * without checking its code. The payload struct is the type's own
     * (packet.ts payloadDesc) unless `desc` is given.
     */
    request(type: number, body: any, opts: { timeoutMs?: number; flags?: number; desc?: StructDesc<any> | null } = {}): Promise<{ header: S.OTIMHeader; desc: StructDesc<any> | null; body: any }> {
        const desc = opts.desc !== undefined ? opts.desc : body == null ? null : payloadDesc(type, false);
        return this.rawRequest(type, opts.flags || 0, desc, body, opts.timeoutMs || this.opts.requestTimeoutMs, uuid4());
    }

    /** request() that rejects with OmtpError when the reply's code is not 0. */
    private async call<T = any>(type: number, body: any, desc?: StructDesc<any> | null, timeoutMs?: number): Promise<T> {
        const r = await this.request(type, body, { desc, timeoutMs });
        const { code, desc: why } = codeOf(r.body);
        if (code !== 0) throw new OmtpError(code, why || `request type ${type} refused with code ${code}`);
        return r.body as T;
    }

    // ------------------------------------------------------------ messages

    /**
     * Queues a message and sends it when online (also offline: sent after
     * the next login). Resolves with the server's ack; rejects with
     * OmtpError(code) when the server refuses it, ETIMEDOUT after giveUpMs,
     * ECLOSED on close().
     */
    send(msg: Partial<S.MsgReq> & { to: string }, opts: SendOptions = {}): Promise<SendResult> {
        const type = opts.type || (isGroupId(msg.to) ? PT.MSG_GROUP_CHAT : PT.MSG_SINGLE_CHAT);
        const m: S.MsgReq = { ...make(S.MsgReq), timestamp: now(), from: this.user, contentType: 1, ...msg };
        if (!m.from) m.from = this.user;
        if (!m.sessionId)
            m.sessionId = type === PT.MSG_SINGLE_CHAT ? singleSessionId(this.user, m.to) : type === PT.MSG_BIZ_NOTIFY ? bizSessionId(m.from, m.to) : m.to;
        const packId = uuid4();
        let payload: Uint8Array;
        try {
            payload = encode(S.MsgReq, m);
        } catch (e) {
            return Promise.reject(e);
        }
        return new Promise<SendResult>((resolve, reject) => {
            const e: OutboxEntry = {
                packId,
                type,
                flags: (opts.flags || 0) & ~(FLAG.ACK | FLAG.DUP),
                payload,
                sessionId: m.sessionId,
                sent: false,
                inflight: false,
                first: now(),
                timer: null,
                resolve,
                reject,
            };
            this.outbox.push(e);
            if (opts.onPending)
                opts.onPending({ packId, type, sessionId: m.sessionId, to: m.to, from: m.from, content: m.content, contentType: m.contentType, timestamp: m.timestamp });
            if (this.st === 'online') this.outboxSend(e);
            else this.armGiveUp(e);
        });
    }

    /** Text to a user (type 14). */
    sendText(to: string, text: string, opts: SendOptions = {}): Promise<SendResult> {
        return this.send({ to, content: text, contentType: 1 }, { ...opts, type: opts.type || (isGroupId(to) ? PT.MSG_GROUP_CHAT : PT.MSG_SINGLE_CHAT) });
    }

    // ------------------------------------------------------------ files

    /** The HTTP base of the file endpoints. */
    filesBase(): string {
        if (this.opts.filesUrl) return this.opts.filesUrl.replace(/\/+$/, '');
        if (this.opts.url) return filesBaseOf(this.opts.url);
        if (this.opts.host && this.opts.port) throw new FileError(0, 'no_files_url', 'give filesUrl (the ws_listen HTTP base) to use files over TCP');
        throw new FileError(0, 'no_files_url', 'no files URL: give url or filesUrl');
    }

    /** The token the file endpoints take (Bearer / access_token). */
    fileToken(): string {
        return this.opts.fileToken || this.fileTok || this.opts.token || '';
    }

    /**
     * Uploads a file (a File/Blob in browsers, a Buffer/Uint8Array in Node)
     * to POST /v1/files. Resolves with what the server stored (the type it
     * sniffed, sha256, image size, thumbnail); rejects with FileError (413
     * when larger than the server's max_file_size, 401 without a valid token).
     */
    uploadFile(data: Blob | ArrayBuffer | Uint8Array, opts: UploadOptions = {}): Promise<UploadedFile> {
        const tok = this.fileToken();
        if (!tok) return Promise.reject(new FileError(401, 'unauthorized', 'no login token for files: log in with a token, or give fileToken'));
        return uploadFile(this.filesBase(), tok, data, opts);
    }

    /** The URL of a file (or its thumbnail), usable in <img>, <audio>, <video> and links. */
    fileUrl(fileId: string, opts: { thumb?: boolean } = {}): string {
        return fileUrlOf(this.filesBase(), this.fileToken(), fileId, opts);
    }

    /**
     * Sends a media message for an uploaded file: content JSON per DESIGN
     * "Media messages", contentType 2 voice, 3 image, 6 video, 7 file (kind
     * defaults to what the sniffed type suggests).
     */
    sendMedia(to: string, f: UploadedFile, opts: SendOptions & { kind?: MediaKind; durationMs?: number } = {}): Promise<SendResult> {
        const kind = opts.kind || kindOf(f.mime);
        const content = mediaContent(f, kind, { durationMs: opts.durationMs });
        return this.send({ to, content, contentType: CONTENT_TYPE[kind] }, { ...opts, type: opts.type || (isGroupId(to) ? PT.MSG_GROUP_CHAT : PT.MSG_SINGLE_CHAT) });
    }

    /** Text to a group (type 15). */
    sendGroupText(groupId: string, text: string, opts: SendOptions = {}): Promise<SendResult> {
        return this.send({ to: groupId, content: text, contentType: 1 }, { ...opts, type: PT.MSG_GROUP_CHAT });
    }

    private outboxSend(e: OutboxEntry): void {
        if (!this.conn || this.st !== 'online') return;
        const flags = e.flags | (e.sent ? FLAG.DUP : 0);
        if (e.sent) this.counters.resends++;
        e.sent = true;
        e.inflight = true;
        if (e.timer) clearTimeout(e.timer);
        const left = e.first + this.opts.giveUpMs - now();
        e.timer = setTimeout(() => {
            e.timer = null;
            if (now() - e.first >= this.opts.giveUpMs) return this.giveUp(e);
            e.inflight = false;
            if (this.st === 'online') this.outboxSend(e); // no ack in time: resend with DUP
            else this.armGiveUp(e);
        }, Math.max(0, Math.min(this.opts.requestTimeoutMs, left)));
        this.sendFrame(e.type, flags, e.packId, null, null, e.payload);
    }

    private armGiveUp(e: OutboxEntry): void {
        if (e.timer) clearTimeout(e.timer);
        e.timer = setTimeout(() => this.giveUp(e), Math.max(0, e.first + this.opts.giveUpMs - now()));
    }

    private giveUp(e: OutboxEntry): void {
        const i = this.outbox.indexOf(e);
        if (i < 0) return;
        this.outbox.splice(i, 1);
        if (e.timer) clearTimeout(e.timer);
        e.reject(new OmtpError('ETIMEDOUT', `message not acknowledged within ${this.opts.giveUpMs} ms; gave up`));
    }

    /**
     * History of a session, oldest first: up to `count` (default 50)
     * messages with seqId < `before` (0/absent = the newest). Pages through
     * short server replies (docs/protocol.md 7.2).
     */
    async history(sessionId: string, opts: { before?: number; count?: number } = {}): Promise<Message[]> {
        const want = Math.max(1, Math.min(opts.count || 50, 10000));
        let seq = opts.before && opts.before > 0 ? opts.before - 1 : 0;
        if (opts.before === 1) return [];
        const out: Message[] = [];
        while (out.length < want) {
            const r = await this.call<S.HistoryMsgPullResp>(PT.HISTORY_MSG_PULL, { sessionId, seqId: seq, count: Math.min(200, want - out.length) });
            let min = Infinity;
            for (const p of r.msgs) {
                const m = innerMessage(p);
                if (!m) continue;
                if (m.seqId < min) min = m.seqId;
                out.push(m);
            }
            if (r.msgs.length === 0 || min === Infinity || min <= 1) break;
            seq = min - 1;
        }
        out.sort((a, b) => a.seqId - b.seqId);
        return out.slice(Math.max(0, out.length - want));
    }

    /** Every session that changed after `since` (us cursor; default 0 = all), paged until empty. */
    async hotSessions(since = 0): Promise<HotSession[]> {
        const out = new Map<string, HotSession>();
        let ts = since;
        for (let i = 0; i < 10000; i++) {
            const r = await this.call<S.HotSessionResp>(PT.HOTSESSION_SYNC, { timestamp: ts });
            for (const it of r.sessions) out.set(it.sessionId, hotOf(it));
            if (r.sessions.length === 0 || r.timestamp <= ts) break;
            ts = r.timestamp;
        }
        return [...out.values()];
    }

    /** Moves the read cursor of a session (other devices get a 'read' push). */
    async markRead(sessionId: string, seqId: number): Promise<void> {
        await this.call(PT.MSG_READ, { sessionId, seqId });
    }

    private ctrl(command: number, sessionId: string, seqId: number, content = '', packId = ''): Promise<void> {
        return this.call(PT.MSG_CTRL, { command, sessionId, packId, seqId, content }).then(() => undefined);
    }
    /** Revokes a message (the sender, or a group's creator; within revoke_limit_s). */
    revoke(sessionId: string, seqId: number, packId = ''): Promise<void> {
        return this.ctrl(CTRL.REVOKE, sessionId, seqId, '', packId);
    }
    /** Replaces a message's text (edit). */
    edit(sessionId: string, seqId: number, content: string, packId = ''): Promise<void> {
        return this.ctrl(CTRL.EDIT, sessionId, seqId, content, packId);
    }
    /** Deletes a message (gone from history and unread counts). */
    delete(sessionId: string, seqId: number, packId = ''): Promise<void> {
        return this.ctrl(CTRL.DELETE, sessionId, seqId, '', packId);
    }

    /** High-priority entries after `seq` (control notices, HIGHPRJ messages), one page. */
    highPrioritySync(seq: number, count = 200): Promise<S.MsgHighPrioritySyncResp> {
        return this.call(PT.HIGH_PRIOR_MSG_SYNC, { seqId: seq, count });
    }

    // ------------------------------------------------------------ groups

    /** Creates a group with you as creator; resolves with its id (GC_...). */
    async createGroup(name: string, members: string[], info: Partial<S.GroupChatInfo> = {}): Promise<string> {
        const r = await this.call<S.GroupChatCreateResp>(PT.GROUPCHAT_CREATE, { groupInfo: { ...info, name, creatorId: this.user }, memberIds: members });
        return r.groupId;
    }
    async addGroupMembers(groupId: string, members: string[]): Promise<void> {
        await this.call(PT.GROUPCHAT_JION, { groupId, memberIds: members });
    }
    /** Removes members (creator only); an empty list = leave the group yourself. */
    async removeGroupMembers(groupId: string, members: string[] = []): Promise<void> {
        await this.call(PT.GROUPCHAT_QUIT, { groupId, operatorId: this.user, memberIds: members });
    }
    quitGroup(groupId: string): Promise<void> {
        return this.removeGroupMembers(groupId, []);
    }
    async dismissGroup(groupId: string): Promise<void> {
        await this.call(PT.GROUPCHAT_DISMISS, { groupId, operatorId: this.user });
    }
    async transferGroup(groupId: string, newCreatorId: string): Promise<void> {
        await this.call(PT.GROUPCHAT_UPDATE_CREATOR, { groupId, operatorId: this.user, newCreatorId });
    }
    /** Merges non-empty name/avatar/desc and memberLimit > 0 into the group (creator only). */
    async updateGroup(groupId: string, info: Partial<S.GroupChatInfo>): Promise<void> {
        await this.call(PT.GROUPCHAT_INFO_UPDATE, { operatorId: this.user, groupInfo: { ...info, groupId } });
    }
    /** Groups changed since `since` (ms; 0 = all yours), every page; `timestamp` is the next cursor. */
    async groups(since = 0): Promise<{ groups: S.GroupChatInfo[]; deleted: string[]; timestamp: number }> {
        const groups: S.GroupChatInfo[] = [];
        const deleted: string[] = [];
        let after = '';
        let ts = since;
        for (let i = 0; i < 100000; i++) {
            const r = await this.call<S.GroupChatSyncResp>(PT.GROUPCHAT_SYNC, { timestamp: since, after });
            groups.push(...r.groupchats);
            deleted.push(...r.delGroupChatIds);
            ts = r.timestamp;
            if (!r.next) break;
            after = r.next;
        }
        return { groups, deleted, timestamp: ts };
    }
    /** The info of one of your groups (null if you are not a member / it does not exist). */
    async groupInfo(groupId: string): Promise<S.GroupChatInfo | null> {
        const { groups } = await this.groups(0);
        return groups.find((g) => g.groupId === groupId) || null;
    }
    /** Member ids of a group (members only), every page. */
    async groupMembers(groupId: string): Promise<string[]> {
        const out: string[] = [];
        let after = '';
        for (let i = 0; i < 100000; i++) {
            const r = await this.call<S.GroupChatMemberGetResp>(PT.GROUPCHAT_MEMBERS_GET, { groupId, after });
            out.push(...r.memberIds);
            if (!r.next) break;
            after = r.next;
        }
        return out;
    }

    // ------------------------------------------------------------ friends, users, attributes

    async addFriend(friendId: string, remark = ''): Promise<void> {
        await this.call(PT.FRIEND_ADD, { friends: [{ userId: this.user, friendId, remark }] });
    }
    async deleteFriend(friendId: string): Promise<void> {
        await this.call(PT.FRIEND_DEL, { friends: [{ userId: this.user, friendId, remark: '' }] });
    }
    /** The complete friend list when anything changed after `since` (ms), else []. */
    async friends(since = 0): Promise<S.FriendInfo[]> {
        const out: S.FriendInfo[] = [];
        let after = '';
        for (let i = 0; i < 100000; i++) {
            const r = await this.call<S.FriendSyncResp>(PT.FRIEND_SYNC, { timestamp: since, after });
            out.push(...r.friends);
            if (!r.next) break;
            after = r.next;
        }
        return out;
    }
    /** Profiles of users (empty list = your own), every page. */
    async users(userIds: string[] = []): Promise<S.UserInfo[]> {
        const out: S.UserInfo[] = [];
        let ids = [...userIds];
        for (let i = 0; i < 100000; i++) {
            const r = await this.call<S.UserInfoGetResp>(PT.USERINFO_GET, { userIds: ids });
            out.push(...r.userInfos);
            if (!r.next) break;
            const next = r.next;
            ids = ids.filter((x) => x >= next).sort();
            if (ids.length === 0) break;
        }
        return out;
    }
    /** Updates your own profile (empty strings / birthday 0 keep the stored values). */
    async updateUser(info: Partial<S.UserInfo>): Promise<void> {
        await this.call(PT.USERINFO_UPDATE, { userInfo: { ...info, userId: this.user } });
    }
    /** Sets one of your attributes about another user (e.g. a remark). */
    async setUserAttribute(friendId: string, attrName: string, attrValue: string): Promise<void> {
        await this.call(PT.USERATTRIBUTE_SET, { attribute: { userId: this.user, friendId, attrName, attrValue } });
    }
    /** Your attributes, optionally filtered by friendId and/or attrName, every page. */
    async userAttributes(filter: { friendId?: string; attrName?: string } = {}): Promise<S.UserAttribute[]> {
        const out: S.UserAttribute[] = [];
        let cursor = '';
        const empty = !filter.friendId && !filter.attrName;
        for (let i = 0; i < 100000; i++) {
            const body = empty && !cursor ? null : { userId: '', friendId: filter.friendId || '', attrName: filter.attrName || '', attrValue: cursor };
            const r = await this.call<S.UserAttrGetResp>(PT.USERATTRIBUTE_GET, body, body ? S.UserAttribute : null);
            out.push(...r.attributes);
            if (!r.next) break;
            cursor = r.next;
        }
        return out;
    }
    /** Sets one of your attributes of a session (pin, mute, ...); hot sessions show them. */
    async setSessionAttribute(sessionId: string, attrName: string, attrValue: string): Promise<void> {
        await this.call(PT.SESSIONATTRIBUTE_SET, { userId: this.user, sessionId, attrName, attrValue });
    }
    /** Removes one of your other devices (KICKOUT request). */
    async kickDevice(deviceType: number, deviceId: string): Promise<void> {
        await this.request(PT.KICKOUT, { deviceType, deviceId });
    }

    // ------------------------------------------------------------ session monitor

    /** Starts monitoring a session (monitor role); its pushes then also emit 'monitor'. Renewed after a reconnect. */
    async monitorStart(sessionId: string): Promise<void> {
        await this.call(PT.SESSION_MONITOR_START, { sessionId });
        this.monitored.add(sessionId);
    }
    async monitorStop(sessionId: string): Promise<void> {
        await this.call(PT.SESSION_MONITOR_STOP, { sessionId });
        this.monitored.delete(sessionId);
    }
    /** The monitored sessions, every page. */
    async monitorSync(): Promise<HotSession[]> {
        const out: HotSession[] = [];
        let cursor = '';
        for (let i = 0; i < 100000; i++) {
            const r = await this.call<S.HotSessionResp>(PT.SESSION_MONITOR_SYNC, cursor ? { sessionId: cursor } : null, cursor ? S.SessionMonitor : null);
            out.push(...r.sessions.map(hotOf));
            if (r.sessions.length === 0) break;
            cursor = r.sessions[r.sessions.length - 1].sessionId;
        }
        return out;
    }

    // ------------------------------------------------------------ extensions (spec omtp-ext.tars)
    //
    // A server without an extension answers PROTOCOL (1): the promise rejects
    // with OmtpError(1). A schema without the extension's structs (an SDK
    // built before it) rejects with OmtpError(1) too, without sending.

    private ext<T = any>(type: number, reqName: string, body: any): Promise<T> {
        const d = extDesc(reqName);
        if (!d) return Promise.reject(new OmtpError(EC.PROTOCOL, `this SDK's schema has no ${reqName}: regenerate src/gen/schema.ts (npm run gen)`));
        return this.call<T>(type, body, d);
    }

    /** Subscribes to the presence of users (replaces the subscription; [] = none); resolves with their current state. */
    async presenceSubscribe(userIds: string[]): Promise<ExtStruct<'PresenceInfo'>[]> {
        const r = await this.ext<any>(PT_EXT.PRESENCE_SUB, 'PresenceSubReq', { userIds });
        this.presenceWanted = [...userIds];
        return r.users;
    }

    /** Tells the session's other members that you are typing (true) or stopped (false). No reply unless refused. */
    typing(sessionId: string, typing = true): void {
        const d = extDesc('TypingReq');
        if (!d || this.st !== 'online') return;
        this.sendFrame(PT_EXT.TYPING, 0, uuid4(), d, { sessionId, state: typing ? 1 : 0 });
    }

    /** Adds (or with add=false removes) your reaction to a message. */
    async react(sessionId: string, seqId: number, emoji: string, add = true): Promise<void> {
        await this.ext(PT_EXT.MSG_REACTION, 'ReactionReq', { sessionId, seqId, emoji, op: add ? 1 : 2 });
    }

    /** Full-text search over your sessions (or one), newest first; page with `before` = the last result's timestamp. */
    async search(query: string, opts: { sessionId?: string; before?: number; count?: number } = {}): Promise<Message[]> {
        const r = await this.ext<any>(PT_EXT.MSG_SEARCH, 'MsgSearchReq', { query, sessionId: opts.sessionId || '', beforeTimestamp: opts.before || 0, count: opts.count || 20 });
        return (r.msgs as S.OTIMPack[]).map((p) => innerMessage(p)).filter((m): m is Message => !!m);
    }

    /** Group read receipts: which members have read up to seqId, and which have not. */
    async readers(sessionId: string, seqId: number): Promise<{ readers: string[]; unread: string[] }> {
        const r = await this.ext<any>(PT_EXT.MSG_READERS, 'MsgReadersReq', { sessionId, seqId });
        return { readers: r.readers, unread: r.unread };
    }

    // ------------------------------------------------------------ catch-up

    private async runCatchup(gen: number): Promise<void> {
        const first = this.hotCursor === 0 && !this.synced;
        // first sync: where each session stands, applied after the held pushes
        // (a push that arrived during the first sync is new, not old history)
        const firstSeqs = new Map<string, number>();
        let err: Error | null = null;
        try {
            const gaps: [string, number, number][] = [];
            for (let i = 0; i < 100000; i++) {
                const r = await this.call<S.HotSessionResp>(PT.HOTSESSION_SYNC, { timestamp: this.hotCursor });
                if (gen !== this.gen) return;
                if (r.sessions.length) this.emit('hotsessions', r.sessions.map(hotOf));
                for (const it of r.sessions) {
                    let last = 0;
                    for (const p of it.lastMsgs) {
                        const m = innerMessage(p);
                        if (m && m.seqId > last) last = m.seqId;
                    }
                    const known = this.seqs.get(it.sessionId) || 0;
                    if (first) {
                        if (last > (firstSeqs.get(it.sessionId) || 0)) firstSeqs.set(it.sessionId, last);
                    } else if (last > known) gaps.push([it.sessionId, known, last]);
                }
                const more = r.sessions.length > 0 && r.timestamp > this.hotCursor;
                if (r.timestamp > this.hotCursor) this.hotCursor = r.timestamp;
                if (!more) break;
            }
            for (const [sid, from] of gaps) {
                const got: Message[] = [];
                let at = 0;
                for (let i = 0; i < 100000; i++) {
                    const r = await this.request(PT.HISTORY_MSG_PULL, { sessionId: sid, seqId: at, count: 200 });
                    if (gen !== this.gen) return;
                    const body = r.body as S.HistoryMsgPullResp;
                    if (!body || !body.errorCode || body.errorCode.code !== 0) break;
                    let min = Infinity;
                    for (const p of body.msgs) {
                        const m = innerMessage(p, true);
                        if (!m) continue;
                        if (m.seqId < min) min = m.seqId;
                        if (m.seqId > from) got.push(m);
                    }
                    if (body.msgs.length > 0 && min !== Infinity && min > from + 1 && min > 1) at = min - 1;
                    else break;
                }
                got.sort((a, b) => a.seqId - b.seqId);
                for (const m of got) {
                    if (gen !== this.gen) return;
                    this.deliver({ type: m.type, version: VERSION, flags: m.flags, packId: m.packId }, S.MsgReq, m, true);
                }
            }
            for (let i = 0; i < 100000; i++) {
                const r = await this.call<S.MsgHighPrioritySyncResp>(PT.HIGH_PRIOR_MSG_SYNC, { seqId: this.hpSeq, count: 200 });
                if (gen !== this.gen) return;
                if (!first) {
                    for (const p of r.msgs) {
                        try {
                            const d = innerDecode(p);
                            if (d.desc) this.deliver(p.header, d.desc, d.body, true);
                        } catch {
                            /* skip an entry that does not decode */
                        }
                        if (gen !== this.gen) return;
                    }
                }
                if (r.lastSeqId > this.hpSeq) {
                    this.hpSeq = r.lastSeqId;
                    if (r.msgs.length > 0) continue;
                }
                break;
            }
        } catch (e) {
            err = e as Error;
        }
        if (gen !== this.gen) return;
        this.catchingUp = false;
        const held = this.held;
        this.held = [];
        for (const h of held) {
            if (gen !== this.gen) break;
            this.deliver(h.header, h.desc, h.body, false);
        }
        for (const [sid, last] of firstSeqs) if (last > (this.seqs.get(sid) || 0)) this.seqs.set(sid, last);
        if (!err) this.synced = true;
        this.emit('catchup', err);
    }
}

function hotOf(it: S.HotSessionItem): HotSession {
    let attributes: { [k: string]: string } = {};
    try {
        attributes = it.attribute ? JSON.parse(it.attribute) : {};
    } catch {
        /* keep {} */
    }
    let lastMsg: Message | null = null;
    for (const p of it.lastMsgs) {
        const m = innerMessage(p);
        if (m && (!lastMsg || m.seqId > lastMsg.seqId)) lastMsg = m;
    }
    return { sessionId: it.sessionId, readSeqId: it.readSeqId, unreadCount: it.unreadCount, lastMsg, attributes, raw: it };
}

export { decode as decodeStruct };
