// The open conversation: history loaded as you scroll up, day separators,
// my messages marked pending / sent / delivered / read, a menu per message
// (revoke, edit, delete; keyboard: Enter or Space opens it, arrows move,
// Escape closes), and the composer (Enter sends, Shift+Enter is a newline).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Chat } from './chat';
import type { Conv, Msg } from './model';
import { clock, dayLabel, sameDay } from './format';
import { Dot } from './presence';
import { EMOJI, Reactions } from './reactions';
import { RichText } from './richtext';
import { Media, isMedia } from './media';
import { sizeText } from './format';

const MARK: Record<string, [string, string]> = {
  pending: ['…', 'pending: sent when the connection is back'],
  sent: ['✓', 'sent'],
  delivered: ['✓✓', 'delivered'],
  read: ['✓✓', 'read'],
  failed: ['!', 'not sent'],
};

export function Conversation({ chat, conv, onMembers }: { chat: Chat; conv: Conv; onMembers: () => void }) {
  const scroller = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState('');
  const [editing, setEditing] = useState<Msg | null>(null);
  const [replying, setReplying] = useState<Msg | null>(null);
  const [notice, setNotice] = useState('');
  const atBottom = useRef(true);
  const picker = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const upload = chat.uploads.get(conv.sessionId);

  /** Uploads files one after the other; the server's refusal is shown in words. */
  async function sendFiles(files: File[]) {
    for (const f of files) {
      atBottom.current = true;
      try {
        await chat.sendFile(conv.sessionId, f);
      } catch (e) {
        setNotice(`Could not send ${f.name || 'the file'}: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
    }
  }
  const anchor = useRef<{ height: number; top: number } | null>(null);

  const count = conv.msgs.length;
  const lastKey = conv.msgs.at(-1)?.key;

  // keep the view at the bottom for new messages; keep the position when an
  // older page is inserted above
  const seen = useRef(0);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const grew = count !== seen.current;
    seen.current = count;
    if (anchor.current && grew) {
      // an older page went in above: keep what was on screen in place
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    if (conv.complete && !grew) anchor.current = null; // the last page brought nothing
    // too few to scroll: fetch the older page now (no scroll event would come)
    if (conv.loaded && !conv.complete && !conv.loading && el.scrollHeight <= el.clientHeight) {
      void chat.loadOlder(conv.sessionId);
    }
  }, [count, lastKey, conv.loaded, conv.loading, conv.complete]);

  useEffect(() => input.current?.focus(), [conv.sessionId]);

  function onScroll() {
    const el = scroller.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 60 && !conv.complete && !conv.loading) {
      anchor.current = { height: el.scrollHeight, top: el.scrollTop };
      void chat.loadOlder(conv.sessionId);
    }
  }

  function submit() {
    const t = text.trim();
    if (!t) return;
    if (editing) {
      const m = editing;
      setEditing(null);
      setText('');
      chat.edit(m, t).catch((e) => setNotice('Edit failed: ' + e.message));
      return;
    }
    atBottom.current = true;
    chat.send(conv.sessionId, t, replying?.seqId ?? 0);
    setReplying(null);
    setText('');
  }

  function onKey(e: KeyboardEvent) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && editing) {
      setEditing(null);
      setText('');
    } else if (e.key === 'Escape' && replying) {
      setReplying(null);
    }
  }

  const rows: preact.JSX.Element[] = [];
  let prev = 0;
  for (const m of conv.msgs) {
    if (!prev || !sameDay(prev, m.timestamp)) {
      rows.push(
        <li class="day" role="separator" key={'d' + m.key} data-testid="day">
          <span>{dayLabel(m.timestamp)}</span>
        </li>,
      );
    }
    prev = m.timestamp;
    rows.push(
      <Message
        key={m.key}
        m={m}
        mine={m.from === chat.me}
        group={conv.kind === 'group'}
        me={chat.me}
        quoted={m.replyTo ? (conv.msgs.find((x) => x.seqId === m.replyTo) ?? null) : undefined}
        onReact={(emoji) => chat.toggleReaction(m, emoji).catch((e) => setNotice('Reaction failed: ' + e.message))}
        onReply={() => {
          setEditing(null);
          setReplying(m);
          input.current?.focus();
        }}
        onRevoke={() => chat.revoke(m).catch((e) => setNotice('Revoke failed: ' + e.message))}
        onDelete={() => chat.remove(m).catch((e) => setNotice('Delete failed: ' + e.message))}
        chat={chat}
        onEdit={() => {
          setEditing(m);
          setText(m.content);
          input.current?.focus();
        }}
      />,
    );
  }

  return (
    <section
      class={'conversation' + (dragging ? ' dragging' : '')}
      aria-label={`Conversation with ${conv.title}`}
      data-testid="conversation"
      onDragOver={(e) => {
        if (conv.kind === 'biz' || !e.dataTransfer?.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        setDragging(false);
        const files = [...(e.dataTransfer?.files ?? [])];
        if (conv.kind === 'biz' || !files.length) return;
        e.preventDefault();
        void sendFiles(files);
      }}
    >
      <header class="bar">
        <button type="button" class="back" aria-label="Back to the conversation list" onClick={() => chat.close()}>
          ←
        </button>
        <h2 class="title" data-testid="conv-open-title">
          {conv.title}
          {conv.kind === 'single' && <Dot user={conv.target} state={chat.presenceOf(conv.target)} />}
          {conv.kind === 'biz' && <span class="muted"> · notifications</span>}
        </h2>
        <Typing who={chat.typingIn(conv.sessionId)} />
        {conv.kind === 'group' && (
          <button type="button" onClick={onMembers} data-testid="add-members">
            Add members
          </button>
        )}
      </header>
      <div class="scroller" ref={scroller} onScroll={onScroll} tabIndex={-1}>
        {conv.loading && <p class="center muted">Loading…</p>}
        {conv.complete && conv.msgs.length > 0 && <p class="center muted small">Start of the conversation</p>}
        <ol class="msgs" aria-label="Messages" aria-live="polite" data-testid="messages">
          {rows}
        </ol>
      </div>
      {upload && (
        <p class="pad muted" role="status" data-testid="upload-progress">
          Uploading {upload.name}… {upload.total ? Math.floor((100 * upload.sent) / upload.total) : 0}% of {sizeText(upload.total)}
          <progress max={upload.total || 1} value={upload.sent} />
        </p>
      )}
      {notice && (
        <p class="error pad" role="alert" data-testid="notice">
          {notice}{' '}
          <button type="button" class="link" onClick={() => setNotice('')}>
            Dismiss
          </button>
        </p>
      )}
      {conv.kind === 'biz' ? (
        <p class="muted pad">Notifications from {conv.title}; replies are not possible here.</p>
      ) : (
        <form
          class="composer"
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          {replying && !editing && (
            <div class="replying" data-testid="replying">
              <Quote m={replying} me={chat.me} />
              <button type="button" class="link" aria-label="Cancel the reply" onClick={() => setReplying(null)}>
                ✕
              </button>
            </div>
          )}
          {editing && (
            <span class="editing">
              Editing a message (Escape cancels)
            </span>
          )}
          <textarea
            ref={input}
            rows={1}
            aria-label={editing ? 'Edit message' : `Message to ${conv.title}`}
            placeholder={editing ? 'Edit message' : 'Message'}
            aria-describedby="composer-hint"
            value={text}
            data-testid="composer"
            onInput={(e) => {
              const v = (e.target as HTMLTextAreaElement).value;
              setText(v);
              if (!editing) chat.typing(conv.sessionId, v.trim() !== '');
            }}
            onBlur={() => chat.typing(conv.sessionId, false)}
            onKeyDown={onKey}
            onPaste={(e) => {
              const files = [...(e.clipboardData?.files ?? [])];
              if (!files.length || editing) return;
              e.preventDefault();
              void sendFiles(files);
            }}
          />
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            data-testid="file-input"
            onChange={(e) => {
              const el = e.target as HTMLInputElement;
              const files = [...(el.files ?? [])];
              el.value = '';
              void sendFiles(files);
            }}
          />
          <button type="button" aria-label="Attach a file (or drop or paste one)" title="Attach a file" data-testid="attach" onClick={() => picker.current?.click()}>
            📎
          </button>
          <span id="composer-hint" class="hint">
            Enter sends, Shift+Enter starts a new line
          </span>
          <button type="submit" aria-label="Send">
            {editing ? 'Save' : 'Send'}
          </button>
        </form>
      )}
    </section>
  );
}

/** "bob is typing…" under the title; announced politely. */
function Typing({ who }: { who: string[] }) {
  const text = !who.length ? '' : who.length === 1 ? `${who[0]} is typing…` : `${who.slice(0, -1).join(', ')} and ${who.at(-1)} are typing…`;
  return (
    <span class="typing muted small" aria-live="polite" data-testid="typing">
      {text}
    </span>
  );
}

/** The quoted message of a reply (or a note when it is not loaded). */
function Quote({ m, me, seqId }: { m: Msg | null; me: string; seqId?: number }) {
  return (
    <blockquote class="quote" data-testid="quote" data-reply-to={m?.seqId ?? seqId}>
      {m ? (
        <>
          <span class="from">{m.from === me ? 'You' : m.from}</span>{' '}
          {m.status === 1 ? 'Message revoked' : m.content}
        </>
      ) : (
        <span class="muted">an earlier message</span>
      )}
    </blockquote>
  );
}

function Message(props: {
  chat: Chat;
  m: Msg;
  mine: boolean;
  group: boolean;
  me: string;
  /** the replied-to message: undefined = not a reply, null = not loaded */
  quoted?: Msg | null;
  onReact: (emoji: string) => void;
  onReply: () => void;
  onRevoke: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const { m, mine, group } = props;
  const revoked = m.status === 1;
  const mark = mine && m.delivery ? MARK[m.delivery] : null;
  return (
    <li
      class={'msg' + (mine ? ' mine' : '') + (revoked ? ' revoked' : '')}
      data-testid="msg"
      data-seq={m.seqId}
      data-delivery={m.delivery ?? ''}
    >
      <div class={'bubble' + (!revoked && (m.mentions?.includes(props.me) || m.mentions?.includes('@all')) ? ' mentions-me' : '')}>
        {group && !mine && <span class="from">{m.from}</span>}
        {props.quoted !== undefined && !revoked && <Quote m={props.quoted} me={props.me} seqId={m.replyTo} />}
        <span class="text" data-testid="msg-text">
          {revoked ? (
            mine ? 'You revoked a message' : 'Message revoked'
          ) : isMedia(m.contentType, m.content) ? (
            <Media chat={props.chat} contentType={m.contentType} content={m.content} />
          ) : (
            <RichText text={m.content} me={props.me} />
          )}
        </span>
        <span class="meta">
          {m.edited && !revoked && <span class="edited">edited</span>}
          <time dateTime={new Date(m.timestamp).toISOString()}>{clock(m.timestamp)}</time>
          {mark && (
            <span class={'mark ' + m.delivery} title={mark[1]} aria-label={mark[1]} data-testid="mark">
              {mark[0]}
            </span>
          )}
        </span>
        {m.error && <span class="error small">{m.error}</span>}
        {!revoked && <Reactions m={m} me={props.me} onToggle={props.onReact} />}
      </div>
      {m.seqId > 0 && !revoked && (
        <Menu
          items={[
            ...(mine && !isMedia(m.contentType, m.content) ? [{ label: 'Edit', run: props.onEdit }] : []),
            ...(mine ? [{ label: 'Revoke', run: props.onRevoke }] : []),
            { label: 'Delete', run: props.onDelete },
            { label: 'Reply', run: props.onReply },
            ...EMOJI.map((e) => ({ label: `React ${e}`, id: 'react', run: () => props.onReact(e) })),
          ]}
        />
      )}
    </li>
  );
}

/** A menu button: aria menu pattern (Enter/Space/ArrowDown opens, arrows
 *  move, Enter picks, Escape closes and returns focus). */
function Menu({ items }: { items: { label: string; id?: string; run: () => void }[] }) {
  const [open, setOpen] = useState(false);
  const btn = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLUListElement>(null);

  useEffect(() => {
    if (open) (list.current?.querySelector('[role=menuitem]') as HTMLElement | null)?.focus();
  }, [open]);

  function close(refocus: boolean) {
    setOpen(false);
    if (refocus) btn.current?.focus();
  }

  function onKey(e: KeyboardEvent) {
    const els = [...(list.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])];
    const i = els.indexOf(document.activeElement as HTMLElement);
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      els[(i + 1) % els.length]?.focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      els[(i - 1 + els.length) % els.length]?.focus();
    } else if (e.key === 'Escape' || e.key === 'Tab') {
      e.preventDefault();
      close(true);
    }
  }

  return (
    <div class="menu-wrap">
      <button
        ref={btn}
        type="button"
        class="menu-btn"
        aria-label="Message actions"
        aria-haspopup="menu"
        aria-expanded={open}
        data-testid="msg-menu"
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        ⋯
      </button>
      {open && (
        <ul class="menu" role="menu" ref={list} onKeyDown={onKey} onFocusOut={(e) => {
          if (!list.current?.contains(e.relatedTarget as Node)) setOpen(false);
        }}>
          {items.map((it) => (
            <li role="none" key={it.label}>
              <button
                type="button"
                role="menuitem"
                tabIndex={-1}
                data-testid={'menu-' + (it.id ?? it.label.toLowerCase())}
                data-label={it.label}
                onClick={() => {
                  close(true);
                  it.run();
                }}
              >
                {it.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
