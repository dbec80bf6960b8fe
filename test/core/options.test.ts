import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTokenManager, type RefreshFn, type TokenManagerOptions } from '../../src/index.js'
import { AT1, AT2, RT1, controlledRefresh, flush, httpError, track } from '../helpers/core-harness.js'
import { useFakeClock } from '../helpers/fake-time.js'

const refresh: RefreshFn = () => Promise.resolve({ accessToken: AT1 })
const make = (options: unknown) => () => createTokenManager(options as TokenManagerOptions)

describe('createTokenManager options validation: a bad option throws a TypeError naming it', () => {
  it.each([
    ['options missing', undefined, 'refresh'],
    ['options null', null, 'refresh'],
    ['refresh missing', {}, 'refresh'],
    ['refresh not a function', { refresh: 'https://auth.example.com/token' }, 'refresh'],
  ])('%s', (_, options, name) => {
    expect(make(options)).toThrow(TypeError)
    expect(make(options)).toThrow(name)
  })

  it.each([
    ['isSessionExpired', 'yes'],
    ['isSessionExpired', true],
    ['now', 1_700_000_000_000],
    ['now', 'Date.now'],
  ])('%s = %j', (name, value) => {
    const create = make({ refresh, [name]: value })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(name)
  })

  it.each([
    ['refreshBeforeExpiryMs', -1],
    ['refreshBeforeExpiryMs', Number.NaN],
    ['refreshBeforeExpiryMs', '30000'],
    ['refreshBeforeExpiryMs', null],
    ['refreshTimeoutMs', 0],
    ['refreshTimeoutMs', -1],
    ['refreshTimeoutMs', Number.NaN],
    ['refreshTimeoutMs', '15000'],
    ['storageTimeoutMs', 0],
    ['storageTimeoutMs', -5],
    ['storageTimeoutMs', '5000'],
  ])('%s = %s', (name, value) => {
    const create = make({ refresh, [name]: value })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(name)
  })

  it.each([
    ['retry.attempts', { attempts: -1, baseDelayMs: 300 }],
    ['retry.attempts', { attempts: 1.5, baseDelayMs: 300 }],
    ['retry.attempts', { attempts: Number.NaN, baseDelayMs: 300 }],
    ['retry.attempts', { attempts: Number.POSITIVE_INFINITY, baseDelayMs: 300 }],
    ['retry.attempts', { attempts: '2', baseDelayMs: 300 }],
    ['retry.baseDelayMs', { attempts: 2, baseDelayMs: -1 }],
    ['retry.baseDelayMs', { attempts: 2, baseDelayMs: Number.NaN }],
    ['retry.baseDelayMs', { attempts: 2, baseDelayMs: '300' }],
    ['retry.cooldownMs', { cooldownMs: -1 }],
    ['retry.cooldownMs', { cooldownMs: '5s' }],
    ['retry', 3],
    ['retry', null],
    ['retry', 'exponential'],
  ])('%s in retry %j', (name, retry) => {
    const create = make({ refresh, retry })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(name)
  })

  it.each([
    ['storage', { getItem: () => null, setItem: () => {}, removeItem: () => {} }, 'webStorage(localStorage)'],
    ['storage', 'localStorage', 'storage'],
    ['storage', { get: () => null, set: () => {} }, 'clear'],
    ['storage', null, 'storage'],
    ['crossTab', {}, 'crossTab'],
    ['crossTab', true, 'crossTab'],
  ])('%s = %j (the raw localStorage mistake among them) is refused at creation, not reported later', (name, value, words) => {
    const create = make({ refresh, [name]: value })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(name)
    expect(create).toThrow(words)
  })

  it('accepted edge values: window 0, attempts 0, baseDelayMs 0, a small timeout', () => {
    expect(() =>
      createTokenManager({ refresh, refreshBeforeExpiryMs: 0, refreshTimeoutMs: 1, retry: { attempts: 0, baseDelayMs: 0 } }),
    ).not.toThrow()
    expect(() => createTokenManager({ refresh, storage: undefined, retry: undefined, now: undefined, isSessionExpired: undefined })).not.toThrow()
    expect(() => createTokenManager({ refresh, retry: {} })).not.toThrow()
    expect(() => createTokenManager({ refresh, retry: { attempts: 5 } })).not.toThrow()
    expect(() => createTokenManager({ refresh, refreshTimeoutMs: Number.POSITIVE_INFINITY, refreshBeforeExpiryMs: Number.POSITIVE_INFINITY })).not.toThrow()
  })
})

describe('durations are clamped to what setTimeout can hold', () => {
  useFakeClock()

  it.each([
    ['2^31 ms', 2 ** 31],
    ['a year', 365 * 24 * 3_600_000],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('regression: refreshTimeoutMs of %s no longer times every refresh out after 1 ms', async (_, refreshTimeoutMs) => {
    const r = controlledRefresh()
    const manager = createTokenManager({ refresh: r.fn, refreshTimeoutMs, retry: { attempts: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const result = track(manager.refresh())
    await vi.advanceTimersByTimeAsync(60_000)
    expect(result.status).toBe('pending')
    expect(r.call(0).signal.aborted).toBe(false)
    r.call(0).resolve({ accessToken: AT2 })
    await flush()
    expect(result.value).toBe(AT2)
    manager.dispose()
  })

  it('a retry.baseDelayMs beyond 2^31 ms waits as long as timers allow, not 1 ms', async () => {
    const fn = vi.fn<RefreshFn>(() => Promise.reject(httpError(503)))
    const manager = createTokenManager({ refresh: fn, retry: { attempts: 1, baseDelayMs: 2 ** 33 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    void manager.refresh().catch(() => {})
    await vi.advanceTimersByTimeAsync(60_000)
    expect(fn).toHaveBeenCalledTimes(1)
    manager.dispose()
  })
})

describe('defaults', () => {
  useFakeClock()
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('refreshTimeoutMs defaults to 15 s', async () => {
    const r = controlledRefresh()
    const manager = createTokenManager({ refresh: r.fn, retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const result = track(manager.refresh())
    await vi.advanceTimersByTimeAsync(14_999)
    expect(result.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(result.reason).toMatchObject({ code: 'REFRESH_TIMEOUT' })
  })

  it('retry defaults to 2 retries with a 300 ms base (jitter pinned low: 150 ms then 300 ms)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const fn = vi.fn<RefreshFn>(() => Promise.reject(httpError(503)))
    const manager = createTokenManager({ refresh: fn })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const result = track(manager.refresh())
    await flush()
    expect(fn).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(149)
    expect(fn).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(fn).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(300)
    expect(fn).toHaveBeenCalledTimes(3)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(fn).toHaveBeenCalledTimes(3)
    expect(result.reason).toMatchObject({ code: 'REFRESH_FAILED' })
  })

  it('refreshBeforeExpiryMs defaults to 30 s and now defaults to Date.now', async () => {
    const r = controlledRefresh()
    const manager = createTokenManager({ refresh: r.fn })
    await manager.setTokens({ accessToken: AT1, expiresAt: Date.now() + 600_000 })
    vi.setSystemTime(Date.now() + 569_999)
    expect(await manager.getAccessToken()).toBe(AT1)
    expect(r.fn).not.toHaveBeenCalled()
    vi.setSystemTime(Date.now() + 1)
    expect(await manager.getAccessToken()).toBe(AT1) // in the background
    expect(r.fn).toHaveBeenCalledTimes(1)
    r.call(0).resolve({ accessToken: AT2 })
    await flush()
    expect(await manager.getAccessToken()).toBe(AT2)
  })

  it('storageTimeoutMs defaults to 5 s: a storage that never answers holds a login up to then, not for ever', async () => {
    const hanging = { get: () => null, set: () => new Promise<void>(() => {}), clear: () => new Promise<void>(() => {}) }
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage: hanging })
    const login = track(manager.setTokens({ accessToken: AT1 }))
    await vi.advanceTimersByTimeAsync(4_999)
    expect(login.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(login.status).toBe('fulfilled')
    manager.dispose()
  })

  it('retry.cooldownMs defaults to 5 s from the second failure in a row, and doubles with each further one', async () => {
    const fn = vi.fn<RefreshFn>(() => Promise.reject(httpError(503)))
    const manager = createTokenManager({ refresh: fn, retry: { attempts: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const calls = async () => {
      await manager.getAccessToken().catch(() => {})
      return fn.mock.calls.length
    }
    expect(await calls()).toBe(1)
    expect(await calls()).toBe(2) // one failure is a blip: tried again at once
    expect(await calls()).toBe(2) // two in a row: the cooldown
    await vi.advanceTimersByTimeAsync(4_999)
    expect(await calls()).toBe(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(await calls()).toBe(3)
    await vi.advanceTimersByTimeAsync(9_999)
    expect(await calls()).toBe(3)
    await vi.advanceTimersByTimeAsync(1)
    expect(await calls()).toBe(4)
    manager.dispose()
  })
})
