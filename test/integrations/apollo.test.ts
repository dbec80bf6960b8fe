// "silent-refresh/apollo" with the real Apollo Client 4 over real HTTP: a
// graphql-http server that refuses expired tokens with a 401, or with
// `UNAUTHENTICATED` in a 200 (both follow the stale-401 rule), and Apollo's own
// RetryLink in front to show its retries never multiply refreshes.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql, type TypedDocumentNode } from '@apollo/client'
import { RetryLink } from '@apollo/client/link/retry'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTokenManager, refreshTokenGrant, RefreshFailedError, SessionExpiredError, type TokenManager } from '../../src/index.js'
import { createAuthLink, type AuthLinkOptions } from '../../src/integrations/apollo/index.js'
import { startGraphQLServer, type GraphQLServer } from '../helpers/graphql-server.js'
import { allSettledWithin, errorText } from '../helpers/token-server.js'

type Me = { me: { sub: string; gen: number } }

const ME: TypedDocumentNode<Me> = gql`
  query Me {
    me {
      sub
      gen
    }
  }
`
const LATE: TypedDocumentNode<Me> = gql`
  query Late {
    me {
      sub
      gen
    }
  }
`
const RENAME = gql`
  mutation Rename($name: String!) {
    rename(name: $name)
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

async function signedIn(sub = 'alice') {
  // One try and one retry per refresh, close together: failures surface fast.
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: server.tokenUrl }), retry: { attempts: 1, baseDelayMs: 5 } })
  managers.push(manager)
  await manager.setTokens(server.issue(sub))
  return manager
}

function clientOf(manager: TokenManager, { retry, ...options }: AuthLinkOptions & { retry?: boolean } = {}) {
  const links = [createAuthLink(manager, options), new HttpLink({ uri: server.graphqlUrl })]
  // Apollo's RetryLink in front, as its docs place it: it retries whatever the auth link fails with.
  if (retry) links.unshift(new RetryLink({ delay: { initial: 1, max: 5, jitter: false }, attempts: { max: 4 } }))
  return new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from(links), queryDeduplication: false, defaultOptions: { query: { fetchPolicy: 'no-cache' } } })
}

const me = (client: ApolloClient) => client.query({ query: ME })

describe.each(['401', 'errors'] as const)('a server that refuses with %s', (refusal) => {
  it('a burst of 50 after expiry: one refresh, 50 answers under the new token', async () => {
    server.state.refusal = refusal
    const manager = await signedIn()
    const client = clientOf(manager)
    expect((await me(client)).data?.me).toEqual({ __typename: 'Viewer', sub: 'alice', gen: 1 })
    server.expireAll()
    const results = await allSettledWithin(Array.from({ length: 50 }, () => me(client)), 15_000)
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.data?.me.gen : r.reason))).toEqual(Array(50).fill(2))
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.stats.refused).toBe(50)
  })

  it('a late refusal, answered after the refresh: retried at once with the new token, no second refresh', async () => {
    server.state.refusal = refusal
    const manager = await signedIn()
    const client = clientOf(manager)
    server.expireAll()
    const late = server.hold('Late')
    const slow = client.query({ query: LATE })
    await late.arrived
    const burst = await allSettledWithin(Array.from({ length: 5 }, () => me(client)), 10_000)
    expect(burst.every((r) => r.status === 'fulfilled')).toBe(true)
    expect(server.stats.refreshCalls).toBe(1)
    late.release()
    expect((await slow).data?.me.gen).toBe(2)
    expect(server.stats.refreshCalls).toBe(1)
  })

  it('retries once: a second refusal comes back as Apollo gives it, without a second refresh', async () => {
    server.state.refusal = refusal
    const manager = await signedIn()
    const client = clientOf(manager)
    server.state.refuseAll = true
    const error = await me(client).then(
      () => null,
      (e: unknown) => e,
    )
    if (refusal === '401') expect(error).toMatchObject({ name: 'ServerError', statusCode: 401 })
    else expect(error).toMatchObject({ name: 'CombinedGraphQLErrors', errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] })
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.log.filter((entry) => entry.operationName === 'Me')).toHaveLength(2)
  })
})

describe('refresh failures in Apollo’s error model, with RetryLink in front', () => {
  it('refused for good: every operation fails with SessionExpiredError, one refresh, RetryLink sends nothing more', async () => {
    const manager = await signedIn()
    const client = clientOf(manager, { retry: true })
    server.expireAll()
    server.state.refreshMode = 'invalid_grant'
    const results = await allSettledWithin(
      Array.from({ length: 10 }, (_, i): Promise<unknown> => (i % 2 ? me(client) : client.mutate({ mutation: RENAME, variables: { name: `n${i}` } }))),
      15_000,
    )
    for (const result of results) {
      expect(result.status).toBe('rejected')
      const error = (result as PromiseRejectedResult).reason as unknown
      expect(error).toBeInstanceOf(SessionExpiredError)
      for (const token of server.issued) expect(errorText(error)).not.toContain(token)
    }
    expect(server.stats.refreshCalls).toBe(1)
    // Each operation went out once: RetryLink's retries failed at once, without a request or a refresh.
    expect(server.log).toHaveLength(10)
    expect(manager.getState()).toMatchObject({ status: 'signedOut', reason: 'expired' })
  })

  it('failed for now: RefreshFailedError, and RetryLink’s four tries make no more refreshes than one', async () => {
    const manager = await signedIn()
    const client = clientOf(manager, { retry: true })
    server.expireAll()
    server.state.refreshMode = '503'
    const results = await allSettledWithin(Array.from({ length: 10 }, () => me(client)), 15_000)
    for (const result of results) expect((result as PromiseRejectedResult).reason).toBeInstanceOf(RefreshFailedError)
    // One refresh: its first try and the manager's one retry.
    expect(server.stats.refreshCalls).toBe(2)
    expect(server.log).toHaveLength(10)
    // The session is kept: once the server is back, the same client works again.
    server.state.refreshMode = 'ok'
    await expect(manager.refresh()).resolves.toEqual(expect.any(String))
    expect((await me(client)).data?.me.gen).toBe(2)
  })
})

describe('sessions and origins', () => {
  it('an operation of a session that ended is handed back, never sent under the next session', async () => {
    const manager = await signedIn('alice')
    const client = clientOf(manager)
    server.expireAll()
    const late = server.hold('Late')
    const slow = client.query({ query: LATE })
    await late.arrived
    await manager.clear()
    await manager.setTokens(server.issue('bob'))
    late.release()
    await expect(slow).rejects.toMatchObject({ statusCode: 401 })
    expect(server.log.filter((entry) => entry.operationName === 'Late').map((entry) => entry.sub)).toEqual(['alice'])
    expect(server.stats.refreshCalls).toBe(0)
    expect((await me(client)).data?.me.sub).toBe('bob')
  })

  it('an operation whose context.uri names another origin gets no token, unless allowed', async () => {
    const manager = await signedIn()
    const other = server.graphqlUrl.replace('127.0.0.1', 'localhost')
    const denied = clientOf(manager)
    await expect(denied.query({ query: ME, context: { uri: other } })).rejects.toMatchObject({ statusCode: 401 })
    expect(server.log.at(-1)?.sub).toBeNull()
    expect(server.stats.refreshCalls).toBe(0)
    const allowed = clientOf(manager, { allowedOrigins: [new URL(other).origin] })
    expect((await allowed.query({ query: ME, context: { uri: other } })).data?.me.sub).toBe('alice')
  })

  it('context.skipAuth sends no token and never refreshes', async () => {
    const manager = await signedIn()
    const client = clientOf(manager)
    await expect(client.query({ query: ME, context: { skipAuth: true } })).rejects.toMatchObject({ statusCode: 401 })
    expect(server.log.at(-1)?.sub).toBeNull()
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('an operation unsubscribed while it waits for the refresh settles nothing and leaves the others alone', async () => {
    const manager = await signedIn()
    const client = clientOf(manager)
    server.expireAll()
    const refresh = server.holdRefresh()
    const watched = client.watchQuery({ query: ME, fetchPolicy: 'no-cache' })
    const seen: unknown[] = []
    const subscription = watched.subscribe({ next: (value) => seen.push(value), error: (error) => seen.push(error) })
    const other = me(client)
    await refresh.arrived
    subscription.unsubscribe()
    refresh.release()
    expect((await other).data?.me.gen).toBe(2)
    expect(seen.filter((value) => (value as { loading?: boolean }).loading === false)).toEqual([])
    expect(server.stats.refreshCalls).toBe(1)
  })

  it('throws at the call when wired without a manager', () => {
    expect(() => createAuthLink(undefined as unknown as TokenManager)).toThrow('createAuthLink(manager, options?): "manager" must be the token manager')
  })
})
