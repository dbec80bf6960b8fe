// TanStack Query v5 (QueryClient and QueryObserver, what useQuery runs on) with
// createAuthFetch, over real HTTP, with the client of
// examples/tanstack-query/queries.ts and docs/integrations/tanstack-query.md.
import { QueryObserver, type QueryClient, type QueryKey, type QueryObserverOptions, type QueryObserverResult } from '@tanstack/react-query'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { RefreshFailedError, SessionExpiredError } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { ApiError, createQueryClient, meQuery } from '../../examples/tanstack-query/queries.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { CORE_ATTEMPTS, range, signedIn, type Session } from './harness.js'

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
})

/** Mounts a query as useQuery does, and resolves with its result once it has settled (success or error). */
function settle<T, K extends QueryKey>(client: QueryClient, options: QueryObserverOptions<T, Error, T, T, K>): Promise<QueryObserverResult<T, Error>> {
  const observer = new QueryObserver(client, options)
  return new Promise((resolve) => {
    const unsubscribe = observer.subscribe((result) => {
      if (result.fetchStatus === 'idle' && result.status !== 'pending') {
        unsubscribe()
        resolve(result)
      }
    })
  })
}

async function app(options: { fetch?: (session: Session) => typeof fetch } = {}) {
  const session = await signedIn(server, cleanup)
  const onSessionExpired = vi.fn()
  const queryClient = createQueryClient(session.manager, onSessionExpired)
  cleanup(() => queryClient.clear())
  const authFetch = createAuthFetch(session.manager, { allowedOrigins: [server.url], fetch: options.fetch?.(session) })
  return { ...session, queryClient, authFetch, onSessionExpired }
}

describe('TanStack Query with createAuthFetch', () => {
  test('a burst of 50 queries after expiry: one refresh, 50 successes', async () => {
    const { queryClient, authFetch } = await app()
    server.expireAll()
    const results = await Promise.all(range(50).map((i) => settle(queryClient, meQuery(authFetch, server.url, i))))
    expect(results.map((r) => r.data?.sub)).toEqual(range(50).map(() => 'alice'))
    expect(results.every((r) => r.failureCount === 0)).toBe(true)
    expect(server.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 50, authorized: 50 })
  })

  test('a 401 that arrives after the refresh is retried with the new token: no second refresh', async () => {
    const session = await app({ fetch: (s) => s.fetch })
    server.expireAll()
    const late = session.holdFirst('/api/me')
    const slow = settle(session.queryClient, meQuery(session.authFetch, server.url, 1))
    await late.arrived
    expect((await settle(session.queryClient, meQuery(session.authFetch, server.url, 2))).data?.sub).toBe('alice')
    late.release()
    const result = await slow
    expect(result.data?.sub).toBe('alice')
    expect(result.failureCount).toBe(0)
    expect(server.stats.refreshCalls).toBe(1)
    expect(session.outcomes).toEqual(['refresh', 'retry'])
  })

  test('a refused refresh: SessionExpiredError in query.error, one attempt per query, onError once per query', async () => {
    const { queryClient, authFetch, onSessionExpired, manager } = await app()
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const results = await Promise.all(range(5).map((i) => settle(queryClient, meQuery(authFetch, server.url, i))))
    for (const result of results) {
      expect(result.status).toBe('error')
      expect(result.error).toBeInstanceOf(SessionExpiredError)
      expect(result.failureCount).toBe(1) // no retry storm
    }
    expect(onSessionExpired).toHaveBeenCalledTimes(5)
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.requests('/api/me')).toHaveLength(5)
    // The queries keep showing their error: an expiry does not clear the cache under them.
    expect(queryClient.getQueryState(['me', 0])?.error).toBeInstanceOf(SessionExpiredError)
    expect(manager.getState().status).toBe('signedOut')
  })

  test('a refresh that fails for now: RefreshFailedError in query.error after one attempt: one refresh (its own attempts)', async () => {
    const { queryClient, authFetch } = await app()
    server.expireAll()
    server.setRefreshMode('503')
    const result = await settle(queryClient, meQuery(authFetch, server.url))
    expect(result.error).toBeInstanceOf(RefreshFailedError)
    expect(result.failureCount).toBe(1)
    expect(server.stats.refreshCalls).toBe(CORE_ATTEMPTS)
  })

  test("with TanStack's default retry (3), AuthErrors are retried: two refreshes before the core's cooldown answers", async () => {
    const { queryClient, authFetch } = await app()
    server.expireAll()
    server.setRefreshMode('503')
    const result = await settle(queryClient, { ...meQuery(authFetch, server.url), retry: 3, retryDelay: 1 })
    expect(result.error).toBeInstanceOf(RefreshFailedError)
    expect(result.failureCount).toBe(4)
    expect(server.stats.refreshCalls).toBe(2 * CORE_ATTEMPTS)
  })

  test('a 401 after the one refresh is the query\'s ApiError, not retried (a 4xx): one refresh; a 5xx is retried', async () => {
    const { queryClient, authFetch } = await app()
    const query = (path: string) => ({
      queryKey: [path],
      queryFn: async () => {
        const response = await authFetch(`${server.url}${path}`)
        if (!response.ok) throw new ApiError(response.status)
        return response.json() as Promise<unknown>
      },
      retryDelay: 1,
    })
    const unauthorized = await settle(queryClient, query('/api/always401'))
    expect(unauthorized.error).toBeInstanceOf(ApiError)
    expect((unauthorized.error as ApiError).status).toBe(401)
    expect(unauthorized.failureCount).toBe(1)
    expect(server.requests('/api/always401')).toHaveLength(2) // the request and its one retry inside authFetch
    expect(server.stats.refreshCalls).toBe(1)
    // A 404 is not retried either; a 503 is, by TanStack's usual count, and refreshes nothing.
    const missing = await settle(queryClient, query('/nothing-here'))
    expect((missing.error as ApiError).status).toBe(404)
    expect(missing.failureCount).toBe(1)
    const unavailable = await settle(queryClient, query('/api/always401?status=503'))
    expect((unavailable.error as ApiError).status).toBe(503)
    expect(unavailable.failureCount).toBe(4)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('signing out clears the cache: no data of that user stays', async () => {
    const { queryClient, authFetch, manager } = await app()
    await settle(queryClient, meQuery(authFetch, server.url))
    expect(queryClient.getQueryData(['me', 0])).toEqual(expect.objectContaining({ sub: 'alice' }))
    await manager.clear()
    expect(queryClient.getQueryData(['me', 0])).toBeUndefined()
  })
})
