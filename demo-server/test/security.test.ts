import { afterEach, describe, expect, it } from 'vitest'
import { importJWK, jwtVerify } from 'jose'
import { buildApp } from '../src/app.ts'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { build, testKeys, type TestContext } from './helpers/build.ts'

let ctx: TestContext | undefined
afterEach(async () => {
  await ctx?.app.close()
  ctx = undefined
})

const preflight = (origin: string, headers = 'content-type, x-requested-with') =>
  ctx!.app.inject({
    method: 'OPTIONS',
    url: '/auth/token',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  })

describe('CORS', () => {
  it('preflight from an allowed origin: that exact origin, with credentials', async () => {
    ctx = await build({ allowedOrigins: ['https://app.example'] })
    const res = await preflight('https://app.example')
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example')
    expect(res.headers['access-control-allow-credentials']).toBe('true')
    expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('x-requested-with')
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST')
  })

  it('preflight from a foreign origin: no Access-Control-Allow-* at all (never reflected, never *)', async () => {
    ctx = await build({ allowedOrigins: ['https://app.example'] })
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'null', 'https://APP.example']) {
      const res = await preflight(origin)
      expect(res.statusCode).not.toBe(204)
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    }
  })

  it('simple requests: allowed origin gets the header, a foreign one does not; Vary: Origin always', async () => {
    ctx = await build({ allowedOrigins: ['https://app.example'] })
    const ok = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://app.example' } })
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example')
    const foreign = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } })
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined()
    expect(foreign.headers.vary).toContain('Origin')
  })

  it('WWW-Authenticate, Retry-After and DPoP-Nonce are exposed to scripts', async () => {
    ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { origin: 'http://localhost:3000' } })
    expect(String(res.headers['access-control-expose-headers']).toLowerCase()).toBe('www-authenticate, retry-after, dpop-nonce')
  })
})

describe('hardening', () => {
  it('helmet headers are on every response', async () => {
    ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/' })
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN')
    expect(res.headers['content-security-policy']).toContain("script-src 'self'")
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests')
    expect(res.headers['referrer-policy']).toBe('no-referrer')
  })

  it('JSON answers (API, token endpoints, errors) carry the REST security headers, not the page\'s', async () => {
    ctx = await build()
    const login = await ctx.login()
    const responses = [
      login,
      await ctx.me(login.json().access_token),
      await ctx.app.inject({ method: 'GET', url: '/api/me' }),
      await ctx.app.inject({ method: 'GET', url: '/healthz' }),
      await ctx.app.inject({ method: 'GET', url: '/nope' }),
      await ctx.app.inject({ method: 'GET', url: '/%' }),
    ]
    for (const res of responses) {
      expect(res.headers).toMatchObject({
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
      })
      expect(res.headers['x-ratelimit-limit']).toBeUndefined()
    }
  })

  it('text/plain is refused on every POST route', async () => {
    ctx = await build()
    for (const url of ['/auth/login', '/auth/token', '/auth/logout']) {
      const res = await ctx.app.inject({ method: 'POST', url, payload: 'grant_type=refresh_token', headers: { 'content-type': 'text/plain' } })
      expect(res.statusCode, url).toBe(415)
    }
  })

  it('unknown routes: 404 in the common error shape', async () => {
    ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/admin?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'not_found', error_description: 'No route GET /admin.' })
  })

  it('buildApp validates its options, naming the bad one', async () => {
    const keys = await testKeys()
    const store = createMemoryStore()
    await expect(buildApp({ store, keys, accessTokenTtl: 0 })).rejects.toThrow('"accessTokenTtl" must be a positive number')
    await expect(buildApp({ store, keys, refreshTokenTransport: 'header' as never })).rejects.toThrow('"refreshTokenTransport"')
    await expect(buildApp({ store, keys, refreshReuseGraceMs: -1 })).rejects.toThrow('"refreshReuseGraceMs"')
    await expect(buildApp({ keys } as never)).rejects.toThrow('"store" is required')
  })
})

describe('public routes', () => {
  it('GET /.well-known/jwks.json publishes only the public key, which verifies issued tokens', async () => {
    ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=300')
    const { keys } = res.json()
    expect(keys).toHaveLength(1)
    expect(keys[0]).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: ctx.keys.kid, alg: 'EdDSA', use: 'sig' })
    expect(keys[0].d).toBeUndefined()
    const access = (await ctx.login()).json().access_token
    const key = await importJWK(keys[0], 'EdDSA')
    const { protectedHeader } = await jwtVerify(access, key, { currentDate: new Date(ctx.clock.now()) })
    expect(protectedHeader.kid).toBe(keys[0].kid)
  })

  it('GET /healthz: ok while the store answers, 503 when it does not', async () => {
    ctx = await build()
    const ok = await ctx.app.inject({ method: 'GET', url: '/healthz' })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ status: 'ok' })
    await ctx.store.close()
    const down = await ctx.app.inject({ method: 'GET', url: '/healthz' })
    expect(down.statusCode).toBe(503)
    expect(down.json()).toEqual({ status: 'unavailable' })
  })

  it('a store failure during a request is a generic 500 (no details)', async () => {
    ctx = await build()
    const { refresh_token: refresh } = (await ctx.login()).json()
    await ctx.store.close()
    const res = await ctx.refresh(refresh)
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: 'server_error', error_description: 'Something went wrong on our side.' })
  })

  it('GET / serves the static page: routes, credentials, and where the live demo will come from', async () => {
    ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    for (const text of ['POST /auth/login', 'POST /auth/token', 'POST /auth/logout', 'GET /api/me', '/.well-known/jwks.json', 'GET /healthz', 'DEMO_PASSWORD', 'cross-tab']) {
      expect(res.body).toContain(text)
    }
  })
})
