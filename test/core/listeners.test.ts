// Listeners run synchronously and may call back into the manager: whatever they
// do (dispose, clear, setTokens) must hold when the emit returns.
import { describe, expect, it, vi } from 'vitest'
import { AuthError, createTokenManager } from '../../src/index.js'
import { AT1, AT2, AT3, RT1, RT2, controlledRefresh, expiredSession, flush, track } from '../helpers/core-harness.js'
import { useFakeClock } from '../helpers/fake-time.js'

useFakeClock()

const code = (error: unknown) => (error instanceof AuthError ? error.code : String(error))

describe('a "refresh" listener that changes the session: the refresh function never runs', () => {
  it('regression: dispose() from the listener — no refresh token is spent after dispose', async () => {
    const { manager, refresh } = await expiredSession()
    manager.on('refresh', () => manager.dispose())
    const waiter = track(manager.getAccessToken())
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(code(waiter.reason)).toBe('DISPOSED')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('regression: clear() from the listener — the refresh function is not called with null (cookie mode would sign back in)', async () => {
    const { manager, refresh, storage } = await expiredSession()
    manager.on('refresh', () => void manager.clear())
    const waiter = track(manager.getAccessToken())
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(code(waiter.reason)).toBe('NOT_SIGNED_IN')
    expect(await manager.getAccessToken()).toBeNull()
    expect(await storage.get()).toBeNull()
  })

  it('regression: setTokens() from the listener — the new login\'s refresh token is not spent on a refresh whose result would be dropped', async () => {
    const { manager, refresh } = await expiredSession()
    let once = true
    manager.on('refresh', () => {
      if (once) void manager.setTokens({ accessToken: AT3, refreshToken: RT2, expiresIn: 3600 })
      once = false
    })
    const waiter = track(manager.getAccessToken())
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(code(waiter.reason)).toBe('NOT_SIGNED_IN') // it started under the old session
    expect(await manager.getAccessToken()).toBe(AT3)
    // The next expiry presents the new login's refresh token, unspent.
    vi.setSystemTime(Date.now() + 3_600_000)
    const next = track(manager.getAccessToken())
    await flush()
    expect(refresh.call(0).refreshToken).toBe(RT2)
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 60 })
    await flush()
    expect(next.value).toBe(AT2)
  })
})

describe('a "tokens" listener that signs out', () => {
  it('regression: clear() from the listener — a waiting request does not go out with the refreshed token', async () => {
    const { manager, refresh } = await expiredSession()
    manager.on('tokens', () => void manager.clear())
    const waiters = [track(manager.getAccessToken()), track(manager.getAccessToken()), track(manager.refresh())]
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2, expiresIn: 60 })
    await flush()
    expect(waiters.map((w) => w.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(waiters.map((w) => code(w.reason))).toEqual(['NOT_SIGNED_IN', 'NOT_SIGNED_IN', 'NOT_SIGNED_IN'])
    expect(await manager.getAccessToken()).toBeNull()
  })

  it('tokenRejected() waiters of a session cleared by a "tokens" listener are handed back (null), not retried', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now() })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    const sent = manager.peekToken()
    expect(sent?.value).toBe(AT1)
    manager.on('tokens', () => void manager.clear())
    const rejected = track(manager.tokenRejected(sent!))
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 60 })
    await flush()
    expect(rejected.status).toBe('fulfilled')
    expect(rejected.value).toBeNull()
  })
})

describe('a "state" listener', () => {
  it('sees every transition, and getState() is the same object until something changes', async () => {
    const { manager, refresh } = await expiredSession()
    const seen: string[] = []
    manager.on('state', (state) => seen.push(`${state.status}${state.refreshing ? '+refreshing' : ''}`))
    const first = manager.getState()
    expect(manager.getState()).toBe(first)
    const waiter = manager.getAccessToken()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 60 })
    await waiter
    await manager.clear()
    manager.dispose()
    expect(seen).toEqual(['signedIn+refreshing', 'signedIn', 'signedOut', 'disposed'])
  })
})
