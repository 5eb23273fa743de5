// Message text with @mentions highlighted (mine stronger). Plain text only:
// no HTML is ever built from a message.
import { MENTION } from './format';

export function RichText({ text, me }: { text: string; me: string }) {
  const parts: (string | preact.JSX.Element)[] = [];
  let at = 0;
  for (const m of text.matchAll(MENTION)) {
    const start = (m.index ?? 0) + m[1].length;
    if (start > at) parts.push(text.slice(at, start));
    const id = m[2];
    parts.push(
      <mark class={'mention' + (id === me || id === 'all' ? ' me' : '')} data-testid="mention" key={start}>
        @{id}
      </mark>,
    );
    at = start + 1 + id.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}
