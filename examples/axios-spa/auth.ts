// An SPA with axios: tokens in memory (the safest place in a browser), one
// refresh for any burst of 401s, and a redirect to the login page when the
// session is over. Import `api`, `signIn` and `signOut` from the rest of the app.
import axios from 'axios'
import { SessionExpiredError, createTokenManager, refreshTokenGrant } from 'silent-refresh'
import { attachAxios } from 'silent-refresh/axios'

export const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: '/auth/token' }),
  // memoryStorage() is the default. For sessions that survive a reload, pass
  // webStorage(window.localStorage) — weigh that against XSS — or keep the
  // refresh token in an HttpOnly cookie (see the README's FAQ).
})

/** The API client: relative URLs (this page's origin) get the token, nothing else does. */
export const api = axios.create({ baseURL: '/api' })
attachAxios(api, manager)

interface TokenResponse {
  access_token: string
  refresh_token: string
  expires_in: number
}

export async function signIn(username: string, password: string): Promise<void> {
  // Plain axios, not `api`: no token goes with the password, and a 401 here is not a refresh case.
  const { data } = await axios.post<TokenResponse>('/auth/login', { username, password })
  await manager.setTokens({ accessToken: data.access_token, refreshToken: data.refresh_token, expiresIn: data.expires_in })
}

export async function signOut(): Promise<void> {
  await manager.clear()
}

// The one place that decides what "session over" looks like.
manager.on('signedOut', ({ reason }) => {
  if (reason !== 'cleared') window.location.assign('/login?expired=1')
})

/** Any call: refreshed silently when needed; a SessionExpiredError means "show the login". */
export async function loadProfile(): Promise<{ sub: string } | null> {
  try {
    const { data } = await api.get<{ sub: string }>('/me')
    return data
  } catch (error) {
    if (error instanceof SessionExpiredError) return null
    throw error
  }
}
