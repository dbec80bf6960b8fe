// Against the demo server (`npm run demo` in a clone of silent-refresh), after `npm run build`:
//   npx tsx examples/tanstack-query/main.ts
// (In a React app the same client goes to <QueryClientProvider client={queryClient}>, and useQuery(meQuery(…)).)
import { createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'
import { createQueryClient, meQuery } from './queries.js'

const API = process.env.API_URL ?? 'http://localhost:3000'
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }) })
const authFetch = createAuthFetch(manager, { allowedOrigins: [API] })
const queryClient = createQueryClient(manager, () => console.log('signed out: show the login'))

const login = await fetch(`${API}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'demo', password: 'demo' }),
})
queryClient.clear() // a new user: nothing of the previous one
await manager.setTokens(fromTokenResponse((await login.json()) as OAuthTokenResponse))

console.log(await queryClient.fetchQuery(meQuery(authFetch, API)))
queryClient.clear()
manager.dispose()
