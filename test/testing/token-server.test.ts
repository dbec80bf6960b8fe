import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setupServer } from 'msw/node'
import { createTokenServer } from '../../src/testing/index.js'
import { expectAtLeast, until } from '../helpers/bounds.js'
import { advance, settle, startFakeClock, stopFakeClock } from '../helpers/fake-time.js'

const BASE = 'https://api.test'
const tokens = createTokenServer({ baseUrl: BASE })
const server = setupServer(...tokens.handlers)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  tokens.reset()
})
afterAll(() => server.close())

const post = (path: string, body: Record<string, string>, type: 'form' | 'json' = 'form') =>
  fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': type === 'form' ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: type === 'form' ? new URLSearchParams(body) : JSON.stringify(body),
  })
const refresh = (refreshToken: string, type: 'form' | 'json' = 'form') => post('/auth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, type)
const api = (accessToken?: string, path = '/api/me') =>
  fetch(`${BASE}${path}`, accessToken ? { headers: { authorization: `Bearer ${accessToken}` } } : {})
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, number | string>

describe('createTokenServer: routes', () => {
  it('logs in with JSON and returns an RFC 6749 §5.1 token response', async () => {
    const res = await post('/auth/login', { username: 'alice', password: 'pw' }, 'json')
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 })
    expect(typeof body.access_token).toBe('string')
    expect(typeof body.refresh_token).toBe('string')
    expect(claimsOf(body.access_token as string)).toMatchObject({ sub: 'alice' })
    expect(tokens.stats.logins).toBe(1)
  })

  it('rejects a login without credentials, and unknown accounts when users are given', async () => {
    expect((await post('/auth/login', { username: 'alice' }, 'json')).status).toBe(400)
    const strict = createTokenServer({ baseUrl: 'https://strict.test', users: { alice: 'secret-pw' } })
    server.use(...strict.handlers)
    const login = (password: string) =>
      fetch('https://strict.test/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password }) })
    expect((await login('nope')).status).toBe(401)
    expect((await login('secret-pw')).status).toBe(200)
  })

  it('refreshes (form or JSON body) with rotation: the new pair works, the old access token still does until it expires', async () => {
    const session = tokens.issueTokens()
    const res = await refresh(session.refreshToken)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; refresh_token: string }
    expect(body.refresh_token).not.toBe(session.refreshToken)
    expect((await api(body.access_token)).status).toBe(200)
    expect((await refresh(body.refresh_token, 'json')).status).toBe(200)
    expect(tokens.stats.refreshCalls).toBe(2)
  })

  it('detects reuse of a rotated refresh token and revokes the whole family', async () => {
    const session = tokens.issueTokens()
    const rotated = (await (await refresh(session.refreshToken)).json()) as { access_token: string; refresh_token: string }
    const reuse = await refresh(session.refreshToken)
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
    expect(tokens.stats.reuseDetected).toBe(1)
    // The family is revoked: the newest refresh token and its access token are dead too.
    expect((await refresh(rotated.refresh_token)).status).toBe(400)
    expect((await api(rotated.access_token)).status).toBe(401)
    // Another session is untouched.
    expect((await api(tokens.issueTokens().accessToken)).status).toBe(200)
  })

  it('answers RFC 6749 §5.2 errors for a wrong grant type, a missing or an unknown token', async () => {
    const wrongGrant = await post('/auth/token', { grant_type: 'password' })
    expect(wrongGrant.status).toBe(400)
    expect(await wrongGrant.json()).toMatchObject({ error: 'unsupported_grant_type' })
    expect(await (await post('/auth/token', { grant_type: 'refresh_token' })).json()).toMatchObject({ error: 'invalid_request' })
    expect(await (await refresh('never-issued')).json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('does not rotate when rotateRefreshTokens is false: no refresh_token in the answer, the old one keeps working', async () => {
    const fixed = createTokenServer({ baseUrl: 'https://fixed.test', rotateRefreshTokens: false })
    server.use(...fixed.handlers)
    const { refreshToken } = fixed.issueTokens()
    const send = () =>
      fetch('https://fixed.test/auth/token', { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }) })
    const first = (await (await send()).json()) as Record<string, unknown>
    expect(first.refresh_token).toBeUndefined()
    expect((await send()).status).toBe(200)
    expect(fixed.stats.reuseDetected).toBe(0)
  })

  it('protects /api/*: 401 with a bare challenge without a token, invalid_token for a bad one, 200 for a good one', async () => {
    const none = await api()
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="silent-refresh-test"')
    const forged = await api(`${tokens.issueTokens().accessToken}x`)
    expect(forged.status).toBe(401)
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/)
    const ok = await fetch(`${BASE}/api/orders/7`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.issueTokens({ sub: 'bob' }).accessToken}` } })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ sub: 'bob', method: 'DELETE', path: '/api/orders/7' })
    expect(tokens.stats).toMatchObject({ protectedCalls: 3, unauthorized: 2, authorized: 1 })
  })

  it('logs out by revoking the family of the given refresh token (204)', async () => {
    const session = tokens.issueTokens()
    const res = await post('/auth/logout', { refresh_token: session.refreshToken })
    expect(res.status).toBe(204)
    expect((await refresh(session.refreshToken)).status).toBe(400)
    expect((await api(session.accessToken)).status).toBe(401)
  })

  it('matches only its baseUrl: another origin is unhandled', async () => {
    await expect(fetch('https://elsewhere.test/api/me')).rejects.toThrow()
  })

  it('matches any origin when no baseUrl is given', async () => {
    const anywhere = createTokenServer()
    server.use(...anywhere.handlers)
    const res = await fetch('http://localhost:5173/api/me', { headers: { authorization: `Bearer ${anywhere.issueTokens().accessToken}` } })
    expect(res.status).toBe(200)
    expect(anywhere.stats.authorized).toBe(1)
  })

  it('protect() guards a route of your own, counted like /api/', async () => {
    const { http, HttpResponse } = await import('msw')
    server.use(http.get(`${BASE}/api/todos`, tokens.protect(({ claims }) => HttpResponse.json([{ owner: claims.sub, title: 'milk' }]))))
    expect((await api(undefined, '/api/todos')).status).toBe(401)
    const res = await api(tokens.issueTokens().accessToken, '/api/todos')
    expect(await res.json()).toEqual([{ owner: 'alice', title: 'milk' }])
    expect(tokens.stats).toMatchObject({ protectedCalls: 2, authorized: 1, unauthorized: 1 })
  })
})

describe('createTokenServer: controls', () => {
  it('expireAccessTokens() makes every issued access token answer 401; new ones work', async () => {
    const session = tokens.issueTokens()
    tokens.expireAccessTokens()
    const res = await api(session.accessToken)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
    const renewed = (await (await refresh(session.refreshToken)).json()) as { access_token: string }
    expect((await api(renewed.access_token)).status).toBe(200)
  })

  it('expires access tokens after accessTtlMs on its clock', async () => {
    let clock = 1_000_000
    const short = createTokenServer({ baseUrl: 'https://short.test', accessTtlMs: 2_500, now: () => clock })
    server.use(...short.handlers)
    const session = short.issueTokens()
    expect(session.expiresIn).toBe(2.5)
    expect(claimsOf(session.accessToken)).toMatchObject({ iat: 1000, exp: 1002.5 })
    const call = () => fetch('https://short.test/api/me', { headers: { authorization: `Bearer ${session.accessToken}` } })
    clock += 2_499
    expect((await call()).status).toBe(200)
    clock += 1
    expect((await call()).status).toBe(401)
  })

  it('revokeAll() ends every session: refresh answers invalid_grant and access tokens 401', async () => {
    const a = tokens.issueTokens()
    const b = tokens.issueTokens()
    tokens.revokeAll()
    expect(await (await refresh(a.refreshToken)).json()).toMatchObject({ error: 'invalid_grant' })
    expect((await api(b.accessToken)).status).toBe(401)
  })

  it('reset() forgets sessions and zeroes the same stats object', async () => {
    const { stats } = tokens
    const session = tokens.issueTokens()
    await refresh(session.refreshToken)
    expect(stats.refreshCalls).toBe(1)
    tokens.reset()
    expect(stats).toEqual({ refreshCalls: 0, reuseDetected: 0, protectedCalls: 0, unauthorized: 0, authorized: 0, logins: 0 })
    expect((await api(session.accessToken)).status).toBe(401)
  })

  it('failNextRefresh("invalid_grant") fails once; the token is still good afterwards', async () => {
    const session = tokens.issueTokens()
    tokens.failNextRefresh('invalid_grant')
    const failed = await refresh(session.refreshToken)
    expect(failed.status).toBe(400)
    expect(await failed.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await refresh(session.refreshToken)).status).toBe(200)
    expect(tokens.stats.refreshCalls).toBe(2)
  })

  it('failNextRefresh("server_error", { status, times }) answers that 5xx that many times', async () => {
    const session = tokens.issueTokens()
    tokens.failNextRefresh('server_error', { status: 502, times: 2 })
    expect((await refresh(session.refreshToken)).status).toBe(502)
    expect((await refresh(session.refreshToken)).status).toBe(502)
    expect((await refresh(session.refreshToken)).status).toBe(200)
  })

  it('failNextRefresh("server_error") defaults to 503', async () => {
    tokens.failNextRefresh('server_error')
    expect((await refresh(tokens.issueTokens().refreshToken)).status).toBe(503)
  })

  it('failNextRefresh("network_error") makes fetch reject', async () => {
    const session = tokens.issueTokens()
    tokens.failNextRefresh('network_error')
    await expect(refresh(session.refreshToken)).rejects.toThrow(TypeError)
    expect((await refresh(session.refreshToken)).status).toBe(200)
  })

  it('failNextRefresh("hang") never answers until the client aborts', async () => {
    tokens.failNextRefresh('hang')
    const controller = new AbortController()
    const pending = fetch(`${BASE}/auth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.issueTokens().refreshToken }),
      signal: controller.signal,
    })
    let settled = false
    void pending.then(() => (settled = true), () => (settled = true))
    await until(() => tokens.stats.refreshCalls === 1, 5_000, 'the refresh to reach the server')
    await new Promise((resolve) => setTimeout(resolve, 100)) // a while with nothing to answer it
    expect(settled).toBe(false)
    controller.abort()
    await expect(pending).rejects.toThrow()
  })

  it('reset() releases a hanging refresh', async () => {
    tokens.failNextRefresh('hang')
    const pending = refresh(tokens.issueTokens().refreshToken)
    await until(() => tokens.stats.refreshCalls === 1, 5_000, 'the refresh to reach the server')
    tokens.reset()
    await expect(pending).rejects.toThrow()
  })

  it('delayNextRefresh(ms) slows one refresh, then refreshes answer at once again', async () => {
    // On fake time (msw's delay is a setTimeout): "slow" and "at once" are exact, whatever the machine's load.
    startFakeClock({ fake: 'timers' })
    try {
      const session = tokens.issueTokens()
      tokens.delayNextRefresh(150)
      const started = Date.now()
      const slow = refresh(session.refreshToken)
      let answered = false
      void slow.then(() => (answered = true))
      await advance(149)
      expect(answered).toBe(false)
      const body = (await (await settle(slow, 1)).json()) as { refresh_token: string }
      expect(Date.now() - started).toBe(150)
      expect((await settle(refresh(body.refresh_token), 0)).status).toBe(200) // no fake time passes
      expect(Date.now() - started).toBe(150)
    } finally {
      stopFakeClock()
    }
  })

  it('refreshLatencyMs slows every refresh', async () => {
    const slow = createTokenServer({ baseUrl: 'https://slow.test', refreshLatencyMs: 120 })
    server.use(...slow.handlers)
    const started = Date.now()
    await fetch('https://slow.test/auth/token', { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: slow.issueTokens().refreshToken }) })
    expectAtLeast(started, 110, 'a refresh with refreshLatencyMs 120')
  })

  it('answers a protected request late with ?delay_ms=, having checked the token on arrival', async () => {
    const session = tokens.issueTokens()
    const started = Date.now()
    const late = api(session.accessToken, '/api/slow?delay_ms=120')
    await until(() => tokens.stats.protectedCalls === 1, 5_000, 'the request to arrive')
    tokens.expireAccessTokens() // after arrival: the answer is still a 200
    expect((await late).status).toBe(200)
    expectAtLeast(started, 110, 'an answer with ?delay_ms=120')
  })

  it('rejects bad options and controls with a TypeError naming them', () => {
    expect(() => createTokenServer({ accessTtlMs: -1 })).toThrow(/"accessTtlMs"/)
    expect(() => tokens.failNextRefresh('teapot' as never)).toThrow(TypeError)
    expect(() => tokens.failNextRefresh('server_error', { status: 404 })).toThrow(/"status"/)
    expect(() => tokens.failNextRefresh('invalid_grant', { times: 0 })).toThrow(/"times"/)
  })
})
