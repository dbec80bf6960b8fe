// The browser link of "silent-refresh/cross-tab", run in Node against fakes of
// Web Locks, BroadcastChannel and IndexedDB (fake-indexeddb). The same
// properties are checked in Chromium by test/e2e/.
//
// On fake time: every delay (server latency, channel delivery, the lagging
// storage, the link's polls and lock timeout) is a fake timer, and real work
// (IndexedDB) runs to idle before time moves on. `settle`, `eventually` and
// `advance` drive the clock; nothing waits on real time, so a loaded machine
// gives the same interleavings as a quiet one.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTokenManager, memoryStorage, type CrossTab, type TokenManager, type TokenStorage } from '../../src/index.js'
import { crossTab } from '../../src/cross-tab/index.js'
import { track } from '../helpers/core-harness.js'
import { advance, eventually, idle, settle, useFakeClock } from '../helpers/fake-time.js'
import { after, fakeBroadcastChannel, fakeLocks, installBrowser, laggingStorage, rotatingServer } from './helpers.js'

useFakeClock({ fake: 'timers' })

let managers: TokenManager[] = []
afterEach(async () => {
  managers.forEach((m) => m.dispose())
  managers = []
  await idle() // IndexedDB connections close
  vi.unstubAllGlobals()
})

const tab = (server: ReturnType<typeof rotatingServer>, storage: TokenStorage, link: CrossTab = crossTab()) => {
  const manager = createTokenManager({ refresh: server.refresh, storage, crossTab: link, retry: { attempts: 0, baseDelayMs: 0 } })
  managers.push(manager)
  return manager
}

/** Every tab answers a 401 for the same token at about the same time; resolves with the tokens each got. */
const expireTogether = async (tabs: TokenManager[], stale: string) =>
  Promise.all(tabs.flatMap((t, i) => [0, 1, 2].map(() => after(i).then(() => t.refresh({ staleToken: stale })))))

/** Lock + storage re-read + broadcast, and nothing else: what failed about 1 expiry in 10 in Chromium. */
function naiveCrossTab(locks: ReturnType<typeof fakeLocks>['locks'], Channel: ReturnType<typeof fakeBroadcastChannel>): CrossTab {
  return {
    connect(host) {
      const channel = new Channel('naive')
      channel.onmessage = (event) => host.receive(event.data)
      return {
        exclusive: (task) => locks.request('naive', task) as Promise<never>,
        publish: (tokens) => channel.postMessage(tokens),
        close: () => channel.close(),
      }
    },
  }
}

describe('crossTab(): one refresh across tabs', () => {
  it('the trap, reproduced: with a lagging localStorage, lock + re-read + broadcast presents a rotated token again', async () => {
    const server = rotatingServer()
    const storage = laggingStorage(30)
    const locks = fakeLocks()
    const Channel = fakeBroadcastChannel(2)
    const tabs = [0, 1, 2, 3].map((i) => tab(server, storage.view(i), naiveCrossTab(locks.locks, Channel)))
    storage.seed(server.issue())
    await settle(expireTogether(tabs, 'a1').catch(() => {}))
    // The tab that got the lock next read r1 before the rotation reached it.
    expect(server.stats.reuse).toBeGreaterThan(0)
  })

  it('with the same lagging localStorage, 30 expiries across 4 tabs: one refresh each, zero reuse, one token everywhere', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    const storage = laggingStorage(30)
    const tabs = [0, 1, 2, 3].map((i) => tab(server, storage.view(i)))
    storage.seed(server.issue())
    for (let expiry = 1; expiry <= 30; expiry++) {
      const stale = `a${expiry}`
      const tokens = await settle(expireTogether(tabs, stale))
      expect(new Set(tokens)).toEqual(new Set([`a${expiry + 1}`]))
      expect(server.stats.refreshCalls).toBe(expiry)
    }
    expect(server.stats.reuse).toBe(0)
    expect(browser.maxHeld()).toBe(1)
  })

  it('tabs with their own memoryStorage: sync by broadcast, and a later refresh in a tab that did not refresh never uses the old token', async () => {
    installBrowser()
    const server = rotatingServer()
    // settleMs: how long a tab gives its storage to show a received write before writing it
    // itself; refreshes here come milliseconds apart, not a token's lifetime.
    const tabs = [0, 1, 2, 3].map(() => tab(server, memoryStorage(), crossTab({ settleMs: 20 })))
    await settle(tabs[0]!.setTokens(server.issue()))
    await eventually(async () => expect(await Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(['a1', 'a1', 'a1', 'a1']))
    for (let expiry = 1; expiry <= 12; expiry++) {
      await advance(30) // the next expiry comes later than settleMs: every tab has written what it heard
      // A different tab is first each time; the others' storages only ever heard of it.
      const first = tabs[expiry % 4]!
      await expect(settle(first.refresh({ staleToken: `a${expiry}` }))).resolves.toBe(`a${expiry + 1}`)
      await eventually(async () => expect(await Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(Array(4).fill(`a${expiry + 1}`)))
    }
    expect(server.stats).toEqual({ refreshCalls: 12, reuse: 0 })
  })

  it('memoryStorage tabs racing on the same expiry: one refresh per expiry', async () => {
    installBrowser()
    const server = rotatingServer()
    const tabs = [0, 1, 2, 3].map(() => tab(server, memoryStorage()))
    await settle(tabs[0]!.setTokens(server.issue()))
    await eventually(async () => expect(await Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(['a1', 'a1', 'a1', 'a1']))
    for (let expiry = 1; expiry <= 10; expiry++) {
      const tokens = await settle(expireTogether(tabs, `a${expiry}`))
      expect(new Set(tokens)).toEqual(new Set([`a${expiry + 1}`]))
      await advance(5)
    }
    expect(server.stats).toEqual({ refreshCalls: 10, reuse: 0 })
  })

  it('a tab opened later starts with the session the others hold (memoryStorage)', async () => {
    installBrowser()
    const server = rotatingServer()
    const first = tab(server, memoryStorage())
    await settle(first.setTokens(server.issue()))
    await advance(20)
    const later = tab(server, memoryStorage())
    await eventually(async () => expect(await later.getAccessToken()).toBe('a1'))
  })
})

describe('crossTab(): sync', () => {
  it('a login reaches the other tabs, a sign-out signs them all out with reason "remote"', async () => {
    installBrowser()
    const server = rotatingServer()
    const [a, b, c] = [0, 1, 2].map(() => tab(server, memoryStorage()))
    const reasons: string[] = []
    b!.on('signedOut', (e) => reasons.push(e.reason))
    c!.on('signedOut', (e) => reasons.push(e.reason))
    await settle(a!.setTokens(server.issue()))
    await eventually(async () => expect(await c!.getAccessToken()).toBe('a1'))
    await settle(a!.clear())
    await eventually(() => expect(reasons).toEqual(['remote', 'remote']))
    expect(await settle(b!.getAccessToken())).toBeNull()
  })

  it('a tab whose storage does not follow the others (memoryStorage) writes what it heard into it, after settleMs', async () => {
    installBrowser()
    const server = rotatingServer()
    const storages = [memoryStorage(), memoryStorage()]
    const [a, b] = storages.map((storage) => tab(server, storage, crossTab({ settleMs: 50 })))
    await settle(b!.setTokens(server.issue()))
    await eventually(async () => expect(await a!.getAccessToken()).toBe('a1'))
    await expect(settle(a!.refresh({ staleToken: 'a1' }))).resolves.toBe('a2')
    await eventually(async () => expect(await b!.getAccessToken()).toBe('a2'))
    expect(await storages[1]!.get()).toMatchObject({ accessToken: 'a1' }) // heard; its storage may yet show it
    await advance(60)
    expect(await storages[1]!.get()).toMatchObject({ accessToken: 'a2', refreshToken: 'r2' })
    expect(server.stats).toEqual({ refreshCalls: 1, reuse: 0 })
  })

  it('a refresh that finishes after another tab signed out does not bring the session back', async () => {
    installBrowser()
    const server = rotatingServer(40)
    const storage = laggingStorage(5)
    const [a, b] = [0, 1].map((i) => tab(server, storage.view(i)))
    await settle(a!.setTokens(server.issue()))
    await eventually(async () => expect(await b!.getAccessToken()).toBe('a1'))
    const refreshing = a!.refresh({ staleToken: 'a1' }).catch((e: Error) => e.name)
    await eventually(() => expect(server.stats.refreshCalls).toBe(1))
    expect(a!.isRefreshing).toBe(true) // its answer is 40 ms away
    await settle(b!.clear()) // while a's refresh is at the server
    await settle(refreshing)
    await advance(2_000) // longer than every delay here (settleMs included): nothing late brings it back
    expect(await settle(a!.getAccessToken())).toBeNull()
    expect(await settle(b!.getAccessToken())).toBeNull()
  })
})

describe('crossTab(): the lock', () => {
  it('a holder that hangs is taken over after lockTimeoutMs', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    const storage = laggingStorage(0)
    void browser.locks.request('silent-refresh:silent-refresh', () => new Promise(() => {})).catch(() => {}) // a frozen tab
    const t = tab(server, storage.view(0), crossTab({ lockTimeoutMs: 100 }))
    await settle(t.setTokens(server.issue()))
    const started = Date.now()
    const refreshed = track(t.refresh({ staleToken: 'a1' }))
    await advance(99)
    expect(refreshed.status).toBe('pending') // still waiting for the frozen tab's lock
    expect(server.stats.refreshCalls).toBe(0)
    await expect(settle(refreshed.promise)).resolves.toBe('a2')
    // Fake time: the lock timeout, then the server's 10 ms; not a moment of the 20 s default.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100)
    expect(Date.now() - started).toBeLessThan(200)
    expect(server.stats).toEqual({ refreshCalls: 1, reuse: 0 })
  })

  it('dispose() drops a queued lock request and removes its listeners', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    void browser.locks.request('silent-refresh:k', () => new Promise(() => {}))
    const t = tab(server, memoryStorage(), crossTab({ key: 'k' }))
    await settle(t.setTokens(server.issue()))
    expect(browser.doc.listeners()).toBe(1)
    const pending = t.refresh({ staleToken: 'a1' })
    await eventually(() => expect(browser.waiting('silent-refresh:k')).toBe(1))
    t.dispose()
    await expect(settle(pending)).rejects.toMatchObject({ code: 'DISPOSED' })
    expect(browser.waiting('silent-refresh:k')).toBe(0)
    expect(browser.doc.listeners()).toBe(0)
    await advance(30_000) // past the lock timeout: no take-over, no refresh, after dispose
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('keys scope sessions: tabs of another key neither share the lock nor the tokens', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    const a = tab(server, memoryStorage(), crossTab({ key: 'one' }))
    const b = tab(server, memoryStorage(), crossTab({ key: 'two' }))
    await settle(a.setTokens(server.issue()))
    void browser.locks.request('silent-refresh:one', () => new Promise(() => {}))
    await settle(b.setTokens(server.issue()))
    await advance(2_000) // longer than every delay here: key "one"'s messages would have arrived
    expect(await settle(b.getAccessToken())).toBe('a2')
    expect(await settle(a.getAccessToken())).toBe('a1')
    await expect(settle(b.refresh({ staleToken: 'a2' }), 1_000)).resolves.toBe('a3') // not behind key "one"'s held lock
  })
})

describe('crossTab(): wake-up and degradation', () => {
  it('a tab that becomes visible with an expired token refreshes once, not once per caller', async () => {
    const browser = installBrowser()
    let now = 1_000_000
    const server = rotatingServer()
    const manager = createTokenManager({ refresh: server.refresh, crossTab: crossTab(), now: () => now })
    managers.push(manager)
    await settle(manager.setTokens({ ...server.issue(), expiresIn: 60 }))
    now += 3_600_000 // asleep for an hour
    browser.doc.visibilityState = 'visible'
    browser.doc.dispatch('visibilitychange')
    const tokens = await settle(Promise.all([0, 1, 2, 3, 4].map(() => manager.getAccessToken())))
    expect(tokens).toEqual(Array(5).fill('a2'))
    expect(server.stats.refreshCalls).toBe(1)
  })

  it.each([
    ['navigator', undefined, 'Web Locks'],
    ['BroadcastChannel', undefined, 'BroadcastChannel'],
    ['indexedDB', undefined, 'IndexedDB'],
  ])('without %s: an "error" event from source "cross-tab", and the tab works on its own', async (global, value, named) => {
    installBrowser()
    vi.stubGlobal(global, value)
    const errors: unknown[] = []
    const server = rotatingServer()
    const manager = tab(server, memoryStorage())
    manager.on('error', (e) => errors.push(e))
    await settle(manager.setTokens(server.issue()))
    await expect(settle(manager.refresh())).resolves.toBe('a2')
    expect(errors).toEqual([{ source: 'cross-tab', error: expect.objectContaining({ message: expect.stringContaining(named) }) }])
  })

  it('importing and creating touch no browser global; options are validated', async () => {
    vi.stubGlobal('navigator', undefined)
    vi.stubGlobal('document', undefined)
    const mod = await import('../../src/cross-tab/index.js')
    expect(() => mod.crossTab()).not.toThrow()
    expect(() => mod.crossTab({ key: '' })).toThrow(/"key"/)
    expect(() => mod.crossTab({ lockTimeoutMs: -1 })).toThrow(/"lockTimeoutMs"/)
  })
})
