// "silent-refresh/graphql-ws" with the real graphql-ws client over a real
// WebSocket (the ws package) to a real graphql-ws server on a real port: the
// token in connection_init on every (re)connect, an auth close (4401, 4403) →
// one refresh shared with HTTP requests of the same manager → a reconnect, and
// the subscription goes on.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client'
import { createClient, type Client } from 'graphql-ws'
import WebSocket from 'ws'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTokenManager, refreshTokenGrant, RefreshFailedError, SessionExpiredError, type TokenManager } from '../../src/index.js'
import { createAuthLink } from '../../src/integrations/apollo/index.js'
import { withAuth, type WsAuthOptions } from '../../src/integrations/graphql-ws/index.js'
import { startGraphQLServer, type GraphQLServer } from '../helpers/graphql-server.js'
import { allSettledWithin, errorText, until } from '../helpers/token-server.js'

type Tick = { n: number; sub: string }

let server: GraphQLServer
const managers: TokenManager[] = []
const clients: Client[] = []

beforeAll(async () => {
  server = await startGraphQLServer()
})
afterAll(() => server.close())
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()))
  for (const manager of managers.splice(0)) manager.dispose()
  server.reset()
})

async function signedIn(sub = 'alice') {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: server.tokenUrl }), retry: { attempts: 1, baseDelayMs: 5 } })
  managers.push(manager)
  await manager.setTokens(server.issue(sub))
  return manager
}

/**
 * A graphql-ws client configured as apps often do: retry on every error (graphql-ws's default retries
 * closes only), and at once (graphql-ws waits 1–4 s) to keep the tests short.
 */
function clientOf(manager: TokenManager, extra: { closed?: (event: unknown) => void } = {}, options?: WsAuthOptions) {
  const client = createClient(
    withAuth(manager, { url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 3, shouldRetry: () => true, retryWait: async () => {}, on: { closed: extra.closed } }, options),
  )
  clients.push(client)
  return client
}

/** Subscribes to the ticks; what arrives is observable, and `next()` waits for the next event. */
function ticks(client: Client) {
  const seen = { values: [] as Tick[], errors: [] as unknown[], completed: false }
  let wake: (() => void) | undefined
  const event = () => wake?.()
  const dispose = client.subscribe<{ ticks: Tick }>(
    { query: 'subscription { ticks { n sub } }' },
    {
      next: (result) => {
        if (result.data) seen.values.push(result.data.ticks)
        event()
      },
      error: (error) => {
        seen.errors.push(error)
        event()
      },
      complete: () => {
        seen.completed = true
        event()
      },
    },
  )
  const settled = async (check: () => boolean, what: string) => {
    const deadline = setTimeout(() => wake?.(), 10_000)
    try {
      while (!check()) {
        const before = Date.now()
        await new Promise<void>((resolve) => (wake = resolve))
        if (!check() && Date.now() - before >= 9_999) throw new Error(`timed out waiting for ${what}`)
      }
    } finally {
      clearTimeout(deadline)
    }
  }
  return { seen, dispose, settled }
}

/** Publishes tick `n` once the server has `subscriptions` subscriptions, and waits for it to arrive. */
async function tick(stream: ReturnType<typeof ticks>, n: number, subscriptions: number) {
  await until(() => server.stats.subscribed === subscriptions, 10_000, `subscription ${subscriptions}`)
  server.publish(n)
  await stream.settled(() => stream.seen.values.some((value) => value.n === n) || stream.seen.errors.length > 0, `tick ${n}`)
}

describe.each([4401, 4403])('the server closes the socket with %i when the token expires', (code) => {
  it('one refresh, a reconnect with the new token, and the subscription goes on', async () => {
    const manager = await signedIn()
    const closes: unknown[] = []
    const stream = ticks(clientOf(manager, { closed: (event) => closes.push((event as { code: number }).code) }))
    await tick(stream, 1, 1)
    server.expireAll()
    server.closeSockets(code, 'Token expired')
    await tick(stream, 2, 2)
    expect(stream.seen).toEqual({ values: [{ n: 1, sub: 'alice' }, { n: 2, sub: 'alice' }], errors: [], completed: false })
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.connections).toEqual([{ sub: 'alice', gen: 1 }, { sub: 'alice', gen: 2 }])
    // Your own on.closed sees the close as the server sent it.
    expect(closes).toEqual([code])
  })
})

describe('refresh failures end the subscription with the typed error, once', () => {
  it('refused for good: SessionExpiredError to the sink, one refresh, no reconnect under no session', async () => {
    const manager = await signedIn()
    const stream = ticks(clientOf(manager))
    await tick(stream, 1, 1)
    server.expireAll()
    server.state.refreshMode = 'invalid_grant'
    server.closeSockets(4401, 'Token expired')
    await stream.settled(() => stream.seen.errors.length > 0, 'the error')
    expect(stream.seen.errors).toHaveLength(1)
    expect(stream.seen.errors[0]).toBeInstanceOf(SessionExpiredError)
    for (const token of server.issued) expect(errorText(stream.seen.errors[0])).not.toContain(token)
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.stats.wsConnected).toBe(1)
  })

  it('failed for now: RefreshFailedError to the sink, and graphql-ws’s retries make no more refreshes', async () => {
    const manager = await signedIn()
    const stream = ticks(clientOf(manager))
    await tick(stream, 1, 1)
    server.expireAll()
    server.state.refreshMode = '503'
    server.closeSockets(4403, 'Token expired')
    await stream.settled(() => stream.seen.errors.length > 0, 'the error')
    expect(stream.seen.errors).toEqual([expect.any(RefreshFailedError)])
    expect(server.stats.refreshCalls).toBe(2) // one refresh: its try and the manager's one retry
    expect(server.stats.wsConnected).toBe(1)
  })
})

describe('one manager for HTTP and WebSocket', () => {
  it('an auth close while HTTP requests wait for the refresh joins that refresh: one in all', async () => {
    const manager = await signedIn()
    const http = new ApolloClient({
      cache: new InMemoryCache(),
      link: ApolloLink.from([createAuthLink(manager), new HttpLink({ uri: server.graphqlUrl })]),
      queryDeduplication: false,
    })
    const stream = ticks(clientOf(manager))
    await tick(stream, 1, 1)
    const refreshing: string[] = []
    manager.on('unauthorized', ({ outcome }) => refreshing.push(outcome))
    server.expireAll()
    const refresh = server.holdRefresh()
    const queries = Array.from({ length: 10 }, () => http.query({ query: gql`query Me { me { sub gen } }`, fetchPolicy: 'no-cache' }))
    await refresh.arrived
    server.closeSockets(4401, 'Token expired')
    // Ten 401s and the close, all waiting on the one refresh the server holds.
    await until(() => refreshing.length === 11, 10_000, 'the eleventh refusal')
    refresh.release()
    const results = await allSettledWithin(queries, 10_000)
    expect(results.map((r) => (r.status === 'fulfilled' ? (r.value.data as { me: { gen: number } }).me.gen : r.reason))).toEqual(Array(10).fill(2))
    await tick(stream, 2, 2)
    expect(stream.seen.values.map((value) => value.n)).toEqual([1, 2])
    expect(server.stats.refreshCalls).toBe(1)
    expect(refreshing).toEqual(Array(11).fill('refresh'))
  })

  it('a reconnect for another reason sends the token the manager has now', async () => {
    const manager = await signedIn()
    const stream = ticks(clientOf(manager))
    await tick(stream, 1, 1)
    server.expireAll() // the open connection stays authenticated: tokens are checked at connection_init
    await manager.refresh() // as an HTTP request would have
    server.closeSockets(1012, 'Service Restart')
    await tick(stream, 2, 2)
    expect(server.connections.map((connection) => connection.gen)).toEqual([1, 2])
    expect(server.stats.refreshCalls).toBe(1)
    expect(stream.seen.errors).toEqual([])
  })
})

describe('sessions', () => {
  it('when the session ends, the socket closes and its subscription ends: nothing goes on under the next login', async () => {
    const manager = await signedIn('alice')
    const client = clientOf(manager)
    const stream = ticks(client)
    await tick(stream, 1, 1)
    await manager.clear()
    await stream.settled(() => stream.seen.errors.length > 0, 'the close')
    expect(stream.seen.errors).toEqual([expect.objectContaining({ code: 4005, reason: 'Session ended' })])
    await manager.setTokens(server.issue('bob'))
    const next = ticks(client)
    await tick(next, 2, 2)
    expect(next.seen.values).toEqual([{ n: 2, sub: 'bob' }])
    expect(server.connections.map((connection) => connection.sub)).toEqual(['alice', 'bob'])
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('signed out: connects without a token; the server’s refusal comes back as it is, with no refresh', async () => {
    const manager = await signedIn()
    await manager.clear()
    const stream = ticks(clientOf(manager))
    await stream.settled(() => stream.seen.errors.length > 0, 'the refusal')
    expect(stream.seen.errors).toEqual([expect.objectContaining({ code: 4403 })])
    expect(server.stats.wsRefused).toBe(1)
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('the token goes in the connection_init fields you name, beside your own connectionParams', async () => {
    const manager = await signedIn()
    let connected = 0
    const client = createClient(
      withAuth(manager, { url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: async () => ({ app: 'test' }), on: { connected: () => connected++ } }, {
        params: (token) => ({ Authorization: `Bearer ${token}`, token }),
      }),
    )
    clients.push(client)
    const stream = ticks(client)
    await tick(stream, 1, 1)
    expect(server.initFields).toEqual([['app', 'Authorization', 'token']])
    expect(connected).toBe(1) // your own listeners still run
  })

  it('throws at the call when wired without a manager or without client options', async () => {
    expect(() => withAuth(undefined as unknown as TokenManager, { url: server.wsUrl })).toThrow('withAuth(manager, clientOptions, options?): "manager" must be')
    const manager = await signedIn()
    expect(() => withAuth(manager, undefined as never)).toThrow('"clientOptions" must be the options of createClient(), with a url')
  })
})
