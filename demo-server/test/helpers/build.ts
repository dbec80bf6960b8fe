import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { onTestFinished } from 'vitest'
import { buildApp, type AppOptions } from '../../src/app.ts'
import { createScryptHasher, type PasswordHasher } from '../../src/auth/password.ts'
import { seedUser } from '../../src/auth/seed.ts'
import { createMemoryStore } from '../../src/store/memory-store.ts'
import type { Store } from '../../src/store/types.ts'
import { generateSigningKeys, type SigningKeys } from '../../src/tokens/keys.ts'

/** Cheap scrypt for tests (the defaults cost ~0.3 s a hash on this machine). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 }

export const DEMO = { username: 'demo', password: 'demo-password' } as const

let sharedKeys: Promise<SigningKeys> | undefined
/** One key pair per test file: generating is cheap, but tokens across apps in a file then verify. */
export function testKeys(): Promise<SigningKeys> {
  sharedKeys ??= generateSigningKeys()
  return sharedKeys
}

/** A frozen clock that only moves when told to. */
export function createClock(start = Date.UTC(2030, 0, 1)): { now: () => number; advance: (ms: number) => void; set: (t: number) => void } {
  let t = start
  return {
    now: () => t,
    advance: (ms) => {
      t += ms
    },
    set: (ms) => {
      t = ms
    },
  }
}

/** A hasher that counts calls, around the cheap scrypt one. */
export function countingHasher(inner: PasswordHasher = createScryptHasher(TEST_SCRYPT)): PasswordHasher & {
  calls: { hash: number; verify: number }
} {
  const calls = { hash: 0, verify: 0 }
  return {
    calls,
    hash: (password) => {
      calls.hash++
      return inner.hash(password)
    },
    verify: (password, stored) => {
      calls.verify++
      return inner.verify(password, stored)
    },
  }
}

export interface TestContext {
  app: FastifyInstance
  store: Store
  keys: SigningKeys
  clock: ReturnType<typeof createClock>
  hasher: ReturnType<typeof countingHasher>
  /** POST /auth/login with the demo user (or the given credentials). */
  login(credentials?: { username: string; password: string }, headers?: Record<string, string>): Promise<LightMyRequestResponse>
  /** POST /auth/token with a JSON body. */
  refresh(refreshToken: string | undefined, headers?: Record<string, string>): Promise<LightMyRequestResponse>
  /** GET /api/me with the bearer token. */
  me(accessToken: string): Promise<LightMyRequestResponse>
  /** POST /auth/logout with a JSON body. */
  logout(refreshToken?: string): Promise<LightMyRequestResponse>
}

/**
 * The fastify/demo `build(t)` helper: an app on an in-memory store (unless
 * given one), a frozen clock, cheap scrypt, the demo user seeded. Call it
 * inside a test or a `beforeEach`: the app closes when the test finishes
 * (and with it the store, unless the test passed its own).
 */
export async function build(overrides: Partial<AppOptions> = {}): Promise<TestContext> {
  const store = overrides.store ?? createMemoryStore()
  const keys = overrides.keys ?? (await testKeys())
  const clock = createClock()
  const hasher = countingHasher()
  await seedUser(store, hasher, DEMO.username, DEMO.password)
  const app = await buildApp({ now: clock.now, passwordHasher: hasher, ...overrides, store, keys })
  // Count only what requests do (not the seed nor the dummy hash made at start-up).
  hasher.calls.hash = 0
  hasher.calls.verify = 0
  app.addHook('onClose', async () => {
    if (!overrides.store) await store.close()
  })
  onTestFinished(() => app.close())
  return {
    app,
    store,
    keys,
    clock,
    hasher,
    login: (credentials = DEMO, headers = {}) =>
      app.inject({ method: 'POST', url: '/auth/login', payload: credentials, headers }),
    refresh: (refreshToken, headers = {}) =>
      app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: refreshToken === undefined ? { grant_type: 'refresh_token' } : { grant_type: 'refresh_token', refresh_token: refreshToken },
        headers,
      }),
    me: (accessToken) => app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `Bearer ${accessToken}` } }),
    logout: (refreshToken) =>
      app.inject({ method: 'POST', url: '/auth/logout', payload: refreshToken === undefined ? {} : { refresh_token: refreshToken } }),
  }
}

/** Parses a Set-Cookie header into name, value and lower-cased attributes. */
export function parseSetCookie(header: string): { name: string; value: string; attributes: Record<string, string | true> } {
  const [pair = '', ...rest] = header.split(';').map((s) => s.trim())
  const eq = pair.indexOf('=')
  const attributes: Record<string, string | true> = {}
  for (const attr of rest) {
    const i = attr.indexOf('=')
    if (i === -1) attributes[attr.toLowerCase()] = true
    else attributes[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1)
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes }
}

/** The Set-Cookie headers of a response, always as an array. */
export function setCookies(res: LightMyRequestResponse): string[] {
  const raw = res.headers['set-cookie']
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
}
