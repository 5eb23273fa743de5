// The open conversation: history loaded as you scroll up, day separators,
// my messages marked pending / sent / delivered / read, a menu per message
// (revoke, edit, delete; keyboard: Enter or Space opens it, arrows move,
// Escape closes), and the composer (Enter sends, Shift+Enter is a newline).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Chat } from './chat';
import type { Conv, Msg } from './model';
import { clock, dayLabel, sameDay } from './format';

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
  const [notice, setNotice] = useState('');
  const atBottom = useRef(true);
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
    chat.send(conv.sessionId, t);
    setText('');
  }

  function onKey(e: KeyboardEvent) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && editing) {
      setEditing(null);
      setText('');
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
        onRevoke={() => chat.revoke(m).catch((e) => setNotice('Revoke failed: ' + e.message))}
        onDelete={() => chat.remove(m).catch((e) => setNotice('Delete failed: ' + e.message))}
        onEdit={() => {
          setEditing(m);
          setText(m.content);
          input.current?.focus();
        }}
      />,
    );
  }

  return (
    <section class="conversation" aria-label={`Conversation with ${conv.title}`} data-testid="conversation">
      <header class="bar">
        <button type="button" class="back" aria-label="Back to the conversation list" onClick={() => chat.close()}>
          ←
        </button>
        <h2 class="title" data-testid="conv-open-title">
          {conv.title}
          {conv.kind === 'biz' && <span class="muted"> · notifications</span>}
        </h2>
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
      {notice && (
        <p class="error pad" role="alert">
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
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            onKeyDown={onKey}
          />
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

function Message(props: {
  m: Msg;
  mine: boolean;
  group: boolean;
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
      <div class="bubble">
        {group && !mine && <span class="from">{m.from}</span>}
        <span class="text" data-testid="msg-text">
          {revoked ? (mine ? 'You revoked a message' : 'Message revoked') : m.content}
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
      </div>
      {m.seqId > 0 && !revoked && (
        <Menu
          items={[
            ...(mine ? [{ label: 'Edit', run: props.onEdit }, { label: 'Revoke', run: props.onRevoke }] : []),
            { label: 'Delete', run: props.onDelete },
          ]}
        />
      )}
    </li>
  );
}

/** A menu button: aria menu pattern (Enter/Space/ArrowDown opens, arrows
 *  move, Enter picks, Escape closes and returns focus). */
function Menu({ items }: { items: { label: string; run: () => void }[] }) {
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
                data-testid={'menu-' + it.label.toLowerCase()}
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
