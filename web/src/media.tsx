// Media messages (DESIGN "Media messages": contentType 2 voice, 3 image,
// 6 video, 7 file): an image shows its thumbnail and opens full size on
// click (Escape or a click closes it); voice and video play in the
// browser's own players (the file URL answers Range requests, so seeking
// works); any other file shows its name, size and a download link.
import { useEffect, useState } from 'preact/hooks';
import { parseMedia } from '@omtp/client';
import type { Chat } from './chat';
import { sizeText } from './format';

export function isMedia(contentType: number, content: string): boolean {
  return parseMedia(contentType, content) !== null;
}

export function Media({ chat, contentType, content }: { chat: Chat; contentType: number; content: string }) {
  const f = parseMedia(contentType, content);
  const [full, setFull] = useState(false);
  useEffect(() => {
    if (!full) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setFull(false);
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [full]);
  if (!f) return null;
  const url = chat.fileUrl(f.fileId);
  const label = `${f.name} (${sizeText(f.size)})`;
  if (contentType === 3) {
    const w = f.width && f.height ? Math.min(240, f.width) : 240;
    const h = f.width && f.height ? Math.round((w * f.height) / f.width) : undefined;
    return (
      <>
        <button type="button" class="thumb" aria-label={`Open the image ${f.name}`} onClick={() => setFull(true)} data-testid="msg-image-open">
          <img src={f.thumbId ? chat.fileUrl(f.fileId, true) : url} alt={f.name} width={w} height={h} loading="lazy" data-testid="msg-image" />
        </button>
        {full && (
          <div class="viewer" role="dialog" aria-label={`Image ${f.name}`} onClick={() => setFull(false)} data-testid="viewer">
            <img src={url} alt={f.name} data-testid="viewer-image" />
            <a href={url} download={f.name} onClick={(e) => e.stopPropagation()}>
              Download {label}
            </a>
          </div>
        )}
      </>
    );
  }
  if (contentType === 2)
    return (
      <span class="media">
        <audio controls preload="metadata" src={url} aria-label={`Voice message ${f.name}`} data-testid="msg-audio" />
      </span>
    );
  if (contentType === 6)
    return (
      <span class="media">
        <video controls preload="metadata" src={url} width={Math.min(320, f.width || 320)} aria-label={`Video ${f.name}`} data-testid="msg-video" />
      </span>
    );
  return (
    <span class="file" data-testid="msg-file">
      <span aria-hidden="true">📄 </span>
      <a href={url} download={f.name} data-testid="msg-file-link">
        {f.name}
      </a>{' '}
      <span class="muted small" data-testid="msg-file-size">
        {sizeText(f.size)}
      </span>
    </span>
  );
}
