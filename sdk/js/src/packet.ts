/**
 * packet.ts - OMTP frames and packets (docs/protocol.md sections 2, 3, 6).
 *
 *   frame = 4-byte big-endian length (counting itself) + OTIMPack (top level)
 *   OTIMPack = { header: OTIMHeader, payload: bytes (the payload struct,
 *              after the COMPRESS / CRYPTO transforms of the header flags) }
 *
 * FrameReader turns a byte stream (TCP reads, or WebSocket messages, which
 * carry the same bytes) into frames; it refuses a length outside
 * 4..maxFrame as soon as the 4 length bytes are there.
 */
import * as S from './gen/schema.js';
import { decode, encode, type StructDesc } from './tars.js';

/** Packet types (docs/protocol.md section 6; extensions 100..105: spec/omtp-ext.tars). */
export const PT = {
    PING: 10,
    LOGIN: 11,
    LOGOUT: 12,
    KICKOUT: 13,
    MSG_SINGLE_CHAT: 14,
    MSG_GROUP_CHAT: 15,
    MSG_BIZ_NOTIFY: 16,
    MSG_CTRL: 17,
    MSG_READ: 18,
    HOTSESSION_SYNC: 19,
    HIGH_PRIOR_MSG_SYNC: 20,
    HISTORY_MSG_PULL: 21,
    SESSION_MONITOR_START: 22,
    SESSION_MONITOR_STOP: 23,
    SESSION_MONITOR_SYNC: 24,
    SYNC_DATA_CMD: 25,
    GROUPCHAT_SYNC: 40,
    GROUPCHAT_CREATE: 41,
    GROUPCHAT_JION: 42,
    GROUPCHAT_QUIT: 43,
    GROUPCHAT_DISMISS: 44,
    GROUPCHAT_UPDATE_CREATOR: 45,
    GROUPCHAT_INFO_UPDATE: 46,
    GROUPCHAT_MEMBERS_GET: 47,
    FRIEND_ADD: 51,
    FRIEND_DEL: 52,
    FRIEND_SYNC: 53,
    USERINFO_GET: 54,
    USERINFO_UPDATE: 55,
    USERATTRIBUTE_SET: 56,
    USERATTRIBUTE_GET: 57,
    SESSIONATTRIBUTE_SET: 58,
} as const;

/** Header flag bits (docs/protocol.md section 3). */
export const FLAG = {
    ACK: 0x1,
    DUP: 0x2,
    COUNTER: 0x4,
    OVERRIDE: 0x8,
    REVOKE: 0x10,
    HIGHPRJ: 0x20,
    COMPRESS_SHIFT: 6,
    CRYPTO_SHIFT: 9,
    COMPRESS_MASK: 0x1c0,
    CRYPTO_MASK: 0xe00,
} as const;

/** Device types (LoginReq.deviceType). */
export const DEVICE = { IOS: 1, ANDROID: 2, MACOS: 3, WINDOWS: 4, LINUX: 5 } as const;

/** MsgControl.command / MsgReq.status. */
export const CTRL = { REVOKE: 1, DELETE: 2, EDIT: 3 } as const;

/** SyncDataReq.command. */
export const SYNC = { FRIENDS: 1, SESSIONS: 2, GROUPS: 3 } as const;

export const VERSION = 1;
export const DEFAULT_MAX_FRAME = 1048576;

export const compressOf = (flags: number): number => (flags & FLAG.COMPRESS_MASK) >> FLAG.COMPRESS_SHIFT;
export const cryptoOf = (flags: number): number => (flags & FLAG.CRYPTO_MASK) >> FLAG.CRYPTO_SHIFT;

type Row = [StructDesc<any> | null, StructDesc<any> | null];
const TABLE: { [type: number]: Row } = {
    10: [null, null],
    11: [S.LoginReq, S.LoginResp],
    12: [null, null],
    13: [S.KickOutReq, null],
    14: [S.MsgReq, S.MsgAck],
    15: [S.MsgReq, S.MsgAck],
    16: [S.MsgReq, S.MsgAck],
    17: [S.MsgControl, S.CommonErrorCode],
    18: [S.MsgReaded, S.CommonErrorCode],
    19: [S.HotSessionReq, S.HotSessionResp],
    20: [S.MsgHighPrioritySyncReq, S.MsgHighPrioritySyncResp],
    21: [S.HistoryMsgPullReq, S.HistoryMsgPullResp],
    22: [S.SessionMonitor, S.CommonErrorCode],
    23: [S.SessionMonitor, S.CommonErrorCode],
    24: [S.SessionMonitor, S.HotSessionResp],
    25: [S.SyncDataReq, S.CommonErrorCode],
    40: [S.GroupChatSyncReq, S.GroupChatSyncResp],
    41: [S.GroupChatCreateReq, S.GroupChatCreateResp],
    42: [S.GroupChatJoinReq, S.GroupChatJoinResp],
    43: [S.GroupChatQuitReq, S.CommonErrorCode],
    44: [S.GroupChatDismissReq, S.CommonErrorCode],
    45: [S.GroupChatCreatorUpdateReq, S.CommonErrorCode],
    46: [S.GroupChatInfoUpdateReq, S.CommonErrorCode],
    47: [S.GroupChatMemberGetReq, S.GroupChatMemberGetResp],
    51: [S.FriendAddReq, S.CommonErrorCode],
    52: [S.FriendDelReq, S.CommonErrorCode],
    53: [S.FriendSyncReq, S.FriendSyncResp],
    54: [S.UserInfoGetReq, S.UserInfoGetResp],
    55: [S.UserInfoUpdateReq, S.CommonErrorCode],
    56: [S.UserAttrSetReq, S.CommonErrorCode],
    57: [S.UserAttribute, S.UserAttrGetResp],
    58: [S.SessionAttrSetReq, S.CommonErrorCode],
};

/** The payload struct of (type, ack); null = empty payload or unknown type. */
export function payloadDesc(type: number, ack: boolean): StructDesc<any> | null {
    const row = TABLE[type];
    return row ? row[ack ? 1 : 0] : null;
}

/** Registers the payload structs of an extension packet type (100..127). */
export function registerPayload(type: number, req: StructDesc<any> | null, ack: StructDesc<any> | null): void {
    TABLE[type] = [req, ack];
}

/** Encodes one frame: length + OTIMPack{header, payload}. */
export function encodeFrame(header: S.OTIMHeader, payload: Uint8Array): Uint8Array {
    const body = encode(S.OTIMPack, { header, payload });
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, out.length);
    out.set(body, 4);
    return out;
}

/** Decodes a frame body (without the 4 length bytes). Throws TarsError. */
export function decodePack(body: Uint8Array): S.OTIMPack {
    return decode(S.OTIMPack, body);
}

/**
 * Decodes a plain (untransformed) payload with its type's struct. A reply
 * that does not decode as its struct but as a CommonErrorCode (an error
 * reply of a type without a reply struct, an unknown type) is returned as
 * that. Returns null for an empty payload of a type without a struct.
 */
export function decodePayload(type: number, ack: boolean, payload: Uint8Array): { desc: StructDesc<any> | null; body: any } {
    const d = payloadDesc(type, ack);
    if (!d) {
        if (payload.length === 0) return { desc: null, body: null };
        try {
            return { desc: S.CommonErrorCode, body: decode(S.CommonErrorCode, payload) };
        } catch {
            return { desc: null, body: null };
        }
    }
    try {
        return { desc: d, body: decode(d, payload) };
    } catch (e) {
        if (ack && d !== S.CommonErrorCode) {
            try {
                return { desc: S.CommonErrorCode, body: decode(S.CommonErrorCode, payload) };
            } catch {
                /* report the first error */
            }
        }
        throw e;
    }
}

/** Splits a byte stream into frame bodies. Not thread-safe (one per connection). */
export class FrameReader {
    private buf = new Uint8Array(0);
    private len = 0;
    constructor(public maxFrame = DEFAULT_MAX_FRAME) {}
    /**
     * Appends bytes and returns every complete frame body (without the
     * length). Throws an Error when a frame announces a length outside
     * 4..maxFrame.
     */
    push(chunk: Uint8Array): Uint8Array[] {
        if (this.len + chunk.length > this.buf.length) {
            let cap = Math.max(4096, this.buf.length * 2);
            while (cap < this.len + chunk.length) cap *= 2;
            const nb = new Uint8Array(cap);
            nb.set(this.buf.subarray(0, this.len));
            this.buf = nb;
        }
        this.buf.set(chunk, this.len);
        this.len += chunk.length;
        const out: Uint8Array[] = [];
        let off = 0;
        while (this.len - off >= 4) {
            const n = ((this.buf[off] << 24) >>> 0) + (this.buf[off + 1] << 16) + (this.buf[off + 2] << 8) + this.buf[off + 3];
            if (n < 4 || n > this.maxFrame) throw new Error(`the server sent a frame of ${n} bytes (allowed: 4..${this.maxFrame})`);
            if (this.len - off < n) break;
            out.push(this.buf.slice(off + 4, off + n));
            off += n;
        }
        if (off > 0) {
            this.buf.copyWithin(0, off, this.len);
            this.len -= off;
        }
        return out;
    }
}
