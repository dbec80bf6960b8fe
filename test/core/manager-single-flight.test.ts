import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, memoryStorage } from '../../src/index.js'
import { AT1, AT2, AT3, RT1, RT2, controlledRefresh, expiredSession, flush, recordEvents, track } from '../helpers/core-harness.js'
import { NOW, useFakeClock } from '../helpers/fake-time.js'

useFakeClock()

describe('single flight', () => {
  it('N concurrent getAccessToken() and refresh() callers with an expired token share one refresh call', async () => {
    const { manager, refresh, events } = await expiredSession()
    expect(manager.isRefreshing).toBe(false)

    const callers = [
      ...Array.from({ length: 50 }, () => track(manager.getAccessToken())),
      ...Array.from({ length: 50 }, () => track(manager.refresh())),
    ]
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(refresh.call(0).refreshToken).toBe(RT1)
    expect(manager.isRefreshing).toBe(true)
    expect(callers.every((c) => c.status === 'pending')).toBe(true)

    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2, expiresIn: 3600 })
    await Promise.all(callers.map((c) => c.promise))

    expect(callers.map((c) => c.value)).toEqual(Array(100).fill(AT2))
    expect(manager.isRefreshing).toBe(false)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(events.count('refresh')).toBe(1)
    expect(events.count('tokens')).toBe(1)
    expect(events.payloads('tokens')[0]).toMatchObject({ accessToken: AT2, refreshToken: RT2 })
  })

  it('isRefreshing is true from the first caller until the flight settles, then false again after a failure too', async () => {
    const { manager, refresh } = await expiredSession()
    const first = track(manager.refresh())
    // synchronously after the call the flight may not have started yet (storage load), but after a tick it has
    await flush()
    expect(manager.isRefreshing).toBe(true)
    refresh.call(0).reject(Object.assign(new Error('bad'), { status: 401 }))
    await flush()
    expect(first.status).toBe('rejected')
    expect(manager.isRefreshing).toBe(false)
  })

  it('callers arriving after the flight settled get the new token without another refresh', async () => {
    const { manager, refresh } = await expiredSession()
    const early = manager.getAccessToken()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, expiresIn: 3600 })
    expect(await early).toBe(AT2)
    expect(await Promise.all([manager.getAccessToken(), manager.getAccessToken()])).toEqual([AT2, AT2])
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('a second expiry causes a second refresh, with the rotated refresh token', async () => {
    const { manager, refresh, events } = await expiredSession()
    const first = manager.getAccessToken()
    await flush()
    refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2, expiresIn: 60 })
    expect(await first).toBe(AT2)

    await vi.advanceTimersByTimeAsync(61_000)
    const second = Promise.all([manager.getAccessToken(), manager.getAccessToken()])
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(2)
    expect(refresh.call(1).refreshToken).toBe(RT2)
    refresh.call(1).resolve({ accessToken: AT3, expiresIn: 60 })
    expect(await second).toEqual([AT3, AT3])
    expect(events.count('refresh')).toBe(2)
  })

  it('a refresh started while the stored session is still loading is shared by later callers', async () => {
    const refresh = controlledRefresh()
    const stored = memoryStorage()
    stored.set({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 })
    const manager = createTokenManager({ refresh: refresh.fn, storage: stored, now: () => Date.now() })
    const callers = Array.from({ length: 20 }, (_, i) => (i % 2 ? manager.refresh() : manager.getAccessToken()))
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(refresh.call(0).refreshToken).toBe(RT1)
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(new Set(await Promise.all(callers))).toEqual(new Set([AT2]))
  })
})

describe('stale token rule (a 401 answered token T)', () => {
  async function validSession() {
    const refresh = controlledRefresh()
    const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now() })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    const events = recordEvents(manager)
    return { manager, refresh, events }
  }

  it('staleToken equal to the current token refreshes', async () => {
    const { manager, refresh } = await validSession()
    const result = manager.refresh({ staleToken: AT1 })
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
  })

  it('staleToken already replaced: no refresh, returns the current token', async () => {
    const { manager, refresh, events } = await validSession()
    await manager.setTokens({ accessToken: AT2, refreshToken: RT2, expiresIn: 3600 })
    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(events.count('refresh')).toBe(0)
    expect(manager.isRefreshing).toBe(false)
  })

  it('staleToken joins a flight in progress, whatever token it names', async () => {
    const { manager, refresh } = await validSession()
    const starter = manager.refresh({ staleToken: AT1 })
    await flush()
    const joiners = [manager.refresh({ staleToken: AT1 }), manager.refresh({ staleToken: 'some-older-token' }), manager.refresh()]
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await Promise.all([starter, ...joiners])).toEqual([AT2, AT2, AT2, AT2])
  })

  it('late staleToken after the flight finished does not cause a second refresh', async () => {
    const { manager, refresh, events } = await validSession()
    const first = manager.refresh({ staleToken: AT1 })
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await first).toBe(AT2)
    // a request sent with AT1 before the refresh gets its 401 only now
    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    expect(await manager.refresh({ staleToken: AT1 })).toBe(AT2)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    expect(events.count('refresh')).toBe(1)
  })

  it('1,000 concurrent refresh({ staleToken }) → exactly one refresh call', async () => {
    const { manager, refresh } = await validSession()
    const callers = Array.from({ length: 1_000 }, () => manager.refresh({ staleToken: AT1 }))
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)
    refresh.call(0).resolve({ accessToken: AT2 })
    const results = await Promise.all(callers)
    expect(results.length).toBe(1_000)
    expect(results.every((t) => t === AT2)).toBe(true)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('1,000 401s spread before, during and after the refresh settles → exactly one refresh per expiry', async () => {
    const { manager, refresh } = await validSession()
    const callers: Promise<string>[] = []
    for (let i = 0; i < 1_000; i++) {
      callers.push(i % 3 === 0 ? manager.refresh({ staleToken: AT1 }) : manager.refresh({ staleToken: AT1 }).then((t) => t))
      if (i % 97 === 0) await flush(1)
      if (i === 400) {
        await flush()
        refresh.call(0).resolve({ accessToken: AT2, refreshToken: RT2 })
      }
    }
    const results = await Promise.all(callers)
    expect(new Set(results)).toEqual(new Set([AT2]))
    expect(refresh.fn).toHaveBeenCalledTimes(1)

    // the next expiry: 401s for AT2 cause exactly one more refresh
    const next = Array.from({ length: 300 }, () => manager.refresh({ staleToken: AT2 }))
    const late = Array.from({ length: 300 }, () => manager.refresh({ staleToken: AT1 }))
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(2)
    expect(refresh.call(1).refreshToken).toBe(RT2)
    refresh.call(1).resolve({ accessToken: AT3 })
    expect(new Set(await Promise.all([...next, ...late]))).toEqual(new Set([AT3]))
    expect(refresh.fn).toHaveBeenCalledTimes(2)
  })

  it('a getAccessToken() with a still-valid token during a 401-triggered refresh waits for the new token', async () => {
    const { manager, refresh } = await validSession()
    const refreshing = manager.refresh({ staleToken: AT1 })
    await flush()
    const waiting = track(manager.getAccessToken())
    await flush()
    expect(waiting.status).toBe('pending')
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await refreshing).toBe(AT2)
    expect(await waiting.promise).toBe(AT2)
  })
})
