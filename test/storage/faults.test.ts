import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, webStorage, type RefreshFn, type TokenManagerEvents } from '../../src/index.js'
import { ALL_SECRETS, AT1, AT2, AT3, RT1, RT2, expectNoTokenLeak, flush, recordEvents, track, unusedRefresh } from '../helpers/core-harness.js'
import { MapWebStorage, faultyStorage, slowStorage } from '../helpers/core-storages.js'

const storageErrors = (events: ReturnType<typeof recordEvents>) =>
  events.payloads('error').filter((e: TokenManagerEvents['error']) => e.source === 'storage')

describe.each(['sync', 'async'] as const)('a storage that fails (%s)', (mode) => {
  it('get() failing → error {source: storage}, starts signed out, and a login still works', async () => {
    const faulty = faultyStorage(mode, { accessToken: AT1, refreshToken: RT1 })
    faulty.faults.add('get')
    const manager = createTokenManager({ refresh: unusedRefresh, storage: faulty.storage })
    const events = recordEvents(manager)
    expect(await manager.getAccessToken()).toBeNull()
    const errors = storageErrors(events)
    expect(errors).toHaveLength(1)
    expect(String(errors[0]?.error)).toContain('storage get failed')
    await manager.setTokens({ accessToken: AT2, refreshToken: RT2 })
    expect(await manager.getAccessToken()).toBe(AT2)
  })

  it('set() failing → setTokens resolves, error {source: storage}, the tokens are kept in memory and refresh keeps working', async () => {
    const faulty = faultyStorage(mode)
    faulty.faults.add('set')
    const fn = vi.fn<RefreshFn>(() => Promise.resolve({ accessToken: AT2, refreshToken: RT2 }))
    const manager = createTokenManager({ refresh: fn, storage: faulty.storage })
    const events = recordEvents(manager)
    await expect(manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })).resolves.toBeUndefined()
    expect(storageErrors(events)).toHaveLength(1)
    expectNoTokenLeak(storageErrors(events)[0]?.error, ALL_SECRETS)
    expect(await manager.getAccessToken()).toBe(AT1)

    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    expect(fn.mock.calls[0]?.[0].refreshToken).toBe(RT1)
    expect(await manager.getAccessToken()).toBe(AT2)
    const next = manager.refresh({ staleToken: AT2 })
    expect(await next).toBe(AT2)
    expect(fn.mock.calls[1]?.[0].refreshToken).toBe(RT2)
  })

  it('set() failing during a refresh → the waiters still get the new token', async () => {
    const faulty = faultyStorage(mode)
    const fn = vi.fn<RefreshFn>(() => Promise.resolve({ accessToken: AT2 }))
    const manager = createTokenManager({ refresh: fn, storage: faulty.storage })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    faulty.faults.add('set')
    const events = recordEvents(manager)
    const waiters = Array.from({ length: 10 }, () => manager.getAccessToken())
    expect(await Promise.all(waiters)).toEqual(Array(10).fill(AT2))
    await flush()
    expect(storageErrors(events)).toHaveLength(1)
  })

  it('clear() failing → resolves, error {source: storage}, signed out in memory', async () => {
    const faulty = faultyStorage(mode)
    const manager = createTokenManager({ refresh: unusedRefresh, storage: faulty.storage })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1 })
    faulty.faults.add('clear')
    const events = recordEvents(manager)
    await expect(manager.clear()).resolves.toBeUndefined()
    expect(storageErrors(events)).toHaveLength(1)
    expect(events.payloads('signedOut')).toEqual([{ reason: 'cleared' }])
    expect(await manager.getAccessToken()).toBeNull()
  })
})

describe('storage faults and what a reload sees', () => {
  it('regression: clear() after a failed write still removes the stored session (a reload must not sign back in)', async () => {
    const backing = new MapWebStorage()
    const manager = createTokenManager({ refresh: () => Promise.resolve({ accessToken: AT2, refreshToken: RT2 }), storage: webStorage(backing) })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 }) // stored fine
    backing.throwing.add('setItem') // quota full from now on; removeItem still works
    await manager.refresh({ staleToken: AT1 }) // its write fails
    await flush()
    await manager.clear() // the user signs out
    const reloaded = createTokenManager({ refresh: unusedRefresh, storage: webStorage(backing) })
    expect(await reloaded.getAccessToken()).toBeNull()
  })

  it('regression: a failed write does not leave the previous, already rotated refresh token for the next load', async () => {
    const backing = new MapWebStorage()
    const manager = createTokenManager({ refresh: () => Promise.resolve({ accessToken: AT2, refreshToken: RT2 }), storage: webStorage(backing) })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    backing.throwing.add('setItem')
    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    await flush()
    // RT1 was rotated away: presenting it again trips reuse detection and revokes the whole family (RFC 9700 §4.14.2)
    const stored = backing.map.get('silent-refresh')
    expect(stored === undefined || !stored.includes(RT1)).toBe(true)
  })
})

describe('a slow storage load', () => {
  it('racing setTokens(): the login wins over the stored session that arrives later', async () => {
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    const manager = createTokenManager({ refresh: unusedRefresh, storage: slow.storage })
    const early = track(manager.getAccessToken())
    await flush()
    expect(early.status).toBe('pending')
    await manager.setTokens({ accessToken: AT2, refreshToken: RT2, expiresIn: 3600 })
    slow.release()
    await flush()
    expect(early.status).toBe('fulfilled')
    expect(early.value).toBe(AT2)
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(slow.sets.at(-1)).toMatchObject({ accessToken: AT2 })
  })

  it('racing clear(): the stored session arriving later does not sign back in', async () => {
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    const manager = createTokenManager({ refresh: unusedRefresh, storage: slow.storage })
    const early = track(manager.getAccessToken())
    await flush()
    await manager.clear()
    slow.release()
    await flush()
    expect(early.value).toBeNull()
    expect(await manager.getAccessToken()).toBeNull()
  })

  it('racing a refresh result: the stored (older) session does not overwrite it', async () => {
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    let release!: () => void
    const fn = vi.fn<RefreshFn>(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ accessToken: AT3 })
        }),
    )
    const manager = createTokenManager({ refresh: fn, storage: slow.storage })
    await manager.setTokens({ accessToken: AT2, refreshToken: RT2 })
    const refreshed = manager.refresh()
    await flush()
    release()
    expect(await refreshed).toBe(AT3)
    slow.release()
    await flush()
    expect(await manager.getAccessToken()).toBe(AT3)
  })

  it('a load that rejects → error event, signed out, callers not left pending', async () => {
    const slow = slowStorage(null)
    const manager = createTokenManager({ refresh: unusedRefresh, storage: slow.storage })
    const events = recordEvents(manager)
    const early = track(manager.getAccessToken())
    await flush()
    slow.fail(new Error('AsyncStorage is unavailable'))
    await flush()
    expect(early.value).toBeNull()
    expect(storageErrors(events)).toHaveLength(1)
  })
})

describe('stored garbage', () => {
  it.each([
    ['not JSON', '{"accessToken":'],
    ['JSON without accessToken', JSON.stringify({ refreshToken: RT1 })],
    ['an empty accessToken', JSON.stringify({ accessToken: '', refreshToken: RT1 })],
    ['a numeric accessToken', JSON.stringify({ accessToken: 7 })],
    ['a JSON string', JSON.stringify(AT1)],
    ['a JSON array', JSON.stringify([AT1, RT1])],
  ])('%s → error {source: storage}, signed out, and a login overwrites it', async (_, raw) => {
    const backing = new MapWebStorage()
    backing.map.set('silent-refresh', raw)
    const fn = vi.fn<RefreshFn>(unusedRefresh)
    const manager = createTokenManager({ refresh: fn, storage: webStorage(backing) })
    const events = recordEvents(manager)
    expect(await manager.getAccessToken()).toBeNull()
    expect(storageErrors(events)).toHaveLength(1)
    expectNoTokenLeak(storageErrors(events)[0]?.error, ALL_SECRETS)
    await expect(manager.refresh({ staleToken: AT1 })).rejects.toMatchObject({ code: 'NOT_SIGNED_IN' })
    expect(fn).not.toHaveBeenCalled()

    await manager.setTokens({ accessToken: AT2, refreshToken: RT2 })
    const reloaded = createTokenManager({ refresh: unusedRefresh, storage: webStorage(backing) })
    expect(await reloaded.getAccessToken()).toBe(AT2)
  })
})
