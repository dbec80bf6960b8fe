// Against the demo server (`npm run demo` in a clone of silent-refresh), after `npm run build`:
//   npx tsx examples/ofetch/main.ts
import { FetchError, ofetch } from 'ofetch'
import { SessionExpiredError, createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from 'silent-refresh'
import { createApi } from './api.js'

const API = process.env.API_URL ?? 'http://localhost:3000'
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }) })
const api = createApi(manager, API)

const login = await ofetch<OAuthTokenResponse>(`${API}/auth/login`, { method: 'POST', body: { username: 'demo', password: 'demo' } })
await manager.setTokens(fromTokenResponse(login))

try {
  console.log(await Promise.all(Array.from({ length: 5 }, () => api('/api/me'))))
} catch (error) {
  if (error instanceof SessionExpiredError) console.log('signed out: show the login')
  else if (error instanceof FetchError) console.log(`the API answered ${error.status}`)
  else throw error
} finally {
  manager.dispose()
}
