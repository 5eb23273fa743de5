// The app's state and the one place that talks to the SDK (@omtp/client).
//
// Chat owns an OmtpClient, keeps conversations and their loaded messages,
// and tells the components when something changed (subscribe). Everything
// runs on the page's event loop; SDK events and replies land here and are
// turned into model.ts data. The SDK does the protocol work (login,
// reconnect with backoff, catch-up after reconnect, resend of unacked sends
// with DUP); the app only shows it: a banner while not online, my messages
// typed offline marked pending until their MsgAck.
import { CONTENT_TYPE, OmtpClient, kindOf, mediaContent } from '@omtp/client';
import type { ControlNotice, HotSession, Message, StateEvent, UploadedFile } from '@omtp/client';
import type { Conv, Delivery, Msg, Presence } from './model';
import { appOf, peerOf, sessionKind, singleSession } from './model';
import { receipts } from './receipts';
import { mentionsIn } from './format';
import type { Receipts } from './receipts';

/** Connection state as the app shows it. */
export type Link = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'kicked';

const PAGE = 30;
const USER_KEY = 'omtp.user';

type Any = Record<string, any>;
const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0) || 0);
const str = (v: unknown): string => (v == null ? '' : String(v));

/** The last user id signed in on this browser (the form is prefilled with
 *  it). omtpd hands out no session token at login (tokens come from the
 *  business backend: `omtpd token issue`, POST /v1/tokens), so the password
 *  is asked again after a reload; it is never stored. */
export function rememberedUser(): string {
  try {
    return localStorage.getItem(USER_KEY) || '';
  } catch {
    return '';
  }
}

/** ws(s)://<this page's host>/ws: omtpd serves the app and its socket on one
 *  listener. Only the Vite dev server (`npm run dev`) reads another address,
 *  from VITE_OMTP_WS; a built app never takes one from the page's URL (a
 *  link must not be able to send the password elsewhere). */
export function defaultUrl(): string {
  if (import.meta.env.DEV && import.meta.env.VITE_OMTP_WS) return import.meta.env.VITE_OMTP_WS as string;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

/** The DEVICE_TYPE this browser logs in as. OMTP has no "web" type (1..5:
 *  ios, android, macos, windows, linux) and each type is one login slot, so
 *  the browser takes its platform's: a second login of the same user on the
 *  same platform (another browser, `omtp chat`) replaces this one. */
export function deviceType(): number {
  const p = ((navigator as any).userAgentData?.platform || navigator.platform || navigator.userAgent).toLowerCase();
  if (/iphone|ipad|ios/.test(p)) return 1;
  if (/android/.test(p)) return 2;
  if (/mac/.test(p)) return 3;
  if (/win/.test(p)) return 4;
  return 5;
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
  /** sessionId -> the upload in progress there (name, bytes sent of total) */
  uploads = new Map<string, { name: string; sent: number; total: number }>();

  private client: OmtpClient | null = null;
  private rc: Receipts | null = null;
  /** peers' presence (PT_PRESENCE), for the delivered mark */
  private online = new Map<string, boolean>();
  private readTimer: ReturnType<typeof setInterval> | null = null;
  private listeners = new Set<() => void>();
  private localSeq = 0;
  private version = 0;
  /** people's presence as the dots show it (PT_PRESENCE) */
  private presence = new Map<string, Presence>();
  /** sessionId -> user -> when their typing indicator expires (ms) */
  private typers = new Map<string, Map<string, number>>();
  private typingTimer: ReturnType<typeof setInterval> | null = null;
  /** my typing state sent last: session and time (throttles PT_TYPING) */
  private myTyping = { sessionId: '', at: 0 };

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
  async login(user: string, password: string): Promise<void> {
    this.me = user;
    const c = new OmtpClient({ url: defaultUrl(), user, password, deviceType: deviceType(), deviceId: deviceId(), deviceName: 'web' });
    this.client = c;
    this.rc = receipts(c, (u, on, devices) => this.onPresence(u, on, devices));
    c.on('state', (e) => this.onState(c, e));
    c.on('message', (m) => this.onMessage(m));
    c.on('msgctrl', (m) => this.onCtrl(m));
    c.on('read', (r) => this.onRead(r.sessionId, num(r.seqId)));
    c.on('catchup', () => void this.refresh());
    c.on('kickout', () => {
      this.link = 'kicked';
      this.linkDetail = 'You signed in as ' + user + ' on another device of this type: this page was signed out. Reload to sign in here again.';
      this.changed();
    });
    c.on('group', () => void this.refreshGroups());
    c.on('typing', (t) => this.onTyping(str(t.sessionId), str(t.userId), num(t.state)));
    c.on('reaction', (r) => this.onReaction(str(r.sessionId), num(r.seqId), str(r.userId), str(r.emoji), num(r.op)));
    try {
      await c.connect();
    } catch (e) {
      this.client = null;
      c.close();
      throw new Error(loginError(e));
    }
    try {
      localStorage.setItem(USER_KEY, user);
    } catch {
      /* private mode: nothing remembered */
    }
    this.link = 'online';
    this.changed();
    await this.refresh();
  }

  logout(): void {
    if (this.readTimer) clearInterval(this.readTimer);
    this.readTimer = null;
    this.client?.close();
    this.client = null;
    this.rc = null;
    this.convs.clear();
    this.groupNames.clear();
    this.online.clear();
    this.presence.clear();
    this.typers.clear();
    if (this.typingTimer) clearInterval(this.typingTimer);
    this.typingTimer = null;
    this.openId = '';
    this.link = 'connecting';
    this.changed();
  }

  private onState(c: OmtpClient, e: StateEvent): void {
    if (c !== this.client || this.link === 'kicked') return;
    if (e.state === 'online') {
      this.link = 'online';
      this.linkDetail = '';
      this.rc?.reset(); // a subscription belongs to the connection
    } else if (e.state === 'reconnecting') {
      this.link = 'reconnecting';
      this.linkDetail = e.delayMs > 0 ? `(next try in ${Math.ceil(e.delayMs / 1000)} s)` : '';
    } else if (e.state === 'closed') {
      this.link = 'offline';
      this.linkDetail = e.reason;
    } else if (this.link === 'online') {
      this.link = 'reconnecting';
    }
    this.changed();
  }

  /** Hot sessions (unread counts, last message) and group names, then the
   *  open conversation's newest page: run after login and after each
   *  reconnect's catch-up, so what came while away shows. */
  async refresh(): Promise<void> {
    const c = this.client;
    if (!c) return;
    await this.refreshGroups();
    let list: HotSession[] = [];
    try {
      list = await c.hotSessions();
    } catch (e) {
      this.error = 'Could not load the conversations: ' + errText(e);
    }
    for (const it of list) {
      const conv = this.conv(it.sessionId);
      conv.readSeq = Math.max(conv.readSeq, num(it.readSeqId));
      conv.unread = this.openId === it.sessionId && document.visibilityState !== 'hidden' ? 0 : num(it.unreadCount);
      const ms = num((it.raw as Any)?.mentionSeqId);
      conv.mention = conv.unread > 0 && ms > conv.readSeq ? ms : 0;
      if (it.lastMsg) {
        const m = this.toMsg(it.lastMsg);
        if (!conv.last || m.seqId >= conv.last.seqId) conv.last = m;
      }
    }
    this.changed();
    this.watchPeers();
    if (this.openId) await this.loadNewer(this.openId);
  }

  // ---- delivered and read marks (receipts.ts) ----------------------------

  /** Subscribes to the presence of every single-chat peer in the list. */
  private watchPeers(): void {
    this.rc?.watch([...this.convs.values()].filter((v) => v.kind === 'single').map((v) => v.target));
  }

  private onPresence(user: string, on: boolean, devices: number): void {
    this.online.set(user, on);
    const state: Presence = on ? 'online' : devices > 0 ? 'away' : 'offline';
    if (this.presence.get(user) !== state) {
      this.presence.set(user, state);
      this.changed();
    }
    if (!on) return;
    const conv = this.convs.get(singleSession(this.me, user));
    if (!conv) return;
    let any = false;
    for (const m of conv.msgs) {
      if (m.from === this.me && m.delivery === 'sent') {
        m.delivery = 'delivered';
        any = true;
      }
    }
    if (any) this.changed();
  }

  /** Asks who read my newest message of the open conversation; marks mine
   *  up to it read when the peer (single) or every member (group) did. */
  private async checkReads(conv: Conv): Promise<void> {
    const rc = this.rc;
    if (!rc || conv.kind === 'biz' || this.link !== 'online') return;
    const mine = conv.msgs.filter((m) => m.from === this.me && m.seqId > 0 && m.delivery !== 'read');
    const newest = mine.at(-1);
    if (!newest) return;
    const r = await rc.readers(conv.sessionId, newest.seqId);
    if (!r) return;
    const done = conv.kind === 'single' ? r.readers.includes(conv.target) : r.unread.length === 0 && r.readers.length > 0;
    if (!done) return;
    for (const m of conv.msgs) if (m.from === this.me && m.seqId > 0 && m.seqId <= newest.seqId) m.delivery = 'read';
    this.changed();
  }

  /** While a conversation is open: check reads now and every 4 s while some
   *  of mine are unread and the page is visible. */
  private pollReads(): void {
    if (this.readTimer) clearInterval(this.readTimer);
    this.readTimer = null;
    const conv = this.openId ? this.convs.get(this.openId) : undefined;
    if (!conv || !this.rc?.supported.readers) return;
    void this.checkReads(conv);
    this.readTimer = setInterval(() => {
      const open = this.openId ? this.convs.get(this.openId) : undefined;
      if (!open || !this.rc?.supported.readers) return this.pollReads();
      if (document.visibilityState === 'hidden') return;
      if (open.msgs.some((m) => m.from === this.me && m.seqId > 0 && m.delivery !== 'read')) void this.checkReads(open);
    }, 4000);
  }

  private async refreshGroups(): Promise<void> {
    const c = this.client;
    if (!c) return;
    try {
      const { groups } = await c.groups();
      for (const g of groups) {
        this.groupNames.set(g.groupId, g.name || g.groupId);
        const conv = this.convs.get(g.groupId);
        if (conv) conv.title = g.name || g.groupId;
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
    const target = kind === 'single' ? peerOf(sessionId, this.me) : kind === 'biz' ? appOf(sessionId) : sessionId;
    const title = kind === 'group' ? (this.groupNames.get(sessionId) ?? sessionId) : target;
    c = { sessionId, kind, title, target, unread: 0, readSeq: 0, mention: 0, msgs: [], oldest: 0, complete: false, loaded: false, loading: false };
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
    if (!conv.loaded) void this.loadNewer(sessionId).then(() => this.pollReads());
    else {
      this.markRead(conv);
      this.pollReads();
    }
    if (conv.kind === 'single') this.watchPeers();
  }

  close(): void {
    this.openId = '';
    this.pollReads();
    this.changed();
  }

  /** The newest page; merged with what is loaded (after a reconnect it
   *  fills what was missed, each message once by its seqId). */
  private async loadNewer(sessionId: string): Promise<void> {
    const conv = this.conv(sessionId);
    const first = !conv.loaded;
    const got = await this.pull(conv, 0);
    if (!got) return;
    for (const m of got) this.put(conv, m);
    conv.loaded = true;
    if (first && got.length < PAGE) conv.complete = true;
    this.markRead(conv);
    this.changed();
  }

  /** Loads the page before the oldest loaded message (scrolling up). */
  async loadOlder(sessionId: string): Promise<void> {
    const conv = this.conv(sessionId);
    if (conv.complete || conv.loading) return;
    if (conv.oldest === 1) {
      conv.complete = true;
      this.changed();
      return;
    }
    const got = await this.pull(conv, conv.oldest);
    if (!got) return;
    for (const m of got) this.put(conv, m);
    if (got.length < PAGE) conv.complete = true;
    this.changed();
  }

  private async pull(conv: Conv, before: number): Promise<Msg[] | null> {
    const c = this.client;
    if (!c) return null;
    conv.loading = true;
    this.changed();
    try {
      const list = await c.history(conv.sessionId, { before, count: PAGE });
      return list.map((x) => this.toMsg(x));
    } catch (e) {
      this.error = 'Could not load the messages: ' + errText(e);
      return null;
    } finally {
      conv.loading = false;
      this.changed();
    }
  }

  /** Inserts or updates a stored message (by seqId) in seqId order; a
   *  deleted one (status 2) goes. */
  private put(conv: Conv, m: Msg): void {
    const i = conv.msgs.findIndex((x) => x.seqId === m.seqId && x.seqId > 0);
    if (i >= 0) {
      if (m.status === 2) conv.msgs.splice(i, 1);
      else conv.msgs[i] = { ...m, delivery: best(conv.msgs[i].delivery, m.delivery) };
    } else if (m.status !== 2) {
      let j = conv.msgs.length;
      while (j > 0 && (conv.msgs[j - 1].seqId === 0 || conv.msgs[j - 1].seqId > m.seqId)) j--;
      conv.msgs.splice(j, 0, m);
    }
    const stored = conv.msgs.filter((x) => x.seqId > 0);
    conv.oldest = stored.length ? stored[0].seqId : 0;
    const newest = stored.at(-1);
    if (newest && (!conv.last || newest.seqId >= conv.last.seqId)) conv.last = newest;
  }

  private toMsg(x: Message): Msg {
    const revoked = x.revoked || x.status === 1;
    return {
      key: `${x.sessionId}#${x.seqId}`,
      sessionId: x.sessionId,
      seqId: num(x.seqId),
      timestamp: num(x.timestamp) || Date.now(),
      from: x.from,
      to: x.to,
      contentType: num(x.contentType),
      content: revoked ? '' : x.content,
      status: revoked ? 1 : num(x.status),
      edited: x.edited,
      packId: x.packId || undefined,
      replyTo: num(x.replyTo),
      mentions: x.mentions ?? [],
      reactions: reactionsOf(x.reactions),
      delivery: x.from !== this.me ? undefined : this.online.get(peerOf(x.sessionId, this.me)) ? 'delivered' : 'sent',
    };
  }

  // ---- pushes ------------------------------------------------------------

  private onMessage(raw: Message): void {
    const m = this.toMsg(raw);
    const conv = this.conv(m.sessionId);
    if (conv.kind === 'group' && !this.groupNames.has(conv.sessionId)) void this.refreshGroups(); // a group new to me
    if (conv.kind === 'single' && !this.online.has(conv.target)) this.watchPeers();
    const known = conv.msgs.some((x) => x.seqId === m.seqId);
    this.put(conv, m);
    if (!known && m.from !== this.me && m.seqId > conv.readSeq) {
      if (this.openId === m.sessionId && document.visibilityState !== 'hidden') {
        this.markRead(conv);
        void this.checkReads(conv); // a reply: the peer has likely read mine
      } else if (!raw.catchup) {
        conv.unread++; // a catch-up's unread counts come with the refresh after it
        if (m.mentions?.includes(this.me) || m.mentions?.includes('@all')) conv.mention = m.seqId;
      }
    }
    this.stopTyper(m.sessionId, m.from); // a message ends its author's typing
    this.changed();
  }

  private onCtrl(x: Pick<ControlNotice, 'command' | 'sessionId' | 'seqId' | 'content'>): void {
    const conv = this.convs.get(x.sessionId);
    if (!conv) return;
    const seq = num(x.seqId);
    const cmd = num(x.command);
    const i = conv.msgs.findIndex((m) => m.seqId === seq);
    if (i >= 0) {
      const m = conv.msgs[i];
      if (cmd === CTRL_REVOKE) conv.msgs[i] = { ...m, status: 1, content: '' };
      else if (cmd === CTRL_DELETE) conv.msgs.splice(i, 1);
      else if (cmd === CTRL_EDIT) conv.msgs[i] = { ...m, content: x.content, edited: true };
    }
    if (conv.last?.seqId === seq) {
      if (cmd === CTRL_REVOKE) conv.last = { ...conv.last, status: 1, content: '' };
      else if (cmd === CTRL_EDIT) conv.last = { ...conv.last, content: x.content, edited: true };
      else if (cmd === CTRL_DELETE) conv.last = conv.msgs.filter((m) => m.seqId > 0).at(-1);
    }
    this.changed();
  }

  /** My read cursor moved (on another device of mine). */
  private onRead(sessionId: string, seq: number): void {
    const conv = this.convs.get(sessionId);
    if (!conv || seq <= conv.readSeq) return;
    conv.readSeq = seq;
    conv.unread = Math.min(conv.unread, conv.msgs.filter((m) => m.seqId > seq && m.from !== this.me).length);
    this.changed();
  }

  private markRead(conv: Conv): void {
    const newest = Math.max(conv.msgs.filter((m) => m.seqId > 0).at(-1)?.seqId ?? 0, conv.last?.seqId ?? 0);
    conv.unread = 0;
    conv.mention = 0;
    this.changed();
    if (newest > conv.readSeq && this.client && this.link === 'online') {
      conv.readSeq = newest;
      this.client.markRead(conv.sessionId, newest).catch(() => {
        conv.readSeq = 0; // the next open marks it again
      });
    }
  }

  // ---- sending and message actions ----------------------------------------

  /** Sends text to a conversation. Shown at once; pending while the socket
   *  is down (the SDK keeps it, sends it after the next login, resends it
   *  with DUP until acked: the server stores it once). */
  send(sessionId: string, text: string, replyTo = 0): void {
    this.sendContent(sessionId, 1, text, replyTo);
  }

  /** The URL of a file (or its thumbnail) for <img>, <audio>, <video>, links. */
  fileUrl(fileId: string, thumb = false): string {
    return this.client ? this.client.fileUrl(fileId, { thumb }) : '';
  }

  /** Uploads a picked, dropped or pasted file (progress in `uploads`), then
   *  sends it as an image, voice, video or file message by its sniffed type.
   *  Rejects with the server's words (413: "file is larger than X MB"). */
  async sendFile(sessionId: string, file: File): Promise<void> {
    const c = this.client;
    if (!c) throw new Error('not signed in');
    const up = { name: file.name || 'file', sent: 0, total: file.size };
    this.uploads.set(sessionId, up);
    this.changed();
    let f: UploadedFile;
    try {
      f = await c.uploadFile(file, {
        name: up.name,
        mime: file.type,
        onProgress: (sent, total) => {
          up.sent = sent;
          up.total = total;
          this.changed();
        },
      });
    } finally {
      this.uploads.delete(sessionId);
      this.changed();
    }
    const kind = kindOf(f.mime);
    this.sendContent(sessionId, CONTENT_TYPE[kind], mediaContent(f, kind));
  }

  private sendContent(sessionId: string, contentType: number, text: string, replyTo = 0): void {
    const conv = this.conv(sessionId);
    const c = this.client;
    if (!c) return;
    const local: Msg = {
      key: `local#${++this.localSeq}`,
      sessionId,
      seqId: 0,
      timestamp: Date.now(),
      from: this.me,
      to: conv.target,
      contentType,
      content: text,
      status: 0,
      edited: false,
      delivery: 'pending',
      replyTo,
      mentions: contentType === 1 ? mentionsIn(text) : [],
    };
    conv.msgs.push(local);
    this.changed();
    const opts = { onPending: (p: { packId: string }) => (local.packId = p.packId) };
    this.typing(sessionId, false);
    const p = c.send(
      { to: conv.target, content: text, contentType, ...(replyTo ? { replyTo } : {}), ...(local.mentions!.length ? { mentions: local.mentions } : {}) },
      { ...opts, type: conv.kind === 'group' ? PT_GROUP : PT_SINGLE },
    );
    p.then(
      (ack) => {
        const i = conv.msgs.indexOf(local);
        if (i >= 0) conv.msgs.splice(i, 1);
        const seqId = num(ack.seqId);
        const delivered = conv.kind === 'single' && this.online.get(conv.target) === true;
        this.put(conv, { ...local, key: `${sessionId}#${seqId}`, seqId, timestamp: num(ack.timestamp) || local.timestamp, delivery: delivered ? 'delivered' : 'sent' });
        conv.readSeq = Math.max(conv.readSeq, seqId);
        if (conv.kind === 'single' && !this.online.has(conv.target)) {
          // presence is visible between members of a session: this one may
          // have just begun, so subscribe again
          this.rc?.reset();
          this.watchPeers();
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
    await this.act((c) => c.revoke(m.sessionId, m.seqId, m.packId ?? ''));
    this.onCtrl({ command: CTRL_REVOKE, sessionId: m.sessionId, seqId: m.seqId, content: '' });
  }

  async edit(m: Msg, text: string): Promise<void> {
    await this.act((c) => c.edit(m.sessionId, m.seqId, text, m.packId ?? ''));
    this.onCtrl({ command: CTRL_EDIT, sessionId: m.sessionId, seqId: m.seqId, content: text });
  }

  async remove(m: Msg): Promise<void> {
    await this.act((c) => c.delete(m.sessionId, m.seqId, m.packId ?? ''));
    this.onCtrl({ command: CTRL_DELETE, sessionId: m.sessionId, seqId: m.seqId, content: '' });
  }

  // ---- presence, typing, reactions, search (issue #19) --------------------

  /** The presence dot of a user; undefined until the server told. */
  presenceOf(user: string): Presence | undefined {
    return this.presence.get(user);
  }

  /** Who else is typing in a session now. */
  typingIn(sessionId: string): string[] {
    const m = this.typers.get(sessionId);
    if (!m) return [];
    const now = Date.now();
    return [...m.entries()].filter(([, until]) => until > now).map(([u]) => u);
  }

  /** The composer changed: tell the session I type (at most every 3 s), or
   *  that I stopped (empty composer, sent, left). Fire and forget. */
  typing(sessionId: string, on: boolean): void {
    const c = this.client;
    if (!c || this.link !== 'online' || sessionKind(sessionId) === 'biz') return;
    const now = Date.now();
    const t = this.myTyping;
    if (on) {
      if (t.sessionId === sessionId && now - t.at < TYPING_EVERY) return;
      this.myTyping = { sessionId, at: now };
    } else {
      if (t.sessionId !== sessionId) return;
      this.myTyping = { sessionId: '', at: 0 };
    }
    try {
      c.typing(sessionId, on);
    } catch {
      /* typing is best effort */
    }
  }

  private onTyping(sessionId: string, user: string, state: number): void {
    if (user === this.me) return;
    if (state !== 1) return this.stopTyper(sessionId, user);
    let m = this.typers.get(sessionId);
    if (!m) this.typers.set(sessionId, (m = new Map()));
    m.set(user, Date.now() + TYPING_SHOWN);
    if (!this.typingTimer) {
      // expire indicators of peers whose "stopped" never came
      this.typingTimer = setInterval(() => {
        const now = Date.now();
        let any = false;
        for (const [sid, mm] of this.typers) {
          for (const [u, until] of mm) if (until <= now) any = mm.delete(u) || any;
          if (!mm.size) this.typers.delete(sid);
        }
        if (!this.typers.size && this.typingTimer) {
          clearInterval(this.typingTimer);
          this.typingTimer = null;
        }
        if (any) this.changed();
      }, 1000);
    }
    this.changed();
  }

  private stopTyper(sessionId: string, user: string): void {
    if (this.typers.get(sessionId)?.delete(user)) this.changed();
  }

  private onReaction(sessionId: string, seqId: number, user: string, emoji: string, op: number): void {
    const conv = this.convs.get(sessionId);
    const m = conv?.msgs.find((x) => x.seqId === seqId);
    if (!m || !emoji) return;
    const r = { ...(m.reactions ?? {}) };
    const who = (r[emoji] ?? []).filter((u) => u !== user);
    if (op === 1) who.push(user);
    if (who.length) r[emoji] = who;
    else delete r[emoji];
    m.reactions = r;
    this.changed();
  }

  /** Adds my reaction, or removes it if I had reacted with that emoji. */
  async toggleReaction(m: Msg, emoji: string): Promise<void> {
    const add = !(m.reactions?.[emoji] ?? []).includes(this.me);
    await this.act((c) => c.react(m.sessionId, m.seqId, emoji, add));
    this.onReaction(m.sessionId, m.seqId, this.me, emoji, add ? 1 : 2);
  }

  /** Full-text search over my conversations, newest first. */
  async search(query: string): Promise<Msg[]> {
    const got = await this.act((c) => c.search(query, { count: 20 }));
    return got.map((x) => this.toMsg(x));
  }

  /** Creates a group with me and `members`; opens it. */
  async createGroup(name: string, members: string[]): Promise<void> {
    const id = await this.act((c) => c.createGroup(name, members));
    this.groupNames.set(id, name);
    this.conv(id).title = name;
    this.open(id);
  }

  async addMembers(groupId: string, members: string[]): Promise<void> {
    await this.act((c) => c.addGroupMembers(groupId, members));
  }

  private async act<T>(fn: (c: OmtpClient) => Promise<T>): Promise<T> {
    if (!this.client) throw new Error('not signed in');
    if (this.link !== 'online') throw new Error('not connected: try again when the connection is back');
    try {
      return await fn(this.client);
    } catch (e) {
      throw new Error(errText(e));
    }
  }
}

const CTRL_REVOKE = 1;
const PT_SINGLE = 14;
const PT_GROUP = 15;
/** send "typing" again after this long while still typing; a peer's
 *  indicator goes after TYPING_SHOWN without news */
const TYPING_EVERY = 3000;
const TYPING_SHOWN = 6000;

function reactionsOf(v: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (v instanceof Map) for (const [k, who] of v) out[str(k)] = [...(who as string[])];
  else if (v && typeof v === 'object') for (const [k, who] of Object.entries(v as Any)) out[k] = [...(who as string[])];
  return out;
}
const CTRL_DELETE = 2;
const CTRL_EDIT = 3;

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
  if (/wrong user name, password or token/i.test(t)) return 'Wrong user or password.';
  if (/login refused/i.test(t)) return t.charAt(0).toUpperCase() + t.slice(1) + '.';
  return `Cannot reach the server (${t || 'no answer'}). Is omtpd running with --ws-listen, and is this page served by it?`;
}
