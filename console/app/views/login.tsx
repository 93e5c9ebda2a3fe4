/** @jsxImportSource preact */
// The login page: the same users and passwords as DS CLI and the REST API.
import { useState } from "preact/hooks";
import { useConsoleStore, useStore } from "../hooks.js";

export function LoginView() {
  const store = useConsoleStore();
  const because = useStore((state) => state.signedOutBecause);
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      await store.signIn(user, password);
    } catch (error) {
      setFailure((error as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form aria-label="Log in" onSubmit={submit}>
        <h1>tzero Copy Services</h1>
        <p class="muted">Log in with a DS CLI user (mkuser).</p>
        {because !== null && <p class="notice" role="status">Logged out: {because}</p>}
        <label for="login-user">User</label>
        <input id="login-user" name="user" autoComplete="username" required value={user} onInput={(event) => setUser((event.currentTarget as HTMLInputElement).value)} />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autoComplete="current-password" required value={password}
          onInput={(event) => setPassword((event.currentTarget as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={busy}>{busy ? "Logging in…" : "Log in"}</button>
        {failure !== null && <p class="errors" role="alert">{failure}</p>}
      </form>
    </main>
  );
}
