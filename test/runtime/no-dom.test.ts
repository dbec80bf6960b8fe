// React Native, workers and Node have no DOM. The core is bundled the way
// Metro resolves it ("react-native" condition) and run in a
// child process where every browser global is a trap: reading one throws and
// is recorded. A full refresh cycle must run without touching any.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
// `location` stays absent (as in React Native), not trapped: the adapters look for
// a page origin with `globalThis.location?.href` at call time, and find none.
const TRAPPED = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'BroadcastChannel']

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'silent-refresh-no-dom-'))
  buildSync({
    stdin: {
      contents: `
        export { createTokenManager, asyncStorage, secureStorage, refreshTokenGrant, SessionExpiredError } from './src/index.ts'
        export { createAuthFetch } from './src/adapters/fetch.ts'
      `,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['react-native', 'module', 'main'],
    conditions: ['react-native', 'import'],
    target: 'es2020',
    outfile: join(dir, 'sdk.mjs'),
    logLevel: 'silent',
  })
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs `body` (an async function body, `sdk` in scope) with every browser global trapped. */
function runWithoutDom(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = join(dir, `run-${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(
    script,
    `
    const touched = []
    for (const name of ${JSON.stringify(TRAPPED)}) {
      Object.defineProperty(globalThis, name, {
        configurable: true,
        get() { touched.push(name); throw new ReferenceError(name + ' is not defined') },
      })
    }
    if ('location' in globalThis) throw new Error('this Node has a location global: the test assumes none')
    const sdk = await import('./sdk.mjs')
    const result = await (async () => { ${body} })()
    console.log(JSON.stringify({ touched, result }))
    `,
  )
  return spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000 })
}

const parse = (run: { status: number | null; stdout: string; stderr: string }) => {
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as { touched: string[]; result: Record<string, unknown> }
}

describe('the core with no DOM globals (React Native, workers)', () => {
  it('the traps work: a script that reads window fails', () => {
    const run = runWithoutDom('return typeof window')
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('window is not defined')
  })

  it('imports, and runs login → proactive refresh → 401 → one refresh → retry, with AsyncStorage and a secure store', () => {
    const { touched, result } = parse(
      runWithoutDom(`
        const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
        let clock = 1_000_000
        const jwt = (n, ttl = 60) => b64({ alg: 'none' }) + '.' + b64({ n, iat: clock / 1000, exp: clock / 1000 + ttl }) + '.'
        let current = jwt(1)
        let refreshCalls = 0
        let revokedToken = null
        // A token server as a fetch function: no network, no msw.
        const fakeFetch = async (input, init = {}) => {
          const url = String(input instanceof Request ? input.url : input)
          if (url.endsWith('/auth/token')) {
            refreshCalls++
            current = jwt(refreshCalls + 1)
            return new Response(JSON.stringify({ access_token: current, refresh_token: 'r' + (refreshCalls + 1), expires_in: 60 }), { headers: { 'content-type': 'application/json' } })
          }
          const auth = new Headers(init.headers).get('authorization')
          const ok = auth === 'Bearer ' + current && auth !== 'Bearer ' + revokedToken
          return new Response(ok ? '{"ok":true}' : '{}', { status: ok ? 200 : 401 })
        }
        const asyncMap = new Map()
        const AsyncStorage = { getItem: async (k) => asyncMap.get(k) ?? null, setItem: async (k, v) => void asyncMap.set(k, v), removeItem: async (k) => void asyncMap.delete(k) }
        const secureMap = new Map()
        const SecureStore = { getItemAsync: async (k) => secureMap.get(k) ?? null, setItemAsync: async (k, v) => void secureMap.set(k, v), deleteItemAsync: async (k) => void secureMap.delete(k) }
        const out = {}
        for (const [name, storage] of [['async', sdk.asyncStorage(AsyncStorage)], ['secure', sdk.secureStorage(SecureStore)]]) {
          refreshCalls = 0
          current = jwt(1)
          const manager = sdk.createTokenManager({
            refresh: sdk.refreshTokenGrant({ url: 'https://api.example.com/auth/token', fetch: fakeFetch }),
            storage,
            now: () => clock,
          })
          const authFetch = sdk.createAuthFetch(manager, { fetch: fakeFetch, allowedOrigins: ['https://api.example.com'] })
          await manager.setTokens({ accessToken: current, refreshToken: 'r1' })
          const first = (await authFetch('https://api.example.com/api/me')).status
          clock += 45_000 // inside the proactive window
          const proactive = (await authFetch('https://api.example.com/api/me')).status
          const afterProactive = refreshCalls
          revokedToken = current // the server drops the current token: the next requests get 401
          const burst = await Promise.all([1, 2, 3].map(() => authFetch('https://api.example.com/api/me').then((r) => r.status)))
          out[name] = { first, proactive, afterProactive, burst, refreshCalls, stored: JSON.parse((name === 'async' ? asyncMap : secureMap).get('silent-refresh')).accessToken === current }
          manager.dispose()
        }
        return out
      `),
    )
    expect(touched).toEqual([])
    for (const name of ['async', 'secure']) {
      expect(result[name]).toEqual({ first: 200, proactive: 200, afterProactive: 1, burst: [200, 200, 200], refreshCalls: 2, stored: true })
    }
  })

  it('a rejected refresh signs out with SessionExpiredError, still touching nothing', () => {
    const { touched, result } = parse(
      runWithoutDom(`
        const fakeFetch = async () => new Response('{"error":"invalid_grant"}', { status: 400, headers: { 'content-type': 'application/json' } })
        const manager = sdk.createTokenManager({ refresh: sdk.refreshTokenGrant({ url: 'https://api.example.com/auth/token', fetch: fakeFetch }) })
        const events = []
        manager.on('signedOut', (e) => events.push(e.reason))
        await manager.setTokens({ accessToken: 'opaque', refreshToken: 'r1' })
        const error = await manager.refresh().catch((e) => e)
        return { expired: error instanceof sdk.SessionExpiredError, events, token: await manager.getAccessToken() }
      `),
    )
    expect(touched).toEqual([])
    expect(result).toEqual({ expired: true, events: ['expired'], token: null })
  })
})
