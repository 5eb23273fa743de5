// Reactions under a message: one button per emoji with its count; who
// reacted is in the tooltip and the accessible name; pressed = mine, a
// click toggles mine. The small set offered in the message menu is EMOJI.
import type { Msg } from './model';

export const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

export function Reactions({ m, me, onToggle }: { m: Msg; me: string; onToggle: (emoji: string) => void }) {
  const list = Object.entries(m.reactions ?? {}).filter(([, who]) => who.length > 0);
  if (!list.length) return null;
  return (
    <div class="reactions" data-testid="reactions">
      {list.map(([emoji, who]) => {
        const mine = who.includes(me);
        const names = who.map((u) => (u === me ? 'you' : u)).join(', ');
        return (
          <button
            type="button"
            key={emoji}
            class={'reaction' + (mine ? ' mine' : '')}
            aria-pressed={mine}
            title={names}
            aria-label={`${emoji} ${who.length}: ${names}${mine ? ' (click to remove yours)' : ''}`}
            data-testid="reaction"
            data-emoji={emoji}
            data-count={who.length}
            onClick={() => onToggle(emoji)}
          >
            {emoji} <span class="count">{who.length}</span>
          </button>
        );
      })}
    </div>
  );
}
