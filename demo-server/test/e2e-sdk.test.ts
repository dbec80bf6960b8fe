import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import axios, { isAxiosError, type AxiosInstance } from 'axios'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTokenManager, refreshTokenGrant, SessionExpiredError } from '../../src/index.ts'
import { attachAxios } from '../../src/adapters/axios.ts'
import { buildApp } from '../src/app.ts'
import { createScryptHasher } from '../src/auth/password.ts'
import { seedUser } from '../src/auth/seed.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import type { Store } from '../src/store/types.ts'
import { DEMO, TEST_SCRYPT, createClock, testKeys } from './helpers/build.ts'

/**
 * The real SDK against the real server over a port, on a SQLite file: login,
 * requests, expiry (proactive and by 401), rotation, reuse detected elsewhere,
 * logout. The server and the client each have their own frozen clock, so
 * "30 s later" costs no waiting and the two can disagree on purpose.
 */

const dir = mkdtempSync(join(tmpdir(), 'demo-e2e-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const ACCESS_TTL = 30

let app: FastifyInstance
let store: Store
let url: string
let serverClock: ReturnType<typeof createClock>
let clientClock: ReturnType<typeof createClock>
let counts: { refresh: number; refreshOk: number; me: number; unauthorized: number }

beforeEach(async () => {
  serverClock = createClock()
  clientClock = createClock()
  store = openSqliteStore(join(dir, `e2e-${Math.random().toString(36).slice(2)}.db`))
  const hasher = createScryptHasher(TEST_SCRYPT)
  await seedUser(store, hasher, DEMO.username, DEMO.password)
  app = await buildApp({ store, keys: await testKeys(), passwordHasher: hasher, now: serverClock.now, accessTokenTtl: ACCESS_TTL })
  counts = { refresh: 0, refreshOk: 0, me: 0, unauthorized: 0 }
  app.addHook('onResponse', async (request, reply) => {
    if (request.url === '/auth/token') {
      counts.refresh++
      if (reply.statusCode === 200) counts.refreshOk++
    }
    if (request.url.startsWith('/api/')) {
      counts.me++
      if (reply.statusCode === 401) counts.unauthorized++
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})

afterEach(async () => {
  await app.close()
  await store.close()
})

function signedInClient() {
  const manager = createTokenManager({
    refresh: refreshTokenGrant({ url: `${url}/auth/token`, clientId: 'e2e' }),
    now: clientClock.now,
    retry: { attempts: 0, baseDelayMs: 10 },
  })
  const api: AxiosInstance = axios.create({ baseURL: url })
  const detach = attachAxios(api, manager)
  const events: string[] = []
  // The refresh token the client holds now (the app needs it to call /auth/logout).
  const held = { refreshToken: '' }
  manager.on('tokens', (tokens) => {
    held.refreshToken = tokens.refreshToken ?? ''
  })
  manager.on('refresh', () => events.push('refresh'))
  manager.on('signedOut', ({ reason }) => events.push(`signedOut:${reason}`))
  const login = async () => {
    const { data } = await api.post('/auth/login', DEMO, { skipAuth: true })
    await manager.setTokens({ accessToken: data.access_token, refreshToken: data.refresh_token, expiresIn: data.expires_in })
    held.refreshToken = data.refresh_token
    return data as { access_token: string; refresh_token: string }
  }
  return { manager, api, detach, events, login, held }
}

describe('silent-refresh SDK (attachAxios + refreshTokenGrant) against the demo server', () => {
  it('proactive: after expiry, a burst of requests causes exactly one rotation and all succeed', async () => {
    const client = signedInClient()
    try {
      const first = await client.login()
      expect((await client.api.get('/api/me')).data.username).toBe(DEMO.username)
      expect(counts.refresh).toBe(0)

      // Both clocks move past the access token's expiry.
      serverClock.advance((ACCESS_TTL + 10) * 1000)
      clientClock.advance((ACCESS_TTL + 10) * 1000)
      const burst = await Promise.all(Array.from({ length: 5 }, () => client.api.get('/api/me')))
      expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
      expect(counts.refresh).toBe(1)
      expect(counts.refreshOk).toBe(1)
      expect(counts.unauthorized).toBe(0)

      // The refresh token was rotated: the first one is now spent (and would trip reuse detection).
      const current = await client.manager.getAccessToken()
      expect(current).not.toBe(first.access_token)
    } finally {
      client.detach()
      client.manager.dispose()
    }
  })

  it('reactive: the server says 401 (client clock behind); five requests → one refresh, each retried once', async () => {
    const client = signedInClient()
    try {
      await client.login()
      // Only the server's clock moves: the client still believes its token is fresh.
      serverClock.advance((ACCESS_TTL + 10) * 1000)
      const burst = await Promise.all(Array.from({ length: 5 }, () => client.api.get('/api/me')))
      expect(burst.every((r) => r.status === 200)).toBe(true)
      expect(counts.refresh).toBe(1)
      expect(counts.refreshOk).toBe(1)
      expect(counts.unauthorized).toBeGreaterThanOrEqual(1)
      expect(counts.unauthorized).toBeLessThanOrEqual(5)
      expect(client.events.filter((e) => e === 'refresh')).toHaveLength(1)

      // A chain of expiries keeps working, one rotation each.
      for (let i = 2; i <= 4; i++) {
        serverClock.advance((ACCESS_TTL + 10) * 1000)
        expect((await client.api.get('/api/me')).status).toBe(200)
        expect(counts.refreshOk).toBe(i)
      }
    } finally {
      client.detach()
      client.manager.dispose()
    }
  })

  it('reuse detected elsewhere (a stolen refresh token replayed): the SDK signs out with SessionExpiredError', async () => {
    const client = signedInClient()
    try {
      const { refresh_token: stolen } = await client.login()
      serverClock.advance((ACCESS_TTL + 10) * 1000)
      expect((await client.api.get('/api/me')).status).toBe(200) // rotates: `stolen` is now spent
      expect(counts.refreshOk).toBe(1)

      // The thief replays the spent token, past the retry window: the server revokes the whole family.
      serverClock.advance(20_000)
      const replay = await fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen }),
      })
      expect(replay.status).toBe(400)

      // The user's next request: 401 (session ended) → refresh → invalid_grant → signed out.
      const error = await client.api.get('/api/me').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SessionExpiredError)
      expect(client.events).toContain('signedOut:expired')
      expect(await client.manager.getAccessToken()).toBeNull()
    } finally {
      client.detach()
      client.manager.dispose()
    }
  })

  it('logout: the server revokes the family; the SDK ends the session on the next 401 and sends no token after clear()', async () => {
    const client = signedInClient()
    try {
      const { refresh_token: original } = await client.login()
      serverClock.advance((ACCESS_TTL + 10) * 1000)
      expect((await client.api.get('/api/me')).status).toBe(200)
      expect(counts.refreshOk).toBe(1)
      expect(client.held.refreshToken).not.toBe(original)
      // Another tab (or the app itself) logs out on the server with the current, rotated refresh token.
      const logout = await client.api.post('/auth/logout', { refresh_token: client.held.refreshToken }, { skipAuth: true })
      expect(logout.status).toBe(204)

      const error = await client.api.get('/api/me').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SessionExpiredError)
      expect(client.events).toContain('signedOut:expired')

      // Signed out locally: requests go without a token and a 401 is not refreshed.
      await client.manager.clear()
      const before = counts.refresh
      const anonymous = await client.api.get('/api/me').then(
        () => expect.unreachable('an anonymous request must fail'),
        (e: unknown) => e,
      )
      expect(isAxiosError(anonymous)).toBe(true)
      if (!isAxiosError(anonymous)) return
      expect(anonymous.response?.status).toBe(401)
      // Both schemes are offered (DPOP=allowed): Bearer first, then DPoP with its algorithms.
      expect(anonymous.response?.headers['www-authenticate']).toBe('Bearer realm="silent-refresh-demo", DPoP realm="silent-refresh-demo", algs="ES256 EdDSA Ed25519"')
      expect(counts.refresh).toBe(before)
    } finally {
      client.detach()
      client.manager.dispose()
    }
  })
})
