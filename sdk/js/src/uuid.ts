/**
 * uuid.ts - random UUID v4 (lowercase, 36 characters) for packIds. Uses
 * crypto.getRandomValues, which browsers offer also outside secure
 * contexts (crypto.randomUUID does not), and Node 20.
 */
export function uuid4(): string {
    const b = new Uint8Array(16);
    globalThis.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = '';
    for (let i = 0; i < 16; i++) {
        h += (b[i] + 0x100).toString(16).slice(1);
        if (i === 3 || i === 5 || i === 7 || i === 9) h += '-';
    }
    return h;
}
