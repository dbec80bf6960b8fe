// The browser link of "silent-refresh/cross-tab", run in Node against fakes of
// Web Locks, BroadcastChannel and IndexedDB (fake-indexeddb). The same
// properties are checked in Chromium by test/e2e/.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTokenManager, memoryStorage, type CrossTab, type TokenManager, type TokenStorage } from '../../src/index.js'
import { crossTab } from '../../src/cross-tab/index.js'
import { fakeBroadcastChannel, fakeLocks, installBrowser, laggingStorage, rotatingServer, sleep } from './helpers.js'

let managers: TokenManager[] = []
afterEach(() => {
  managers.forEach((m) => m.dispose())
  managers = []
  vi.unstubAllGlobals()
})

const tab = (server: ReturnType<typeof rotatingServer>, storage: TokenStorage, link: CrossTab = crossTab()) => {
  const manager = createTokenManager({ refresh: server.refresh, storage, crossTab: link, retry: { attempts: 0, baseDelayMs: 0 } })
  managers.push(manager)
  return manager
}

/** Every tab answers a 401 for the same token at about the same time; resolves with the tokens each got. */
const expireTogether = async (tabs: TokenManager[], stale: string) =>
  Promise.all(tabs.flatMap((t, i) => [0, 1, 2].map(() => sleep(i).then(() => t.refresh({ staleToken: stale })))))

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
    await expireTogether(tabs, 'a1').catch(() => {})
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
      const tokens = await expireTogether(tabs, stale)
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
    await tabs[0]!.setTokens(server.issue())
    await expect.poll(() => Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(['a1', 'a1', 'a1', 'a1'])
    for (let expiry = 1; expiry <= 12; expiry++) {
      await sleep(30)
      // A different tab is first each time; the others' storages only ever heard of it.
      const first = tabs[expiry % 4]!
      await expect(first.refresh({ staleToken: `a${expiry}` })).resolves.toBe(`a${expiry + 1}`)
      await expect.poll(() => Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(Array(4).fill(`a${expiry + 1}`))
    }
    expect(server.stats).toEqual({ refreshCalls: 12, reuse: 0 })
  })

  it('memoryStorage tabs racing on the same expiry: one refresh per expiry', async () => {
    installBrowser()
    const server = rotatingServer()
    const tabs = [0, 1, 2, 3].map(() => tab(server, memoryStorage()))
    await tabs[0]!.setTokens(server.issue())
    await expect.poll(() => Promise.all(tabs.map((t) => t.getAccessToken()))).toEqual(['a1', 'a1', 'a1', 'a1'])
    for (let expiry = 1; expiry <= 10; expiry++) {
      await expireTogether(tabs, `a${expiry}`)
      await sleep(5)
    }
    expect(server.stats).toEqual({ refreshCalls: 10, reuse: 0 })
  })

  it('a tab opened later starts with the session the others hold (memoryStorage)', async () => {
    installBrowser()
    const server = rotatingServer()
    const first = tab(server, memoryStorage())
    await first.setTokens(server.issue())
    await sleep(20)
    const later = tab(server, memoryStorage())
    await expect.poll(() => later.getAccessToken()).toBe('a1')
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
    await a!.setTokens(server.issue())
    await expect.poll(() => c!.getAccessToken()).toBe('a1')
    await a!.clear()
    await expect.poll(() => reasons).toEqual(['remote', 'remote'])
    expect(await b!.getAccessToken()).toBeNull()
  })

  it('a refresh that finishes after another tab signed out does not bring the session back', async () => {
    installBrowser()
    const server = rotatingServer(40)
    const storage = laggingStorage(5)
    const [a, b] = [0, 1].map((i) => tab(server, storage.view(i)))
    await a!.setTokens(server.issue())
    await expect.poll(() => b!.getAccessToken()).toBe('a1')
    const refreshing = a!.refresh({ staleToken: 'a1' }).catch((e: Error) => e.name)
    await sleep(10)
    await b!.clear() // while a's refresh is at the server
    await refreshing
    await sleep(30)
    expect(await a!.getAccessToken()).toBeNull()
    expect(await b!.getAccessToken()).toBeNull()
  })
})

describe('crossTab(): the lock', () => {
  it('a holder that hangs is taken over after lockTimeoutMs', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    const storage = laggingStorage(0)
    void browser.locks.request('silent-refresh:silent-refresh', () => new Promise(() => {})).catch(() => {}) // a frozen tab
    const t = tab(server, storage.view(0), crossTab({ lockTimeoutMs: 100 }))
    await t.setTokens(server.issue())
    const started = Date.now()
    await expect(t.refresh({ staleToken: 'a1' })).resolves.toBe('a2')
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
  })

  it('dispose() drops a queued lock request and removes its listeners', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    void browser.locks.request('silent-refresh:k', () => new Promise(() => {}))
    const t = tab(server, memoryStorage(), crossTab({ key: 'k' }))
    await t.setTokens(server.issue())
    expect(browser.doc.listeners()).toBe(1)
    const pending = t.refresh({ staleToken: 'a1' })
    await sleep(5)
    t.dispose()
    await expect(pending).rejects.toMatchObject({ code: 'DISPOSED' })
    expect(browser.doc.listeners()).toBe(0)
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('keys scope sessions: tabs of another key neither share the lock nor the tokens', async () => {
    const browser = installBrowser()
    const server = rotatingServer()
    const a = tab(server, memoryStorage(), crossTab({ key: 'one' }))
    const b = tab(server, memoryStorage(), crossTab({ key: 'two' }))
    await a.setTokens(server.issue())
    void browser.locks.request('silent-refresh:one', () => new Promise(() => {}))
    await b.setTokens(server.issue())
    await sleep(20)
    expect(await b.getAccessToken()).toBe('a2')
    await expect(b.refresh({ staleToken: 'a2' })).resolves.toBe('a3')
  })
})

describe('crossTab(): wake-up and degradation', () => {
  it('a tab that becomes visible with an expired token refreshes once, not once per caller', async () => {
    const browser = installBrowser()
    let now = 1_000_000
    const server = rotatingServer()
    const manager = createTokenManager({ refresh: server.refresh, crossTab: crossTab(), now: () => now })
    managers.push(manager)
    await manager.setTokens({ ...server.issue(), expiresIn: 60 })
    now += 3_600_000 // asleep for an hour
    browser.doc.visibilityState = 'visible'
    browser.doc.dispatch('visibilitychange')
    const tokens = await Promise.all([0, 1, 2, 3, 4].map(() => manager.getAccessToken()))
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
    await manager.setTokens(server.issue())
    await expect(manager.refresh()).resolves.toBe('a2')
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
