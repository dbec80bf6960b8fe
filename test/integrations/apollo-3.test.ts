// "silent-refresh/apollo" with Apollo Client 3 (3.14, installed as apollo-client-3):
// the entry's import of "@apollo/client/core" is pointed at it, so the same link
// code runs on Apollo 3's zen-observable chain, HttpLink and ApolloError.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTokenManager, refreshTokenGrant, SessionExpiredError, type TokenManager } from '../../src/index.js'
import { startGraphQLServer, type GraphQLServer } from '../helpers/graphql-server.js'
import { allSettledWithin } from '../helpers/token-server.js'

vi.mock('@apollo/client/core', async () => await import('apollo-client-3/core/index.js'))

const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = await import('apollo-client-3/core/index.js')
const { RetryLink } = await import('apollo-client-3/link/retry/index.js')
const { createAuthLink } = await import('../../src/integrations/apollo/index.js')

const ME = gql`
  query Me {
    me {
      sub
      gen
    }
  }
`

let server: GraphQLServer
const managers: TokenManager[] = []

beforeAll(async () => {
  server = await startGraphQLServer()
})
afterAll(() => server.close())
afterEach(() => {
  for (const manager of managers.splice(0)) manager.dispose()
  server.reset()
})

async function clientOf({ retry = false } = {}) {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: server.tokenUrl }), retry: { attempts: 1, baseDelayMs: 5 } })
  managers.push(manager)
  await manager.setTokens(server.issue())
  // Typed against Apollo 4 here (the repository's @apollo/client); at run time it is Apollo 3's.
  const auth = createAuthLink(manager) as unknown as InstanceType<typeof ApolloLink>
  expect(auth).toBeInstanceOf(ApolloLink) // Apollo 3's class: the mock is in place
  const links: InstanceType<typeof ApolloLink>[] = [auth, new HttpLink({ uri: server.graphqlUrl })]
  if (retry) links.unshift(new RetryLink({ delay: { initial: 1, max: 5, jitter: false }, attempts: { max: 4 } }))
  const client = new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from(links), queryDeduplication: false })
  return { manager, client, me: () => client.query<{ me: { gen: number } }>({ query: ME, fetchPolicy: 'no-cache' }) }
}

describe.each(['401', 'errors'] as const)('Apollo Client 3, a server that refuses with %s', (refusal) => {
  it('a burst of 30 after expiry: one refresh, 30 answers under the new token', async () => {
    server.state.refusal = refusal
    const { me } = await clientOf()
    server.expireAll()
    const results = await allSettledWithin(Array.from({ length: 30 }, () => me()), 15_000)
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.data.me.gen : r.reason))).toEqual(Array(30).fill(2))
    expect(server.stats.refreshCalls).toBe(1)
  })

  it('a late refusal after the refresh: retried at once, no second refresh', async () => {
    server.state.refusal = refusal
    const { client, me } = await clientOf()
    server.expireAll()
    const late = server.hold('Late')
    const slow = client.query<{ me: { gen: number } }>({ query: gql('query Late { me { sub gen } }'), fetchPolicy: 'no-cache' })
    await late.arrived
    expect((await me()).data.me.gen).toBe(2)
    late.release()
    expect((await slow).data.me.gen).toBe(2)
    expect(server.stats.refreshCalls).toBe(1)
  })
})

it('Apollo Client 3: a refresh refused for good is ApolloError.networkError, a SessionExpiredError; RetryLink adds no refresh', async () => {
  const { me } = await clientOf({ retry: true })
  server.expireAll()
  server.state.refreshMode = 'invalid_grant'
  const results = await allSettledWithin(Array.from({ length: 5 }, () => me()), 15_000)
  for (const result of results) {
    const error = (result as PromiseRejectedResult).reason as { name: string; networkError: unknown }
    expect(error.name).toBe('ApolloError')
    expect(error.networkError).toBeInstanceOf(SessionExpiredError)
  }
  expect(server.stats.refreshCalls).toBe(1)
  expect(server.log).toHaveLength(5)
})
