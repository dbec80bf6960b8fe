// Against the demo server (`npm run demo` in a clone of silent-refresh), after `npm run build`:
//   npx tsx examples/rtk-query/main.ts
import { createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from 'silent-refresh'
import { isAuthQueryError } from 'silent-refresh/rtk-query'
import { createStore } from './api.js'

const API = process.env.API_URL ?? 'http://localhost:3000'
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }) })
const { api, store } = createStore(manager, API)

const login = await fetch(`${API}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'demo', password: 'demo' }),
})
await manager.setTokens(fromTokenResponse((await login.json()) as OAuthTokenResponse))

const query = store.dispatch(api.endpoints.me.initiate())
const { data, error } = await query
if (isAuthQueryError(error, 'SESSION_EXPIRED')) console.log('signed out: show the login')
else if (error) console.log('the API failed', error)
else console.log(data)
query.unsubscribe()
manager.dispose()
