// graphql-ws with "silent-refresh/graphql-ws", against the local API:
//   npx tsx examples/graphql/graphql-ws.ts
// The server closes the socket (4403) when the token expires: one refresh, a
// reconnect with the new token, and the subscription goes on.
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import { createTokenManager, fromTokenResponse, refreshTokenGrant } from 'silent-refresh'
import { withAuth } from 'silent-refresh/graphql-ws'
import { startLocalApi } from './local-api.js'

const api = await startLocalApi()
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${api.origin}/auth/token` }) })
await manager.setTokens(fromTokenResponse(api.login('alice')))

// Browsers have a WebSocket; Node 20 needs the ws package (Node 22 has one too).
const client = createClient(withAuth(manager, { url: `${api.origin.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket }))

let ticks = 0
await new Promise<void>((resolve, reject) => {
  const stop = client.subscribe<{ clock: string }>(
    { query: 'subscription { clock }' },
    {
      next: () => {
        ticks++
        if (ticks === 3) api.closeSockets(4403) // as the server does when the token expires
        if (ticks === 6) {
          stop()
          resolve()
        }
      },
      error: reject, // a SessionExpiredError here: show the login page
      complete: () => {},
    },
  )
})
console.log(`${ticks} ticks across a reconnect, ${api.stats.refreshes} refresh`)
await client.dispose()
manager.dispose()
await api.close()
