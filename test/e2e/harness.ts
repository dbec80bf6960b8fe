// Real browser, real server: Debian's Chromium driven by playwright-core, and
// the demo server (buildApp) on a real port with in-memory SQLite, rotation and
// reuse detection with no grace window. The store is wrapped to count what
// every rotation did, so a test can say "exactly one refresh, zero reuse".
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Where Chromium is: env CHROMIUM_PATH, else Debian's /usr/bin/chromium; undefined when neither exists. */
export const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p): p is string => !!p && existsSync(p))

if (!chromiumPath) {
  const notice =
    'Browser tests skipped: no Chromium at CHROMIUM_PATH or /usr/bin/chromium. Install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH.'
  // Under CI a missing browser is a failure, not a silent skip.
  if (process.env.CI === 'true') throw new Error(notice)
  console.warn(`\n*** ${notice}\n`)
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
}

/** What the store's rotate() answered, counted. */
export interface RotationStats {
  rotated: number
  reused: number
  other: number
}

interface Store {
  rotate(input: unknown): Promise<{ kind: string }>
  close(): Promise<void>
}

interface App {
  listen(options: { port: number; host: string }): Promise<string>
  close(): Promise<void>
}

// Loaded by path: demo-server is typechecked by its own tsconfig (it imports with .ts extensions).
const demo = (path: string) => import(new URL(`../../demo-server/src/${path}`, import.meta.url).href)

export interface DemoServer {
  url: string
  stats: RotationStats
  close(): Promise<void>
}

/** Starts the demo server on 127.0.0.1 with a short access-token lifetime (seconds). */
export async function startDemoServer(options: { accessTokenTtl: number }): Promise<DemoServer> {
  const [{ buildApp }, { openSqliteStore }, { generateSigningKeys }, { createScryptHasher }, { seedUser }] = await Promise.all([
    demo('app.ts'),
    demo('store/sqlite-store.ts'),
    demo('tokens/keys.ts'),
    demo('auth/password.ts'),
    demo('auth/seed.ts'),
  ])
  const inner: Store = openSqliteStore(':memory:')
  const stats: RotationStats = { rotated: 0, reused: 0, other: 0 }
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== 'rotate') {
        const value = Reflect.get(target, key, receiver)
        return typeof value == 'function' ? value.bind(target) : value
      }
      return async (input: unknown) => {
        const result = await target.rotate(input)
        if (result.kind === 'rotated') stats.rotated++
        else if (result.kind === 'reused') stats.reused++
        else stats.other++
        return result
      }
    },
  })
  const hasher = createScryptHasher({ N: 1024, r: 8, p: 1 })
  await seedUser(store, hasher, 'demo', 'demo')
  const many = { max: 100_000, windowMs: 60_000 }
  const app: App = await buildApp({
    store,
    keys: await generateSigningKeys(),
    passwordHasher: hasher,
    accessTokenTtl: options.accessTokenTtl,
    refreshReuseGraceMs: 0,
    allowedOrigins: [],
    demoLevers: true,
    rateLimits: { loginPerIp: many, loginFailuresPerAccount: many, refreshPerIp: many },
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url: address,
    stats,
    async close() {
      await app.close()
      await inner.close()
    },
  }
}
