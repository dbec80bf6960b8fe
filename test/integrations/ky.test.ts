// ky (1.x: ky 2 needs Node 22, ky 1.14 runs on Node 18+) on createAuthFetch,
// over real HTTP, with the recipe of examples/ky/api.ts and docs/integrations/ky.md.
import ky, { HTTPError } from 'ky'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { RefreshFailedError, SessionExpiredError } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createApi } from '../../examples/ky/api.js'
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

describe('ky with createAuthFetch', () => {
  test('a burst of 50 after expiry: one refresh, 50 successes', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    const results = await Promise.all(range(50).map((i) => api.get(`api/burst?i=${i}`).json<{ sub: string }>()))
    expect(results.map((r) => r.sub)).toEqual(range(50).map(() => 'alice'))
    expect(server.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 50, authorized: 50 })
  })

  test('a 401 that reaches ky after the refresh is retried with the new token: no second refresh', async () => {
    const session = await signedIn(server, cleanup)
    const api = createApi(session.manager, server.url, { fetch: session.fetch })
    server.expireAll()
    const late = session.holdFirst('/api/late')
    const slow = api.get('api/late').json()
    await late.arrived // the server has answered 401; the client has not seen it yet
    await api.get('api/first').json() // meets the expiry first: the one refresh
    expect(server.stats.refreshCalls).toBe(1)
    late.release()
    await expect(slow).resolves.toMatchObject({ sub: 'alice' })
    expect(server.stats.refreshCalls).toBe(1)
    expect(session.outcomes).toEqual(['refresh', 'retry'])
    expect(server.requests('/api/late').map((entry) => entry.status)).toEqual([401, 200])
  })

  test('a refused refresh: SessionExpiredError, not an HTTPError 401; once per call, and ky retries nothing', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const errors = await Promise.all(range(5).map((i) => failure(api.get(`api/item${i}`).json())))
    for (const error of errors) {
      expect(error).toBeInstanceOf(SessionExpiredError)
      expect(error).not.toBeInstanceOf(HTTPError)
    }
    expect(server.stats.refreshCalls).toBe(1)
    expect(apiRequests()).toHaveLength(5) // each call went out once
    // A call after the session ended goes out without a token; its 401 is the same typed error (DESIGN 14).
    expect(await failure(api.get('api/after').json())).toBeInstanceOf(SessionExpiredError)
    expect(server.requests('/api/after')).toHaveLength(1)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('a refresh that fails for now: RefreshFailedError once; ky does not retry it, so one refresh (its own attempts)', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('503')
    expect(await failure(api.get('api/me').json())).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(CORE_ATTEMPTS)
    expect(server.requests('/api/me')).toHaveLength(1)
  })

  test("without shouldRetry, ky's retry refreshes again (the core's cooldown stops the third try): why the recipe has it", async () => {
    const { manager } = await signedIn(server, cleanup)
    const plain = ky.create({
      prefixUrl: server.url,
      fetch: createAuthFetch(manager, { allowedOrigins: [server.url] }),
      retry: { limit: 2, delay: () => 1 }, // ky's default limit; a short delay (with the default 300/600 ms the count is the same)
    })
    server.expireAll()
    server.setRefreshMode('503')
    expect(await failure(plain.get('api/me').json())).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(2 * CORE_ATTEMPTS)
  })

  test("ky's hooks and HTTPError never hold the token; a 401 after the retry is ky's HTTPError", async () => {
    const { manager } = await signedIn(server, cleanup)
    const seen: (string | null)[] = []
    const api = createApi(manager, server.url).extend({
      hooks: { beforeRequest: [(request) => void seen.push(request.headers.get('authorization'))] },
    })
    const error = await failure(api.get('api/always401').json())
    expect(error).toBeInstanceOf(HTTPError)
    expect((error as HTTPError).response.status).toBe(401)
    expect((error as HTTPError).request.headers.get('authorization')).toBeNull()
    expect(seen).toEqual([null])
    expect(server.requests('/api/always401').every((entry) => entry.authorization?.startsWith('Bearer '))).toBe(true)
    expect(server.stats.refreshCalls).toBe(1)
  })
})
