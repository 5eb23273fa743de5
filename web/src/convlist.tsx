// The conversation list: title (user, group name, business app), last
// message, its time and the unread count; a field to start a chat with a
// user id. Business notifications are their own conversations.
import { useState } from 'preact/hooks';
import type { Chat } from './chat';
import type { Conv } from './model';
import { listTime, previewOf } from './format';
import { Dot } from './presence';
import { Search } from './search';

export function ConvList({ chat }: { chat: Chat }) {
  const [peer, setPeer] = useState('');
  const convs = chat.list();

  function start(e: Event) {
    e.preventDefault();
    const p = peer.trim();
    if (!p || p === chat.me) return;
    chat.openUser(p);
    setPeer('');
  }

  return (
    <>
      <Search chat={chat} />
      <form class="start" onSubmit={start}>
        <input
          aria-label="Chat with user id"
          placeholder="Chat with user id…"
          value={peer}
          data-testid="start-peer"
          onInput={(e) => setPeer((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Open</button>
      </form>
      <ul class="convs" aria-label="Conversation list" data-testid="conv-list">
        {convs.length === 0 && <li class="muted pad">No conversations yet.</li>}
        {convs.map((c) => (
          <Item key={c.sessionId} chat={chat} c={c} />
        ))}
      </ul>
    </>
  );
}

function Item({ chat, c }: { chat: Chat; c: Conv }) {
  const last = c.msgs.filter((m) => m.seqId > 0).at(-1) ?? c.last;
  const preview = !last
    ? ''
    : last.status === 1
      ? 'Message revoked'
      : (last.from === chat.me ? 'You: ' : c.kind === 'group' ? `${last.from}: ` : '') + previewOf(last.contentType, last.content);
  const active = chat.openId === c.sessionId;
  const label = `${c.title}${c.kind === 'group' ? ' (group)' : c.kind === 'biz' ? ' (notifications)' : ''}${
    c.unread ? `, ${c.unread} unread` : ''
  }${c.mention ? ', mentions you' : ''}${c.kind === 'single' && chat.presenceOf(c.target) ? `, ${chat.presenceOf(c.target)}` : ''}`;
  return (
    <li>
      <button
        type="button"
        class={'conv' + (active ? ' active' : '')}
        aria-current={active ? 'true' : undefined}
        aria-label={label}
        data-testid="conv"
        data-session={c.sessionId}
        onClick={() => chat.open(c.sessionId)}
      >
        <span class={'avatar ' + c.kind} aria-hidden="true">
          {c.title.slice(0, 1).toUpperCase()}
          {c.kind === 'single' && <Dot user={c.target} state={chat.presenceOf(c.target)} />}
        </span>
        <span class="conv-body">
          <span class="conv-top">
            <span class="conv-title" data-testid="conv-title">
              {c.title}
            </span>
            <time class="conv-time">{last ? listTime(last.timestamp) : ''}</time>
          </span>
          <span class="conv-bottom">
            <span class="conv-last" data-testid="conv-last">
              {preview}
            </span>
            {c.mention > 0 && (
              <span class="badge mention" data-testid="mention-badge" title="You were mentioned">
                @
              </span>
            )}
            {c.unread > 0 && (
              <span class="badge" data-testid="unread">
                {c.unread}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}
