// What test/runtime/hermes.test.ts runs inside the Hermes VM, after the host and
// React Native's globals: an app's life with the SDK (sign in, expiry, one refresh
// for a burst, a refresh that hangs, a terminal failure), each scenario against a
// fresh in-VM token server. It only records what happened; the test on the Node side
// says what should have. Each scenario prints one line: RESULT {"name", "value"|"thrown"}.
import axios from 'axios'
import { SessionExpiredError, asyncStorage, createTokenManager, refreshTokenGrant, type RefreshFn, type TokenManagerOptions } from 'silent-refresh'
import { attachAxios } from 'silent-refresh/axios'
import { createAuthFetch } from 'silent-refresh/fetch'
import { URLSearchParams as URLSearchParams_0_88 } from '../react-native/0.88.1/URLSearchParams.js.flow'
import { now, sleep, uncaught } from './host.js'
import { API, createServer } from './server.js'

declare const print: (text: string) => void

const ACCESS_TTL_SEC = 900

/** What the Node side compares: never a token, never a stack. */
const failure = (error: unknown) => ({
  name: (error as Error)?.name,
  code: (error as { code?: unknown })?.code,
  message: String((error as Error)?.message),
  cause: (error as { cause?: Error })?.cause?.message,
  isSessionExpiredError: error instanceof SessionExpiredError,
})

/** The refresh an app writes itself: fetch with a JSON body (what refreshTokenGrant does is tested on its own below). */
const refreshWithFetch: RefreshFn = async ({ refreshToken, signal }) => {
  const response = await fetch(`${API}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    signal,
  })
  const data = (await response.json()) as { access_token: string; refresh_token: string; error?: string }
  if (!response.ok) throw Object.assign(new Error(`POST /auth/token answered ${response.status}`), { status: response.status, error: data.error })
  // No expires_in taken: the SDK must read the lifetime from the JWT, as after login.
  return { accessToken: data.access_token, refreshToken: data.refresh_token }
}

/** A signed-in app: login over fetch, tokens in an AsyncStorage-like store, and (unless the app uses axios) an authFetch for the API. */
async function signIn(options: Partial<TokenManagerOptions> = {}, client: 'fetch' | 'axios' = 'fetch') {
  const server = createServer({ accessTtlSec: ACCESS_TTL_SEC, latencyMs: 20 })
  const items = new Map<string, string>()
  const AsyncStorage = {
    getItem: async (key: string) => items.get(key) ?? null,
    setItem: async (key: string, value: string) => void items.set(key, value),
    removeItem: async (key: string) => void items.delete(key),
  }
  const manager = createTokenManager({ refresh: refreshWithFetch, storage: asyncStorage(AsyncStorage), now, ...options })
  const events = { signedOut: [] as string[], errors: [] as string[] }
  manager.on('signedOut', ({ reason }) => events.signedOut.push(reason))
  manager.on('error', ({ error, source }) => events.errors.push(`${source}: ${(error as Error)?.message}`))
  const login = await fetch(`${API}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'secret' }),
  })
  const tokens = (await login.json()) as { access_token: string; refresh_token: string }
  // As the README's React Native example: the JWT says when it expires.
  await manager.setTokens({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token })
  const authFetch = client === 'fetch' ? createAuthFetch(manager, { allowedOrigins: [API] }) : () => Promise.reject(new Error('this app uses axios'))
  return { server, manager, authFetch, events, stored: () => items.get('silent-refresh') ?? null }
}

const status = (response: Response) => response.status

const scenarios: Record<string, () => Promise<unknown>> = {
  async environment() {
    const controller = new AbortController()
    controller.abort(new Error('a reason'))
    let origin: string
    try {
      origin = new URL('https://api.example.com/x').origin
    } catch (error) {
      origin = `throws: ${(error as Error).message}`
    }
    const order: string[] = []
    setTimeout(() => order.push('timer'), 0)
    void Promise.resolve().then(() => order.push('microtask'))
    await sleep(1)
    const g = globalThis as Record<string, unknown>
    return {
      atob: typeof g.atob,
      btoa: typeof g.btoa,
      TextEncoder: typeof g.TextEncoder,
      structuredClone: typeof g.structuredClone,
      EventTarget: typeof g.EventTarget,
      'URL.origin': origin,
      'signal.reason': typeof (controller.signal as { reason?: unknown }).reason,
      'fetch is whatwg-fetch': (fetch as { polyfill?: boolean }).polyfill === true,
      'navigator.product': (g.navigator as { product?: string }).product,
      order,
    }
  },

  async 'sign in; the token expires on the clock'() {
    const { server, manager, authFetch, events } = await signIn()
    const first = status(await authFetch(`${API}/api/me`))
    await sleep((ACCESS_TTL_SEC + 60) * 1000)
    const afterExpiry = status(await authFetch(`${API}/api/me`))
    manager.dispose()
    return { statuses: [first, afterExpiry], unauthorized: server.stats.unauthorized, refreshCalls: server.stats.refreshCalls, errorEvents: events.errors }
  },

  async 'the server expires the token: one refresh for a burst of 8'() {
    const { server, manager, authFetch } = await signIn()
    server.expireAccessTokens()
    const statuses = await Promise.all(Array.from({ length: 8 }, () => authFetch(`${API}/api/me`).then(status)))
    manager.dispose()
    return { statuses, refreshCalls: server.stats.refreshCalls, unauthorized: server.stats.unauthorized, authorized: server.stats.authorized }
  },

  async 'the token goes to the allowed origin only'() {
    const { server, manager, authFetch } = await signIn()
    const urls = [
      `${API}/api/me`,
      'https://elsewhere.example.net/api/me',
      'HTTPS://ELSEWHERE.EXAMPLE.NET/api/me',
      ' https://elsewhere.example.net/api/me',
      'https://api.example.com@elsewhere.example.net/api/me',
      'https://api.example.com.elsewhere.example.net/api/me',
    ]
    for (const url of urls) await authFetch(url)
    manager.dispose()
    return server.sent.filter((entry) => entry.path === '/api/me').map((entry) => `${entry.origin} ${entry.authorization ? 'with' : 'without'} token`)
  },

  async 'axios with a baseURL: token attached, one refresh for a burst'() {
    const { server, manager } = await signIn({}, 'axios')
    const api = axios.create({ baseURL: API })
    attachAxios(api, manager)
    const first = (await api.get('/api/me')).status
    server.expireAccessTokens()
    const burst = await Promise.all([1, 2, 3, 4].map(() => api.get('/api/me').then((response) => response.status)))
    manager.dispose()
    return { first, burst, refreshCalls: server.stats.refreshCalls, sentWithToken: server.sent.filter((entry) => entry.path === '/api/me' && entry.authorization).length }
  },

  async 'a refresh that hangs fails as REFRESH_TIMEOUT'() {
    const { server, manager, authFetch } = await signIn({ refreshTimeoutMs: 5_000, retry: { attempts: 0, baseDelayMs: 1 } })
    server.expireAccessTokens()
    server.hangNextRefresh()
    const outcome = await authFetch(`${API}/api/me`).then(status, failure)
    manager.dispose()
    return outcome
  },

  async 'dispose while the stored session is being read rejects with DISPOSED'() {
    const manager = createTokenManager({ refresh: refreshWithFetch, storage: { get: () => new Promise(() => {}), set() {}, clear() {} }, now })
    const pending = manager.getAccessToken().then(() => 'resolved', failure)
    await sleep(10)
    manager.dispose()
    return pending
  },

  async 'a terminal refresh failure signs out with SessionExpiredError'() {
    const { server, manager, authFetch, events, stored } = await signIn()
    server.revokeAll()
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => authFetch(`${API}/api/me`).then(status, failure)))
    const result = { outcomes, signedOut: events.signedOut, token: await manager.getAccessToken(), stored: stored(), refreshCalls: server.stats.refreshCalls }
    manager.dispose()
    return result
  },

  async "refreshTokenGrant on React Native 0.73's URLSearchParams"() {
    const { server, manager, authFetch } = await signIn({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }), retry: { attempts: 0, baseDelayMs: 1 } })
    server.expireAccessTokens()
    const outcome = await authFetch(`${API}/api/me`).then(status, failure)
    manager.dispose()
    return { outcome, refreshBodies: server.sent.filter((entry) => entry.path === '/auth/token').map((entry) => entry.body.replace(/refresh_token=[^&]*/, 'refresh_token=…')) }
  },

  async "refreshTokenGrant on React Native 0.80+'s URLSearchParams"() {
    const original = globalThis.URLSearchParams
    globalThis.URLSearchParams = URLSearchParams_0_88
    try {
      const { server, manager, authFetch, events } = await signIn({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }), retry: { attempts: 0, baseDelayMs: 1 } })
      server.expireAccessTokens()
      const outcome = await authFetch(`${API}/api/me`).then(status, failure)
      manager.dispose()
      return { outcome, signedOut: events.signedOut, refreshBodies: server.sent.filter((entry) => entry.path === '/auth/token').map((entry) => entry.body.replace(/refresh_token=[^&]*/, 'refresh_token=…')) }
    } finally {
      globalThis.URLSearchParams = original
    }
  },
}

async function main() {
  for (const [name, run] of Object.entries(scenarios)) {
    print(`START ${JSON.stringify(name)}`)
    // A scenario waiting on something that never comes ends as "did not settle", not as a silent exit.
    let deadline: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error('did not settle within a virtual day')), 86_400_000)
    })
    try {
      print(`RESULT ${JSON.stringify({ name, value: await Promise.race([run(), timeout]) })}`)
    } catch (error) {
      print(`RESULT ${JSON.stringify({ name, thrown: { ...failure(error), stack: String((error as Error)?.stack) } })}`)
    } finally {
      clearTimeout(deadline)
    }
  }
  print(`DONE ${JSON.stringify({ uncaught })}`)
}

void main()
