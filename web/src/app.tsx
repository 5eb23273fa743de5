// The app shell: the login form until signed in, then the conversation list
// beside the open conversation (one or the other at phone width), a banner
// while the connection is down, and the new-group dialog.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Chat } from './chat';
import { Login } from './login';
import { ConvList } from './convlist';
import { Conversation } from './conversation';
import { GroupDialog } from './group';

export function App() {
  const chat = useMemo(() => new Chat(), []);
  const [, setRev] = useState(0);
  const [signedIn, setSignedIn] = useState(false);
  const [dialog, setDialog] = useState<'' | 'group' | 'members'>('');

  useEffect(() => chat.subscribe(() => setRev(chat.rev)), [chat]);

  if (!signedIn) {
    return <Login chat={chat} onDone={() => setSignedIn(true)} />;
  }

  const open = chat.openId ? chat.conv(chat.openId) : null;
  const unread = chat.list().reduce((n, c) => n + c.unread, 0);
  document.title = unread ? `(${unread}) omtp chat` : 'omtp chat';
  return (
    <div class={'shell' + (open ? ' has-open' : '')}>
      <Banner chat={chat} />
      <aside class="side" aria-label="Conversations">
        <header class="bar">
          <span class="me" data-testid="me">
            {chat.me}
          </span>
          <button type="button" onClick={() => setDialog('group')} data-testid="new-group">
            New group
          </button>
          <button
            type="button"
            class="link"
            onClick={() => {
              chat.logout();
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </header>
        <ConvList chat={chat} />
      </aside>
      <main class="main">
        {open ? (
          <Conversation key={open.sessionId} chat={chat} conv={open} onMembers={() => setDialog('members')} />
        ) : (
          <p class="center muted">Pick a conversation, or start one with a user id.</p>
        )}
      </main>
      {dialog && (
        <GroupDialog
          chat={chat}
          mode={dialog}
          groupId={open?.kind === 'group' ? open.sessionId : ''}
          onClose={() => setDialog('')}
        />
      )}
    </div>
  );
}

function Banner({ chat }: { chat: Chat }) {
  if (chat.link === 'online' || chat.link === 'connecting') return null;
  const text =
    chat.link === 'kicked'
      ? chat.linkDetail
      : chat.link === 'offline'
        ? 'Disconnected. Reload the page to sign in again.'
        : `Reconnecting… ${chat.linkDetail} Messages you send now are kept and sent when the connection is back.`;
  return (
    <div class={'banner ' + chat.link} role="status" aria-live="polite" data-testid="banner">
      {text}
    </div>
  );
}
