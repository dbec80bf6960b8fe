// Against the demo server (`npm run demo` in a clone of silent-refresh), after `npm run build`:
//   npx tsx examples/ky/main.ts
import ky, { HTTPError } from 'ky'
import { SessionExpiredError, createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from 'silent-refresh'
import { createApi } from './api.js'

const API = process.env.API_URL ?? 'http://localhost:3000'
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }) })
const api = createApi(manager, API)

const login = await ky.post(`${API}/auth/login`, { json: { username: 'demo', password: 'demo' } }).json<OAuthTokenResponse>()
await manager.setTokens(fromTokenResponse(login))

try {
  const results = await Promise.all(Array.from({ length: 5 }, () => api.get('api/me').json()))
  console.log(results)
} catch (error) {
  if (error instanceof SessionExpiredError) console.log('signed out: show the login')
  else if (error instanceof HTTPError) console.log(`the API answered ${error.response.status}`)
  else throw error
} finally {
  manager.dispose()
}
