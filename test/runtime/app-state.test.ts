// React Native suspends JavaScript in the background: no timer fires, then the
// clock has jumped. The manager keeps no refresh timer; it checks expiry on
// every request, so the first request after coming back refreshes first.
// Fake timers freeze every timer and move only the clock, as a suspended app sees it.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { setupServer } from 'msw/node'
import { createTokenServer } from '../../src/testing/index.js'
import { SessionExpiredError, createTokenManager, refreshTokenGrant, secureStorage, type TokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { fakeSecureStore } from '../helpers/core-storages.js'
import { eventually, startFakeClock, stopFakeClock } from '../helpers/fake-time.js'

const BASE = 'https://api.test'
const tokens = createTokenServer({ baseUrl: BASE, accessTtlMs: 5 * 60_000 })
const server = setupServer(...tokens.handlers)

/** A stand-in for react-native's AppState: addEventListener('change', fn) → { remove }. */
function fakeAppState() {
  const listeners = new Set<(state: 'active' | 'background' | 'inactive') => void>()
  return {
    addEventListener(_event: 'change', listener: (state: 'active' | 'background' | 'inactive') => void) {
      listeners.add(listener)
      return { remove: () => void listeners.delete(listener) }
    },
    emit: (state: 'active' | 'background' | 'inactive') => listeners.forEach((listener) => listener(state)),
  }
}

/** The pattern docs/testing.md and the README recommend: warm the token up when the app comes back. */
function refreshOnForeground(manager: TokenManager, appState: ReturnType<typeof fakeAppState>, onSignedOut: () => void) {
  return appState.addEventListener('change', (state) => {
    if (state !== 'active') return
    manager.getAccessToken().catch((error) => {
      if (error instanceof SessionExpiredError) onSignedOut()
    })
  })
}

let manager: TokenManager
let authFetch: typeof fetch
let secure: ReturnType<typeof fakeSecureStore>

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
beforeEach(async () => {
  // Only the clock and timers: msw and fetch need real promises and I/O.
  startFakeClock({ fake: 'timers' })
  manager = createTokenManager({
    refresh: refreshTokenGrant({ url: `${BASE}/auth/token` }),
    storage: secureStorage((secure = fakeSecureStore())),
  })
  authFetch = createAuthFetch(manager, { allowedOrigins: [BASE] })
  await manager.setTokens(tokens.issueTokens())
})
afterEach(() => {
  manager.dispose()
  tokens.reset()
  stopFakeClock()
})
afterAll(() => server.close())

describe('back from the background', () => {
  it('the first request after a long suspension refreshes first: no 401 reaches the app', async () => {
    expect((await authFetch(`${BASE}/api/me`)).status).toBe(200)
    vi.setSystemTime(Date.now() + 2 * 60 * 60_000) // two hours in the background; no timer ran
    expect(vi.getTimerCount()).toBe(0) // nothing was scheduled to refresh: expiry is checked on use
    const res = await authFetch(`${BASE}/api/me`)
    expect(res.status).toBe(200)
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, unauthorized: 0, authorized: 2 })
  })

  it('a short suspension, with the token still fresh, does not refresh', async () => {
    vi.setSystemTime(Date.now() + 60_000)
    expect((await authFetch(`${BASE}/api/me`)).status).toBe(200)
    expect(tokens.stats.refreshCalls).toBe(0)
  })

  it('the AppState listener refreshes on "active"; requests fired at once share that refresh', async () => {
    const appState = fakeAppState()
    const subscription = refreshOnForeground(manager, appState, () => {})
    appState.emit('background')
    vi.setSystemTime(Date.now() + 30 * 60_000)
    appState.emit('active')
    expect(manager.isRefreshing).toBe(true)
    const responses = await Promise.all(Array.from({ length: 5 }, () => authFetch(`${BASE}/api/me`)))
    expect(responses.every((r) => r.ok)).toBe(true)
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, unauthorized: 0 })
    // The new tokens reached the secure store.
    expect(JSON.parse(secure.map.get('silent-refresh')!).accessToken).toBe(await manager.getAccessToken())
    subscription.remove()
  })

  it('a session that ended while away: "active" leads to the login screen, not to failing requests', async () => {
    const appState = fakeAppState()
    const showLogin = vi.fn()
    refreshOnForeground(manager, appState, showLogin)
    vi.setSystemTime(Date.now() + 24 * 60 * 60_000)
    tokens.revokeAll() // the refresh token was revoked (or expired) on the server meanwhile
    appState.emit('active')
    await eventually(() => expect(showLogin).toHaveBeenCalledTimes(1), 1_000)
    expect(await manager.getAccessToken()).toBeNull()
    expect(secure.map.has('silent-refresh')).toBe(false)
  })

  it('a refresh cut short by suspension still times out once the app runs again', async () => {
    tokens.failNextRefresh('hang')
    vi.setSystemTime(Date.now() + 60 * 60_000)
    const pending = authFetch(`${BASE}/api/me`).catch((error: unknown) => error)
    await eventually(() => expect(tokens.stats.refreshCalls).toBe(1), 1_000)
    // Timers resume when the app does: the per-attempt timeout fires, then the retries run.
    await vi.advanceTimersByTimeAsync(15_000)
    await eventually(() => expect(tokens.stats.refreshCalls).toBe(2), 1_000)
    await vi.advanceTimersByTimeAsync(10_000)
    const result = await pending
    expect(result).toBeInstanceOf(Response)
    expect((result as Response).status).toBe(200)
  })
})
