// A refresh answer that arrives after its attempt timed out: the server has acted on it
// (rotated, or ended the session), so it still counts unless something newer happened.
import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, RefreshFailedError, type TokenSet } from '../../src/index.js'
import { useFakeClock } from '../helpers/fake-time.js'

function slowRefresh() {
  const calls: { refreshToken: string | null; resolve: (t: TokenSet) => void; reject: (e: unknown) => void }[] = []
  const refresh = ({ refreshToken }: { refreshToken: string | null }) =>
    new Promise<TokenSet>((resolve, reject) => calls.push({ refreshToken, resolve, reject }))
  return { calls, refresh }
}

describe('late refresh answers', () => {
  useFakeClock()

  it('a success after the timeout is adopted, so the rotated refresh token is never presented again', async () => {
    const server = slowRefresh()
    const manager = createTokenManager({ refresh: server.refresh, refreshTimeoutMs: 1000, retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: 'a1', refreshToken: 'r1' })
    const failed = manager.refresh({ staleToken: 'a1' }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await failed).toBeInstanceOf(RefreshFailedError)
    server.calls[0]!.resolve({ accessToken: 'a2', refreshToken: 'r2' })
    await vi.advanceTimersByTimeAsync(0)
    expect(await manager.getAccessToken()).toBe('a2')
    const next = manager.refresh({ staleToken: 'a2' })
    await vi.advanceTimersByTimeAsync(0)
    expect(server.calls[1]!.refreshToken).toBe('r2')
    server.calls[1]!.resolve({ accessToken: 'a3', refreshToken: 'r3' })
    await expect(next).resolves.toBe('a3')
    manager.dispose()
  })

  it('an invalid_grant after the timeout signs out', async () => {
    const server = slowRefresh()
    const manager = createTokenManager({ refresh: server.refresh, refreshTimeoutMs: 1000, retry: { attempts: 0, baseDelayMs: 0 } })
    const reasons: string[] = []
    manager.on('signedOut', (e) => reasons.push(e.reason))
    await manager.setTokens({ accessToken: 'a1', refreshToken: 'r1' })
    const failed = manager.refresh().catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await failed).toMatchObject({ code: 'REFRESH_TIMEOUT' })
    server.calls[0]!.reject(Object.assign(new Error('invalid_grant'), { status: 400 }))
    await vi.advanceTimersByTimeAsync(0)
    expect(reasons).toEqual(['expired'])
    expect(await manager.getAccessToken()).toBeNull()
    manager.dispose()
  })

  it('a late answer after a new login, or after dispose, is ignored', async () => {
    const server = slowRefresh()
    const manager = createTokenManager({ refresh: server.refresh, refreshTimeoutMs: 1000, retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: 'a1', refreshToken: 'r1' })
    const failed = manager.refresh().catch(() => {})
    await vi.advanceTimersByTimeAsync(1000)
    await failed
    await manager.setTokens({ accessToken: 'login', refreshToken: 'rl' })
    server.calls[0]!.resolve({ accessToken: 'a2', refreshToken: 'r2' })
    await vi.advanceTimersByTimeAsync(0)
    expect(await manager.getAccessToken()).toBe('login')

    const second = manager.refresh().catch(() => {})
    await vi.advanceTimersByTimeAsync(1000)
    await second
    manager.dispose()
    const seen: unknown[] = []
    manager.on('tokens', (t) => seen.push(t))
    server.calls[1]!.resolve({ accessToken: 'a3', refreshToken: 'r3' })
    await vi.advanceTimersByTimeAsync(0)
    expect(seen).toEqual([])
  })

  it('a transient failure after the timeout changes nothing', async () => {
    const server = slowRefresh()
    const manager = createTokenManager({ refresh: server.refresh, refreshTimeoutMs: 1000, retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: 'a1', refreshToken: 'r1' })
    const failed = manager.refresh().catch(() => {})
    await vi.advanceTimersByTimeAsync(1000)
    await failed
    server.calls[0]!.reject(Object.assign(new Error('unavailable'), { status: 503 }))
    await vi.advanceTimersByTimeAsync(0)
    expect(await manager.getAccessToken()).toBe('a1')
    manager.dispose()
  })
})
