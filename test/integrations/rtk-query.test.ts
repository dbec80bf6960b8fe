// RTK Query with "silent-refresh/rtk-query" (createAuthBaseQuery: fetchBaseQuery
// on the manager), over real HTTP, with the store of examples/rtk-query/api.ts
// and docs/integrations/rtk-query.md.
import { configureStore } from '@reduxjs/toolkit'
import { createApi, fetchBaseQuery, retry } from '@reduxjs/toolkit/query'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createAuthBaseQuery, isAuthQueryError } from '../../src/integrations/rtk-query/index.js'
import { createStore } from '../../examples/rtk-query/api.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { CORE_ATTEMPTS, range, signedIn } from './harness.js'

let server: TokenServer
const disposers: (() => void)[] = []
const cleanup = (dispose: () => void) => disposers.push(dispose)

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(() => server.close())
beforeEach(() => server.reset())
afterEach(() => {
  for (const dispose of disposers.splice(0)) dispose()
  vi.restoreAllMocks()
})

async function app(options: { hold?: boolean } = {}) {
  const session = await signedIn(server, cleanup)
  const { api, store } = createStore(session.manager, server.url, { fetchFn: options.hold ? session.fetch : undefined })
  cleanup(() => store.dispatch(api.util.resetApiState()))
  const me = async (id: number) => {
    const query = store.dispatch(api.endpoints.me.initiate(id))
    const result = await query
    query.unsubscribe()
    return result
  }
  return { ...session, api, store, me }
}

const expired = {
  status: 'CUSTOM_ERROR',
  error: 'Session expired; sign in again',
  data: { name: 'SessionExpiredError', code: 'SESSION_EXPIRED' },
}

describe('RTK Query with createAuthBaseQuery', () => {
  test('a burst of 50 queries after expiry: one refresh, 50 successes', async () => {
    const { me } = await app()
    server.expireAll()
    const results = await Promise.all(range(50).map((i) => me(i)))
    expect(results.map((r) => r.data?.sub)).toEqual(range(50).map(() => 'alice'))
    expect(server.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 50, authorized: 50 })
  })

  test('a 401 that arrives after the refresh is retried with the new token: no second refresh', async () => {
    const session = await app({ hold: true })
    server.expireAll()
    const late = session.holdFirst('/api/me')
    const slow = session.me(1)
    await late.arrived
    expect((await session.me(2)).data?.sub).toBe('alice')
    late.release()
    expect((await slow).data?.sub).toBe('alice')
    expect(server.stats.refreshCalls).toBe(1)
    expect(session.outcomes).toEqual(['refresh', 'retry'])
  })

  test('a refused refresh: { error } with the SessionExpiredError as data, serializable, once per query, not retried', async () => {
    const consoleError = vi.spyOn(console, 'error')
    const consoleWarn = vi.spyOn(console, 'warn')
    const { me, store, api } = await app()
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const results = await Promise.all(range(5).map((i) => me(i)))
    for (const result of results) {
      expect(result.error).toEqual(expired)
      expect(isAuthQueryError(result.error, 'SESSION_EXPIRED')).toBe(true)
      expect(isAuthQueryError(result.error, 'REFRESH_FAILED')).toBe(false)
    }
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.requests('/api/me')).toHaveLength(5) // the retry() wrapper left them alone
    // In the store as it is: plain data (RTK's serializability check said nothing).
    expect(api.endpoints.me.select(0)(store.getState()).error).toEqual(expired)
    expect(JSON.parse(JSON.stringify(store.getState()))).toEqual(store.getState())
    expect(consoleError).not.toHaveBeenCalled()
    expect(consoleWarn).not.toHaveBeenCalled()
  })

  test('a refresh that fails for now: { error } REFRESH_FAILED after one attempt: one refresh (its own attempts)', async () => {
    const { me } = await app()
    server.expireAll()
    server.setRefreshMode('503')
    const { error } = await me(0)
    expect(isAuthQueryError(error, 'REFRESH_FAILED')).toBe(true)
    expect(error).toMatchObject({ status: 'CUSTOM_ERROR', data: { name: 'RefreshFailedError', code: 'REFRESH_FAILED' } })
    expect(server.stats.refreshCalls).toBe(CORE_ATTEMPTS)
    expect(server.requests('/api/me')).toHaveLength(1)
  })

  test('why an entry: fetchBaseQuery with authFetch as fetchFn turns the error into a string, and retry() refreshes again', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi({
      baseQuery: retry(fetchBaseQuery({ baseUrl: server.url, fetchFn: createAuthFetch(manager, { allowedOrigins: [server.url] }) }), {
        maxRetries: 3,
        backoff: async () => {},
      }),
      endpoints: (build) => ({ me: build.query<unknown, void>({ query: () => '/api/me' }) }),
    })
    const store = configureStore({ reducer: { [api.reducerPath]: api.reducer }, middleware: (getDefault) => getDefault().concat(api.middleware) })
    cleanup(() => store.dispatch(api.util.resetApiState()))
    server.expireAll()
    server.setRefreshMode('503')
    const { error } = await store.dispatch(api.endpoints.me.initiate())
    expect(error).toEqual({ status: 'FETCH_ERROR', error: 'RefreshFailedError: The refresh failed; the session is kept' })
    expect(server.stats.refreshCalls).toBe(2 * CORE_ATTEMPTS) // the core's cooldown answered the third and fourth tries
  })

  test('a mutation is sent again with its body after the refresh', async () => {
    const { store, api } = await app()
    server.expireAll()
    const { data } = await store.dispatch(api.endpoints.note.initiate('kept'))
    expect(JSON.parse(Buffer.from(data!.body, 'base64').toString())).toEqual({ note: 'kept' })
    expect(server.requests('/api/echo').map((entry) => [entry.status, entry.body.toString()])).toEqual([
      [401, '{"note":"kept"}'],
      [200, '{"note":"kept"}'],
    ])
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('signing out resets the API state: no data of that user stays', async () => {
    const { manager, store, api } = await app()
    const query = store.dispatch(api.endpoints.me.initiate(0)) // still subscribed, as a mounted component is
    await query
    expect(api.endpoints.me.select(0)(store.getState()).data).toMatchObject({ sub: 'alice' })
    await manager.clear()
    expect(api.endpoints.me.select(0)(store.getState()).data).toBeUndefined()
    query.unsubscribe()
  })

  test('bad wiring fails at the call: no manager', () => {
    expect(() => createAuthBaseQuery(undefined as never)).toThrow(/"manager" must be the token manager/)
  })
})
