// The search box above the conversation list: full-text search over my
// conversations (PT_MSG_SEARCH); a result opens its conversation.
import { useState } from 'preact/hooks';
import type { Chat } from './chat';
import type { Msg } from './model';
import { listTime } from './format';

export function Search({ chat }: { chat: Chat }) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<Msg[] | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function run(e: Event) {
    e.preventDefault();
    const t = q.trim();
    if (!t) return setResults(null);
    setBusy(true);
    setError('');
    try {
      setResults(await chat.search(t));
    } catch (err) {
      setError('Search failed: ' + (err as Error).message);
      setResults(null);
    } finally {
      setBusy(false);
    }
  }

  function clear() {
    setQ('');
    setResults(null);
    setError('');
  }

  return (
    <div class="search">
      <form role="search" onSubmit={run}>
        <input
          type="search"
          aria-label="Search messages"
          placeholder="Search messages…"
          value={q}
          data-testid="search"
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => e.key === 'Escape' && clear()}
        />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
      {results && (
        <ul class="results" aria-label="Search results" data-testid="search-results">
          {results.length === 0 && <li class="muted pad">Nothing found.</li>}
          {results.map((m) => (
            <li key={m.key}>
              <button
                type="button"
                class="result"
                data-testid="search-result"
                data-session={m.sessionId}
                onClick={() => {
                  chat.open(m.sessionId);
                  clear();
                }}
              >
                <span class="conv-top">
                  <span class="conv-title">{chat.conv(m.sessionId).title}</span>
                  <time class="conv-time">{listTime(m.timestamp)}</time>
                </span>
                <span class="conv-last">
                  {m.from === chat.me ? 'You: ' : `${m.from}: `}
                  {m.content}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
