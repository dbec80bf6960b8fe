import { useState } from 'react'
import { useSession, useTokenManager } from 'silent-refresh/react'
import { authFetch, signIn } from './auth.js'

export function App() {
  const session = useSession()
  if (session.status === 'loading') return <p role="status">Loading…</p>
  if (session.status === 'signedOut') return <SignIn expired={session.reason === 'expired'} />
  // 'refreshing' is still signed in: keep the app on screen; requests wait for the refresh on their own.
  return <Dashboard refreshing={session.status === 'refreshing'} offline={session.error !== undefined} />
}

function SignIn({ expired }: { expired: boolean }) {
  const [error, setError] = useState<string>()
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault()
        const form = new FormData(event.currentTarget)
        signIn(String(form.get('username')), String(form.get('password'))).catch((e: Error) => setError(e.message))
      }}
    >
      {expired && <p role="alert">Your session has expired. Sign in again.</p>}
      <input name="username" defaultValue="demo" aria-label="Username" />
      <input name="password" type="password" defaultValue="demo" aria-label="Password" />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  )
}

function Dashboard({ refreshing, offline }: { refreshing: boolean; offline: boolean }) {
  const manager = useTokenManager()
  const [result, setResult] = useState('')
  const load = async () => {
    // Twenty requests at once: if the token has expired, they share one refresh.
    const statuses = await Promise.all(Array.from({ length: 20 }, () => authFetch('/api/me').then((r) => r.status, () => 0)))
    setResult(`${statuses.filter((status) => status === 200).length} of 20 loaded`)
  }
  return (
    <main>
      <p role="status">{refreshing ? 'Signed in (refreshing…)' : 'Signed in'}</p>
      {offline && <p role="alert">Offline: the session is kept, the next request tries again.</p>}
      <button onClick={load}>Load 20</button>
      <output>{result}</output>
      <button onClick={() => void manager.clear()}>Sign out</button>
    </main>
  )
}
