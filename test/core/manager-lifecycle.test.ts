import { afterEach, describe, expect, it, vi } from 'vitest'
import { AuthError, SessionExpiredError, createTokenManager, type RefreshFn, type TokenStamp } from '../../src/index.js'
import { ALL_SECRETS, AT1, AT2, AT3, RT1, RT2, controlledRefresh, expectNoTokenLeak, expiredSession, flush, httpError, recordEvents, track, unusedRefresh } from '../helpers/core-harness.js'
import { NOW, useFakeClock } from '../helpers/fake-time.js'
import { slowStorage } from '../helpers/core-storages.js'

useFakeClock()
afterEach(() => {
  vi.restoreAllMocks()
})

const code = (error: unknown) => (error instanceof AuthError ? error.code : `not an AuthError: ${String(error)}`)

describe('setTokens() during a refresh (a new login wins)', () => {
  it('waiters of the old session reject NOT_SIGNED_IN (never the new login\'s token); the refresh result is never applied', async () => {
    const { manager, refresh, storage, events } = await expiredSession()
    const waiters = Array.from({ length: 10 }, (_, i) => track(i % 2 ? manager.refresh() : manager.getAccessToken()))
    await flush()
    expect(manager.isRefreshing).toBe(true)

    await manager.setTokens({ accessToken: AT3, refreshToken: RT2, expiresIn: 3600 })
    await flush()
    expect(manager.isRefreshing).toBe(false)
    // They started under the old session: a request is never sent under another one (DESIGN 2).
    expect(waiters.map((w) => code(w.reason))).toEqual(Array(10).fill('NOT_SIGNED_IN'))
    expect(refresh.call(0).signal.aborted).toBe(true)

    refresh.call(0).resolve({ accessToken: AT2, refreshToken: 'refresh-from-old-session' })
    await flush()
    expect(await manager.getAccessToken()).toBe(AT3)
    expect(await storage.get()).toMatchObject({ accessToken: AT3, refreshToken: RT2 })
    expect(events.payloads('tokens').map((t) => t.accessToken)).toEqual([AT3])
    // the next refresh uses the login's refresh token, not the dropped result's
    const next = manager.refresh()
    await flush()
    expect(refresh.call(1).refreshToken).toBe(RT2)
    refresh.call(1).resolve({ accessToken: AT2 })
    expect(await next).toBe(AT2)
  })

  it('a refresh failing terminally after being superseded by a login does not sign the new session out', async () => {
    const { manager, refresh, events } = await expiredSession()
    const waiter = track(manager.getAccessToken())
    await flush()
    await manager.setTokens({ accessToken: AT3, expiresIn: 3600 })
    refresh.call(0).reject(httpError(400, { error: 'invalid_grant' }))
    await flush()
    expect(code(waiter.reason)).toBe('NOT_SIGNED_IN')
    expect(events.count('signedOut')).toBe(0)
    expect(await manager.getAccessToken()).toBe(AT3)
  })

  it('a login during the retry backoff stops the retries', async () => {
    const { manager, refresh } = await expiredSession({ retry: { attempts: 3, baseDelayMs: 1_000 } })
    const waiter = track(manager.refresh())
    await flush()
    refresh.call(0).reject(httpError(503))
    await flush()
    await manager.setTokens({ accessToken: AT3, expiresIn: 3600 })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(code(waiter.reason)).toBe('NOT_SIGNED_IN')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('clear() during a refresh (sign-out wins)', () => {
  it('waiters reject NOT_SIGNED_IN; the refresh resolving later does not sign back in', async () => {
    const { manager, refresh, storage, events } = await expiredSession()
    const waiters = Array.from({ length: 10 }, (_, i) => track<string | null>(i % 2 ? manager.refresh() : manager.getAccessToken()))
    await flush()
    await manager.clear()
    await flush()
    expect(waiters.every((w) => w.status === 'rejected' && code(w.reason) === 'NOT_SIGNED_IN')).toBe(true)
    expectNoTokenLeak(waiters[0]?.reason, ALL_SECRETS)
    expect(manager.isRefreshing).toBe(false)
    expect(refresh.call(0).signal.aborted).toBe(true)

    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2 })
    await flush()
    expect(await manager.getAccessToken()).toBeNull()
    expect(await storage.get()).toBeNull()
    expect(events.count('tokens')).toBe(0)
    expect(events.payloads('signedOut')).toEqual([{ reason: 'cleared' }])
  })

  it('a refresh failing terminally after clear() does not turn the sign-out into an expiry', async () => {
    const { manager, refresh, events } = await expiredSession()
    const waiter = track(manager.refresh())
    await flush()
    await manager.clear()
    refresh.call(0).reject(httpError(401))
    await flush()
    expect(code(waiter.reason)).toBe('NOT_SIGNED_IN')
    expect(events.payloads('signedOut')).toEqual([{ reason: 'cleared' }])
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
  })
})

describe('dispose()', () => {
  it('during a refresh: waiters reject DISPOSED at once; the request already sent is not cut off, and its answer goes to storage', async () => {
    const { manager, refresh, storage, events } = await expiredSession()
    const waiters = Array.from({ length: 10 }, (_, i) => track<string | null>(i % 2 ? manager.refresh() : manager.getAccessToken()))
    await flush()
    const before = events.events.length

    manager.dispose()
    await flush()
    expect(waiters.every((w) => w.status === 'rejected' && code(w.reason) === 'DISPOSED')).toBe(true)
    expectNoTokenLeak(waiters[0]?.reason, ALL_SECRETS)
    // Cutting it off would not undo a rotation the server may already have made.
    expect(refresh.call(0).signal.aborted).toBe(false)
    expect(manager.isRefreshing).toBe(false)

    // The answer is written for the next manager (hot reload, a StrictMode remount), emits nothing,
    // and then nothing is left.
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2 })
    await flush()
    expect(events.events.length).toBe(before)
    expect(await storage.get()).toMatchObject({ accessToken: AT2, refreshToken: RT2 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('regression: disposed mid-refresh, the next manager presents the rotated refresh token, not the spent one', async () => {
    const { manager, refresh, storage } = await expiredSession()
    void manager.getAccessToken().catch(() => {})
    await flush()
    manager.dispose()
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2, expiresIn: 60 })
    await flush()
    await vi.advanceTimersByTimeAsync(61_000)
    const next = controlledRefresh()
    const reloaded = createTokenManager({ refresh: next.fn, storage, now: () => Date.now() })
    const token = track(reloaded.getAccessToken())
    await flush()
    expect(next.call(0).refreshToken).toBe(RT2)
    next.call(0).resolve({ accessToken: AT3, expiresIn: 60 })
    await flush()
    expect(token.value).toBe(AT3)
    reloaded.dispose()
  })

  it('disposed mid-refresh: a hanging refresh still times out, and then no timer is left', async () => {
    const { manager, refresh, storage } = await expiredSession()
    void manager.getAccessToken().catch(() => {})
    await flush()
    manager.dispose()
    await vi.advanceTimersByTimeAsync(15_000)
    expect(refresh.call(0).signal.aborted).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
    expect(await storage.get()).toMatchObject({ accessToken: AT1, refreshToken: RT1 })
  })

  it('disposed mid-refresh, the answer never overwrites a newer login of the next manager', async () => {
    const { manager, refresh, storage } = await expiredSession()
    void manager.getAccessToken().catch(() => {})
    await flush()
    manager.dispose()
    const reloaded = createTokenManager({ refresh: controlledRefresh().fn, storage, now: () => Date.now() })
    await reloaded.setTokens({ accessToken: AT3, refreshToken: 'refresh-of-the-new-login' })
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2 })
    await flush()
    expect(await storage.get()).toMatchObject({ accessToken: AT3, refreshToken: 'refresh-of-the-new-login' })
    reloaded.dispose()
  })

  it('during the retry backoff: no timer is left', async () => {
    const { manager, refresh } = await expiredSession({ retry: { attempts: 3, baseDelayMs: 5_000 } })
    const waiter = track(manager.refresh())
    await flush()
    refresh.call(0).reject(httpError(503))
    await flush()
    expect(vi.getTimerCount()).toBeGreaterThan(0)
    manager.dispose()
    await flush()
    expect(code(waiter.reason)).toBe('DISPOSED')
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('methods after dispose reject DISPOSED; clear() and a second dispose() settle', async () => {
    const { manager, refresh } = await expiredSession()
    manager.dispose()
    await expect(manager.getAccessToken()).rejects.toMatchObject({ code: 'DISPOSED' })
    await expect(manager.refresh()).rejects.toMatchObject({ code: 'DISPOSED' })
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'DISPOSED' })
    await expect(manager.setTokens({ accessToken: AT2 })).rejects.toMatchObject({ code: 'DISPOSED' })
    const cleared = track(manager.clear())
    await flush()
    expect(cleared.status).not.toBe('pending')
    expect(() => manager.dispose()).not.toThrow()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('while the stored session is still loading: waiters reject DISPOSED instead of staying pending', async () => {
    const refresh = controlledRefresh()
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 })
    const manager = createTokenManager({ refresh: refresh.fn, storage: slow.storage, now: () => Date.now() })
    const waiters = [track<string | null>(manager.getAccessToken()), track<string | null>(manager.refresh())]
    await flush()
    manager.dispose()
    await flush()
    expect(waiters.map((w) => w.status)).toEqual(['rejected', 'rejected'])
    expect(waiters.map((w) => code(w.reason))).toEqual(['DISPOSED', 'DISPOSED'])
  })

  it('a stored session that loads after dispose() never starts a refresh', async () => {
    const refresh = controlledRefresh()
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 })
    const manager = createTokenManager({ refresh: refresh.fn, storage: slow.storage, now: () => Date.now() })
    const waiters = [track<string | null>(manager.getAccessToken()), track<string | null>(manager.refresh())]
    await flush()
    manager.dispose()
    slow.release()
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
    expect(waiters.every((w) => w.status === 'rejected')).toBe(true)
  })
})

describe('cookie mode and refresh-token bookkeeping', () => {
  it('refresh() with no tokens calls the refresh fn with refreshToken null, then works', async () => {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now() })
    expect(await manager.getAccessToken()).toBeNull()
    expect(refresh.fn).not.toHaveBeenCalled() // signed out: getAccessToken never refreshes on its own
    const started = manager.refresh()
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(refresh.call(0).refreshToken).toBeNull()
    refresh.call(0).resolve({ accessToken: AT1, expiresIn: 600 })
    expect(await started).toBe(AT1)
    expect(await manager.getAccessToken()).toBe(AT1)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('a refresh result without refreshToken keeps the old refresh token', async () => {
    const { manager, refresh, storage, events } = await expiredSession()
    const first = manager.refresh()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    await first
    expect(events.payloads('tokens')[0]).toMatchObject({ accessToken: AT2, refreshToken: RT1 })
    expect(await storage.get()).toMatchObject({ refreshToken: RT1 })
    const second = manager.refresh()
    await flush()
    expect(refresh.call(1).refreshToken).toBe(RT1)
    refresh.call(1).resolve({ accessToken: AT3 })
    await second
  })

  it('a refresh result with refreshToken null drops the refresh token (server moved it to a cookie)', async () => {
    const { manager, refresh } = await expiredSession()
    const first = manager.refresh()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: null })
    await first
    const second = manager.refresh()
    await flush()
    expect(refresh.call(1).refreshToken).toBeNull()
    refresh.call(1).resolve({ accessToken: AT3 })
    expect(await second).toBe(AT3)
  })
})

describe('NOT_SIGNED_IN versus SESSION_EXPIRED', () => {
  const fails = (): RefreshFn => () => Promise.reject(httpError(400, { error: 'invalid_grant' }))

  it('never signed in: a 401 refresh({ staleToken }) rejects NOT_SIGNED_IN without calling refresh', async () => {
    const fn = vi.fn(fails())
    const manager = createTokenManager({ refresh: fn })
    await expect(manager.refresh({ staleToken: 'whatever' })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
    expect(fn).not.toHaveBeenCalled()
  })

  it('after clear(): NOT_SIGNED_IN, and getAccessToken() resolves null', async () => {
    const manager = createTokenManager({ refresh: fails() })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1 })
    await manager.clear()
    const error: unknown = await manager.refresh({ staleToken: AT1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect(error).not.toBeInstanceOf(SessionExpiredError)
    expect(code(error)).toBe('NOT_SIGNED_IN')
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(await manager.getAccessToken()).toBeNull()
  })

  it('after a terminal failure: SESSION_EXPIRED; after a new login and clear(): NOT_SIGNED_IN again', async () => {
    const manager = createTokenManager({ refresh: fails() })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1 })
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toBeInstanceOf(SessionExpiredError)
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toBeInstanceOf(SessionExpiredError)
    await manager.setTokens({ accessToken: AT2, refreshToken: RT2 })
    // a 401 for the old session's token after the new login: the new token is returned
    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    await manager.clear()
    await expect(manager.refresh({ staleToken: AT2 })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
  })
})

describe('setTokens() input', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['no accessToken', { refreshToken: RT1 }],
    ['an empty accessToken', { accessToken: '', refreshToken: RT1 }],
    ['a numeric accessToken', { accessToken: 1, refreshToken: RT1 }],
  ])('rejects %s with a TypeError that leaks no token, and keeps the current session', async (_, value) => {
    const manager = createTokenManager({ refresh: unusedRefresh })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1 })
    const error: unknown = await manager.setTokens(value as unknown as { accessToken: string }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(await manager.getAccessToken()).toBe(AT1)
  })
})

describe('events', () => {
  it('on() returns an unsubscribe function', async () => {
    const manager = createTokenManager({ refresh: unusedRefresh })
    const seen: string[] = []
    const off = manager.on('tokens', (tokens) => void seen.push(tokens.accessToken))
    await manager.setTokens({ accessToken: AT1 })
    off()
    off() // idempotent
    await manager.setTokens({ accessToken: AT2 })
    expect(seen).toEqual([AT1])
  })

  it('a throwing listener emits error {source: listener} and does not break the refresh', async () => {
    const { manager, refresh } = await expiredSession()
    const boom = new Error('listener bug')
    const errors: Array<{ error: unknown; source: string }> = []
    manager.on('error', (e) => void errors.push(e))
    manager.on('refresh', () => {
      throw boom
    })
    manager.on('tokens', () => {
      throw boom
    })
    const later: string[] = []
    manager.on('tokens', (t) => void later.push(t.accessToken)) // listeners after a throwing one still run
    const result = manager.getAccessToken()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
    expect(errors).toEqual([
      { error: boom, source: 'listener' },
      { error: boom, source: 'listener' },
    ])
    expect(later).toEqual([AT2])
    expect(manager.isRefreshing).toBe(false)
  })

  it('a throwing error listener does not recurse or break the flow', async () => {
    const { manager, refresh } = await expiredSession()
    manager.on('error', () => {
      throw new Error('error listener bug')
    })
    manager.on('tokens', () => {
      throw new Error('tokens listener bug')
    })
    const result = manager.refresh()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
  })

  it('a listener calling back into the manager does not deadlock', async () => {
    const { manager, refresh } = await expiredSession()
    const fromListener: Array<Promise<string | null>> = []
    manager.on('refresh', () => void fromListener.push(manager.getAccessToken()))
    const result = manager.refresh()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
    expect(await Promise.all(fromListener)).toEqual([AT2])
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('unknown event name or a non-function listener → TypeError', () => {
    const manager = createTokenManager({ refresh: unusedRefresh })
    expect(() => manager.on('token' as 'tokens', () => {})).toThrow(TypeError)
    expect(() => manager.on('signedout' as 'signedOut', () => {})).toThrow(TypeError)
    expect(() => manager.on('tokens', 'not a function' as unknown as () => void)).toThrow(TypeError)
  })

  it('signedOut carries reason cleared on clear()', async () => {
    const manager = createTokenManager({ refresh: unusedRefresh })
    const events = recordEvents(manager)
    await manager.setTokens({ accessToken: AT1 })
    await manager.clear()
    expect(events.payloads('signedOut')).toEqual([{ reason: 'cleared' }])
  })

  it('regression: clear() twice while signed out emits signedOut once (only a real transition is an event)', async () => {
    const manager = createTokenManager({ refresh: unusedRefresh })
    const events = recordEvents(manager)
    await manager.clear() // never signed in
    await manager.setTokens({ accessToken: AT1 })
    await manager.clear()
    await manager.clear()
    expect(events.payloads('signedOut')).toEqual([{ reason: 'cleared' }])
  })

  it('one rule for a late 401 after a sign-out, local or from another tab: handed back, never SESSION_EXPIRED', async () => {
    const receivers: ((tokens: null) => void)[] = []
    const link = { connect: (host: { receive(tokens: null): void }) => (receivers.push((t) => host.receive(t)), { exclusive: (task: () => Promise<never>) => task(), publish() {}, close() {} }) }
    const local = createTokenManager({ refresh: unusedRefresh })
    const remote = createTokenManager({ refresh: unusedRefresh, crossTab: link as never })
    const sent: (TokenStamp | null)[] = []
    for (const manager of [local, remote]) {
      await manager.setTokens({ accessToken: AT1 })
      sent.push(manager.peekToken() ?? null)
    }
    await local.clear()
    receivers[0]!(null) // another tab signed out
    expect(remote.getState()).toMatchObject({ status: 'signedOut', reason: 'remote' })
    expect(await local.tokenRejected(sent[0]!)).toBeNull()
    expect(await remote.tokenRejected(sent[1]!)).toBeNull()
    // The older string form says why in its code, the same way for both.
    await expect(local.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
    await expect(remote.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
  })
})

describe('timers', () => {
  it('the refresh timeout and backoff timers are unref’d (Node can exit while a refresh hangs)', async () => {
    vi.useRealTimers()
    const timers: Array<{ hasRef(): boolean }> = []
    const realSetTimeout = globalThis.setTimeout
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((...args: Parameters<typeof setTimeout>) => {
      const timer = realSetTimeout(...args)
      timers.push(timer)
      return timer
    }) as typeof setTimeout)
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, retry: { attempts: 1, baseDelayMs: 20 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const result = manager.refresh().catch((e: unknown) => e)
    await flush()
    expect(timers.length).toBeGreaterThan(0)
    refresh.call(0).reject(httpError(503))
    await flush()
    expect(timers.length).toBeGreaterThan(1)
    expect(timers.every((t) => !t.hasRef())).toBe(true)
    manager.dispose()
    expect(await result).toMatchObject({ code: 'DISPOSED' })
  })
})
