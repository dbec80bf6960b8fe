// DPoP across tabs in a real Chromium: four tabs of one origin run the SDK's
// built ESM files (dist/) with webStorage + crossTab + dpop({ key }) against the
// DPoP-verifying server of test/helpers/dpop-server.ts (jose), nonces on. The
// tabs share one non-extractable key through IndexedDB, so every tab can use the
// refresh token bound to it; one expiry (with a new nonce) → one refresh.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { bound } from '../helpers/bounds.js'
import { startDpopServer, type DpopServer } from '../helpers/dpop-server.js'
import { chromiumPath, launchBrowser } from './harness.js'

const PAGE = `<!doctype html><meta charset="utf-8"><title>dpop tabs</title>
<script type="module">
import { createTokenManager, refreshTokenGrant, webStorage, fromTokenResponse } from '/sdk/index.js'
import { createAuthFetch } from '/sdk/fetch.js'
import { crossTab } from '/sdk/cross-tab.js'
import { dpop } from '/sdk/dpop.js'
const key = dpop({ key: 'e2e' })
const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: '/token', fetch: key.fetch }),
  storage: webStorage(localStorage, 'e2e'),
  crossTab: crossTab({ key: 'e2e' }),
  sender: key,
})
const authFetch = createAuthFetch(manager)
window.t = {
  key,
  get signedIn() { return manager.getState().status === 'signedIn' },
  async login() {
    const response = await key.fetch('/login', { method: 'POST' })
    await manager.setTokens(fromTokenResponse(await response.json()))
  },
  async burst(n) {
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => authFetch('/api/burst/' + i)))
    return answers.map((a) => a.status)
  },
  signOut: () => manager.clear(),
}
window.ready = true
</script>`

interface TabWindow {
  ready?: boolean
  t: { key: { thumbprint(): Promise<string> }; signedIn: boolean; login(): Promise<void>; burst(n: number): Promise<number[]>; signOut(): Promise<void> }
}
declare const window: TabWindow
declare const indexedDB: IDBFactory

const dist = new URL('../../dist/', import.meta.url)

describe.skipIf(!chromiumPath)('DPoP across tabs in Chromium', () => {
  let server: DpopServer
  let browser: Browser
  let context: BrowserContext

  beforeAll(async () => {
    ;[server, browser] = await Promise.all([
      startDpopServer({
        nonces: true,
        serve(path) {
          if (path === '/') return { type: 'text/html', body: PAGE }
          if (path.startsWith('/sdk/') && /^[\w/.-]+\.js$/.test(path) && !path.includes('..')) {
            try {
              return { type: 'text/javascript', body: readFileSync(new URL(path.slice('/sdk/'.length), dist)) }
            } catch {
              return undefined
            }
          }
          return undefined
        },
      }),
      launchBrowser(),
    ])
  })
  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await server?.close()
  })

  const openTabs = async (n: number): Promise<Page[]> => {
    context = await browser.newContext()
    return Promise.all(
      Array.from({ length: n }, async () => {
        const page = await context.newPage()
        await page.goto(server.url)
        await page.waitForFunction(() => window.ready === true, undefined, { timeout: bound(20_000) })
        return page
      }),
    )
  }
  const signedInEverywhere = (pages: Page[], value: boolean) =>
    Promise.all(pages.map((p) => p.waitForFunction((v) => window.t.signedIn === v, value, { timeout: bound(20_000) })))
  const keysInIndexedDb = (page: Page) =>
    page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const open = indexedDB.open('silent-refresh-dpop')
          open.onerror = () => reject(open.error)
          open.onsuccess = () => {
            const count = open.result.transaction('keys').objectStore('keys').count()
            count.onsuccess = () => resolve(count.result)
          }
        }),
    )

  it('4 tabs: one key in IndexedDB, one refresh per expiry, every request verified', async () => {
    const tabs = await openTabs(4)
    await tabs[0]!.evaluate(() => window.t.login())
    await signedInEverywhere(tabs, true)
    const thumbprints = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.t.key.thumbprint())))
    expect(new Set(thumbprints).size).toBe(1)
    expect(await keysInIndexedDb(tabs[3]!)).toBe(1)

    const first = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.t.burst(3))))
    expect(first.flat()).toEqual(Array(12).fill(200))

    for (let expiry = 1; expiry <= 3; expiry++) {
      server.expireAccessTokens()
      server.rotateNonce()
      const statuses = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.t.burst(5))))
      expect(statuses.flat()).toEqual(Array(20).fill(200))
      expect(server.stats.refreshCalls).toBe(expiry)
    }
    // One key signed everything the server accepted; no refresh was refused.
    expect([...server.jkts]).toEqual([thumbprints[0]])
    expect(server.stats.refreshRefused).toBe(0)
    expect(server.stats.resourceOk).toBe(12 + 60)

    // A sign-out in one tab signs out all and forgets the key; the next login makes one new key, shared again.
    await tabs[1]!.evaluate(() => window.t.signOut())
    await signedInEverywhere(tabs, false)
    await tabs[2]!.evaluate(() => window.t.login())
    await signedInEverywhere(tabs, true)
    const after = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.t.key.thumbprint())))
    expect(new Set(after).size).toBe(1)
    expect(after[0]).not.toBe(thumbprints[0])
    expect(await keysInIndexedDb(tabs[0]!)).toBe(1)
    const last = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.t.burst(2))))
    expect(last.flat()).toEqual(Array(8).fill(200))
  })
})
