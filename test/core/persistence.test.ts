// DESIGN 6 and 10: no storage call holds a caller, a login or a sign-out
// hostage; a read that fails at start-up is tried again.
import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, type TokenSet, type TokenStorage } from '../../src/index.js'
import { AT1, AT2, RT1, controlledRefresh, flush, recordEvents, track } from '../helpers/core-harness.js'
import { useFakeClock } from '../helpers/fake-time.js'

useFakeClock()

const never = () => new Promise<never>(() => {})

/** A storage whose calls each do what the test says. */
function scripted(calls: { get?: () => TokenSet | null | Promise<TokenSet | null>; set?: () => void | Promise<void>; clear?: () => void | Promise<void> }) {
  const log: string[] = []
  const storage: TokenStorage = {
    get: () => (log.push('get'), calls.get ? calls.get() : null),
    set: () => (log.push('set'), calls.set?.()),
    clear: () => (log.push('clear'), calls.clear?.()),
  }
  return { storage, log }
}

describe('a storage that never answers', () => {
  it('regression: get() never answers — a caller waiting at start-up is released by a login', async () => {
    const { storage } = scripted({ get: never })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage })
    const waiter = track(manager.getAccessToken())
    await flush()
    expect(waiter.status).toBe('pending')
    await manager.setTokens({ accessToken: AT1 }).catch(() => {})
    await flush()
    expect(waiter.value).toBe(AT1)
    manager.dispose()
  })

  it('get() never answers and nobody logs in — after storageTimeoutMs the caller goes on signed out, and an error is reported', async () => {
    const { storage } = scripted({ get: never })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage, storageTimeoutMs: 2_000 })
    const events = recordEvents(manager)
    const waiter = track(manager.getAccessToken())
    await vi.advanceTimersByTimeAsync(1_999)
    expect(waiter.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(waiter.value).toBeNull()
    expect(events.payloads('error').map((e) => [e.source, (e.error as Error).name])).toEqual([['storage', 'TimeoutError']])
    manager.dispose()
  })

  it('regression: set() never answers — setTokens() and clear() settle after storageTimeoutMs, and the session lives in memory', async () => {
    const { storage, log } = scripted({ set: never, clear: never })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage })
    const events = recordEvents(manager)
    const login = track(manager.setTokens({ accessToken: AT1, refreshToken: RT1 }))
    await vi.advanceTimersByTimeAsync(5_000)
    expect(login.status).toBe('fulfilled')
    expect(await manager.getAccessToken()).toBe(AT1)
    expect(events.payloads('error').map((e) => e.source)).toEqual(['storage'])
    // The storage is given up on: later changes do not wait for it at all.
    const signOut = track(manager.clear())
    await flush()
    expect(signOut.status).toBe('fulfilled')
    expect(log).toEqual(['set', 'clear']) // the one clear() is the manager's attempt to remove what it may have written
    manager.dispose()
  })

  it('regression: set() never answers — clear() after dispose() settles too', async () => {
    const { storage } = scripted({ set: never, clear: never })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage })
    const login = track(manager.setTokens({ accessToken: AT1 }))
    manager.dispose()
    const signOut = track(manager.clear())
    await vi.advanceTimersByTimeAsync(5_000)
    expect([login.status, signOut.status]).toEqual(['fulfilled', 'fulfilled'])
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a start-up read that fails (a locked Keychain)', () => {
  it('regression: is tried again by a later call, not taken as "signed out" for the life of the manager', async () => {
    let locked = true
    const { storage, log } = scripted({
      get: async () => {
        if (locked) throw new Error('errSecInteractionNotAllowed')
        return { accessToken: AT1, refreshToken: RT1, expiresIn: 3600 }
      },
    })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage, now: () => Date.now() })
    const events = recordEvents(manager)
    expect(await manager.getAccessToken()).toBeNull()
    expect(events.payloads('error').map((e) => e.source)).toEqual(['storage'])
    locked = false
    // Within a second, calls go on signed out without hammering the storage.
    expect(await manager.getAccessToken()).toBeNull()
    expect(log).toEqual(['get'])
    vi.setSystemTime(Date.now() + 1_000)
    expect(await manager.getAccessToken()).toBe(AT1)
    expect(log).toEqual(['get', 'get'])
    expect(manager.getState()).toMatchObject({ status: 'signedIn' })
    manager.dispose()
  })

  it('failing again, it waits twice as long before the next read (1 s, 2 s, 4 s …)', async () => {
    const { storage, log } = scripted({ get: () => Promise.reject(new Error('locked')) })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage, now: () => Date.now() })
    manager.on('error', () => {})
    const reads = async (ms: number) => {
      vi.setSystemTime(Date.now() + ms)
      await manager.getAccessToken()
      return log.length
    }
    expect(await reads(0)).toBe(1)
    expect(await reads(1_000)).toBe(2)
    expect(await reads(1_999)).toBe(2)
    expect(await reads(1)).toBe(3)
    expect(await reads(3_999)).toBe(3)
    expect(await reads(1)).toBe(4)
    manager.dispose()
  })

  it('a login while the read is failing wins: no later read replaces it', async () => {
    const { storage, log } = scripted({ get: () => Promise.reject(new Error('locked')) })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage, now: () => Date.now() })
    manager.on('error', () => {})
    expect(await manager.getAccessToken()).toBeNull()
    await manager.setTokens({ accessToken: AT2 })
    vi.setSystemTime(Date.now() + 60_000)
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(log.filter((call) => call === 'get')).toHaveLength(1)
    manager.dispose()
  })
})

describe('a synchronous storage', () => {
  it('is read on first use, in the same tick: the first request takes the fast path', () => {
    const { storage, log } = scripted({ get: () => ({ accessToken: AT1, expiresIn: 3600 }) })
    const manager = createTokenManager({ refresh: controlledRefresh().fn, storage })
    expect(log).toEqual([]) // creating a manager touches no storage (SSR)
    expect(manager.peekToken()?.value).toBe(AT1)
    expect(log).toEqual(['get'])
    manager.dispose()
  })
})
