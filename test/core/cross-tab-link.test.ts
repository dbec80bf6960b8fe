// The manager's side of cross-tab coordination, driven through an in-process
// link (a lock, a bus, one shared storage) so its logic is testable in Node.
// The browser link (Web Locks + BroadcastChannel) has its own tests.
// On fake time: the server's latency and the bus's delivery are fake timers.
import { describe, expect, it } from 'vitest'
import { createTokenManager, memoryStorage, type CrossTab, type CrossTabHost, type TokenManager } from '../../src/index.js'
import { after, rotatingServer } from '../cross-tab/helpers.js'
import { eventually, settle, useFakeClock } from '../helpers/fake-time.js'

useFakeClock({ fake: 'timers' })

/** Tabs of one browser: one storage, one lock, one bus with asynchronous delivery. */
function browser() {
  const storage = memoryStorage()
  const hosts = new Set<CrossTabHost>()
  let lock: Promise<unknown> = Promise.resolve()
  let lockHeld = 0
  let maxHeld = 0
  const crossTab: CrossTab = {
    connect(host) {
      hosts.add(host)
      return {
        exclusive(task) {
          const run = lock.then(async () => {
            maxHeld = Math.max(maxHeld, ++lockHeld)
            try {
              return await task()
            } finally {
              lockHeld--
            }
          })
          lock = run.catch(() => {})
          return run
        },
        publish(tokens) {
          for (const other of hosts) if (other !== host) setTimeout(() => other.receive(tokens), 5)
        },
        close() {
          hosts.delete(host)
        },
      }
    },
  }
  return { storage, crossTab, maxHeld: () => maxHeld, hosts }
}

describe('cross-tab link', () => {
  it('one expiry across 4 tabs causes one refresh and zero reuse; every tab adopts the new token', async () => {
    const server = rotatingServer()
    const b = browser()
    const first = server.issue()
    await b.storage.set(first)
    const tabs: TokenManager[] = Array.from({ length: 4 }, () =>
      createTokenManager({ refresh: server.refresh, storage: b.storage, crossTab: b.crossTab }),
    )
    // Every tab saw the same 401 for the same token at the same time.
    const tokens = await settle(Promise.all(tabs.flatMap((tab) => [0, 1, 2].map(() => tab.refresh({ staleToken: first.accessToken })))))
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.stats.reuse).toBe(0)
    expect(new Set(tokens)).toEqual(new Set(['a2']))
    expect(b.maxHeld()).toBe(1)
    for (const tab of tabs) expect(await settle(tab.getAccessToken())).toBe('a2')
    tabs.forEach((tab) => tab.dispose())
  })

  it('ten expiries in a row, tabs racing each time: one refresh per expiry, never a reuse', async () => {
    const server = rotatingServer()
    const b = browser()
    await b.storage.set(server.issue())
    const tabs = Array.from({ length: 4 }, () => createTokenManager({ refresh: server.refresh, storage: b.storage, crossTab: b.crossTab }))
    for (let expiry = 1; expiry <= 10; expiry++) {
      const stale = await settle(tabs[0]!.getAccessToken())
      const tokens = await settle(Promise.all(tabs.map((tab, i) => after(i * 3).then(() => tab.refresh({ staleToken: stale! })))))
      expect(new Set(tokens)).toEqual(new Set([`a${expiry + 1}`]))
      expect(server.stats.refreshCalls).toBe(expiry)
    }
    expect(server.stats.reuse).toBe(0)
    tabs.forEach((tab) => tab.dispose())
  })

  it('a tab that waited for the lock adopts the stored tokens instead of refreshing', async () => {
    const server = rotatingServer()
    const b = browser()
    const first = server.issue()
    await b.storage.set(first)
    const a = createTokenManager({ refresh: server.refresh, storage: b.storage, crossTab: b.crossTab })
    const other = createTokenManager({ refresh: server.refresh, storage: b.storage, crossTab: b.crossTab })
    // Silence the bus so only the storage hand-over under the lock can save the second tab.
    b.hosts.clear()
    const [ta, tb] = await settle(Promise.all([a.refresh({ staleToken: first.accessToken }), other.refresh({ staleToken: first.accessToken })]))
    expect(ta).toBe('a2')
    expect(tb).toBe('a2')
    expect(server.stats.refreshCalls).toBe(1)
    a.dispose()
    other.dispose()
  })

  it('a login in one tab reaches the others; a sign-out in one signs out all with reason "remote"', async () => {
    const server = rotatingServer()
    const b = browser()
    const [a, other] = [0, 1].map(() => createTokenManager({ refresh: server.refresh, storage: b.storage, crossTab: b.crossTab }))
    const seen: string[] = []
    other!.on('tokens', (t) => seen.push(t.accessToken))
    const signedOut: string[] = []
    other!.on('signedOut', (e) => signedOut.push(e.reason))
    await settle(a!.setTokens(server.issue()))
    await eventually(() => expect(seen).toEqual(['a1']))
    expect(await settle(other!.getAccessToken())).toBe('a1')
    await settle(a!.clear())
    await eventually(() => expect(signedOut).toEqual(['remote']))
    expect(await settle(other!.getAccessToken())).toBeNull()
    a!.dispose()
    other!.dispose()
  })

  it('a tab waiting for the lock is released when another tab publishes the new tokens', async () => {
    const b = browser()
    let release!: () => void
    const held = new Promise<null>((resolve) => (release = () => resolve(null)))
    const blocker = b.crossTab.connect({ receive() {}, read: async () => null }, createTokenManager({ refresh: async () => ({ accessToken: 'x' }) }))
    void blocker.exclusive(() => held) // a tab holding the lock for a long time
    const waiting = createTokenManager({ refresh: async () => ({ accessToken: 'never' }), storage: b.storage, crossTab: b.crossTab })
    await settle(waiting.setTokens({ accessToken: 'old', refreshToken: 'r' }))
    const pending = waiting.refresh({ staleToken: 'old' })
    blocker.publish({ accessToken: 'from-other-tab', refreshToken: 'r2' })
    await expect(settle(pending)).resolves.toBe('from-other-tab')
    release()
    waiting.dispose()
  })

  it('a lagging storage view that still shows an older session is not adopted; the refresh presents our own refresh token', async () => {
    const b = browser()
    const now = Date.now()
    const lagging = { get: () => ({ accessToken: 'a1', refreshToken: 'r1', expiresAt: now + 1_000 }), set() {}, clear() {} }
    const presented: (string | null)[] = []
    const manager = createTokenManager({
      refresh: async ({ refreshToken }) => (presented.push(refreshToken), { accessToken: 'a4', refreshToken: 'r4' }),
      storage: lagging,
      crossTab: b.crossTab,
    })
    await settle(manager.setTokens({ accessToken: 'a3', refreshToken: 'r3', expiresAt: now + 600_000 }))
    await expect(settle(manager.refresh({ staleToken: 'a3' }))).resolves.toBe('a4')
    expect(presented).toEqual(['r3'])
    manager.dispose()
  })

  it('a link that throws on connect is reported, and the manager still works alone', async () => {
    const errors: string[] = []
    const broken: CrossTab = {
      connect() {
        throw new Error('no BroadcastChannel here')
      },
    }
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'b' }), crossTab: broken })
    manager.on('error', (e) => errors.push(e.source))
    await settle(manager.setTokens({ accessToken: 'a', refreshToken: 'r' }))
    await expect(settle(manager.refresh())).resolves.toBe('b')
    expect(errors).toEqual(['cross-tab'])
    manager.dispose()
  })
})

describe('the manager under the lock', () => {
  it('regression: a lagging storage view showing the older token set (written without expiresAt) is not adopted; the current refresh token is presented', async () => {
    const seeded = { accessToken: 'a1', refreshToken: 'r1', expiresIn: 600 } // as an app or an older version wrote it
    const lagging = { get: () => ({ ...seeded }), set() {}, clear() {} }
    const link: CrossTab = { connect: () => ({ exclusive: (task) => task(), publish() {}, close() {} }) }
    const presented: (string | null)[] = []
    const manager = createTokenManager({
      refresh: async ({ refreshToken }) => (presented.push(refreshToken), { accessToken: 'a3', refreshToken: 'r3', expiresIn: 600 }),
      storage: lagging,
      crossTab: link,
    })
    await manager.setTokens({ accessToken: 'a2', refreshToken: 'r2', expiresIn: 600 }) // newer: this tab refreshed before
    await expect(manager.refresh({ staleToken: 'a2' })).resolves.toBe('a3')
    expect(presented).toEqual(['r2'])
    manager.dispose()
  })
})
