// urql with its own authExchange, configured by "silent-refresh/urql", against the local API:
//   npx tsx examples/graphql/urql.ts
// Twenty queries meet an expired token: urql queues them behind one refresh.
import { Client, fetchExchange, gql } from '@urql/core'
import { authExchange } from '@urql/exchange-auth'
import { SessionExpiredError, createTokenManager, fromTokenResponse, refreshTokenGrant } from 'silent-refresh'
import { createAuthConfig } from 'silent-refresh/urql'
import { startLocalApi } from './local-api.js'

const api = await startLocalApi()
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${api.origin}/auth/token` }) })

const client = new Client({
  url: `${api.origin}/graphql`,
  // In Node there is no page origin: name the API's, or no token is sent.
  exchanges: [authExchange(createAuthConfig(manager, { allowedOrigins: [api.origin] })), fetchExchange],
  requestPolicy: 'network-only',
})
const ME = gql`
  query Me($tag: Int) {
    me(tag: $tag)
  }
`

await manager.setTokens(fromTokenResponse(api.login('alice')))
api.expireTokens() // the server now refuses the access token, as when it expires

// Distinct variables: urql would share identical queries in flight.
const results = await Promise.all(Array.from({ length: 20 }, (_, n) => client.query(ME, { tag: n }).toPromise()))
const failed = results.find((result) => result.error)
if (failed?.error?.networkError instanceof SessionExpiredError) console.log('signed out: show the login page')
else if (failed) throw failed.error
else console.log(`${results.length} answers for ${results[0]?.data?.me}, ${api.stats.refreshes} refresh`)
manager.dispose()
await api.close()
