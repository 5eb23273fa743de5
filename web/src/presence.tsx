// The presence dot beside a person: online (a device in the foreground),
// away (devices online, none in the foreground), offline. Nothing is shown
// until the server told (no extension, not allowed to see). The state is
// in the accessible name, not only in the colour.
import type { Presence } from './model';

const LABEL: Record<Presence, string> = { online: 'online', away: 'away', offline: 'offline' };

export function Dot({ user, state }: { user: string; state?: Presence }) {
  if (!state) return null;
  return (
    <span
      class={'dot ' + state}
      role="img"
      aria-label={`${user} is ${LABEL[state]}`}
      title={LABEL[state]}
      data-testid="presence"
      data-user={user}
      data-state={state}
    />
  );
}
