// The sign-in form: user id and password; "remember me" keeps the login
// token the server hands out (never the password) in this browser.
import { useState } from 'preact/hooks';
import type { Chat } from './chat';

export function Login({ chat, onDone }: { chat: Chat; onDone: () => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await chat.login(user.trim(), { password }, remember);
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
          autoFocus
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
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="check">
        <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />
        Keep me signed in on this browser
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
