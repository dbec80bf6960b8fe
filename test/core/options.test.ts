import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTokenManager, type RefreshFn, type TokenManagerOptions } from '../../src/index.js'
import { AT1, AT2, RT1, controlledRefresh, flush, httpError, track } from '../helpers/core-harness.js'

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
    ['refreshBeforeExpiryMs', Number.POSITIVE_INFINITY],
    ['refreshBeforeExpiryMs', '30000'],
    ['refreshBeforeExpiryMs', null],
    ['refreshTimeoutMs', 0],
    ['refreshTimeoutMs', -1],
    ['refreshTimeoutMs', Number.NaN],
    ['refreshTimeoutMs', Number.POSITIVE_INFINITY],
    ['refreshTimeoutMs', '15000'],
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
  ])('%s in retry %j', (name, retry) => {
    const create = make({ refresh, retry })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(name)
  })

  it('retry that is not an object (retry: 3) counts as absent: the defaults apply (documented; not validated, to keep the core small)', async () => {
    const r = controlledRefresh()
    const manager = createTokenManager({ refresh: r.fn, retry: 3 as unknown as TokenManagerOptions['retry'] })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: -1 })
    const result = manager.refresh()
    await flush()
    expect(r.fn).toHaveBeenCalledTimes(1)
    r.call(0).resolve({ accessToken: AT2 })
    await expect(result).resolves.toBe(AT2)
    manager.dispose()
  })

  it('storage without get/set/clear (localStorage passed raw instead of webStorage(localStorage)) is reported as a storage error, and the session lives in memory', async () => {
    const errors: unknown[] = []
    const raw = { getItem: () => null, setItem: () => {}, removeItem: () => {} }
    const manager = createTokenManager({ refresh, storage: raw as unknown as TokenManagerOptions['storage'] })
    manager.on('error', (e) => errors.push(e.source))
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1 })
    expect(errors).toEqual(['storage'])
    expect(await manager.getAccessToken()).toBe(AT1)
    manager.dispose()
  })

  it('accepted edge values: window 0, attempts 0, baseDelayMs 0, a small timeout', () => {
    expect(() =>
      createTokenManager({ refresh, refreshBeforeExpiryMs: 0, refreshTimeoutMs: 1, retry: { attempts: 0, baseDelayMs: 0 } }),
    ).not.toThrow()
    expect(() => createTokenManager({ refresh, storage: undefined, retry: undefined, now: undefined, isSessionExpired: undefined })).not.toThrow()
  })
})

describe('defaults', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) })
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
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
    const result = manager.getAccessToken()
    await flush()
    expect(r.fn).toHaveBeenCalledTimes(1)
    r.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
  })
})
