// "silent-refresh/react-native": attachAppLifecycle() with AppState and NetInfo
// stand-ins that emit exactly what their packages' types describe (test/fixtures/
// react-native-types): AppState calls `change` handlers with an AppStateStatus
// and returns an EventSubscription; NetInfo calls its listener with a full
// NetInfoState soon after subscribing, then on every change, and returns the
// unsubscribe function. The token server is the msw kit; the clock is faked
// (a suspended app sees time jump with no timer having run).
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import type { AppStateStatus } from '../fixtures/react-native-types/react-native/Libraries/AppState/AppState.js'
import type { NetInfoState, NetInfoStateType } from '../fixtures/react-native-types/netinfo/src/index.js'
import { RefreshFailedError, SessionExpiredError, createTokenManager, refreshTokenGrant, type TokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { attachAppLifecycle } from '../../src/integrations/react-native/index.js'
import { createTokenServer } from '../../src/testing/index.js'

const BASE = 'https://api.test'
const HOUR = 60 * 60_000
const tokens = createTokenServer({ baseUrl: BASE, accessTtlMs: 15 * 60_000 })
const server = setupServer(...tokens.handlers)

/** react-native's AppState: `currentState`, `addEventListener('change', handler)` → `{ remove }`. */
function fakeAppState(initial: AppStateStatus) {
  const handlers = new Set<(state: AppStateStatus) => void>()
  const appState = {
    currentState: initial as string | null,
    isAvailable: true,
    addEventListener(_type: 'change', handler: (state: AppStateStatus) => void) {
      handlers.add(handler)
      return { remove: () => void handlers.delete(handler) }
    },
  }
  return {
    appState,
    listeners: () => handlers.size,
    go(state: AppStateStatus) {
      appState.currentState = state
      for (const handler of [...handlers]) handler(state)
    },
  }
}

const wifi = (isInternetReachable: boolean | null): NetInfoState => ({
  type: 'wifi' as NetInfoStateType.wifi,
  isConnected: true,
  isInternetReachable,
  isWifiEnabled: true,
  details: { ssid: null, bssid: null, strength: 80, ipAddress: '10.0.0.5', subnet: '255.255.255.0', frequency: 5180, linkSpeed: null, rxLinkSpeed: null, txLinkSpeed: null, isConnectionExpensive: false },
})
const offline: NetInfoState = { type: 'none' as NetInfoStateType.none, isConnected: false, isInternetReachable: false, details: null }

/** NetInfo's default export: the listener hears the current state soon after subscribing (a microtask later), then every change. */
function fakeNetInfo(initial: NetInfoState) {
  const listeners = new Set<(state: NetInfoState) => void>()
  let current = initial
  return {
    netInfo: {
      addEventListener(listener: (state: NetInfoState) => void) {
        listeners.add(listener)
        queueMicrotask(() => listeners.has(listener) && listener(current))
        return () => void listeners.delete(listener)
      },
    },
    listeners: () => listeners.size,
    change(state: NetInfoState) {
      current = state
      for (const listener of [...listeners]) listener(state)
    },
  }
}

let manager: TokenManager
let authFetch: typeof fetch
let refreshes: number
const detachers: (() => void)[] = []
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
beforeEach(async () => {
  // Only the clock: the app was suspended, no timer ran, and Date jumped. msw and fetch keep real I/O.
  vi.useFakeTimers({ toFake: ['Date'] })
  manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${BASE}/auth/token` }), retry: { attempts: 2, baseDelayMs: 1 } })
  authFetch = createAuthFetch(manager, { allowedOrigins: [BASE] })
  refreshes = 0
  manager.on('refresh', () => refreshes++)
  await manager.setTokens(tokens.issueTokens())
})
afterEach(() => {
  for (const detach of detachers.splice(0)) detach()
  manager.dispose()
  tokens.reset()
  vi.useRealTimers()
})
afterAll(() => server.close())

const attach = (...args: Parameters<typeof attachAppLifecycle>) => {
  const detach = attachAppLifecycle(...args)
  detachers.push(detach)
  return detach
}

describe('AppState', () => {
  test('back from two hours in the background: one refresh starts at once, and the requests fired meanwhile share it', async () => {
    const app = fakeAppState('active')
    attach(manager, { appState: app.appState })
    app.go('background')
    vi.setSystemTime(Date.now() + 2 * HOUR)
    app.go('active')
    expect(manager.isRefreshing).toBe(true) // before any request
    const responses = await Promise.all(Array.from({ length: 5 }, () => authFetch(`${BASE}/api/me`)))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, unauthorized: 0 })
  })

  test("'inactive' and back (Control Center, a call banner) with a valid token: no refresh", async () => {
    const app = fakeAppState('active')
    attach(manager, { appState: app.appState })
    app.go('inactive')
    vi.setSystemTime(Date.now() + 60_000)
    app.go('active')
    app.go('active') // a repeated 'active' is no transition
    await flush()
    expect(refreshes).toBe(0)
    expect(tokens.stats.refreshCalls).toBe(0)
  })

  test('a session revoked while away: onError hears the SessionExpiredError once; nothing is left unhandled', async () => {
    const app = fakeAppState('background')
    const onError = vi.fn()
    attach(manager, { appState: app.appState, onError })
    vi.setSystemTime(Date.now() + 24 * HOUR)
    tokens.revokeAll()
    app.go('active')
    await vi.waitFor(() => expect(onError).toHaveBeenCalledTimes(1), { timeout: 10_000 })
    expect(onError.mock.calls[0]![0]).toBeInstanceOf(SessionExpiredError)
    expect(manager.getState()).toMatchObject({ status: 'signedOut', reason: 'expired' })
    app.go('background')
    app.go('active') // signed out: nothing to check
    await flush()
    expect(tokens.stats.refreshCalls).toBe(1)
    expect(onError).toHaveBeenCalledTimes(1)
  })
})

describe('NetInfo', () => {
  test('the state NetInfo reports on subscribing is no change: no refresh, even with a token due', async () => {
    vi.setSystemTime(Date.now() + 2 * HOUR)
    const net = fakeNetInfo(wifi(true))
    attach(manager, { netInfo: net.netInfo })
    await flush()
    expect(refreshes).toBe(0)
  })

  test('offline, two refreshes fail and the cooldown holds requests back; the network returns: one refresh at once, past the cooldown', async () => {
    const net = fakeNetInfo(wifi(true))
    attach(manager, { netInfo: net.netInfo })
    await flush()
    net.change(offline)
    vi.setSystemTime(Date.now() + 2 * HOUR) // the token expired meanwhile
    tokens.failNextRefresh('network_error', { times: 6 })
    for (let i = 0; i < 2; i++) {
      expect(await authFetch(`${BASE}/api/me`).catch((e: unknown) => e)).toBeInstanceOf(RefreshFailedError)
    }
    expect(tokens.stats.refreshCalls).toBe(6)
    // Within the cooldown a request fails at once, without a refresh (DESIGN 14)…
    expect(await authFetch(`${BASE}/api/me`).catch((e: unknown) => e)).toBeInstanceOf(RefreshFailedError)
    expect(tokens.stats.refreshCalls).toBe(6)
    // …but the network's return is the news it waited for: connected (internet not checked yet), then reachable.
    net.change(wifi(null))
    expect(manager.isRefreshing).toBe(true)
    await vi.waitFor(() => expect(manager.getState()).toMatchObject({ status: 'signedIn', refreshing: false, error: undefined }), { timeout: 10_000 })
    net.change(wifi(true)) // reachable now too: the token is fresh, nothing to do
    await flush()
    expect(tokens.stats.refreshCalls).toBe(7)
    expect((await authFetch(`${BASE}/api/me`)).status).toBe(200)
    expect(tokens.stats.refreshCalls).toBe(7)
  })

  test('a flapping network with a valid token refreshes nothing', async () => {
    const net = fakeNetInfo(wifi(true))
    attach(manager, { netInfo: net.netInfo })
    await flush()
    for (let i = 0; i < 10; i++) {
      net.change(offline)
      net.change(wifi(null))
      net.change(wifi(true))
    }
    await flush()
    expect(refreshes).toBe(0)
  })
})

describe('wiring', () => {
  test('detach removes both listeners, once; later events do nothing', async () => {
    const app = fakeAppState('active')
    const net = fakeNetInfo(offline)
    const detach = attach(manager, { appState: app.appState, netInfo: net.netInfo })
    await flush()
    expect([app.listeners(), net.listeners()]).toEqual([1, 1])
    detach()
    detach()
    expect([app.listeners(), net.listeners()]).toEqual([0, 0])
    vi.setSystemTime(Date.now() + 2 * HOUR)
    app.go('background')
    app.go('active')
    net.change(wifi(true))
    await flush()
    expect(refreshes).toBe(0)
  })

  test('bad wiring fails at the call, naming what to pass', () => {
    expect(() => attachAppLifecycle(undefined as never)).toThrow('"manager" must be the token manager')
    expect(() => attachAppLifecycle(manager, { appState: {} as never })).toThrow('"appState" must be react-native\'s AppState')
    expect(() => attachAppLifecycle(manager, { netInfo: null as never })).toThrow('"netInfo" must be the default export of @react-native-community/netinfo')
  })
})
