// Dates and times as the conversation list and the message view show them.

export function sameDay(a: number, b: number): boolean {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** "Today", "Yesterday", or a date: the day separator's label. */
export function dayLabel(ts: number, now = Date.now()): string {
  if (sameDay(ts, now)) return 'Today';
  if (sameDay(ts, now - 86400000)) return 'Yesterday';
  const d = new Date(ts);
  const opts: Intl.DateTimeFormatOptions = { weekday: 'short', day: 'numeric', month: 'short' };
  if (d.getFullYear() !== new Date(now).getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(undefined, opts);
}

export function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** The list's time column: a clock today, else a short date. */
export function listTime(ts: number, now = Date.now()): string {
  if (!ts) return '';
  if (sameDay(ts, now)) return clock(ts);
  return new Date(ts).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** The user ids a text mentions: "@bob" (ids end at a space or punctuation). */
export function mentionsIn(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(MENTION)) out.add(m[2] === 'all' ? '@all' : m[2]);
  return [...out];
}
/** "@id" at the start or after a space; the id is letters, digits, '-', '.'
 *  (not at its end). "@all" mentions everyone (group creator only). */
export const MENTION = /(^|\s)@([\p{L}\p{N}](?:[\p{L}\p{N}.\-]*[\p{L}\p{N}])?)/gu;

/** "1.5 MB" */
export function sizeText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

/** The text a message shows in the conversation list (media as "[image cat.jpg]"). */
export function previewOf(contentType: number, content: string): string {
  const kind: Record<number, string> = { 2: 'voice', 3: 'image', 6: 'video', 7: 'file' };
  if (!kind[contentType]) return content;
  try {
    return `[${kind[contentType]} ${JSON.parse(content).name ?? ''}]`;
  } catch {
    return `[${kind[contentType]}]`;
  }
}
