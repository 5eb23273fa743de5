// The app's view of OMTP: plain data the components render. Filled by
// chat.ts from the SDK's events and replies; nothing here talks to the wire.

export type Kind = 'single' | 'group' | 'biz';

/** Where one of my messages stands: typed offline (pending), stored by the
 *  server (sent, MsgAck), pushed to the peer's online device (delivered),
 *  read by the peer (read); failed = the server refused it. */
export type Delivery = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface Msg {
  /** Stable key: `${sessionId}#${seqId}`, or `local#n` until acked. */
  key: string;
  sessionId: string;
  seqId: number;
  timestamp: number; // ms since the epoch
  from: string;
  to: string;
  contentType: number;
  content: string;
  /** 0 normal, 1 revoked, 2 deleted (MsgReq.status). */
  status: number;
  edited: boolean;
  packId?: string;
  delivery?: Delivery; // my messages only
  error?: string;
  /** seqId of the quoted message in the same session (extension tag 9); 0 = none */
  replyTo?: number;
  /** user ids mentioned (extension tag 10) */
  mentions?: string[];
  /** emoji -> user ids, oldest first (extension tag 11, kept live by ReactionNotice) */
  reactions?: Record<string, string[]>;
}

/** What the presence dot shows: online (a device in the foreground), away
 *  (devices online, none in the foreground), offline. */
export type Presence = 'online' | 'away' | 'offline';

export interface Conv {
  sessionId: string;
  kind: Kind;
  /** user id (single), group name (group), app id (business). */
  title: string;
  /** peer user id (single) or group id (group) or app id (biz): the send target. */
  target: string;
  unread: number;
  readSeq: number;
  /** newest unread message that mentions me (hot session mentionSeqId); 0 = none */
  mention: number;
  last?: Msg;
  /** messages in seqId order (pending ones at the end). */
  msgs: Msg[];
  /** lowest seqId loaded; history pages go below it. */
  oldest: number;
  /** no older messages on the server. */
  complete: boolean;
  /** the newest page was pulled once (live pushes alone do not count). */
  loaded: boolean;
  loading: boolean;
}

export function sessionKind(sessionId: string): Kind {
  if (sessionId.startsWith('GC_')) return 'group';
  if (sessionId.startsWith('BM_')) return 'biz';
  return 'single';
}

/** "SC_<lower>_<higher>" of two user ids (ids never contain '_'). */
export function singleSession(a: string, b: string): string {
  return a < b ? `SC_${a}_${b}` : `SC_${b}_${a}`;
}

/** The other user of a single-chat session as seen by me; for display. */
export function peerOf(sessionId: string, me: string): string {
  const parts = sessionId.split('_');
  if (parts.length !== 3 || parts[0] !== 'SC') return sessionId;
  return parts[1] === me ? parts[2] : parts[1];
}

/** The app id of a business session "BM_<appId>_<userId>". */
export function appOf(sessionId: string): string {
  const parts = sessionId.split('_');
  return parts.length >= 3 ? parts[1] : sessionId;
}
