/**
 * files.ts - media files (docs/files.md): uploading bytes to omtpd's file
 * endpoints, their URLs, and the content JSON of a media message (DESIGN
 * "Media messages": contentType 2 voice, 3 image, 6 video, 7 file).
 *
 * The endpoints are on the same listener as the WebSocket (`ws_listen`,
 * beside /ws and the web app), so a browser uses its own origin:
 *   POST /v1/files?name=&mime=      the body is the file -> 201 UploadedFile
 *   GET  /v1/files/{fileId}         Range, ETag; [?access_token=] for <img>/<video>
 *   GET  /v1/files/{fileId}/thumb   an image's thumbnail (<= 320 px)
 * Authentication: the login token as `Authorization: Bearer` (or, for
 * elements that cannot send a header, the `access_token` query parameter,
 * RFC 6750 2.3). Everything here runs on the JS event loop.
 */

/** What the server answers for an upload (and what a media message carries). */
export interface UploadedFile {
    fileId: string;
    size: number;
    /** the type the server sniffed from the bytes (never the claimed one) */
    mime: string;
    sha256: string;
    name: string;
    width?: number;
    height?: number;
    /** set when the server made a thumbnail: GET /v1/files/{fileId}/thumb */
    thumbId?: string;
}

export type MediaKind = 'voice' | 'image' | 'video' | 'file';

export const CONTENT_TYPE: Record<MediaKind, number> = { voice: 2, image: 3, video: 6, file: 7 };

/** A media message's content, parsed (contentType 2/3/6/7). */
export interface MediaContent extends UploadedFile {
    durationMs?: number;
}

export interface UploadOptions {
    /** the original file name (a File's own name when omitted) */
    name?: string;
    /** what the client believes the type is (the server sniffs anyway) */
    mime?: string;
    /** called with bytes sent so far and the total (browsers: XMLHttpRequest progress) */
    onProgress?: (sent: number, total: number) => void;
    /** aborts the upload */
    signal?: AbortSignal;
}

/** An upload the server refused: `status` is the HTTP status, `code` its error code. */
export class FileError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
    ) {
        super(message);
        this.name = 'FileError';
    }
}

/** The HTTP base of the file endpoints for a ws:// or wss:// URL (same host and port). */
export function filesBaseOf(wsUrl: string): string {
    const u = new URL(wsUrl);
    const proto = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
    return `${proto}//${u.host}`;
}

/** The kind a sniffed MIME type suggests. */
export function kindOf(mime: string): MediaKind {
    if (/^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(mime)) return 'image';
    if (mime.startsWith('audio/')) return 'voice';
    if (mime.startsWith('video/')) return 'video';
    return 'file';
}

/** The content JSON of a media message for an uploaded file. */
export function mediaContent(f: UploadedFile, kind: MediaKind, extra: { durationMs?: number } = {}): string {
    const c: Record<string, unknown> = { fileId: f.fileId, name: f.name, size: f.size, mime: f.mime, sha256: f.sha256 };
    if ((kind === 'image' || kind === 'video') && f.width && f.height) {
        c.width = f.width;
        c.height = f.height;
    }
    if ((kind === 'voice' || kind === 'video') && extra.durationMs !== undefined) c.durationMs = Math.round(extra.durationMs);
    if ((kind === 'image' || kind === 'video') && f.thumbId) c.thumbId = f.thumbId;
    return JSON.stringify(c);
}

/** Parses a media message's content (null when it is not one). */
export function parseMedia(contentType: number, content: string): MediaContent | null {
    if (![2, 3, 6, 7].includes(contentType)) return null;
    try {
        const c = JSON.parse(content);
        if (!c || typeof c.fileId !== 'string' || !/^[0-9a-f]{32}$/.test(c.fileId)) return null;
        return {
            fileId: c.fileId,
            name: typeof c.name === 'string' ? c.name : 'file',
            size: Number(c.size) || 0,
            mime: typeof c.mime === 'string' ? c.mime : 'application/octet-stream',
            sha256: typeof c.sha256 === 'string' ? c.sha256 : '',
            width: Number(c.width) || undefined,
            height: Number(c.height) || undefined,
            thumbId: typeof c.thumbId === 'string' ? c.thumbId : undefined,
            durationMs: Number(c.durationMs) || undefined,
        };
    } catch {
        return null;
    }
}

/** A file's login token from LoginResp.extraData: a JSON object with "fileToken", or a bare token. */
export function fileTokenOf(extraData: string | undefined): string {
    if (!extraData) return '';
    if (extraData.startsWith('v1.')) return extraData;
    try {
        const o = JSON.parse(extraData);
        return o && typeof o.fileToken === 'string' ? o.fileToken : '';
    } catch {
        return '';
    }
}

type Body = Blob | ArrayBuffer | Uint8Array;

function sizeOf(b: Body): number {
    return b instanceof Uint8Array ? b.byteLength : b instanceof ArrayBuffer ? b.byteLength : (b as Blob).size;
}

function errorOf(status: number, text: string): FileError {
    try {
        const e = JSON.parse(text).error;
        if (e && e.message) return new FileError(status, e.code || String(status), e.message);
    } catch {
        /* not JSON */
    }
    return new FileError(status, String(status), text.trim() || `the server answered ${status}`);
}

/** POST /v1/files: XMLHttpRequest where there is one (progress), else fetch (Node). */
export function upload(base: string, token: string, data: Body, opts: UploadOptions = {}): Promise<UploadedFile> {
    const fileName = opts.name ?? ((data as { name?: string }).name || 'file');
    const q = new URLSearchParams({ name: fileName });
    const mime = opts.mime || (data as Blob).type || '';
    if (mime) q.set('mime', mime);
    const url = `${base}/v1/files?${q}`;
    const total = sizeOf(data);
    const XHR = (globalThis as { XMLHttpRequest?: typeof XMLHttpRequest }).XMLHttpRequest;
    if (XHR) {
        return new Promise((resolve, reject) => {
            const x = new XHR();
            x.open('POST', url);
            x.setRequestHeader('Authorization', `Bearer ${token}`);
            x.setRequestHeader('Content-Type', 'application/octet-stream');
            if (opts.onProgress) x.upload.onprogress = (e) => opts.onProgress!(e.loaded, e.lengthComputable ? e.total : total);
            x.onload = () => {
                if (x.status === 201) {
                    try {
                        resolve(JSON.parse(x.responseText));
                    } catch {
                        reject(new FileError(x.status, 'bad_answer', 'the server answered something that is not JSON'));
                    }
                } else reject(errorOf(x.status, x.responseText));
            };
            x.onerror = () => reject(new FileError(0, 'network', 'the upload failed: the connection was lost'));
            x.onabort = () => reject(new FileError(0, 'aborted', 'the upload was cancelled'));
            if (opts.signal) opts.signal.addEventListener('abort', () => x.abort(), { once: true });
            x.send(data as XMLHttpRequestBodyInit);
        });
    }
    return (async () => {
        const r = await fetch(url, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
            body: data as BodyInit,
            signal: opts.signal,
        });
        const text = await r.text();
        if (r.status !== 201) throw errorOf(r.status, text);
        if (opts.onProgress) opts.onProgress(total, total);
        return JSON.parse(text) as UploadedFile;
    })();
}

/** The URL of a file (or its thumbnail) for elements that cannot send a header. */
export function fileUrl(base: string, token: string, fileId: string, opts: { thumb?: boolean } = {}): string {
    const t = token ? `?access_token=${encodeURIComponent(token)}` : '';
    return `${base}/v1/files/${encodeURIComponent(fileId)}${opts.thumb ? '/thumb' : ''}${t}`;
}
