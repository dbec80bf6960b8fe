import { describe, expect, it, vi } from 'vitest'
import { asyncStorage, createTokenManager, type AsyncStorageLike, type RefreshFn } from '../../src/index.js'
import { ALL_SECRETS, AT1, AT2, RT1, RT2, expectNoTokenLeak, unusedRefresh } from '../helpers/core-harness.js'
import { MapAsyncStorage } from '../helpers/core-storages.js'


describe('asyncStorage (React Native AsyncStorage shape)', () => {
  it('stores JSON under the default key and reads it back', async () => {
    const backing = new MapAsyncStorage()
    const storage = asyncStorage(backing)
    expect(await storage.get()).toBeNull()
    await storage.set({ accessToken: AT1, refreshToken: RT1, expiresAt: 5 })
    expect(JSON.parse(backing.map.get('silent-refresh') ?? 'null')).toEqual({ accessToken: AT1, refreshToken: RT1, expiresAt: 5 })
    expect(await storage.get()).toEqual({ accessToken: AT1, refreshToken: RT1, expiresAt: 5 })
    await storage.clear()
    expect(backing.map.size).toBe(0)
  })

  it('a custom key scopes the session', async () => {
    const backing = new MapAsyncStorage()
    await asyncStorage(backing, 'tenant-1').set({ accessToken: AT1 })
    expect(await asyncStorage(backing, 'tenant-2').get()).toBeNull()
    expect(await asyncStorage(backing, 'tenant-1').get()).toMatchObject({ accessToken: AT1 })
  })

  it('a value that is not JSON rejects with a TypeError naming the key, not quoting the value', async () => {
    const backing = new MapAsyncStorage()
    backing.map.set('silent-refresh', `{"accessToken":"${AT1}","refreshToken":"${RT1}`)
    const error: unknown = await Promise.resolve()
      .then(() => asyncStorage(backing).get())
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(TypeError)
    expect(String(error)).toContain('silent-refresh')
    expectNoTokenLeak(error, ALL_SECRETS)
  })

  it('rejects something that is not an AsyncStorage', () => {
    expect(() => asyncStorage(undefined as unknown as AsyncStorageLike)).toThrow(TypeError)
    expect(() => asyncStorage({} as AsyncStorageLike)).toThrow(TypeError)
  })

  it('persisted tokens survive a new manager with the same storage (an app restart)', async () => {
    const backing = new MapAsyncStorage()
    const first = createTokenManager({ refresh: unusedRefresh, storage: asyncStorage(backing) })
    await first.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    first.dispose()

    const fn = vi.fn<RefreshFn>(() => Promise.resolve({ accessToken: AT2, refreshToken: RT2 }))
    const second = createTokenManager({ refresh: fn, storage: asyncStorage(backing) })
    expect(await second.getAccessToken()).toBe(AT1)
    expect(await second.refresh()).toBe(AT2)
    expect(fn.mock.calls[0]?.[0].refreshToken).toBe(RT1)

    const third = createTokenManager({ refresh: unusedRefresh, storage: asyncStorage(backing) })
    expect(await third.getAccessToken()).toBe(AT2)
  })

  it('back-to-back writes end with the newest value (writes are not reordered)', async () => {
    const backing = new MapAsyncStorage()
    const manager = createTokenManager({ refresh: unusedRefresh, storage: asyncStorage(backing) })
    await Promise.all([
      manager.setTokens({ accessToken: 'a-1' }),
      manager.setTokens({ accessToken: 'a-2' }),
      manager.clear(),
      manager.setTokens({ accessToken: AT1, refreshToken: RT1 }),
    ])
    expect(JSON.parse(backing.map.get('silent-refresh') ?? 'null')).toMatchObject({ accessToken: AT1, refreshToken: RT1 })
    const reloaded = createTokenManager({ refresh: unusedRefresh, storage: asyncStorage(backing) })
    expect(await reloaded.getAccessToken()).toBe(AT1)
  })

  it('setTokens() resolves once the token is persisted', async () => {
    const backing = new MapAsyncStorage()
    const manager = createTokenManager({ refresh: unusedRefresh, storage: asyncStorage(backing) })
    await manager.setTokens({ accessToken: AT1 })
    expect(backing.map.has('silent-refresh')).toBe(true)
    await manager.clear()
    expect(backing.map.has('silent-refresh')).toBe(false)
  })
})
