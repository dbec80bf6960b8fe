import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, webStorage, type RefreshFn, type WebStorageLike } from '../../src/index.js'
import { ALL_SECRETS, AT1, AT2, RT1, RT2, expectNoTokenLeak, unusedRefresh } from '../helpers/core-harness.js'
import { MapWebStorage } from '../helpers/core-storages.js'


describe('webStorage', () => {
  it('stores JSON under the default key "silent-refresh" and reads it back', async () => {
    const backing = new MapWebStorage()
    const storage = webStorage(backing)
    expect(await storage.get()).toBeNull()
    await storage.set({ accessToken: AT1, refreshToken: RT1, expiresAt: 123 })
    expect([...backing.map.keys()]).toEqual(['silent-refresh'])
    expect(JSON.parse(backing.map.get('silent-refresh') ?? 'null')).toEqual({ accessToken: AT1, refreshToken: RT1, expiresAt: 123 })
    expect(await storage.get()).toEqual({ accessToken: AT1, refreshToken: RT1, expiresAt: 123 })
    await storage.clear()
    expect(backing.map.size).toBe(0)
    expect(await storage.get()).toBeNull()
  })

  it('a custom key scopes the session; two keys do not see each other', async () => {
    const backing = new MapWebStorage()
    const a = webStorage(backing, 'app-a')
    const b = webStorage(backing, 'app-b')
    await a.set({ accessToken: AT1 })
    await b.set({ accessToken: AT2 })
    expect(await a.get()).toMatchObject({ accessToken: AT1 })
    expect(await b.get()).toMatchObject({ accessToken: AT2 })
    await a.clear()
    expect(await b.get()).toMatchObject({ accessToken: AT2 })
    expect([...backing.map.keys()]).toEqual(['app-b'])
  })

  it('a value that is not JSON throws a TypeError naming the key, not quoting the (token-bearing) value', () => {
    const backing = new MapWebStorage()
    backing.map.set('silent-refresh', `{"accessToken":"${AT1}","refreshToken":"${RT1}"`) // truncated write
    let error: unknown
    try {
      void webStorage(backing).get()
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(String(error)).toContain('silent-refresh')
    expectNoTokenLeak(error, ALL_SECRETS)
  })

  it('rejects something that is not a Web Storage', () => {
    expect(() => webStorage(undefined as unknown as WebStorageLike)).toThrow(TypeError)
    expect(() => webStorage({} as WebStorageLike)).toThrow(TypeError)
  })

  it('touches the storage only when called (safe to create during SSR)', () => {
    const backing: WebStorageLike = { getItem: vi.fn(() => null), setItem: vi.fn(), removeItem: vi.fn() }
    webStorage(backing)
    expect(backing.getItem).not.toHaveBeenCalled()
    expect(backing.setItem).not.toHaveBeenCalled()
  })

  it('persisted tokens survive a new manager with the same storage (a page reload)', async () => {
    const backing = new MapWebStorage()
    const first = createTokenManager({ refresh: unusedRefresh, storage: webStorage(backing) })
    await first.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    first.dispose()

    const fn = vi.fn<RefreshFn>(() => Promise.resolve({ accessToken: AT2, refreshToken: RT2 }))
    const second = createTokenManager({ refresh: fn, storage: webStorage(backing) })
    expect(await second.getAccessToken()).toBe(AT1)
    // the stored refresh token is the one used after the reload
    expect(await second.refresh()).toBe(AT2)
    expect(fn.mock.calls[0]?.[0].refreshToken).toBe(RT1)
    expect(JSON.parse(backing.map.get('silent-refresh') ?? 'null')).toMatchObject({ accessToken: AT2, refreshToken: RT2 })

    await second.clear()
    expect(backing.map.has('silent-refresh')).toBe(false)
    const third = createTokenManager({ refresh: unusedRefresh, storage: webStorage(backing) })
    expect(await third.getAccessToken()).toBeNull()
  })

  it('expiresAt is stored absolute (expiresIn converted on receipt), so a reload does not restart the clock', async () => {
    const backing = new MapWebStorage()
    const manager = createTokenManager({ refresh: unusedRefresh, storage: webStorage(backing), now: () => 1_000_000 })
    await manager.setTokens({ accessToken: AT1, expiresIn: 60 })
    expect(JSON.parse(backing.map.get('silent-refresh') ?? 'null')).toMatchObject({ accessToken: AT1, expiresAt: 1_060_000 })
  })
})
