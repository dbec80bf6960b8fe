import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  AuthError,
  RefreshFailedError,
  SessionExpiredError,
  createTokenManager,
  type RefreshFn,
  type TokenManager,
  type TokenSet,
} from '../../src/index.js'
import {
  ALL_SECRETS,
  AT1,
  AT2,
  RT1,
  controlledRefresh,
  expectNoTokenLeak,
  expiredSession,
  flush,
  httpError,
  track,
  type Tracked,
} from '../helpers/core-harness.js'
import { expectAtLeast, expectWithin } from '../helpers/bounds.js'
import { useFakeClock } from '../helpers/fake-time.js'

useFakeClock()
afterEach(() => {
  vi.restoreAllMocks()
})

/** 100 waiters, half through getAccessToken(), half through refresh(). */
const hundredWaiters = (manager: TokenManager): Tracked<string | null>[] =>
  Array.from({ length: 100 }, (_, i) => track<string | null>(i % 2 ? manager.refresh() : manager.getAccessToken()))

const terminalErrors: Array<[string, () => unknown]> = [
  ['status 400', () => httpError(400)],
  ['status 401', () => httpError(401)],
  ['status 403', () => httpError(403)],
  ['response.status 401 (axios-style)', () => Object.assign(new Error('Request failed with status code 401'), { response: { status: 401 } })],
  ['error: invalid_grant', () => Object.assign(new Error('token endpoint said no'), { error: 'invalid_grant' })],
  ['code: invalid_grant', () => Object.assign(new Error('token endpoint said no'), { code: 'invalid_grant' })],
  ['response.data.error: invalid_grant', () => Object.assign(new Error('Request failed'), { response: { status: 500, data: { error: 'invalid_grant' } } })],
  ['status 401 in cause', () => new Error('refresh wrapper failed', { cause: httpError(401) })],
  ['invalid_grant in cause', () => new Error('refresh wrapper failed', { cause: { error: 'invalid_grant' } })],
]

describe('terminal refresh failure', () => {
  it.each(terminalErrors)('%s → tokens cleared, one signedOut {reason: expired}, 100 waiters reject SessionExpiredError with the cause', async (_, make) => {
    const refresh = controlledRefresh()
    const { manager, storage, events } = await expiredSession({ refresh: refresh.fn })
    const waiters = hundredWaiters(manager)
    await flush()
    const failure = make()
    refresh.call(0).reject(failure)
    await flush()

    expect(waiters.filter((w) => w.status === 'pending')).toHaveLength(0)
    for (const waiter of waiters) {
      expect(waiter.status).toBe('rejected')
      expect(waiter.reason).toBeInstanceOf(SessionExpiredError)
      expect(waiter.reason).toBeInstanceOf(AuthError)
      expect((waiter.reason as SessionExpiredError).code).toBe('SESSION_EXPIRED')
      expect((waiter.reason as SessionExpiredError).cause).toBe(failure)
    }
    expectNoTokenLeak(waiters[0]?.reason, ALL_SECRETS)
    expect(refresh.fn).toHaveBeenCalledTimes(1) // terminal: never retried
    expect(events.payloads('signedOut')).toEqual([{ reason: 'expired' }])
    expect(events.count('refreshFailed')).toBe(1)
    expect(events.payloads('refreshFailed')[0]?.error).toBeInstanceOf(SessionExpiredError)
    expect(manager.isRefreshing).toBe(false)
    expect(await storage.get()).toBeNull()
    expect(await manager.getAccessToken()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a later refresh({ staleToken }) of the ended session rejects SessionExpiredError without calling refresh again', async () => {
    const refresh = controlledRefresh()
    const { manager } = await expiredSession({ refresh: refresh.fn })
    const first = track(manager.refresh({ staleToken: AT1 }))
    await flush()
    refresh.call(0).reject(httpError(400, { error: 'invalid_grant' }))
    await flush()
    expect(first.reason).toBeInstanceOf(SessionExpiredError)

    const late = manager.refresh({ staleToken: AT1 })
    await expect(late).rejects.toBeInstanceOf(SessionExpiredError)
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'SESSION_EXPIRED' })
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('a refresh fn that throws synchronously a terminal error signs out', async () => {
    const fn = vi.fn<RefreshFn>(() => {
      throw httpError(401)
    })
    const { manager, events } = await expiredSession({ refresh: fn })
    await expect(manager.getAccessToken()).rejects.toBeInstanceOf(SessionExpiredError)
    expect(events.payloads('signedOut')).toEqual([{ reason: 'expired' }])
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('custom isSessionExpired decides: its own error is terminal, a 401 it rejects is transient', async () => {
    class Revoked extends Error {}
    const isSessionExpired = (error: unknown) => error instanceof Revoked
    const terminal = await expiredSession({ refresh: () => Promise.reject(new Revoked('revoked')),  isSessionExpired, retry: { attempts: 0, baseDelayMs: 0 } })
    await expect(terminal.manager.refresh()).rejects.toBeInstanceOf(SessionExpiredError)
    expect(terminal.events.count('signedOut')).toBe(1)

    const transient = await expiredSession({ refresh: () => Promise.reject(httpError(401)),  isSessionExpired, retry: { attempts: 0, baseDelayMs: 0 } })
    await expect(transient.manager.refresh()).rejects.toBeInstanceOf(RefreshFailedError)
    expect(transient.events.count('signedOut')).toBe(0)
    expect(await transient.storage.get()).toMatchObject({ accessToken: AT1 })
  })

  it('a SessionExpiredError thrown by the refresh fn is terminal even when isSessionExpired says no', async () => {
    const { manager, events } = await expiredSession({ refresh: () => Promise.reject(new SessionExpiredError()), 
      isSessionExpired: () => false,
    })
    await expect(manager.refresh()).rejects.toBeInstanceOf(SessionExpiredError)
    expect(events.payloads('signedOut')).toEqual([{ reason: 'expired' }])
  })
})

describe('transient refresh failure', () => {
  it('keeps the tokens, retries retry.attempts times, then rejects every waiter with RefreshFailedError REFRESH_FAILED', async () => {
    const refresh = controlledRefresh()
    const { manager, storage, events } = await expiredSession({ refresh: refresh.fn,  retry: { attempts: 3, baseDelayMs: 100 } })
    const waiters = hundredWaiters(manager)
    await flush()
    const errors = [new Error('fetch failed'), httpError(503), httpError(500), new TypeError('network down')]
    for (let i = 0; i < 4; i++) {
      expect(refresh.fn).toHaveBeenCalledTimes(i + 1)
      expect(refresh.call(i).refreshToken).toBe(RT1)
      refresh.call(i).reject(errors[i])
      await flush()
      if (i < 3) {
        expect(waiters.every((w) => w.status === 'pending')).toBe(true)
        expect(manager.isRefreshing).toBe(true)
        await vi.advanceTimersByTimeAsync(100 * 2 ** i)
      }
    }
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(4)
    expect(waiters.filter((w) => w.status !== 'rejected')).toHaveLength(0)
    const error = waiters[0]?.reason
    expect(error).toBeInstanceOf(RefreshFailedError)
    expect(error).toMatchObject({ code: 'REFRESH_FAILED' })
    expect((error as RefreshFailedError).cause).toBe(errors[3])
    for (const w of waiters) expect(w.reason).toBe(error)
    expectNoTokenLeak(error, ALL_SECRETS)

    expect(events.count('refresh')).toBe(1)
    expect(events.count('refreshFailed')).toBe(1)
    expect(events.count('signedOut')).toBe(0)
    expect(await storage.get()).toMatchObject({ accessToken: AT1, refreshToken: RT1 })
    expect(manager.isRefreshing).toBe(false)
    expect(vi.getTimerCount()).toBe(0)

    // tokens kept: the next call tries again with the same refresh token
    const again = manager.refresh()
    await flush()
    expect(refresh.call(4).refreshToken).toBe(RT1)
    refresh.call(4).resolve({ accessToken: AT2 })
    expect(await again).toBe(AT2)
  })

  it('a transient failure followed by success within the retries resolves every waiter', async () => {
    let calls = 0
    const fn = vi.fn<RefreshFn>(async () => {
      calls++
      if (calls < 3) throw httpError(502)
      return { accessToken: AT2 }
    })
    const { manager, events } = await expiredSession({ refresh: fn,  retry: { attempts: 2, baseDelayMs: 50 } })
    const waiters = hundredWaiters(manager)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(waiters.every((w) => w.status === 'fulfilled' && w.value === AT2)).toBe(true)
    expect(fn).toHaveBeenCalledTimes(3)
    expect(events.count('refreshFailed')).toBe(0)
    expect(events.count('tokens')).toBe(1)
  })

  it('backoff is exponential with jitter between 0.5x and 1x of baseDelayMs * 2^n', async () => {
    for (const [random, factor] of [
      [0, 0.5],
      [0.999_999, 1],
    ] as const) {
      vi.spyOn(Math, 'random').mockReturnValue(random)
      const at: number[] = []
      const fn = vi.fn<RefreshFn>(() => {
        at.push(Date.now())
        return Promise.reject(httpError(503))
      })
      const { manager } = await expiredSession({ refresh: fn,  retry: { attempts: 3, baseDelayMs: 1_000 } })
      const result = track(manager.refresh())
      await flush()
      expect(fn).toHaveBeenCalledTimes(1)
      // just before the first retry is due nothing happens
      await vi.advanceTimersByTimeAsync(1_000 * factor - 5)
      expect(fn, `first retry came early (random=${random})`).toHaveBeenCalledTimes(1)
      await vi.advanceTimersByTimeAsync(10_000)
      expect(fn).toHaveBeenCalledTimes(4)
      const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0))
      const expected = [1_000, 2_000, 4_000].map((base) => base * factor)
      gaps.forEach((gap, n) => expect(gap, `retry ${n + 1} (random=${random})`).toBeCloseTo(expected[n] ?? -1, -1))
      await flush()
      expect(result.reason).toBeInstanceOf(RefreshFailedError)
      vi.restoreAllMocks()
    }
  })

  it('with real jitter every retry delay lies within [0.5, 1] × base × 2^n', async () => {
    const at: number[] = []
    const fn = vi.fn<RefreshFn>(() => {
      at.push(Date.now())
      return Promise.reject(httpError(503))
    })
    for (let run = 0; run < 20; run++) {
      at.length = 0
      const { manager } = await expiredSession({ refresh: fn,  retry: { attempts: 4, baseDelayMs: 200 } })
      const result = track(manager.refresh())
      await vi.advanceTimersByTimeAsync(10_000)
      expect(result.status).toBe('rejected')
      expect(at).toHaveLength(5)
      for (let n = 0; n < 4; n++) {
        const gap = (at[n + 1] ?? 0) - (at[n] ?? 0)
        expect(gap).toBeGreaterThanOrEqual(Math.floor(200 * 2 ** n * 0.5))
        expect(gap).toBeLessThanOrEqual(200 * 2 ** n)
      }
    }
  })

  it('retry.attempts 0 → one call, then RefreshFailedError', async () => {
    const fn = vi.fn<RefreshFn>(() => Promise.reject(httpError(503)))
    const { manager } = await expiredSession({ refresh: fn,  retry: { attempts: 0, baseDelayMs: 1_000 } })
    await expect(manager.refresh()).rejects.toMatchObject({ name: 'RefreshFailedError', code: 'REFRESH_FAILED' })
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('an isSessionExpired that throws makes the failure transient (callers are not left pending)', async () => {
    const fn = vi.fn<RefreshFn>(() => Promise.reject(httpError(401)))
    const { manager, events, storage } = await expiredSession({ refresh: fn, 
      retry: { attempts: 1, baseDelayMs: 10 },
      isSessionExpired: () => {
        throw new Error('classifier bug')
      },
    })
    const result = track(manager.refresh())
    await vi.advanceTimersByTimeAsync(100)
    expect(result.status).toBe('rejected')
    expect(result.reason).toBeInstanceOf(RefreshFailedError)
    expect(fn).toHaveBeenCalledTimes(2)
    expect(events.count('signedOut')).toBe(0)
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
  })

  it('a refresh fn that throws synchronously a network error is transient and retried', async () => {
    const fn = vi.fn<RefreshFn>(() => {
      throw new TypeError('fetch failed')
    })
    const { manager } = await expiredSession({ refresh: fn,  retry: { attempts: 2, baseDelayMs: 10 } })
    const result = track(manager.getAccessToken())
    await vi.advanceTimersByTimeAsync(100)
    expect(result.reason).toBeInstanceOf(RefreshFailedError)
    expect(fn).toHaveBeenCalledTimes(3)
  })

  const garbage: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'access-token-as-a-bare-string'],
    ['an empty object', {}],
    ['an empty accessToken', { accessToken: '' }],
    ['a numeric accessToken', { accessToken: 42 }],
    ['snake_case OAuth body', { access_token: AT2 }],
  ]
  it.each(garbage)('a refresh fn resolving %s → RefreshFailedError REFRESH_FAILED, never pending, tokens kept', async (_, value) => {
    const fn = vi.fn<RefreshFn>(() => Promise.resolve(value as TokenSet))
    const { manager, storage, events } = await expiredSession({ refresh: fn,  retry: { attempts: 1, baseDelayMs: 10 } })
    const waiters = hundredWaiters(manager)
    await vi.advanceTimersByTimeAsync(100)
    expect(waiters.filter((w) => w.status === 'pending')).toHaveLength(0)
    expect(waiters[0]?.reason).toBeInstanceOf(RefreshFailedError)
    expect(waiters[0]?.reason).toMatchObject({ code: 'REFRESH_FAILED' })
    expectNoTokenLeak(waiters[0]?.reason, [...ALL_SECRETS, 'access-token-as-a-bare-string'])
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
    expect(events.count('tokens')).toBe(0)
    expect(events.count('signedOut')).toBe(0)
  })
})

describe('refresh timeout', () => {
  it('a refresh fn that never settles → REFRESH_TIMEOUT after refreshTimeoutMs, its signal aborted', async () => {
    const refresh = controlledRefresh()
    const { manager, events, storage } = await expiredSession({ refresh: refresh.fn,  refreshTimeoutMs: 5_000, retry: { attempts: 0, baseDelayMs: 0 } })
    const waiters = hundredWaiters(manager)
    await flush()
    const { signal } = refresh.call(0)
    expect(signal.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(4_999)
    expect(waiters.every((w) => w.status === 'pending')).toBe(true)
    expect(signal.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(waiters.every((w) => w.status === 'rejected')).toBe(true)
    const error = waiters[0]?.reason
    expect(error).toBeInstanceOf(RefreshFailedError)
    expect(error).toMatchObject({ code: 'REFRESH_TIMEOUT' })
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(signal.aborted).toBe(true)
    expect(events.count('refreshFailed')).toBe(1)
    expect(events.count('signedOut')).toBe(0)
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
    expect(manager.isRefreshing).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('retries after a timeout, with a fresh signal, and the retry can succeed', async () => {
    const refresh = controlledRefresh()
    const { manager } = await expiredSession({ refresh: refresh.fn,  refreshTimeoutMs: 1_000, retry: { attempts: 1, baseDelayMs: 100 } })
    const result = track(manager.getAccessToken())
    await flush()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(refresh.call(0).signal.aborted).toBe(true)
    await vi.advanceTimersByTimeAsync(100)
    expect(refresh.fn).toHaveBeenCalledTimes(2)
    expect(refresh.call(1).signal.aborted).toBe(false)
    expect(refresh.call(1).refreshToken).toBe(RT1)
    refresh.call(1).resolve({ accessToken: AT2 })
    await flush()
    expect(result.value).toBe(AT2)
    expect(await manager.getAccessToken()).toBe(AT2)
  })

  it('a timed-out attempt that answers while its retry is in flight wins: the server did rotate', async () => {
    const refresh = controlledRefresh()
    const { manager } = await expiredSession({ refresh: refresh.fn,  refreshTimeoutMs: 1_000, retry: { attempts: 1, baseDelayMs: 100 } })
    const result = track(manager.getAccessToken())
    await flush()
    await vi.advanceTimersByTimeAsync(1_100)
    expect(refresh.fn).toHaveBeenCalledTimes(2)
    refresh.call(0).resolve({ accessToken: 'late-answer', refreshToken: 'rotated-late' })
    await flush()
    expect(result.value).toBe('late-answer')
    expect(refresh.call(1).signal.aborted).toBe(true) // the retry is superseded, its answer dropped
    refresh.call(1).resolve({ accessToken: AT2 })
    await flush()
    expect(await manager.getAccessToken()).toBe('late-answer')
  })

  it('every attempt times out → the last REFRESH_TIMEOUT reaches the callers', async () => {
    const refresh = controlledRefresh()
    const { manager } = await expiredSession({ refresh: refresh.fn,  refreshTimeoutMs: 1_000, retry: { attempts: 2, baseDelayMs: 100 } })
    const result = track(manager.refresh())
    await vi.advanceTimersByTimeAsync(10_000)
    expect(refresh.fn).toHaveBeenCalledTimes(3)
    expect(refresh.calls.every((c) => c.signal.aborted)).toBe(true)
    expect(result.reason).toMatchObject({ name: 'RefreshFailedError', code: 'REFRESH_TIMEOUT' })
  })

  it('real timers: a hanging refresh fn times out after a small refreshTimeoutMs', async () => {
    vi.useRealTimers()
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, refreshTimeoutMs: 50, retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const started = Date.now()
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'REFRESH_TIMEOUT' })
    expectAtLeast(started, 40, 'a refresh with refreshTimeoutMs 50')
    expectWithin(started, 10_000, 'a refresh with refreshTimeoutMs 50')
    expect(refresh.call(0).signal.aborted).toBe(true)
  })
})
