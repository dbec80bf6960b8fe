import { describe, expect, it, vi } from 'vitest'
import { RefreshFailedError, SessionExpiredError, createTokenManager, memoryStorage, type TokenSet, type TokenStorage } from '../../src/index.js'
import { AT1, AT2, AT3, RT1, controlledRefresh, flush, httpError, recordEvents, track } from '../helpers/core-harness.js'
import { jwtFor, mintJwt } from '../helpers/core-jwt.js'
import { useFakeClock } from '../helpers/fake-time.js'

/** The server's (true) time at the start of each test. */
const SERVER_NOW = Date.UTC(2030, 0, 1, 12)
const HOUR = 3_600_000

useFakeClock({ now: SERVER_NOW })

/**
 * A manager whose client clock is `skewMs` off the true (fake) time, signed in with `tokens`.
 * `due()` reports whether getAccessToken() now starts a refresh; a started refresh is answered with AT3.
 * Inside the window the caller gets the current token at once (the refresh runs in the background,
 * DESIGN 4); within the margin of expiry it waits for AT3.
 */
async function signedIn(tokens: TokenSet, options: { skewMs?: number; refreshBeforeExpiryMs?: number; storage?: TokenStorage } = {}) {
  const refresh = controlledRefresh()
  const skew = options.skewMs ?? 0
  const manager = createTokenManager({
    refresh: refresh.fn,
    now: () => Date.now() + skew,
    ...(options.refreshBeforeExpiryMs === undefined ? {} : { refreshBeforeExpiryMs: options.refreshBeforeExpiryMs }),
    storage: options.storage ?? memoryStorage(),
  })
  await manager.setTokens(tokens)
  const due = async (): Promise<boolean> => {
    const before = refresh.calls.length
    const result = track(manager.getAccessToken())
    await flush()
    if (refresh.calls.length === before) {
      expect(result.status).toBe('fulfilled')
      return false
    }
    const waited = result.status === 'pending'
    if (!waited) expect(result.value).toBe(tokens.accessToken)
    refresh.call(-1).resolve({ accessToken: AT3, expiresIn: 3600 })
    await flush()
    expect(result.value).toBe(waited ? AT3 : tokens.accessToken)
    expect(await manager.getAccessToken()).toBe(AT3)
    return true
  }
  return { manager, refresh, due }
}

const at = (ms: number) => vi.setSystemTime(SERVER_NOW + ms)

describe('proactive refresh window', () => {
  it('default window 30 s: a 5-minute token is refreshed 30 s before expiry, not earlier', async () => {
    const { due, manager } = await signedIn({ accessToken: AT1, refreshToken: RT1, expiresAt: SERVER_NOW + 300_000 })
    at(0)
    expect(await manager.getAccessToken()).toBe(AT1)
    at(269_999)
    expect(await due()).toBe(false)
    at(270_000)
    expect(await due()).toBe(true)
  })

  it('refreshBeforeExpiryMs is applied', async () => {
    const { due } = await signedIn({ accessToken: AT1, expiresAt: SERVER_NOW + 300_000 }, { refreshBeforeExpiryMs: 120_000 })
    at(179_999)
    expect(await due()).toBe(false)
    at(180_000)
    expect(await due()).toBe(true)
  })

  it('refreshBeforeExpiryMs 0: refreshed only once expired', async () => {
    const { due } = await signedIn({ accessToken: AT1, expiresAt: SERVER_NOW + 60_000 }, { refreshBeforeExpiryMs: 0 })
    at(59_999)
    expect(await due()).toBe(false)
    at(60_000)
    expect(await due()).toBe(true)
  })

  it('regression: a 20 s token with a 30 s window is not refreshed on every call (window capped at half the lifetime)', async () => {
    const { due, refresh } = await signedIn({ accessToken: AT1, expiresIn: 20 }, { refreshBeforeExpiryMs: 30_000 })
    for (let t = 0; t < 10_000; t += 1_000) {
      at(t)
      expect(await due(), `refreshed at ${t} ms`).toBe(false)
    }
    at(9_999)
    expect(await due()).toBe(false)
    expect(refresh.fn).not.toHaveBeenCalled()
    at(10_000)
    expect(await due()).toBe(true)
  })

  it('the cap also holds for a JWT lifetime (exp - iat): a 40 s JWT is refreshed after 20 s', async () => {
    const { due } = await signedIn({ accessToken: jwtFor(SERVER_NOW, 40) })
    at(19_999)
    expect(await due()).toBe(false)
    at(20_000)
    expect(await due()).toBe(true)
  })

  it('the refreshed token’s expiry is measured from when it was received', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now() })
    await manager.setTokens({ accessToken: AT1, expiresAt: SERVER_NOW - 1 })
    at(10_000)
    const first = manager.getAccessToken()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 120 })
    expect(await first).toBe(AT2)
    at(10_000 + 89_999)
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    at(10_000 + 90_000)
    const second = track(manager.getAccessToken())
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(2)
    expect(second.value).toBe(AT2) // inside the window: at once, the refresh runs in the background
    refresh.call(1).resolve({ accessToken: AT3 })
    await flush()
    expect(await manager.getAccessToken()).toBe(AT3)
  })
})

describe('where expiry comes from (first that applies)', () => {
  it('expiresAt beats expiresIn and the JWT', async () => {
    const { due } = await signedIn({ accessToken: jwtFor(SERVER_NOW, 3600), expiresIn: 3600, expiresAt: SERVER_NOW + 60_000 })
    at(29_999)
    expect(await due()).toBe(false)
    at(30_000)
    expect(await due()).toBe(true)
  })

  it('expiresIn (seconds from receipt) beats the JWT', async () => {
    const { due } = await signedIn({ accessToken: jwtFor(SERVER_NOW, 3600), expiresIn: 120 })
    at(89_999)
    expect(await due()).toBe(false)
    at(90_000)
    expect(await due()).toBe(true)
  })

  it('expiresIn is measured from receipt on the client clock, even when that clock is hours off', async () => {
    const { due } = await signedIn({ accessToken: AT1, expiresIn: 120 }, { skewMs: -5 * HOUR })
    at(89_999)
    expect(await due()).toBe(false)
    at(90_000)
    expect(await due()).toBe(true)
  })

  it.each([
    ['5 hours ahead', 5 * HOUR],
    ['3 hours behind', -3 * HOUR],
    ['exact', 0],
  ])('JWT with iat: expiry is receipt + (exp - iat), so a client clock %s still refreshes on time', async (_, skewMs) => {
    // the server issues at its true time; the client receives with its own clock
    const { due } = await signedIn({ accessToken: jwtFor(SERVER_NOW, 600) }, { skewMs })
    at(0)
    expect(await due()).toBe(false)
    at(569_999)
    expect(await due()).toBe(false)
    at(570_000)
    expect(await due()).toBe(true)
  })

  it('JWT with exp only: expiry is exp on the client clock', async () => {
    const { due } = await signedIn({ accessToken: mintJwt({ exp: Math.floor(SERVER_NOW / 1000) + 120 }) })
    at(89_999)
    expect(await due()).toBe(false)
    at(90_000)
    expect(await due()).toBe(true)
  })

  it('an opaque token is never refreshed proactively, even years later', async () => {
    const { due, manager } = await signedIn({ accessToken: 'opaque-token-not-a-jwt', refreshToken: RT1 })
    at(10 * 365 * 24 * HOUR)
    expect(await due()).toBe(false)
    expect(await manager.getAccessToken()).toBe('opaque-token-not-a-jwt')
  })

  it('a JWT without exp is treated as opaque (reactive refresh only)', async () => {
    const { due } = await signedIn({ accessToken: mintJwt({ sub: 'no-exp' }) })
    at(365 * 24 * HOUR)
    expect(await due()).toBe(false)
  })

  it('a string with dots that is not a JWT is opaque and does not throw', async () => {
    const { due, manager } = await signedIn({ accessToken: 'abc.def.ghi' })
    at(365 * 24 * HOUR)
    expect(await due()).toBe(false)
    expect(await manager.getAccessToken()).toBe('abc.def.ghi')
  })

  it('an opaque token is still refreshed reactively, by refresh({ staleToken })', async () => {
    const { manager, refresh } = await signedIn({ accessToken: 'opaque-1', refreshToken: RT1 })
    const result = manager.refresh({ staleToken: 'opaque-1' })
    await flush()
    expect(refresh.call(0).refreshToken).toBe(RT1)
    refresh.call(0).resolve({ accessToken: 'opaque-2' })
    expect(await result).toBe('opaque-2')
  })
})

describe('proactive refresh that fails', () => {
  async function nearExpiry(failure: unknown) {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now(), retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: SERVER_NOW + 60_000 })
    const events = recordEvents(manager)
    at(45_000) // inside the window, still valid
    const result = track(manager.getAccessToken())
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    refresh.call(0).reject(failure)
    await flush()
    return { manager, refresh, events, result }
  }

  it('transiently, while the token is still valid → returns the old token and emits refreshFailed', async () => {
    const { result, events, manager } = await nearExpiry(httpError(503))
    expect(result.status).toBe('fulfilled')
    expect(result.value).toBe(AT1)
    expect(events.count('refreshFailed')).toBe(1)
    expect(events.payloads('refreshFailed')[0]?.error).toBeInstanceOf(RefreshFailedError)
    expect(events.count('signedOut')).toBe(0)
    expect(manager.isRefreshing).toBe(false)
  })

  it('transiently, with the token already expired → rejects RefreshFailedError', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now(), retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: SERVER_NOW + 60_000 })
    at(60_001)
    const result = track(manager.getAccessToken())
    await flush()
    refresh.call(0).reject(new TypeError('fetch failed'))
    await flush()
    expect(result.reason).toBeInstanceOf(RefreshFailedError)
    expect(result.reason).toMatchObject({ code: 'REFRESH_FAILED' })
  })

  it('the token expiring while the background refresh runs → later callers wait, and reject RefreshFailedError rather than get an expired token', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now(), retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: SERVER_NOW + 60_000 })
    at(45_000)
    expect(await manager.getAccessToken()).toBe(AT1) // background refresh started
    at(61_000)
    const late = track(manager.getAccessToken())
    await flush()
    expect(late.status).toBe('pending')
    expect(refresh.fn).toHaveBeenCalledTimes(1) // joined, not a second refresh
    refresh.call(0).reject(httpError(503))
    await flush()
    expect(late.reason).toBeInstanceOf(RefreshFailedError)
  })

  it('terminally, in the background while the token is still valid → signed out, the next call gets null', async () => {
    const { result, events, manager } = await nearExpiry(httpError(400, { error: 'invalid_grant' }))
    expect(result.value).toBe(AT1) // it went out at once, before the refresh failed
    expect(events.payloads('refreshFailed')[0]?.error).toBeInstanceOf(SessionExpiredError)
    expect(events.payloads('signedOut')).toEqual([{ reason: 'expired' }])
    expect(await manager.getAccessToken()).toBeNull()
  })
})

describe('persisted expiry (reload)', () => {
  it('expiresAt is persisted: a reload after the token expired refreshes instead of restarting the clock', async () => {
    const storage = memoryStorage()
    const first = await signedIn({ accessToken: AT1, refreshToken: RT1, expiresIn: 60 }, { storage })
    first.manager.dispose()
    expect(await storage.get()).toMatchObject({ accessToken: AT1, expiresAt: SERVER_NOW + 60_000 })
    at(61_000)
    const reloaded = await reload(storage)
    expect(await reloaded.due()).toBe(true)
    expect(reloaded.refresh.call(0).refreshToken).toBe(RT1)
  })

  it('a reload before expiry keeps using the stored token', async () => {
    const storage = memoryStorage()
    const first = await signedIn({ accessToken: AT1, refreshToken: RT1, expiresIn: 600 }, { storage })
    first.manager.dispose()
    at(60_000)
    const reloaded = await reload(storage)
    expect(await reloaded.manager.getAccessToken()).toBe(AT1)
    expect(reloaded.refresh.fn).not.toHaveBeenCalled()
  })

  it.each([
    ['a JWT (exp - iat = 60 s)', { accessToken: jwtFor(SERVER_NOW, 60), refreshToken: RT1 }],
    ['an opaque token with expiresIn 60', { accessToken: AT1, refreshToken: RT1, expiresIn: 60 }],
  ])('regression: after a reload, %s inside the 30 s window is refreshed proactively (the lifetime cap is not re-measured from the reload)', async (_, tokens) => {
    const storage = memoryStorage()
    const first = await signedIn(tokens, { storage })
    first.manager.dispose()
    at(40_000) // 20 s left of a 60 s token: inside the 30 s window, which half of 60 s allows
    const reloaded = await reload(storage)
    expect(await reloaded.due()).toBe(true)
  })

  async function reload(storage: TokenStorage) {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, storage, now: () => Date.now() })
    const due = async (): Promise<boolean> => {
      const result = track(manager.getAccessToken())
      await flush()
      if (refresh.calls.length === 0) return false
      refresh.call(-1).resolve({ accessToken: AT2 })
      await flush()
      expect(await manager.getAccessToken()).toBe(AT2)
      return result.status === 'fulfilled'
    }
    return { manager, refresh, due }
  }
})
