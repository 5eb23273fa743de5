/**
 * tars.ts - the Tars (JCE) binary encoding, byte-compatible with omtp's C
 * codec (src/tars) and @tars/stream: docs/protocol.md section 5.
 *
 * One generic encoder/decoder walks the struct descriptors generated from
 * src/proto/omtp_schema.def (src/gen/schema.ts). Rules kept here:
 *  - integers in the narrowest width, 0 as ZeroTag; readers accept any width
 *    up to the field's own and refuse a wider one;
 *  - `long` (i64) values are JavaScript numbers: exact within +-(2^53 - 1),
 *    which holds every value omtpd produces (seqIds, ms and us timestamps,
 *    flags). A wider value on the wire is a decode error, never a silent
 *    rounding; encoding a non-safe integer throws;
 *  - strings are UTF-8 (String1 up to 255 bytes, else String4); bytes that
 *    are not valid UTF-8 decode with U+FFFD (a JS string cannot hold them);
 *  - writers emit every field in ascending tag order; readers skip unknown
 *    tags by wire type and take defaults for absent optional fields;
 *  - hostile input: every length/count is checked against the bytes present,
 *    nesting is limited to 32, errors name struct, field, tag and offset.
 *
 * Pure functions, no state: safe to use from anywhere.
 */

/** Field kinds of the schema (omtp_schema.def macros). */
export type FieldKind = 'i8' | 'i16' | 'i32' | 'i64' | 'str' | 'bytes' | 'strs' | 'mapstrs' | 'struct' | 'list';

/** [tag, name, kind, required (1/0), default, sub-struct] */
export type FieldDesc = [number, string, FieldKind, number, number?, StructDesc<any>?];

export interface StructDesc<T> {
    name: string;
    fields: FieldDesc[];
    /** phantom, for type inference only */
    readonly __t?: T;
}

/** A decode or encode failure; `message` names struct, field, tag and offset. */
export class TarsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'TarsError';
    }
}

export const MAX_DEPTH = 32;

const T_INT1 = 0,
    T_INT2 = 1,
    T_INT4 = 2,
    T_INT8 = 3,
    T_FLOAT = 4,
    T_DOUBLE = 5,
    T_STR1 = 6,
    T_STR4 = 7,
    T_MAP = 8,
    T_LIST = 9,
    T_SBEGIN = 10,
    T_SEND = 11,
    T_ZERO = 12,
    T_SIMPLE = 13;

const utf8enc = /* @__PURE__ */ new TextEncoder();
const utf8dec = /* @__PURE__ */ new TextDecoder('utf-8');

// ------------------------------------------------------------------ writer

/** Growable output buffer. */
export class TarsWriter {
    buf: Uint8Array;
    dv: DataView;
    len = 0;
    constructor(cap = 256) {
        this.buf = new Uint8Array(cap);
        this.dv = new DataView(this.buf.buffer);
    }
    private room(n: number): void {
        if (this.len + n <= this.buf.length) return;
        let cap = this.buf.length * 2;
        while (cap < this.len + n) cap *= 2;
        const nb = new Uint8Array(cap);
        nb.set(this.buf.subarray(0, this.len));
        this.buf = nb;
        this.dv = new DataView(nb.buffer);
    }
    bytes(): Uint8Array {
        return this.buf.slice(0, this.len);
    }
    u8(v: number): void {
        this.room(1);
        this.buf[this.len++] = v & 0xff;
    }
    raw(b: Uint8Array): void {
        this.room(b.length);
        this.buf.set(b, this.len);
        this.len += b.length;
    }
    head(tag: number, type: number): void {
        if (tag < 15) this.u8((tag << 4) | type);
        else if (tag <= 255) {
            this.u8(0xf0 | type);
            this.u8(tag);
        } else throw new TarsError(`tag ${tag} is above 255`);
    }
    int(tag: number, v: number): void {
        if (!Number.isSafeInteger(v)) throw new TarsError(`tag ${tag}: ${v} is not an integer within +-(2^53-1)`);
        if (v === 0) return this.head(tag, T_ZERO);
        if (v >= -128 && v <= 127) {
            this.head(tag, T_INT1);
            this.u8(v);
        } else if (v >= -32768 && v <= 32767) {
            this.head(tag, T_INT2);
            this.room(2);
            this.dv.setInt16(this.len, v);
            this.len += 2;
        } else if (v >= -2147483648 && v <= 2147483647) {
            this.head(tag, T_INT4);
            this.room(4);
            this.dv.setInt32(this.len, v);
            this.len += 4;
        } else {
            this.head(tag, T_INT8);
            this.room(8);
            this.dv.setBigInt64(this.len, BigInt(v));
            this.len += 8;
        }
    }
    str(tag: number, s: string): void {
        const b = utf8enc.encode(s);
        if (b.length <= 255) {
            this.head(tag, T_STR1);
            this.u8(b.length);
        } else {
            this.head(tag, T_STR4);
            this.room(4);
            this.dv.setUint32(this.len, b.length);
            this.len += 4;
        }
        this.raw(b);
    }
    simple(tag: number, b: Uint8Array): void {
        this.head(tag, T_SIMPLE);
        this.head(0, T_INT1);
        this.int(0, b.length);
        this.raw(b);
    }
}

function checkInt(v: unknown, kind: FieldKind, where: string): number {
    const n = v === undefined || v === null ? 0 : typeof v === 'boolean' ? (v ? 1 : 0) : (v as number);
    if (!Number.isSafeInteger(n)) throw new TarsError(`${where}: expected an integer, got ${String(v)}`);
    const lim = kind === 'i8' ? 0x80 : kind === 'i16' ? 0x8000 : kind === 'i32' ? 0x80000000 : 0;
    if (lim && (n < -lim || n >= lim)) throw new TarsError(`${where}: ${n} does not fit ${kind}`);
    return n;
}

function writeFields(w: TarsWriter, d: StructDesc<any>, v: any, depth: number): void {
    if (depth > MAX_DEPTH) throw new TarsError(`${d.name}: nested deeper than ${MAX_DEPTH}`);
    const o = v || {};
    for (const f of d.fields) {
        const [tag, name, kind, , def, sub] = f;
        let x = o[name];
        const where = `${d.name}.${name}`;
        switch (kind) {
            case 'i8':
            case 'i16':
            case 'i32':
            case 'i64':
                w.int(tag, checkInt(x === undefined ? def || 0 : x, kind, where));
                break;
            case 'str':
                w.str(tag, x === undefined || x === null ? '' : String(x));
                break;
            case 'bytes':
                w.simple(tag, x || new Uint8Array(0));
                break;
            case 'strs':
                x = x || [];
                w.head(tag, T_LIST);
                w.int(0, x.length);
                for (const s of x) w.str(0, String(s));
                break;
            case 'mapstrs': {
                const ent: [string, string[]][] = x instanceof Map ? [...x] : Object.entries(x || {});
                w.head(tag, T_MAP);
                w.int(0, ent.length);
                for (const [k, list] of ent) {
                    w.str(0, k);
                    w.head(1, T_LIST);
                    w.int(0, list.length);
                    for (const s of list) w.str(0, String(s));
                }
                break;
            }
            case 'struct':
                w.head(tag, T_SBEGIN);
                writeFields(w, sub!, x, depth + 1);
                w.head(0, T_SEND);
                break;
            case 'list':
                x = x || [];
                w.head(tag, T_LIST);
                w.int(0, x.length);
                for (const e of x) {
                    w.head(0, T_SBEGIN);
                    writeFields(w, sub!, e, depth + 1);
                    w.head(0, T_SEND);
                }
                break;
        }
    }
}

/**
 * Encodes `v` as a top-level struct (its fields alone). Absent fields are
 * written with their defaults (0, "", empty), so a Partial is fine.
 */
export function encode<T>(d: StructDesc<T>, v: Partial<T> | T): Uint8Array {
    const w = new TarsWriter();
    writeFields(w, d, v, 0);
    return w.bytes();
}

/** The struct with every field at its default. */
export function make<T>(d: StructDesc<T>, init?: Partial<T>): T {
    const o: any = {};
    for (const [, name, kind, , def, sub] of d.fields) {
        switch (kind) {
            case 'str':
                o[name] = '';
                break;
            case 'bytes':
                o[name] = new Uint8Array(0);
                break;
            case 'strs':
            case 'list':
                o[name] = [];
                break;
            case 'mapstrs':
                o[name] = new Map();
                break;
            case 'struct':
                o[name] = make(sub!);
                break;
            default:
                o[name] = def || 0;
        }
    }
    return Object.assign(o, init || {});
}

// ------------------------------------------------------------------ reader

export class TarsReader {
    pos = 0;
    dv: DataView;
    constructor(public b: Uint8Array) {
        this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    fail(why: string): never {
        throw new TarsError(`${why} at byte ${this.pos}`);
    }
    need(n: number): void {
        if (n < 0 || this.pos + n > this.b.length) this.fail(`truncated: ${n} bytes needed, ${this.b.length - this.pos} left`);
    }
    /** Reads a head; returns [tag, type] and advances. */
    head(): [number, number] {
        this.need(1);
        const h = this.b[this.pos++];
        const type = h & 15;
        let tag = h >> 4;
        if (tag === 15) {
            this.need(1);
            tag = this.b[this.pos++];
        }
        if (type === 14 || type === 15) {
            this.pos--;
            this.fail(`invalid wire type ${type}`);
        }
        return [tag, type];
    }
    peek(): [number, number, number] {
        const save = this.pos;
        const [tag, type] = this.head();
        const n = this.pos - save;
        this.pos = save;
        return [tag, type, n];
    }
    /** An integer of wire type `type`, at most `maxType` wide. */
    intOf(type: number, maxType: number, where: string): number {
        if (type === T_ZERO) return 0;
        if (type > T_INT8 || type > maxType) this.fail(`${where}: wire type ${type} where an integer of width ${1 << maxType} is declared`);
        const n = 1 << type;
        this.need(n);
        let v: number;
        switch (type) {
            case T_INT1:
                v = this.dv.getInt8(this.pos);
                break;
            case T_INT2:
                v = this.dv.getInt16(this.pos);
                break;
            case T_INT4:
                v = this.dv.getInt32(this.pos);
                break;
            default: {
                const big = this.dv.getBigInt64(this.pos);
                if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER))
                    this.fail(`${where}: ${big} is beyond the exact range of a JavaScript number`);
                v = Number(big);
            }
        }
        this.pos += n;
        return v;
    }
    /** The count of a container (integer at tag 0), checked. */
    count(where: string): number {
        const [tag, type] = this.head();
        if (tag !== 0) this.fail(`${where}: container count at tag ${tag}`);
        const n = this.intOf(type, T_INT4, where);
        if (n < 0) this.fail(`${where}: negative count ${n}`);
        if (n > this.b.length - this.pos) this.fail(`${where}: count ${n} exceeds the input`);
        return n;
    }
    strOf(type: number, where: string): string {
        let n: number;
        if (type === T_STR1) {
            this.need(1);
            n = this.b[this.pos++];
        } else if (type === T_STR4) {
            this.need(4);
            n = this.dv.getUint32(this.pos);
            this.pos += 4;
            if (n > 0x7fffffff) this.fail(`${where}: negative string length`);
        } else this.fail(`${where}: wire type ${type} where a string is declared`);
        this.need(n);
        const s = utf8dec.decode(this.b.subarray(this.pos, this.pos + n));
        this.pos += n;
        return s;
    }
    bytesOf(type: number, where: string): Uint8Array {
        if (type === T_SIMPLE) {
            const [t0, ty0] = this.head();
            if (t0 !== 0 || ty0 !== T_INT1) this.fail(`${where}: SimpleList without its Int1 head`);
            const n = this.count(where);
            this.need(n);
            const out = this.b.slice(this.pos, this.pos + n);
            this.pos += n;
            return out;
        }
        if (type === T_LIST) {
            const n = this.count(where);
            const out = new Uint8Array(n);
            for (let i = 0; i < n; i++) {
                const [t, ty] = this.head();
                if (t !== 0) this.fail(`${where}: list element at tag ${t}`);
                out[i] = this.intOf(ty, T_INT1, where);
            }
            return out;
        }
        this.fail(`${where}: wire type ${type} where vector<byte> is declared`);
    }
    skip(type: number, depth: number): void {
        if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
        switch (type) {
            case T_INT1:
            case T_INT2:
            case T_INT4:
            case T_INT8:
                this.need(1 << type);
                this.pos += 1 << type;
                return;
            case T_FLOAT:
                this.need(4);
                this.pos += 4;
                return;
            case T_DOUBLE:
                this.need(8);
                this.pos += 8;
                return;
            case T_STR1:
            case T_STR4:
                this.strOf(type, 'skipped field');
                return;
            case T_MAP: {
                const n = this.count('skipped map');
                for (let i = 0; i < n * 2; i++) {
                    const [t, ty] = this.head();
                    if (t !== (i & 1)) this.fail(`map entry at tag ${t}`);
                    this.skip(ty, depth + 1);
                }
                return;
            }
            case T_LIST: {
                const n = this.count('skipped list');
                for (let i = 0; i < n; i++) {
                    const [t, ty] = this.head();
                    if (t !== 0) this.fail(`list element at tag ${t}`);
                    this.skip(ty, depth + 1);
                }
                return;
            }
            case T_SBEGIN:
                this.skipToEnd(depth + 1);
                return;
            case T_SEND:
                this.fail('unexpected StructEnd');
            // falls through (fail throws)
            case T_ZERO:
                return;
            case T_SIMPLE:
                this.bytesOf(T_SIMPLE, 'skipped field');
                return;
        }
    }
    /** Skips fields up to and including the StructEnd of a nested struct. */
    skipToEnd(depth: number): void {
        for (;;) {
            const [, type] = this.head();
            if (type === T_SEND) return;
            this.skip(type, depth);
        }
    }
}

function readValue(r: TarsReader, f: FieldDesc, type: number, where: string, depth: number): any {
    const [, , kind, , , sub] = f;
    switch (kind) {
        case 'i8':
            return r.intOf(type, T_INT1, where);
        case 'i16':
            return r.intOf(type, T_INT2, where);
        case 'i32':
            return r.intOf(type, T_INT4, where);
        case 'i64':
            return r.intOf(type, T_INT8, where);
        case 'str':
            return r.strOf(type, where);
        case 'bytes':
            return r.bytesOf(type, where);
        case 'strs': {
            if (type !== T_LIST) r.fail(`${where}: wire type ${type} where a list is declared`);
            const n = r.count(where);
            const out: string[] = [];
            for (let i = 0; i < n; i++) {
                const [t, ty] = r.head();
                if (t !== 0) r.fail(`${where}: list element at tag ${t}`);
                out.push(r.strOf(ty, where));
            }
            return out;
        }
        case 'mapstrs': {
            if (type !== T_MAP) r.fail(`${where}: wire type ${type} where a map is declared`);
            const n = r.count(where);
            const out = new Map<string, string[]>();
            for (let i = 0; i < n; i++) {
                const [t, ty] = r.head();
                if (t !== 0) r.fail(`${where}: map key at tag ${t}`);
                const k = r.strOf(ty, where);
                const [t1, ty1] = r.head();
                if (t1 !== 1) r.fail(`${where}: map value at tag ${t1}`);
                out.set(k, readValue(r, [0, '', 'strs', 1], ty1, where, depth + 1));
            }
            return out;
        }
        case 'struct':
            if (type !== T_SBEGIN) r.fail(`${where}: wire type ${type} where a struct is declared`);
            return readFields(r, sub!, depth + 1, true);
        case 'list': {
            if (type !== T_LIST) r.fail(`${where}: wire type ${type} where a list is declared`);
            const n = r.count(where);
            const out: any[] = [];
            for (let i = 0; i < n; i++) {
                const [t, ty] = r.head();
                if (t !== 0) r.fail(`${where}: list element at tag ${t}`);
                if (ty !== T_SBEGIN) r.fail(`${where}[${i}]: wire type ${ty} where a struct is declared`);
                out.push(readFields(r, sub!, depth + 1, true));
            }
            return out;
        }
    }
}

function readFields(r: TarsReader, d: StructDesc<any>, depth: number, nested: boolean): any {
    if (depth > MAX_DEPTH) r.fail(`${d.name}: nested deeper than ${MAX_DEPTH}`);
    const o = make(d);
    for (const f of d.fields) {
        const [tag, name, , req] = f;
        let found = false;
        for (;;) {
            if (r.pos >= r.b.length) break;
            const [t, ty, hn] = r.peek();
            if (ty === T_SEND) {
                if (!nested) r.fail(`${d.name}: StructEnd at top level`);
                break;
            }
            if (t > tag) break;
            r.pos += hn;
            if (t < tag) {
                r.skip(ty, depth + 1);
                continue;
            }
            o[name] = readValue(r, f, ty, `${d.name}.${name} (tag ${tag})`, depth);
            found = true;
            break;
        }
        if (!found && req) r.fail(`${d.name}.${name} (tag ${tag}): required field missing`);
    }
    // unknown trailing fields
    for (;;) {
        if (r.pos >= r.b.length) {
            if (nested) r.fail(`${d.name}: missing StructEnd`);
            break;
        }
        const [, ty] = r.head();
        if (ty === T_SEND) {
            if (!nested) r.fail(`${d.name}: StructEnd at top level`);
            break;
        }
        r.skip(ty, depth + 1);
    }
    return o;
}

/** Decodes a top-level struct; throws TarsError naming what is wrong. */
export function decode<T>(d: StructDesc<T>, b: Uint8Array): T {
    return readFields(new TarsReader(b), d, 0, false);
}
