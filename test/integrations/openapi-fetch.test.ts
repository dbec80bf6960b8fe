// openapi-fetch on createAuthFetch, over real HTTP, with the client of
// examples/openapi-fetch/api.ts and docs/integrations/openapi-fetch.md.
// The decision tested here: `{ error }` is what the server answered; a session
// that cannot be refreshed throws the AuthError, as a network failure throws.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { RefreshFailedError, SessionExpiredError } from '../../src/index.js'
import { createApi } from '../../examples/openapi-fetch/api.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { CORE_ATTEMPTS, range, signedIn } from './harness.js'

let server: TokenServer
const disposers: (() => void)[] = []
const cleanup = (dispose: () => void) => disposers.push(dispose)
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error)

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(() => server.close())
beforeEach(() => server.reset())
afterEach(() => {
  for (const dispose of disposers.splice(0)) dispose()
})

describe('openapi-fetch with createAuthFetch', () => {
  test('a burst of 50 after expiry: one refresh, 50 { data }', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    const results = await Promise.all(range(50).map((i) => api.GET('/api/me', { params: { query: { i } } })))
    expect(results.map((r) => r.data?.sub)).toEqual(range(50).map(() => 'alice'))
    expect(results.every((r) => r.error === undefined)).toBe(true)
    expect(server.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 50, authorized: 50 })
  })

  test('a 401 that arrives after the refresh is retried with the new token: no second refresh', async () => {
    const session = await signedIn(server, cleanup)
    const api = createApi(session.manager, server.url, { fetch: session.fetch })
    server.expireAll()
    const late = session.holdFirst('/api/me')
    const slow = api.GET('/api/me', { params: { query: { i: 1 } } })
    await late.arrived
    expect((await api.GET('/api/me', { params: { query: { i: 2 } } })).data?.sub).toBe('alice')
    expect(server.stats.refreshCalls).toBe(1)
    late.release()
    expect((await slow).data?.sub).toBe('alice')
    expect(server.stats.refreshCalls).toBe(1)
    expect(session.outcomes).toEqual(['refresh', 'retry'])
  })

  test('a refused refresh throws SessionExpiredError (no server answered: not an { error }), once per call', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const errors = await Promise.all(range(5).map((i) => failure(api.GET('/api/me', { params: { query: { i } } }))))
    for (const error of errors) expect(error).toBeInstanceOf(SessionExpiredError)
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.requests('/api/me')).toHaveLength(5)
    expect(await failure(api.GET('/api/me'))).toBeInstanceOf(SessionExpiredError)
  })

  test('a refresh that fails for now throws RefreshFailedError; openapi-fetch does not retry: one refresh (its own attempts)', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    server.expireAll()
    server.setRefreshMode('503')
    expect(await failure(api.GET('/api/me'))).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(CORE_ATTEMPTS)
    expect(server.requests('/api/me')).toHaveLength(1)
  })

  test('a 401 that stays a 401 after the refresh is the typed { error, response } of the spec', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    // /api/always401 is not in the spec: call it through the untyped path, as the server answers.
    const result = await api.request('get', '/api/always401' as '/api/me')
    expect(result.response.status).toBe(401)
    expect(result.error).toEqual({ error: 'invalid_token' })
    expect(server.requests('/api/always401')).toHaveLength(2)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('a POST body is sent again on the retry; middleware sees the request without the token', async () => {
    const { manager } = await signedIn(server, cleanup)
    const api = createApi(manager, server.url)
    const seen: (string | null)[] = []
    api.use({ onRequest: ({ request }) => void seen.push(request.headers.get('authorization')) })
    server.expireAll()
    const { data } = await api.POST('/api/echo', { body: { note: 'kept' } })
    expect(JSON.parse(Buffer.from(data!.body, 'base64').toString())).toEqual({ note: 'kept' })
    expect(server.requests('/api/echo').map((entry) => [entry.status, entry.body.toString()])).toEqual([
      [401, '{"note":"kept"}'],
      [200, '{"note":"kept"}'],
    ])
    expect(seen).toEqual([null])
  })
})
