// The session, created once when the app loads (never inside a component).
import { createTokenManager, fromTokenResponse, refreshTokenGrant, webStorage, type OAuthTokenResponse } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

export const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: '/auth/token' }),
  storage: webStorage(localStorage), // the session survives a reload
})

/** fetch with the token: relative URLs (this page's origin) get it, nothing else does. */
export const authFetch = createAuthFetch(manager)

export async function signIn(username: string, password: string): Promise<void> {
  const response = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!response.ok) throw new Error(`Sign-in failed (${response.status})`)
  await manager.setTokens(fromTokenResponse((await response.json()) as OAuthTokenResponse))
}
