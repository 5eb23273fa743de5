// The sign-in form: user id and password. The user id of the last sign-in
// is prefilled (chat.ts, rememberedUser); the password is never stored.
import { useState } from 'preact/hooks';
import { rememberedUser } from './chat';
import type { Chat } from './chat';

export function Login({ chat, onDone }: { chat: Chat; onDone: () => void }) {
  const [user, setUser] = useState(rememberedUser);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await chat.login(user.trim(), password);
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="login" onSubmit={submit} aria-labelledby="login-title">
      <h1 id="login-title">omtp chat</h1>
      <label>
        User
        <input
          name="user"
          autoComplete="username"
          required
          autoFocus={!user}
          value={user}
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          autoFocus={!!user}
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
      </label>
      {error && (
        <p class="error" role="alert" data-testid="login-error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
