// Delivered and read marks of my messages, from two OMTP extensions
// (spec/omtp-ext.tars). Their structs are declared here in the SDK's schema
// format and sent with client.request, so the marks work whether or not the
// SDK's generated schema has them yet:
//
//   read       PT_MSG_READERS (105): the session's members whose read cursor
//              is >= a seqId. Asked for the open conversation's newest
//              message of mine, again every few seconds while some of mine
//              are not read yet and the page is visible.
//   delivered  PT_PRESENCE_SUB (100) / PT_PRESENCE (101): a message is
//              delivered once the peer had a device online after it was
//              stored (the push reached it, or its catch-up at login did).
//
// A server without an extension answers it with PROTOCOL (code 1); the app
// then stops asking and shows sent only. Threading: the page's event loop.
import { registerPayload, schema } from '@omtp/client';
import type { OmtpClient, StructDesc } from '@omtp/client';

export const PT_PRESENCE_SUB = 100;
export const PT_PRESENCE = 101;
export const PT_MSG_READERS = 105;

const PresenceSubReq: StructDesc<{ userIds: string[] }> = {
  name: 'PresenceSubReq',
  fields: [[0, 'userIds', 'strs', 1]],
};
const PresenceInfo: StructDesc<{ userId: string; online: number; lastSeen: number; devices: number }> = {
  name: 'PresenceInfo',
  fields: [
    [0, 'userId', 'str', 1],
    [1, 'online', 'i8', 1],
    [2, 'lastSeen', 'i64', 0],
    [3, 'devices', 'i32', 0],
  ],
};
const PresenceSubResp: StructDesc<any> = {
  name: 'PresenceSubResp',
  fields: [
    [0, 'errorCode', 'struct', 1, 0, schema.CommonErrorCode],
    [1, 'users', 'list', 1, 0, PresenceInfo],
  ],
};
const PresenceNotice: StructDesc<any> = {
  name: 'PresenceNotice',
  fields: [[0, 'users', 'list', 1, 0, PresenceInfo]],
};
const MsgReadersReq: StructDesc<{ sessionId: string; seqId: number }> = {
  name: 'MsgReadersReq',
  fields: [
    [0, 'sessionId', 'str', 1],
    [1, 'seqId', 'i64', 1],
  ],
};
const MsgReadersResp: StructDesc<any> = {
  name: 'MsgReadersResp',
  fields: [
    [0, 'errorCode', 'struct', 1, 0, schema.CommonErrorCode],
    [1, 'readers', 'strs', 1],
    [2, 'unread', 'strs', 1],
  ],
};

let registered = false;
function register(): void {
  if (registered) return;
  registered = true;
  registerPayload(PT_PRESENCE_SUB, PresenceSubReq, PresenceSubResp);
  registerPayload(PT_PRESENCE, PresenceNotice, null);
  registerPayload(PT_MSG_READERS, MsgReadersReq, MsgReadersResp);
}

function code(body: any): number {
  if (!body) return -1;
  if (typeof body.code === 'number') return body.code; // CommonErrorCode: refused / unknown type
  return body.errorCode?.code ?? 0;
}

export interface Receipts {
  /** Who of the session has read up to seqId: null = not known (no extension, error). */
  readers(sessionId: string, seqId: number): Promise<{ readers: string[]; unread: string[] } | null>;
  /** Replaces the presence subscription; changes go to onPresence (devices: online devices, foreground or not). */
  watch(userIds: string[]): void;
  /** The connection changed: the next watch() subscribes again. */
  reset(): void;
  readonly supported: { readers: boolean; presence: boolean };
}

export function receipts(c: OmtpClient, onPresence: (userId: string, online: boolean, devices: number) => void): Receipts {
  register();
  const supported = { readers: true, presence: true };
  let watched = '';
  // the SDK emits PT_PRESENCE pushes as 'presence' (older SDKs: 'packet')
  c.on('presence', (users: Record<string, any>[]) => {
    for (const u of users ?? []) onPresence(u.userId, Boolean(u.online), Number(u.devices ?? 0) || 0);
  });
  c.on('packet', (p: { header: { type: number }; body: any }) => {
    if (p.header.type !== PT_PRESENCE || !p.body) return;
    for (const u of p.body.users ?? []) onPresence(u.userId, Boolean(u.online), Number(u.devices ?? 0) || 0);
  });
  return {
    supported,
    async readers(sessionId, seqId) {
      if (!supported.readers || seqId < 1) return null;
      try {
        const r = await c.request(PT_MSG_READERS, { sessionId, seqId }, { desc: MsgReadersReq });
        const k = code(r.body);
        if (k === 1) supported.readers = false; // PROTOCOL: the server has no such type
        // for tests and curious users: whether read marks work here
        document.documentElement.dataset.readers = supported.readers ? 'on' : 'off';
        if (k !== 0) return null;
        return { readers: r.body.readers ?? [], unread: r.body.unread ?? [] };
      } catch {
        return null;
      }
    },
    reset() {
      watched = '';
    },
    watch(userIds) {
      const key = [...userIds].sort().join(',');
      if (!supported.presence || key === watched) return;
      watched = key;
      c.request(PT_PRESENCE_SUB, { userIds: key ? key.split(',') : [] }, { desc: PresenceSubReq }).then(
        (r) => {
          const k = code(r.body);
          if (k === 1) supported.presence = false;
          document.documentElement.dataset.presence = supported.presence ? 'on' : 'off';
          if (k !== 0) return;
          for (const u of r.body.users ?? []) onPresence(u.userId, Boolean(u.online), Number(u.devices ?? 0) || 0);
        },
        () => {
          watched = ''; // try again with the next change
        },
      );
    },
  };
}
