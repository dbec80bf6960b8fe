// DPoP in a single-page app with several tabs: one key for every tab (IndexedDB),
// tokens bound to it from the code exchange on, a proof on every request.
// Type-checked with the repository (npm run typecheck); docs/dpop.md explains it.
import axios from 'axios'
import { createTokenManager, fromTokenResponse, refreshTokenGrant, webStorage } from 'silent-refresh'
import { attachAxios } from 'silent-refresh/axios'
import { crossTab } from 'silent-refresh/cross-tab'
import { dpop } from 'silent-refresh/dpop'

const AUTH = 'https://auth.example.com'
const SCOPE = 'my-app' // one key, one storage key, one cross-tab key: the tabs share the session and the key it is bound to

export const key = dpop({ key: SCOPE })

export const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: `${AUTH}/oauth/token`, clientId: 'spa', fetch: key.fetch }),
  storage: webStorage(localStorage, SCOPE),
  crossTab: crossTab({ key: SCOPE }),
  sender: key,
})

export const api = axios.create({ baseURL: 'https://api.example.com' })
attachAxios(api, manager) // Authorization: DPoP <token> and a DPoP proof on every attempt

/** The authorization request: `dpop_jkt` binds the code to the key as well (RFC 9449 §10). */
export async function authorizeUrl(state: string, codeChallenge: string): Promise<string> {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: 'spa',
    redirect_uri: `${location.origin}/callback`,
    scope: 'openid offline_access',
    state,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    dpop_jkt: await key.thumbprint(),
  })
  return `${AUTH}/authorize?${params.toString()}`
}

/** The code exchange, through key.fetch: the tokens it gives are bound to the key. */
export async function completeLogin(code: string, codeVerifier: string): Promise<void> {
  const response = await key.fetch(`${AUTH}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: 'spa', redirect_uri: `${location.origin}/callback`, code_verifier: codeVerifier }).toString(),
  })
  if (!response.ok) throw new Error(`login failed: ${response.status}`)
  await manager.setTokens(fromTokenResponse(await response.json()))
}

/** Sign-out: the manager forgets the tokens, and the key goes with them (a new login makes a new one). */
export const signOut = () => manager.clear()
