import { describe, expect, it } from 'vitest'
import { DEMO, build, parseSetCookie, setCookies, type TestContext } from './helpers/build.ts'

let ctx: TestContext | undefined

const json = (body: string) => ({ 'content-type': 'application/json', body })

describe('POST /auth/login', () => {
  it('returns an RFC 6749 §5.1 body with Cache-Control: no-store (body transport)', async () => {
    ctx = await build({ accessTokenTtl: 45 })
    const res = await ctx.login()
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type'])
    expect(body.token_type).toBe('Bearer')
    expect(body.expires_in).toBe(45)
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers.pragma).toBe('no-cache')
    expect(setCookies(res)).toHaveLength(1)
    // The only cookie in body mode: the device cookie, for the login route only.
    const device = parseSetCookie(setCookies(res).find((c) => c.startsWith('__Secure-login-device='))!)
    expect(device.value).toMatch(/^[\w-]{22}\.\d+\.[\w-]{43}$/)
    expect(device.attributes).toEqual({ 'max-age': '2592000', path: '/auth/login', httponly: true, secure: true, samesite: 'Strict' })

    const [header, payload] = body.access_token.split('.').slice(0, 2).map((p: string) => JSON.parse(Buffer.from(p, 'base64url').toString()))
    expect(header).toEqual({ alg: 'EdDSA', kid: ctx.keys.kid, typ: 'at+jwt' })
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub'])
    expect(payload.exp - payload.iat).toBe(45)
    expect(payload.iat).toBe(Math.floor(ctx.clock.now() / 1000))
  })

  it('cookie transport: refresh token only in a __Host- cookie with exact flags', async () => {
    ctx = await build({ refreshTokenTransport: 'cookie', refreshTokenTtl: 600 })
    const res = await ctx.login(DEMO, { 'x-requested-with': 'test' })
    expect(res.statusCode).toBe(200)
    expect(res.json().refresh_token).toBeUndefined()
    const cookies = setCookies(res)
    expect(cookies).toHaveLength(2)
    const cookie = parseSetCookie(cookies[0]!)
    expect(cookie.name).toBe('__Host-refresh_token')
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie.attributes).toEqual({ 'max-age': '600', path: '/', httponly: true, secure: true, samesite: 'Strict' })
  })

  it('wrong password and unknown user: identical 401 bodies, one hash verification each', async () => {
    ctx = await build()
    const wrong = await ctx.login({ username: DEMO.username, password: 'nope' })
    expect(ctx.hasher.calls.verify).toBe(1)
    const unknown = await ctx.login({ username: 'nobody', password: 'nope' })
    // The unknown user is verified against the dummy hash: same work, same answer.
    expect(ctx.hasher.calls.verify).toBe(2)
    expect(wrong.statusCode).toBe(401)
    expect(unknown.statusCode).toBe(401)
    expect(wrong.body).toBe(unknown.body)
    expect(wrong.json()).toEqual({ error: 'invalid_credentials', error_description: 'Invalid username or password.' })
    expect(wrong.headers['content-length']).toBe(unknown.headers['content-length'])
    expect(wrong.headers['cache-control']).toBe('no-store')
  })

  it.each([
    ["' OR '1'='1"],
    ["demo'--"],
    ['demo" OR ""="'],
    ['demo; DROP TABLE users; --'],
  ])('SQL injection in the username is just a wrong username: %s', async (username) => {
    ctx = await build()
    const res = await ctx.login({ username, password: "' OR '1'='1" })
    expect(res.statusCode).toBe(401)
    expect(res.json().error).toBe('invalid_credentials')
    // The users table is still there.
    expect((await ctx.login()).statusCode).toBe(200)
  })

  it('operator objects ({"$ne": null}) are rejected by the schema, not interpreted', async () => {
    ctx = await build()
    for (const payload of [
      { username: { $ne: null }, password: DEMO.password },
      { username: DEMO.username, password: { $ne: null } },
      { username: ['demo'], password: DEMO.password },
      { username: DEMO.username, password: 12345 },
    ]) {
      const res = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload })
      expect(res.statusCode).toBe(400)
      expect(res.json().error).toBe('invalid_request')
    }
    expect(ctx.hasher.calls.verify).toBe(0)
  })

  it('missing and extra fields → 400 invalid_request naming the field', async () => {
    ctx = await build()
    const missing = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: { username: DEMO.username } })
    expect(missing.statusCode).toBe(400)
    expect(missing.json()).toEqual({ error: 'invalid_request', error_description: "body must have required property 'password'" })
    const extra = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: { ...DEMO, admin: true } })
    expect(extra.statusCode).toBe(400)
    expect(extra.json()).toEqual({ error: 'invalid_request', error_description: 'body must NOT have additional properties' })
    const empty = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: { username: '', password: '' } })
    expect(empty.statusCode).toBe(400)
  })

  it('malformed, empty and __proto__ JSON → 400, without echoing the input', async () => {
    ctx = await build()
    const cases = [
      '{"username":"demo","password":"hunter2-secret"',
      'not json at all hunter2-secret',
      '',
      '{"username":"demo","password":"hunter2-secret","__proto__":{"admin":true}}',
      '{"username":"demo","password":"hunter2-secret","constructor":{"prototype":{"admin":true}}}',
    ]
    for (const body of cases) {
      const { 'content-type': contentType } = json(body)
      const res = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: body, headers: { 'content-type': contentType } })
      expect(res.statusCode, body).toBe(400)
      expect(res.json().error).toBe('invalid_request')
      expect(res.body).not.toContain('hunter2')
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined()
    expect(ctx.hasher.calls.verify).toBe(0)
  })

  it('oversized body → 413', async () => {
    ctx = await build()
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: DEMO.username, password: 'x'.repeat(200 * 1024) },
    })
    expect(res.statusCode).toBe(413)
    expect(res.json().error).toBe('payload_too_large')
    const token = await ctx.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { grant_type: 'refresh_token', refresh_token: 'x'.repeat(17 * 1024) },
    })
    expect(token.statusCode).toBe(413)
  })

  it('text/plain → 415 (the default text parser is removed); forms are not accepted for login', async () => {
    ctx = await build()
    const text = await ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: JSON.stringify(DEMO),
      headers: { 'content-type': 'text/plain' },
    })
    expect(text.statusCode).toBe(415)
    expect(text.json().error).toBe('unsupported_media_type')
    const form = await ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: `username=${DEMO.username}&password=${DEMO.password}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.statusCode).toBe(415)
    expect(ctx.hasher.calls.verify).toBe(0)
  })

  it('a 100 KB password → 400, and the hash is never computed', async () => {
    ctx = await build()
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: DEMO.username, password: 'p'.repeat(100 * 1024) },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'body/password must NOT have more than 1024 characters' })
    expect(ctx.hasher.calls.verify).toBe(0)
    expect(ctx.hasher.calls.hash).toBe(0)
  })
})

describe('login rate limits (defaults)', () => {
  it('per IP: the 31st attempt within a minute → 429 with Retry-After; a dozen a minute is fine', async () => {
    ctx = await build()
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push((await ctx.login()).statusCode)
    expect(statuses.every((s) => s === 200)).toBe(true)
    const limited = await ctx.login()
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect(limited.json().error).toBe('rate_limited')
    // Another client is not affected.
    const other = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, remoteAddress: '10.0.0.2' })
    expect(other.statusCode).toBe(200)
  })

  it('limits come from options', async () => {
    ctx = await build({ rateLimits: { loginPerIp: { max: 2, windowMs: 60_000 } } })
    expect((await ctx.login()).statusCode).toBe(200)
    expect((await ctx.login()).statusCode).toBe(200)
    expect((await ctx.login()).statusCode).toBe(429)
  })
})
