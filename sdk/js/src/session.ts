/**
 * session.ts - how session ids are spelled (docs/protocol.md wire ruling 7,
 * the same rules as src/proto/omtp_session.c): single chat
 * `SC_<lower>_<higher>` (byte order of the two user ids), group chat = the
 * group id (`GC_...`), business notices `BM_<appId>_<userId>`.
 */

/** Byte-order comparison of two strings (UTF-8), as the server orders ids. */
function byteLess(a: string, b: string): boolean {
    const ea = new TextEncoder().encode(a);
    const eb = new TextEncoder().encode(b);
    const n = Math.min(ea.length, eb.length);
    for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] < eb[i];
    return ea.length < eb.length;
}

export function singleSessionId(a: string, b: string): string {
    return byteLess(b, a) ? `SC_${b}_${a}` : `SC_${a}_${b}`;
}

export function bizSessionId(appId: string, userId: string): string {
    return `BM_${appId}_${userId}`;
}

export const isGroupId = (id: string): boolean => id.startsWith('GC_');

/** The other user of a single-chat session id of `me` (null if not one). */
export function peerOf(sessionId: string, me: string): string | null {
    if (!sessionId.startsWith('SC_')) return null;
    const rest = sessionId.slice(3);
    if (rest === `${me}_${me}`) return me;
    if (rest.startsWith(me + '_')) return rest.slice(me.length + 1);
    if (rest.endsWith('_' + me)) return rest.slice(0, rest.length - me.length - 1);
    return null;
}
