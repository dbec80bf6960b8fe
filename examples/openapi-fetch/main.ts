// Against the demo server (`npm run demo` in a clone of silent-refresh), after `npm run build`:
//   npx tsx examples/openapi-fetch/main.ts
import { SessionExpiredError, createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from 'silent-refresh'
import { createApi } from './api.js'

const API = process.env.API_URL ?? 'http://localhost:3000'
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }) })
const api = createApi(manager, API)

const login = await fetch(`${API}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'demo', password: 'demo' }),
})
await manager.setTokens(fromTokenResponse((await login.json()) as OAuthTokenResponse))

try {
  const { data, error, response } = await api.GET('/api/me')
  if (error) console.log(`the API answered ${response.status}: ${error.error}`)
  else console.log(data.sub)
} catch (error) {
  // Thrown, not returned: no server answered this request (a network failure, or a session that ended).
  if (error instanceof SessionExpiredError) console.log('signed out: show the login')
  else throw error
} finally {
  manager.dispose()
}
