// DESIGN 4: inside the window the refresh runs in the background and requests go
// out at once with the still-valid token; callers wait only within the margin of
// expiry. A hanging auth server never holds back a request whose token is valid.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTokenManager, refreshTokenGrant, RefreshFailedError } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { AT1, AT2, RT1, controlledRefresh, flush, httpError, recordEvents, track } from '../helpers/core-harness.js'
import { expectWithin, until, within } from '../helpers/bounds.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { NOW, useFakeClock } from '../helpers/fake-time.js'

describe('with a fake clock', () => {
  useFakeClock()

  async function signedIn(expiresInSec = 60) {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now(), retry: { attempts: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: expiresInSec })
    return { manager, refresh, events: recordEvents(manager) }
  }

  it('inside the window: every caller gets the valid token at once (no promise needed), one refresh runs behind them', async () => {
    const { manager, refresh } = await signedIn()
    vi.setSystemTime(NOW + 31_000) // 29 s left: inside the 30 s window, outside the 5 s margin
    const tokens = Array.from({ length: 20 }, () => manager.peekToken()?.value)
    expect(tokens).toEqual(Array(20).fill(AT1))
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(manager.getState()).toMatchObject({ status: 'signedIn', refreshing: true })
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 60 })
    await flush()
    expect(manager.peekToken()?.value).toBe(AT2)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('within the margin (5 s, or the window if shorter) a caller waits for the refresh', async () => {
    const { manager, refresh } = await signedIn()
    vi.setSystemTime(NOW + 55_000)
    expect(manager.peekToken()).toBeUndefined()
    const waiting = track(manager.getAccessToken())
    await flush()
    expect(waiting.status).toBe('pending')
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 60 })
    await flush()
    expect(waiting.value).toBe(AT2)
  })

  it('a background refresh that fails for now rejects nobody: refreshFailed is emitted and the valid token stays in use', async () => {
    const { manager, refresh, events } = await signedIn()
    vi.setSystemTime(NOW + 40_000)
    expect(await manager.getAccessToken()).toBe(AT1)
    refresh.call(0).reject(httpError(503))
    await flush()
    expect(events.payloads('refreshFailed')[0]?.error).toBeInstanceOf(RefreshFailedError)
    expect(await manager.getAccessToken()).toBe(AT1)
    expect(manager.getState()).toMatchObject({ status: 'signedIn', error: expect.any(RefreshFailedError) })
  })

  it('background refreshes that keep failing do not start one refresh per request (the cooldown)', async () => {
    const { manager, refresh } = await signedIn(600)
    vi.setSystemTime(NOW + 580_000) // 20 s left, in the window
    for (let i = 0; i < 20; i++) {
      expect(await manager.getAccessToken()).toBe(AT1)
      for (const call of refresh.calls.splice(0)) call.reject(httpError(503))
      await flush()
      vi.setSystemTime(Date.now() + 100)
    }
    expect(refresh.fn).toHaveBeenCalledTimes(2) // one failure is a blip, two start the cooldown
  })
})

describe('over real HTTP', () => {
  let server: TokenServer
  beforeAll(async () => {
    server = await startTokenServer()
  })
  afterAll(() => server.close())

  it('regression: a hanging auth server no longer blocks a request whose token is still valid', async () => {
    const url = server.url
    server.setRefreshMode('hang')
    const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${url}/auth/token` }) })
    // 20 s left of a 60 s token (on the client's clock): inside the proactive window.
    await manager.setTokens({ ...server.issue(), expiresAt: Date.now() + 20_000, expiresIn: 60 })
    const authFetch = createAuthFetch(manager, { allowedOrigins: [url] })
    const started = Date.now()
    const responses = await within(5_000, Promise.all(Array.from({ length: 10 }, () => authFetch(`${url}/api/me`))))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expectWithin(started, 3_000, 'ten requests with a valid token') // not the ~45 s of timeouts and retries
    await until(() => server.requests('/auth/token').length === 1, 5_000, 'the background refresh to reach the auth server')
    expect(server.stats).toMatchObject({ refreshCalls: 1, authorized: 10, unauthorized: 0 })
    expect(manager.isRefreshing).toBe(true) // one refresh, hanging in the background
    manager.dispose()
  })
})

describe('the margin', () => {
  useFakeClock()

  it('a short-lived token (window of 5 s or less) is refreshed before use, as a whole: its JWT seconds and the trip to the server leave no room for a background refresh', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now(), refreshBeforeExpiryMs: 1_000 })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3 })
    vi.setSystemTime(Date.now() + 2_300) // 700 ms left, inside the 1 s window
    expect(manager.peekToken()).toBeUndefined()
    const waiting = track(manager.getAccessToken())
    await flush()
    expect(waiting.status).toBe('pending')
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 3 })
    await flush()
    expect(waiting.value).toBe(AT2)
  })
})
