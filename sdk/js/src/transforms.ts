/**
 * transforms.ts - the optional payload transforms of docs/protocol.md
 * section 4, kept out of the minimal browser bundle:
 *
 *   COMPRESS = 1  zlib stream (RFC 1950), via CompressionStream('deflate');
 *                 decompression is capped (a bomb is refused after at most
 *                 the cap was produced)
 *   CRYPTO = 1    AES-256-GCM with the deployment key (64 hex digits):
 *                 payload = nonce (12) || ciphertext || tag (16), no AAD,
 *                 via WebCrypto
 *
 * Both APIs exist in current browsers and in Node >= 18, so this module has
 * no Node import. Usage:
 *   import { payloadTransforms } from '@omtp/client/transforms';
 *   new OmtpClient({ ..., transforms: payloadTransforms({ key: HEX }), compress: true })
 */
import type { PayloadTransforms } from './client.js';

async function pump(b: Uint8Array, ts: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }, cap: number): Promise<Uint8Array> {
    const w = ts.writable.getWriter();
    const done = w.write(b).then(() => w.close());
    done.catch(() => {});
    const r = ts.readable.getReader();
    const parts: Uint8Array[] = [];
    let n = 0;
    for (;;) {
        const { value, done: end } = await r.read();
        if (end) break;
        n += value.length;
        if (n > cap) {
            await r.cancel();
            throw new Error(`payload inflates beyond ${cap} bytes (max_frame)`);
        }
        parts.push(value);
    }
    await done;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
        out.set(p, o);
        o += p.length;
    }
    return out;
}

function hexKey(hex: string): Uint8Array {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('the AES key must be 64 hex digits (32 bytes)');
    const k = new Uint8Array(32);
    for (let i = 0; i < 32; i++) k[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return k;
}

export function payloadTransforms(opts: { key?: string } = {}): PayloadTransforms {
    const subtle = globalThis.crypto.subtle;
    const keyP = opts.key ? subtle.importKey('raw', hexKey(opts.key), 'AES-GCM', false, ['encrypt', 'decrypt']) : null;
    return {
        hasKey: !!keyP,
        compress: (b) => pump(b, new CompressionStream('deflate') as any, Infinity),
        decompress: (b, cap) => pump(b, new DecompressionStream('deflate') as any, cap),
        async encrypt(b) {
            if (!keyP) throw new Error('CRYPTO needs a key (payloadTransforms({key}))');
            const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
            const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, await keyP, b));
            const out = new Uint8Array(12 + ct.length);
            out.set(iv);
            out.set(ct, 12);
            return out;
        },
        async decrypt(b) {
            if (!keyP) throw new Error('the server sent an encrypted payload and no key is configured');
            if (b.length < 28) throw new Error('encrypted payload shorter than 28 bytes');
            return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: b.subarray(0, 12) }, await keyP, b.subarray(12)));
        },
    };
}
