// The kit's failure modes, seen through the SDK as a user's app sees them.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { http } from 'msw'
import { setupServer } from 'msw/node'
import { createTokenServer } from '../../src/testing/index.js'
import { SessionExpiredError, createTokenManager, refreshTokenGrant, type TokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { expectWithin, until } from '../helpers/bounds.js'
import { deferred } from '../helpers/core-harness.js'

const BASE = 'https://api.test'
const tokens = createTokenServer({ baseUrl: BASE })
const server = setupServer(...tokens.handlers)
const managers: TokenManager[] = []

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  vi.useRealTimers()
  for (const manager of managers.splice(0)) manager.dispose()
  tokens.reset()
})
afterAll(() => server.close())

async function signedInClient(options: Partial<Parameters<typeof createTokenManager>[0]> = {}) {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${BASE}/auth/token` }), retry: { attempts: 1, baseDelayMs: 1 }, ...options })
  managers.push(manager)
  await manager.setTokens(tokens.issueTokens())
  return { manager, authFetch: createAuthFetch(manager, { allowedOrigins: [BASE] }) }
}

describe('the kit with createAuthFetch', () => {
  it('20 requests after the server expired the token: one refresh, 20 successes', async () => {
    const { authFetch } = await signedInClient()
    tokens.expireAccessTokens()
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => authFetch(`${BASE}/api/items/${i}`)))
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, unauthorized: 20, authorized: 20 })
  })

  it('20 requests as the token runs out on both clocks: one proactive refresh, no 401 at all', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }) // before the manager: it reads the clock it was created with
    const { authFetch } = await signedInClient()
    vi.setSystemTime(Date.now() + 900_000 - 5_000) // inside the 30 s window
    const responses = await Promise.all(Array.from({ length: 20 }, () => authFetch(`${BASE}/api/me`)))
    expect(responses.every((r) => r.ok)).toBe(true)
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, unauthorized: 0, authorized: 20 })
  })

  it('invalid_grant: every waiting request rejects with SessionExpiredError and signedOut fires once', async () => {
    const { manager, authFetch } = await signedInClient()
    const signedOut = vi.fn()
    manager.on('signedOut', signedOut)
    tokens.expireAccessTokens()
    tokens.failNextRefresh('invalid_grant')
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => authFetch(`${BASE}/api/me`)))
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof SessionExpiredError)).toBe(true)
    expect(signedOut).toHaveBeenCalledTimes(1)
    expect(signedOut).toHaveBeenCalledWith({ reason: 'expired' })
    expect(tokens.stats.refreshCalls).toBe(1) // terminal: no retry
    expect(await manager.getAccessToken()).toBeNull()
  })

  it('a 5xx on every try: RefreshFailedError after the retries, tokens kept, the next request recovers', async () => {
    const { manager, authFetch } = await signedInClient()
    tokens.expireAccessTokens()
    tokens.failNextRefresh('server_error', { times: 2 }) // first try + 1 retry
    await expect(authFetch(`${BASE}/api/me`)).rejects.toMatchObject({ code: 'REFRESH_FAILED' })
    expect(tokens.stats.refreshCalls).toBe(2)
    expect(manager.getState()).toMatchObject({ status: 'signedIn' })
    expect((await authFetch(`${BASE}/api/me`)).status).toBe(200)
  })

  it('a network error once: the retry succeeds and the request goes through', async () => {
    const { authFetch } = await signedInClient()
    tokens.expireAccessTokens()
    tokens.failNextRefresh('network_error')
    expect((await authFetch(`${BASE}/api/me`)).status).toBe(200)
    expect(tokens.stats.refreshCalls).toBe(2)
  })

  it('a hanging refresh: REFRESH_TIMEOUT after refreshTimeoutMs, never a pending request', async () => {
    const { authFetch } = await signedInClient({ refreshTimeoutMs: 150, retry: { attempts: 0, baseDelayMs: 1 } })
    tokens.expireAccessTokens()
    tokens.failNextRefresh('hang')
    const started = Date.now()
    await expect(authFetch(`${BASE}/api/me`)).rejects.toMatchObject({ code: 'REFRESH_TIMEOUT' })
    expectWithin(started, 2_000, 'a refresh with refreshTimeoutMs 150')
  })

  it('a slow refresh: requests made meanwhile join it instead of starting another', async () => {
    const { manager, authFetch } = await signedInClient()
    tokens.expireAccessTokens()
    // The refresh waits at the server (in front of the kit's handler) until the later requests have joined it.
    const answer = deferred<void>()
    server.use(http.post(`${BASE}/auth/token`, () => answer.promise))
    const first = authFetch(`${BASE}/api/me`)
    await until(() => tokens.stats.refreshCalls === 0 && manager.isRefreshing, 5_000, 'the refresh to start')
    // The session's token was refused: they wait for the refresh instead of going out with it.
    const later = Promise.all(Array.from({ length: 5 }, () => authFetch(`${BASE}/api/me`)))
    answer.resolve()
    expect((await first).status).toBe(200)
    expect((await later).every((r) => r.ok)).toBe(true)
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, protectedCalls: 7, unauthorized: 1 })
  })

  it('revokeAll: the next request ends in SessionExpiredError', async () => {
    const { authFetch } = await signedInClient()
    tokens.revokeAll()
    await expect(authFetch(`${BASE}/api/me`)).rejects.toBeInstanceOf(SessionExpiredError)
  })
})
