import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, RefreshFailedError } from '../../src/index.js'
import { AT1, RT1, httpError } from '../helpers/core-harness.js'

// `retry`'s type makes each field optional because the runtime defaults each on its own:
// these pin that behaviour, so the type and the runtime cannot drift apart.
describe('retry: each field defaults on its own', () => {
  const failing = () => vi.fn(() => Promise.reject(httpError(503)))

  it('{ attempts: 0 } alone: one try, no retry', async () => {
    const refresh = failing()
    const manager = createTokenManager({ refresh, retry: { attempts: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: -1 })
    await expect(manager.refresh()).rejects.toBeInstanceOf(RefreshFailedError)
    expect(refresh).toHaveBeenCalledTimes(1)
    manager.dispose()
  })

  it('{ baseDelayMs: 0 } alone: the default 2 retries', async () => {
    const refresh = failing()
    const manager = createTokenManager({ refresh, retry: { baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: -1 })
    await expect(manager.refresh()).rejects.toBeInstanceOf(RefreshFailedError)
    expect(refresh).toHaveBeenCalledTimes(3)
    manager.dispose()
  })
})
