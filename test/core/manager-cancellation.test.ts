import { describe, expect, it } from 'vitest'
import { createTokenManager, memoryStorage } from '../../src/index.js'
import { AT1, AT2, RT1, controlledRefresh, expiredSession, flush, track } from '../helpers/core-harness.js'
import { NOW, useFakeClock } from '../helpers/fake-time.js'
import { slowStorage } from '../helpers/core-storages.js'

useFakeClock()

const isAbortError = (error: unknown) => error instanceof Error && error.name === 'AbortError'

describe('per-caller AbortSignal', () => {
  it('a caller aborting while waiting rejects at once with an AbortError; the refresh goes on for the others', async () => {
    const { manager, refresh } = await expiredSession()
    const controller = new AbortController()
    const aborted = track(manager.getAccessToken({ signal: controller.signal }))
    const abortedRefresh = track(manager.refresh({ signal: controller.signal }))
    const others = Array.from({ length: 10 }, () => track(manager.getAccessToken()))
    await flush()
    expect(refresh.fn).toHaveBeenCalledTimes(1)

    controller.abort()
    await flush()
    expect(aborted.status).toBe('rejected')
    expect(aborted.reason).toBe(controller.signal.reason)
    expect(isAbortError(aborted.reason)).toBe(true)
    expect(abortedRefresh.reason).toBe(controller.signal.reason)
    expect(others.every((o) => o.status === 'pending')).toBe(true)
    expect(manager.isRefreshing).toBe(true)
    expect(refresh.call(0).signal.aborted).toBe(false)

    refresh.call(0).resolve({ accessToken: AT2 })
    await flush()
    expect(others.map((o) => o.value)).toEqual(Array(10).fill(AT2))
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('rejects with the exact reason given to abort()', async () => {
    const { manager } = await expiredSession()
    const controller = new AbortController()
    const reason = new Error('user navigated away')
    const waiting = track(manager.refresh({ signal: controller.signal }))
    await flush()
    controller.abort(reason)
    await flush()
    expect(waiting.reason).toBe(reason)
  })

  it('when every caller aborts, the refresh still completes and its tokens are applied', async () => {
    const { manager, refresh, events } = await expiredSession()
    const controller = new AbortController()
    const all = Array.from({ length: 5 }, () => track(manager.getAccessToken({ signal: controller.signal })))
    await flush()
    controller.abort()
    await flush()
    expect(all.every((c) => c.status === 'rejected')).toBe(true)
    refresh.call(0).resolve({ accessToken: AT2 })
    await flush()
    expect(events.count('tokens')).toBe(1)
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(refresh.fn).toHaveBeenCalledTimes(1)
  })

  it('refresh() with an already-aborted signal rejects immediately and starts no refresh', async () => {
    const { manager, refresh, events } = await expiredSession()
    const signal = AbortSignal.abort()
    await expect(manager.refresh({ signal })).rejects.toBe(signal.reason)
    await expect(manager.refresh({ signal, staleToken: AT1 })).rejects.toBe(signal.reason)
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(events.count('refresh')).toBe(0)
    expect(manager.isRefreshing).toBe(false)
  })

  it('getAccessToken() with an already-aborted signal and an expired token rejects immediately and starts no refresh', async () => {
    const { manager, refresh, events } = await expiredSession()
    const signal = AbortSignal.abort()
    await expect(manager.getAccessToken({ signal })).rejects.toSatisfy(isAbortError)
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
    expect(events.count('refresh')).toBe(0)
    expect(manager.isRefreshing).toBe(false)
  })

  it('an already-aborted signal before the stored session has loaded starts no refresh either', async () => {
    const refresh = controlledRefresh()
    const storage = memoryStorage()
    storage.set({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 })
    const manager = createTokenManager({ refresh: refresh.fn, storage, now: () => Date.now() })
    const signal = AbortSignal.abort()
    await expect(manager.getAccessToken({ signal })).rejects.toSatisfy(isAbortError)
    await expect(manager.refresh({ signal })).rejects.toSatisfy(isAbortError)
    await flush()
    expect(refresh.fn).not.toHaveBeenCalled()
  })

  it('aborting while the stored session is still loading rejects at once; others get the token once it loads', async () => {
    const refresh = controlledRefresh()
    const slow = slowStorage({ accessToken: AT1, refreshToken: RT1, expiresIn: 3600 })
    const manager = createTokenManager({ refresh: refresh.fn, storage: slow.storage, now: () => Date.now() })
    const controller = new AbortController()
    const aborted = track(manager.getAccessToken({ signal: controller.signal }))
    const other = track(manager.getAccessToken())
    await flush()
    controller.abort()
    await flush()
    expect(aborted.status).toBe('rejected')
    expect(isAbortError(aborted.reason)).toBe(true)
    expect(other.status).toBe('pending')
    slow.release()
    await flush()
    expect(other.value).toBe(AT1)
    expect(refresh.fn).not.toHaveBeenCalled()
  })

  it('aborting after the caller already got its token changes nothing', async () => {
    const { manager, refresh } = await expiredSession()
    const controller = new AbortController()
    const result = manager.getAccessToken({ signal: controller.signal })
    await flush()
    refresh.call(0).resolve({ accessToken: AT2 })
    expect(await result).toBe(AT2)
    expect(() => controller.abort()).not.toThrow()
    expect(await manager.getAccessToken()).toBe(AT2)
  })
})
