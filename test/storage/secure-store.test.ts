import { describe, expect, it, vi } from 'vitest'
import { asyncStorage, createTokenManager, secureStorage } from '../../src/index.js'
import { bound } from '../helpers/bounds.js'
import { fakeSecureStore } from '../helpers/core-storages.js'

const AFTER_FIRST_UNLOCK = 0

describe('secureStorage (expo-secure-store, Keychain-style)', () => {
  it('keeps the token set as JSON under the key, passing the options to every call', async () => {
    const store = fakeSecureStore()
    const storage = secureStorage(store, 'session', { keychainAccessible: AFTER_FIRST_UNLOCK })
    await storage.set({ accessToken: 'a1', refreshToken: 'r1', expiresAt: 9 })
    expect(JSON.parse(store.map.get('session')!)).toEqual({ accessToken: 'a1', refreshToken: 'r1', expiresAt: 9 })
    expect(await storage.get()).toEqual({ accessToken: 'a1', refreshToken: 'r1', expiresAt: 9 })
    await storage.clear()
    expect(store.map.size).toBe(0)
    expect(await storage.get()).toBeNull()
    expect(store.calls.every((c) => c.key === 'session' && c.options?.keychainAccessible === AFTER_FIRST_UNLOCK)).toBe(true)
    expect(store.calls.map((c) => c.method)).toEqual(['set', 'get', 'delete', 'get'])
  })

  it('restores a session across app launches (a new manager over the same store)', async () => {
    const store = fakeSecureStore()
    const refresh = vi.fn(async () => ({ accessToken: 'a2', refreshToken: 'r2' }))
    const first = createTokenManager({ refresh, storage: secureStorage(store) })
    await first.setTokens({ accessToken: 'a1', refreshToken: 'r1', expiresIn: 600 })
    first.dispose()
    const relaunched = createTokenManager({ refresh, storage: secureStorage(store) })
    expect(await relaunched.getAccessToken()).toBe('a1')
    expect(await relaunched.refresh()).toBe('a2')
    expect(refresh).toHaveBeenCalledWith(expect.objectContaining({ refreshToken: 'r1' }))
    await vi.waitFor(() => expect(JSON.parse(store.map.get('silent-refresh')!)).toMatchObject({ accessToken: 'a2', refreshToken: 'r2' }), { timeout: bound(5_000) })
    await relaunched.clear()
    expect(store.map.has('silent-refresh')).toBe(false)
    relaunched.dispose()
  })

  it('a failing Keychain write (device locked) degrades to memory and reports it; requests go on', async () => {
    const store = fakeSecureStore()
    store.setItemAsync = async () => {
      throw new Error('User interaction is not allowed')
    }
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'a2' }), storage: secureStorage(store) })
    const errors: unknown[] = []
    manager.on('error', (e) => errors.push(e))
    await manager.setTokens({ accessToken: 'a1', refreshToken: 'r1' })
    expect(await manager.getAccessToken()).toBe('a1')
    expect(errors).toEqual([expect.objectContaining({ source: 'storage' })])
    manager.dispose()
  })

  it('rejects a store of the wrong shape, naming what to use', () => {
    expect(() => secureStorage({} as never)).toThrow(/getItemAsync, setItemAsync and deleteItemAsync/)
    // The other way round: AsyncStorage's factory points to secureStorage.
    expect(() => asyncStorage(fakeSecureStore() as never)).toThrow(/use secureStorage/)
  })
})
