// Stress: K tabs of one Chromium context, E expiries, each met by a burst in
// every tab at the same moment (alternating server-side expiry → 401s, and the
// proactive refresh window). Prints refreshes per expiry, reuse detections,
// failed requests and timings; exits 1 on any reuse, failure or expiry that
// did not cause exactly one refresh.
//
//   npx tsx scripts/stress-cross-tab.ts [expiries=60] [tabs=4] [burst=20]
//   (needs `npm run build` and Chromium at CHROMIUM_PATH or /usr/bin/chromium)
import { chromiumPath, launchBrowser, startDemoServer } from '../test/e2e/harness.ts'

interface DemoWindow {
  demo: { burst(n: number): Promise<{ ok: number }>; signIn(u: string, p: string): Promise<void>; readonly signedIn: boolean; readonly accessToken: string | null }
  localStorage: Storage
}
declare const window: DemoWindow

const [expiries = 60, tabs = 4, size = 20] = process.argv.slice(2).map(Number)
if (!chromiumPath) throw new Error('No Chromium at CHROMIUM_PATH or /usr/bin/chromium')

const TTL_S = 2
const server = await startDemoServer({ accessTokenTtl: TTL_S })
const browser = await launchBrowser()
const context = await browser.newContext()
const pages = await Promise.all(
  Array.from({ length: tabs }, async () => {
    const page = await context.newPage()
    await page.goto(server.url)
    await page.waitForFunction(() => 'demo' in window)
    return page
  }),
)
await pages[0]!.evaluate(() => window.demo.signIn('demo', 'demo'))
await Promise.all(pages.map((p) => p.waitForFunction(() => window.demo.signedIn)))

const perExpiry: number[] = []
let failed = 0
const started = Date.now()
for (let expiry = 1; expiry <= expiries; expiry++) {
  const before = server.stats.rotated
  if (expiry % 2) {
    await pages[expiry % tabs]!.evaluate(() =>
      fetch('/demo/expire', { method: 'POST', headers: { authorization: `Bearer ${window.demo.accessToken}` } }),
    )
  } else {
    const expiresAt = await pages[0]!.evaluate(() => JSON.parse(window.localStorage.getItem('silent-refresh-demo')!).expiresAt as number)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - (TTL_S * 1000) / 2 - Date.now() + 30)))
  }
  const start = Date.now() + 100
  const results = await Promise.all(
    pages.map((p) =>
      p.evaluate(
        async ({ start, size }) => {
          await new Promise((resolve) => setTimeout(resolve, start - Date.now()))
          return window.demo.burst(size)
        },
        { start, size },
      ),
    ),
  )
  failed += results.reduce((sum, r) => sum + (size - r.ok), 0)
  perExpiry.push(server.stats.rotated - before)
  if (server.stats.reused) break
}
const seconds = (Date.now() - started) / 1000
await browser.close()
await server.close()

const notOne = perExpiry.filter((n) => n !== 1).length
console.log(
  JSON.stringify(
    {
      tabs,
      expiries: perExpiry.length,
      requests: perExpiry.length * tabs * size,
      refreshes: server.stats.rotated,
      expiriesWithOtherThanOneRefresh: notOne,
      reuseDetected: server.stats.reused,
      otherRotateOutcomes: server.stats.other,
      failedRequests: failed,
      seconds,
    },
    null,
    2,
  ),
)
process.exit(notOne || server.stats.reused || failed ? 1 : 0)
