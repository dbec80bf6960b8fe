// Apollo Client 4 with "silent-refresh/apollo", against the local API beside this file:
//   npx tsx examples/graphql/apollo.ts
// Twenty queries meet an expired token at once: one refresh, twenty answers.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql, type TypedDocumentNode } from '@apollo/client'
import { RetryLink } from '@apollo/client/link/retry'
import { SessionExpiredError, createTokenManager, fromTokenResponse, isAuthError, refreshTokenGrant } from 'silent-refresh'
import { createAuthLink } from 'silent-refresh/apollo'
import { startLocalApi } from './local-api.js'

const api = await startLocalApi()
const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${api.origin}/auth/token` }) })

const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([
    // RetryLink first: each of its tries passes the auth link again. Auth errors are not worth a retry.
    new RetryLink({ attempts: { max: 3, retryIf: (error) => !isAuthError(error) } }),
    createAuthLink(manager),
    new HttpLink({ uri: `${api.origin}/graphql` }),
  ]),
  queryDeduplication: false, // twenty queries, not one shared
})
const ME: TypedDocumentNode<{ me: string }> = gql`
  query Me {
    me
  }
`

await manager.setTokens(fromTokenResponse(api.login('alice')))
api.expireTokens() // the server now refuses the access token, as when it expires

try {
  const answers = await Promise.all(Array.from({ length: 20 }, () => client.query({ query: ME, fetchPolicy: 'no-cache' })))
  console.log(`${answers.length} answers for ${answers[0]?.data?.me}, ${api.stats.refreshes} refresh`)
} catch (error) {
  // A refresh refused for good: Apollo Client hands you the SessionExpiredError itself.
  if (error instanceof SessionExpiredError) console.log('signed out: show the login page')
  else throw error
} finally {
  manager.dispose()
  await api.close()
}
