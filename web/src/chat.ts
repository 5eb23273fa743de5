// The app's state and the one place that talks to the SDK (@omtp/client).
//
// Chat owns an OmtpClient, keeps conversations and their loaded messages,
// and tells the components when something changed (subscribe). Everything
// runs on the page's event loop; SDK events and replies land here and are
// turned into model.ts data. The SDK does the protocol work (login,
// reconnect with backoff, catch-up after reconnect, resend of unacked sends
// with DUP); the app only shows it: a banner while not online, my messages
// typed offline marked pending until their MsgAck.
import { OmtpClient } from '@omtp/client';
import type { Conv, Delivery, Msg } from './model';
import { appOf, peerOf, sessionKind, singleSession } from './model';

/** Connection state as the app shows it. */
export type Link = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'kicked';

const PAGE = 30;
const TOKEN_KEY = 'omtp.session';

// The SDK's data comes as plain objects; read fields defensively (numbers may
// be bigint or number depending on the codec's 64-bit mapping).
type Any = Record<string, any>;
const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0) || 0);
const str = (v: unknown): string => (v == null ? '' : String(v));

const MSG_REVOKE = 1;
const MSG_DELETE = 2;
const MSG_EDIT = 3;
const FLAG_OVERRIDE = 0x8;

export interface Saved {
  user: string;
  token: string;
}

/** The session token kept by the browser ("remember me"): the user id and
 *  the login token the server handed out, never the password. */
export function savedSession(): Saved | null {
  try {
    const v = JSON.parse(localStorage.getItem(TOKEN_KEY) || 'null');
    return v && v.user && v.token ? v : null;
  } catch {
    return null;
  }
}

/** ws(s)://<this page's host>/ws: omtpd serves the app and its socket on one
 *  listener. `?ws=URL` overrides it (the Vite dev server, another omtpd). */
export function defaultUrl(): string {
  const q = new URLSearchParams(location.search).get('ws');
  if (q) return q;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

function deviceId(): string {
  let id = localStorage.getItem('omtp.device');
  if (!id) {
    id = 'web-' + Math.random().toString(36).slice(2, 10);
    localStorage.setItem('omtp.device', id);
  }
  return id;
}

export class Chat {
  me = '';
  link: Link = 'connecting';
  linkDetail = '';
  convs = new Map<string, Conv>();
  groupNames = new Map<string, string>();
  openId = '';
  error = '';

  private client: any = null;
  private listeners = new Set<() => void>();
  private localSeq = 0;
  private everOnline = false;
  private version = 0;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get rev(): number {
    return this.version;
  }

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  // ---- connection --------------------------------------------------------

  /** Logs in; resolves when online, rejects with a message to show. */
  async login(user: string, secret: { password?: string; token?: string }, remember: boolean): Promise<void> {
    this.me = user;
    const c = new OmtpClient({
      url: defaultUrl(),
      user,
      password: secret.password,
      token: secret.token,
      deviceType: 5, // DEVICE_WEB
      deviceId: deviceId(),
    });
    this.client = c;
    c.on('state', (s: any) => this.onState(s));
    c.on('message', (m: any) => this.onMessage(m));
    c.on('msgctrl', (m: any) => this.onCtrl(m));
    c.on('read', (r: any) => this.onRead(r));
    c.on('kickout', () => {
      this.link = 'kicked';
      this.linkDetail = 'Signed in on another browser: this page was signed out.';
      this.changed();
    });
    c.on('group', () => void this.refreshGroups());
    try {
      await c.connect();
    } catch (e) {
      this.client = null;
      try {
        c.close?.();
      } catch {
        /* closed already */
      }
      throw new Error(loginError(e));
    }
    this.link = 'online';
    this.everOnline = true;
    const token = str(c.token ?? c.loginToken ?? '');
    if (remember && token) localStorage.setItem(TOKEN_KEY, JSON.stringify({ user, token }));
    this.changed();
    await this.refresh();
  }

  logout(): void {
    localStorage.removeItem(TOKEN_KEY);
    try {
      this.client?.close?.();
    } catch {
      /* already closed */
    }
    this.client = null;
    this.convs.clear();
    this.openId = '';
    this.changed();
  }

  private onState(s: any): void {
    const st = str(typeof s === 'string' ? s : (s?.state ?? s?.name)).toLowerCase();
    if (st === 'online' || st === 'ready' || st === 'logged_in' || st === 'loggedin') {
      const wasDown = this.link !== 'online';
      this.link = 'online';
      this.linkDetail = '';
      this.everOnline = true;
      this.changed();
      if (wasDown) void this.refresh();
      return;
    }
    if (!this.everOnline || this.link === 'kicked') return;
    if (st === 'closed' || st === 'stopped') {
      this.link = 'offline';
    } else {
      this.link = 'reconnecting';
      const delay = num(s?.delayMs ?? s?.delay_ms);
      this.linkDetail = delay > 0 ? `next try in ${Math.ceil(delay / 1000)} s` : '';
    }
    this.changed();
  }

  /** Hot sessions (unread counts, last message) and group names; then the
   *  open conversation's newest page, so nothing missed while away is lost. */
  async refresh(): Promise<void> {
    const c = this.client;
    if (!c) return;
    await this.refreshGroups();
    try {
      const r: any = await c.hotSessions();
      const list: Any[] = Array.isArray(r) ? r : (r?.sessions ?? []);
      for (const it of list) {
        const sid = str(it.sessionId);
        if (!sid) continue;
        const conv = this.conv(sid);
        conv.unread = num(it.unreadCount ?? it.unread);
        conv.readSeq = num(it.readSeqId ?? it.readSeq);
        const lm = it.lastMsg ?? (Array.isArray(it.lastMsgs) ? it.lastMsgs[0] : undefined);
        if (lm) {
          const m = this.toMsg(lm);
          if (m && (!conv.last || m.seqId >= conv.last.seqId)) conv.last = m;
        }
      }
    } catch (e) {
      this.error = 'Could not load conversations: ' + errText(e);
    }
    this.changed();
    if (this.openId) await this.loadNewest(this.openId);
  }

  private async refreshGroups(): Promise<void> {
    const c = this.client;
    if (!c?.groups) return;
    try {
      const r: any = await c.groups();
      const list: Any[] = Array.isArray(r) ? r : (r?.groups ?? r?.groupInfos ?? []);
      for (const g of list) {
        const info = g.groupInfo ?? g;
        const id = str(info.groupId);
        if (!id) continue;
        this.groupNames.set(id, str(info.name) || id);
        const conv = this.convs.get(id);
        if (conv) conv.title = this.groupNames.get(id)!;
      }
      this.changed();
    } catch {
      /* names stay ids until the next refresh */
    }
  }

  // ---- conversations -----------------------------------------------------

  conv(sessionId: string): Conv {
    let c = this.convs.get(sessionId);
    if (c) return c;
    const kind = sessionKind(sessionId);
    const target =
      kind === 'single' ? peerOf(sessionId, this.me) : kind === 'biz' ? appOf(sessionId) : sessionId;
    const title = kind === 'group' ? (this.groupNames.get(sessionId) ?? sessionId) : target;
    c = {
      sessionId,
      kind,
      title,
      target,
      unread: 0,
      readSeq: 0,
      msgs: [],
      oldest: 0,
      complete: false,
      loading: false,
    };
    this.convs.set(sessionId, c);
    return c;
  }

  /** Conversations, newest activity first. */
  list(): Conv[] {
    const t = (c: Conv) => c.msgs.at(-1)?.timestamp ?? c.last?.timestamp ?? 0;
    return [...this.convs.values()].sort((a, b) => t(b) - t(a));
  }

  /** Opens (or starts) a chat with a user. */
  openUser(user: string): void {
    this.open(singleSession(this.me, user));
  }

  open(sessionId: string): void {
    this.openId = sessionId;
    const conv = this.conv(sessionId);
    this.changed();
    if (!conv.msgs.length && !conv.complete) void this.loadNewest(sessionId);
    else this.markRead(conv);
  }

  close(): void {
    this.openId = '';
    this.changed();
  }

  private async loadNewest(sessionId: string): Promise<void> {
    const conv = this.conv(sessionId);
    const got = await this.pull(conv, 0);
    if (got) {
      for (const m of got) this.put(conv, m);
      if (got.length < PAGE) conv.complete = true;
      this.markRead(conv);
      this.changed();
    }
  }

  /** Loads the page before the oldest loaded message (scrolling up). */
  async loadOlder(sessionId: string): Promise<void> {
    const conv = this.conv(sessionId);
    if (conv.complete || conv.loading) return;
    if (conv.oldest <= 1 && conv.msgs.length) {
      conv.complete = true;
      this.changed();
      return;
    }
    const got = await this.pull(conv, conv.oldest > 0 ? conv.oldest - 1 : 0);
    if (!got) return;
    for (const m of got) this.put(conv, m);
    if (got.length < PAGE) conv.complete = true;
    this.changed();
  }

  private async pull(conv: Conv, seq: number): Promise<Msg[] | null> {
    const c = this.client;
    if (!c) return null;
    conv.loading = true;
    this.changed();
    try {
      const r: any = await c.history(conv.sessionId, seq, PAGE);
      const list: Any[] = Array.isArray(r) ? r : (r?.msgs ?? r?.messages ?? []);
      return list.map((x) => this.toMsg(x)).filter((m): m is Msg => m !== null);
    } catch (e) {
      this.error = 'Could not load messages: ' + errText(e);
      return null;
    } finally {
      conv.loading = false;
      this.changed();
    }
  }

  /** Inserts or updates a stored message (by seqId) in seqId order. */
  private put(conv: Conv, m: Msg): void {
    const i = conv.msgs.findIndex((x) => x.seqId === m.seqId && x.seqId > 0);
    if (i >= 0) {
      const old = conv.msgs[i];
      conv.msgs[i] = { ...m, delivery: best(old.delivery, m.delivery) };
    } else if (m.status !== 2) {
      let j = conv.msgs.length;
      while (j > 0 && (conv.msgs[j - 1].seqId === 0 || conv.msgs[j - 1].seqId > m.seqId)) j--;
      conv.msgs.splice(j, 0, m);
    }
    if (i >= 0 && m.status === 2) conv.msgs.splice(i, 1);
    const stored = conv.msgs.filter((x) => x.seqId > 0);
    conv.oldest = stored.length ? stored[0].seqId : 0;
    const newest = stored.at(-1);
    if (newest && (!conv.last || newest.seqId >= conv.last.seqId)) conv.last = newest;
  }

  private toMsg(raw: Any): Msg | null {
    const x = raw?.msg ?? raw?.body ?? raw;
    const sessionId = str(x.sessionId);
    if (!sessionId) return null;
    const seqId = num(x.seqId);
    const flags = num(raw?.flags ?? raw?.header?.flags);
    const from = str(x.from);
    return {
      key: `${sessionId}#${seqId}`,
      sessionId,
      seqId,
      timestamp: num(x.timestamp) || Date.now(),
      from,
      to: str(x.to),
      contentType: num(x.contentType),
      content: str(x.content),
      status: num(x.status),
      edited: Boolean(x.edited) || (flags & FLAG_OVERRIDE) !== 0,
      packId: str(raw?.packId ?? raw?.header?.packId) || undefined,
      delivery: from === this.me ? 'sent' : undefined,
    };
  }

  // ---- pushes ------------------------------------------------------------

  private onMessage(raw: any): void {
    const m = this.toMsg(raw);
    if (!m) return;
    const conv = this.conv(m.sessionId);
    // my own send seen again (another device of mine, or a catch-up): the
    // pending copy is replaced by the stored one, never shown twice
    const pend = conv.msgs.findIndex((x) => x.seqId === 0 && x.from === m.from && x.content === m.content);
    if (m.from === this.me && pend >= 0) conv.msgs.splice(pend, 1);
    const known = conv.msgs.some((x) => x.seqId === m.seqId);
    this.put(conv, m);
    if (!known && m.from !== this.me) {
      if (this.openId === m.sessionId && document.visibilityState !== 'hidden') this.markRead(conv);
      else conv.unread++;
    }
    this.changed();
  }

  private onCtrl(raw: any): void {
    const x = raw?.body ?? raw;
    const conv = this.convs.get(str(x.sessionId));
    if (!conv) return;
    const seq = num(x.seqId);
    const i = conv.msgs.findIndex((m) => m.seqId === seq);
    const cmd = num(x.command);
    if (i >= 0) {
      const m = conv.msgs[i];
      if (cmd === MSG_REVOKE) conv.msgs[i] = { ...m, status: 1, content: '' };
      else if (cmd === MSG_DELETE) conv.msgs.splice(i, 1);
      else if (cmd === MSG_EDIT) conv.msgs[i] = { ...m, content: str(x.content), edited: true };
    }
    if (conv.last?.seqId === seq) {
      if (cmd === MSG_REVOKE) conv.last = { ...conv.last, status: 1, content: '' };
      else if (cmd === MSG_EDIT) conv.last = { ...conv.last, content: str(x.content), edited: true };
      else if (cmd === MSG_DELETE) conv.last = conv.msgs.filter((m) => m.seqId > 0).at(-1);
    }
    this.changed();
  }

  /** My read cursor moved on another device of mine. */
  private onRead(raw: any): void {
    const x = raw?.body ?? raw;
    const conv = this.convs.get(str(x.sessionId));
    if (!conv) return;
    const seq = num(x.seqId);
    if (seq > conv.readSeq) {
      conv.readSeq = seq;
      conv.unread = conv.msgs.filter((m) => m.seqId > seq && m.from !== this.me).length;
      this.changed();
    }
  }

  private markRead(conv: Conv): void {
    const newest = conv.msgs.filter((m) => m.seqId > 0).at(-1)?.seqId ?? conv.last?.seqId ?? 0;
    conv.unread = 0;
    this.changed();
    if (newest > conv.readSeq && this.client && this.link === 'online') {
      conv.readSeq = newest;
      this.client.markRead(conv.sessionId, newest).catch(() => {
        /* the next open marks it again */
      });
    }
  }

  // ---- sending and message actions ----------------------------------------

  /** Sends text to the open conversation. Shown at once; pending while the
   *  socket is down (the SDK keeps it and resends it after reconnect). */
  send(sessionId: string, text: string): void {
    const conv = this.conv(sessionId);
    const local: Msg = {
      key: `local#${++this.localSeq}`,
      sessionId,
      seqId: 0,
      timestamp: Date.now(),
      from: this.me,
      to: conv.target,
      contentType: 1,
      content: text,
      status: 0,
      edited: false,
      delivery: 'pending',
    };
    conv.msgs.push(local);
    this.changed();
    const c = this.client;
    const p: Promise<any> =
      conv.kind === 'group' ? c.sendGroupText(conv.target, text) : c.sendText(conv.target, text);
    p.then(
      (ack: any) => {
        const i = conv.msgs.indexOf(local);
        const seqId = num(ack?.seqId);
        if (i >= 0) conv.msgs.splice(i, 1);
        if (seqId > 0 && !conv.msgs.some((m) => m.seqId === seqId)) {
          this.put(conv, {
            ...local,
            key: `${sessionId}#${seqId}`,
            seqId,
            timestamp: num(ack?.timestamp) || local.timestamp,
            sessionId: str(ack?.sessionId) || sessionId,
            delivery: 'sent',
          });
        }
        this.changed();
      },
      (e: unknown) => {
        local.delivery = 'failed';
        local.error = errText(e);
        this.changed();
      },
    );
  }

  async revoke(m: Msg): Promise<void> {
    await this.act(() => this.client.revoke(m.sessionId, m.seqId, m.packId ?? ''));
    this.onCtrl({ command: MSG_REVOKE, sessionId: m.sessionId, seqId: m.seqId });
  }

  async edit(m: Msg, text: string): Promise<void> {
    await this.act(() => this.client.edit(m.sessionId, m.seqId, text, m.packId ?? ''));
    this.onCtrl({ command: MSG_EDIT, sessionId: m.sessionId, seqId: m.seqId, content: text });
  }

  async remove(m: Msg): Promise<void> {
    await this.act(() => this.client.delete(m.sessionId, m.seqId, m.packId ?? ''));
    this.onCtrl({ command: MSG_DELETE, sessionId: m.sessionId, seqId: m.seqId });
  }

  /** Creates a group with me and `members`; opens it. */
  async createGroup(name: string, members: string[]): Promise<void> {
    const r: any = await this.act(() => this.client.createGroup(name, members));
    const id = str(r?.groupId ?? r?.groupInfo?.groupId ?? r);
    if (!id.startsWith('GC_')) throw new Error('the server did not return a group id');
    this.groupNames.set(id, name);
    const conv = this.conv(id);
    conv.title = name;
    this.open(id);
  }

  async addMembers(groupId: string, members: string[]): Promise<void> {
    await this.act(() => this.client.addGroupMembers(groupId, members));
  }

  private async act<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.client) throw new Error('not signed in');
    try {
      return await fn();
    } catch (e) {
      throw new Error(errText(e));
    }
  }
}

const RANK: Record<Delivery, number> = { failed: 0, pending: 1, sent: 2, delivered: 3, read: 4 };
function best(a?: Delivery, b?: Delivery): Delivery | undefined {
  if (!a) return b;
  if (!b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object') {
    const o = e as Any;
    return str(o.desc ?? o.message ?? (o.code != null ? `error ${o.code}` : JSON.stringify(o)));
  }
  return str(e);
}

function loginError(e: unknown): string {
  const t = errText(e);
  if (/auth|password|token|code 3\b|denied/i.test(t)) return 'Wrong user or password.';
  if (/websocket|connect|refused|network|closed/i.test(t))
    return `Cannot reach the server (${t}). Is omtpd running with --ws-listen?`;
  return t || 'Login failed.';
}
