import { describe, expect, it } from 'vitest'
import { createTokenManager, memoryStorage } from '../../src/index.js'
import { AT1, AT2, RT1, unusedRefresh } from '../helpers/core-harness.js'

describe('memoryStorage', () => {
  it('starts empty, keeps what is set, forgets on clear', async () => {
    const storage = memoryStorage()
    expect(await storage.get()).toBeNull()
    await storage.set({ accessToken: AT1, refreshToken: RT1, expiresAt: 1 })
    expect(await storage.get()).toEqual({ accessToken: AT1, refreshToken: RT1, expiresAt: 1 })
    await storage.clear()
    expect(await storage.get()).toBeNull()
  })

  it('stores a copy: mutating the object passed to set() does not change what is stored', async () => {
    const storage = memoryStorage()
    const tokens = { accessToken: AT1, refreshToken: RT1 }
    await storage.set(tokens)
    tokens.accessToken = AT2
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
  })

  it('two memory storages are independent (no module-level singleton)', async () => {
    const a = memoryStorage()
    const b = memoryStorage()
    await a.set({ accessToken: AT1 })
    expect(await b.get()).toBeNull()
  })

  it('is the default: a manager without storage keeps tokens for its own life only', async () => {
    const refresh = unusedRefresh
    const first = createTokenManager({ refresh })
    await first.setTokens({ accessToken: AT1 })
    expect(await first.getAccessToken()).toBe(AT1)
    const second = createTokenManager({ refresh })
    expect(await second.getAccessToken()).toBeNull()
  })

  it('a shared memoryStorage lets a new manager pick the session up', async () => {
    const refresh = unusedRefresh
    const storage = memoryStorage()
    const first = createTokenManager({ refresh, storage })
    await first.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    first.dispose()
    const second = createTokenManager({ refresh, storage })
    expect(await second.getAccessToken()).toBe(AT1)
  })
})
