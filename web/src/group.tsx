// The dialog that creates a group (name + member ids) or adds members to
// the open group. A native <dialog> opened modally: focus stays inside and
// Escape closes it.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chat } from './chat';

export function GroupDialog(props: { chat: Chat; mode: 'group' | 'members'; groupId: string; onClose: () => void }) {
  const { chat, mode, groupId, onClose } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal?.();
    const onCancel = () => onClose();
    d.addEventListener('close', onCancel);
    return () => d.removeEventListener('close', onCancel);
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    const ids = members
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s && s !== chat.me);
    setBusy(true);
    setError('');
    try {
      if (mode === 'group') await chat.createGroup(name.trim(), ids);
      else await chat.addMembers(groupId, ids);
      ref.current?.close();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const title = mode === 'group' ? 'New group' : 'Add members';
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dlg-title" data-testid="group-dialog">
      <form onSubmit={submit}>
        <h2 id="dlg-title">{title}</h2>
        {mode === 'group' && (
          <label>
            Group name
            <input required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
        )}
        <label>
          Members (user ids, separated by spaces or commas)
          <input
            required={mode === 'members'}
            value={members}
            onInput={(e) => setMembers((e.target as HTMLInputElement).value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="button" class="link" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            {mode === 'group' ? 'Create' : 'Add'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
