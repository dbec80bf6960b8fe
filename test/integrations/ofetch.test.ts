// ofetch on createAuthFetch, over real HTTP, with the recipe of
// examples/ofetch/api.ts and docs/integrations/ofetch.md.
import { FetchError, ofetch } from 'ofetch'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { RefreshFailedError, SessionExpiredError } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createApi } from '../../examples/ofetch/api.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { CORE_ATTEMPTS, range, signedIn } from './harness.js'

let server: TokenServer
const disposers: (() => void)[] = []
const cleanup = (dispose: () => void) => disposers.push(dispose)
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error)
const apiRequests = () => server.log.filter((entry) => entry.path.startsWith('/api/'))

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(() => server.close())
beforeEach(() => server.reset())
afterEach(() => {
  for (const dispose of disposers.splice(0)) dispose()
})

describe('ofetch with createAuthFetch', () => {
  test('a burst of 50 after expiry: one refresh, 50 successes', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    const results = await Promise.all(range(50).map((i) => api<{ sub: string }>('/api/burst', { query: { i } })))
    expect(results.map((r) => r.sub)).toEqual(range(50).map(() => 'alice'))
    expect(server.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 50, authorized: 50 })
  })

  test('a 401 that reaches ofetch after the refresh is retried with the new token: no second refresh', async () => {
    const session = await signedIn(server, cleanup)
    const api = createApi(session.manager, server.url, { fetch: session.fetch })
    server.expireAll()
    const late = session.holdFirst('/api/late')
    const slow = api('/api/late')
    await late.arrived
    await api('/api/first')
    expect(server.stats.refreshCalls).toBe(1)
    late.release()
    await expect(slow).resolves.toMatchObject({ sub: 'alice' })
    expect(server.stats.refreshCalls).toBe(1)
    expect(session.outcomes).toEqual(['refresh', 'retry'])
    expect(server.requests('/api/late').map((entry) => entry.status)).toEqual([401, 200])
  })

  test('a refused refresh: the SessionExpiredError itself (not a FetchError), once per call, not retried', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const errors = await Promise.all(range(5).map((i) => failure(api(`/api/item${i}`))))
    for (const error of errors) {
      expect(error).toBeInstanceOf(SessionExpiredError)
      expect(error).not.toBeInstanceOf(FetchError)
    }
    expect(server.stats.refreshCalls).toBe(1)
    expect(apiRequests()).toHaveLength(5)
    expect(await failure(api('/api/after'))).toBeInstanceOf(SessionExpiredError)
    expect(server.requests('/api/after')).toHaveLength(1)
  })

  test('a refresh that fails for now: RefreshFailedError once, not retried by ofetch: one refresh (its own attempts)', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('503')
    expect(await failure(api('/api/me'))).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(CORE_ATTEMPTS)
    expect(server.requests('/api/me')).toHaveLength(1)
  })

  test("without the hook, ofetch's retry refreshes again and hides the error in a FetchError: why the recipe has it", async () => {
    const { manager } = await signedIn(server, cleanup)
    const plain = ofetch.create({ baseURL: server.url }, { fetch: createAuthFetch(manager, { allowedOrigins: [server.url] }) })
    server.expireAll()
    server.setRefreshMode('503')
    const error = await failure(plain('/api/me'))
    expect(error).toBeInstanceOf(FetchError)
    expect((error as FetchError).cause).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(2 * CORE_ATTEMPTS)
  })

  test("ofetch's FetchError of a 401 after the retry holds no token", async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    const error = await failure(api('/api/always401'))
    expect(error).toBeInstanceOf(FetchError)
    expect((error as FetchError).status).toBe(401)
    expect(new Headers((error as FetchError).options?.headers).get('authorization')).toBeNull()
    expect(server.requests('/api/always401')).toHaveLength(2)
    expect(server.stats.refreshCalls).toBe(1)
  })
})
