import { describe, expect, it } from 'vitest'
import { build, type TestContext } from './helpers/build.ts'

let ctx: TestContext | undefined

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'The refresh token is invalid, expired or revoked.' }

async function signIn(c: TestContext): Promise<{ access: string; refresh: string }> {
  const res = await c.login()
  expect(res.statusCode).toBe(200)
  return { access: res.json().access_token, refresh: res.json().refresh_token }
}

describe('POST /auth/token — rotation', () => {
  it('JSON: a rotated pair, both different, with no-store; the new access token works', async () => {
    ctx = await build()
    const first = await signIn(ctx)
    ctx.clock.advance(1000)
    const res = await ctx.refresh(first.refresh)
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type'])
    expect(body.refresh_token).not.toBe(first.refresh)
    expect(body.access_token).not.toBe(first.access)
    expect(res.headers['cache-control']).toBe('no-store')
    expect((await ctx.me(body.access_token)).statusCode).toBe(200)
    // Same session id across rotation.
    const sid = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).sid
    expect(sid(body.access_token)).toBe(sid(first.access))
  })

  it('form-encoded (RFC 6749 §6), with client_id accepted', async () => {
    ctx = await build()
    const { refresh } = await signIn(ctx)
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${refresh}&client_id=demo-spa`,
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('a chain of rotations keeps working', async () => {
    ctx = await build()
    let { refresh } = await signIn(ctx)
    for (let i = 0; i < 5; i++) {
      ctx.clock.advance(10_000)
      const res = await ctx.refresh(refresh)
      expect(res.statusCode).toBe(200)
      refresh = res.json().refresh_token
    }
  })

  it('reuse after rotation: invalid_grant, the family is revoked, the newest child and its access token are rejected', async () => {
    ctx = await build()
    const first = await signIn(ctx)
    const second = (await ctx.refresh(first.refresh)).json()
    expect((await ctx.me(second.access_token)).statusCode).toBe(200)

    // A thief replays the old token after the retry window.
    ctx.clock.advance(20_000)
    const reuse = await ctx.refresh(first.refresh)
    expect(reuse.statusCode).toBe(400)
    expect(reuse.json()).toEqual(INVALID_GRANT)

    const child = await ctx.refresh(second.refresh_token)
    expect(child.statusCode).toBe(400)
    expect(child.json()).toEqual(INVALID_GRANT)
    expect((await ctx.me(second.access_token)).statusCode).toBe(401)
    expect((await ctx.me(first.access)).statusCode).toBe(401)
    // Other sessions of the same user are untouched.
    const other = await signIn(ctx)
    expect((await ctx.me(other.access)).statusCode).toBe(200)
  })

  it('unknown, malformed, expired and reused tokens all get the one invalid_grant body', async () => {
    ctx = await build({ refreshTokenTtl: 60 })
    const a = await signIn(ctx)
    await ctx.refresh(a.refresh)
    ctx.clock.advance(20_000)
    const reused = await ctx.refresh(a.refresh)
    const unknown = await ctx.refresh('A'.repeat(43))
    const malformed = await ctx.refresh('not a token')
    const b = await signIn(ctx)
    ctx.clock.advance(61_000)
    const expired = await ctx.refresh(b.refresh)
    for (const res of [reused, unknown, malformed, expired]) {
      expect(res.statusCode).toBe(400)
      expect(res.body).toBe(JSON.stringify(INVALID_GRANT))
    }
  })

  it('idle expiry: a token unused for REFRESH_TOKEN_TTL is dead; used in time, it rotates', async () => {
    ctx = await build({ refreshTokenTtl: 60, refreshFamilyMaxAge: 3600 })
    const a = await signIn(ctx)
    ctx.clock.advance(59_000)
    const rotated = await ctx.refresh(a.refresh)
    expect(rotated.statusCode).toBe(200)
    ctx.clock.advance(60_000)
    expect((await ctx.refresh(rotated.json().refresh_token)).json()).toEqual(INVALID_GRANT)
  })

  it('absolute expiry: rotation never extends the family lifetime', async () => {
    ctx = await build({ refreshTokenTtl: 60, refreshFamilyMaxAge: 150 })
    let { refresh } = await signIn(ctx)
    for (let i = 0; i < 2; i++) {
      ctx.clock.advance(50_000)
      const res = await ctx.refresh(refresh)
      expect(res.statusCode).toBe(200)
      refresh = res.json().refresh_token
    }
    // 100 s in: the fresh token would idle out at 160 s, but the family ends at 150 s.
    ctx.clock.advance(50_000)
    const res = await ctx.refresh(refresh)
    expect(res.json()).toEqual(INVALID_GRANT)
  })

  it('missing token, wrong grant_type, extra fields, repeated parameters → 400', async () => {
    ctx = await build()
    const { refresh } = await signIn(ctx)
    const missing = await ctx.refresh(undefined)
    expect(missing.statusCode).toBe(400)
    expect(missing.json()).toEqual({ error: 'invalid_request', error_description: 'refresh_token is required.' })

    const noGrant = await ctx.app.inject({ method: 'POST', url: '/auth/token', payload: { refresh_token: refresh } })
    expect(noGrant.statusCode).toBe(400)
    expect(noGrant.json().error).toBe('invalid_request')

    const password = await ctx.app.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'password', refresh_token: refresh } })
    expect(password.statusCode).toBe(400)
    expect(password.json().error).toBe('unsupported_grant_type')

    const extra = await ctx.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { grant_type: 'refresh_token', refresh_token: refresh, scope: 'admin' },
    })
    expect(extra.statusCode).toBe(400)
    expect(extra.json().error).toBe('invalid_request')

    const repeated = await ctx.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${refresh}&refresh_token=${refresh}`,
    })
    expect(repeated.statusCode).toBe(400)
    expect(repeated.json().error).toBe('invalid_request')

    const typed = await ctx.app.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'refresh_token', refresh_token: 42 } })
    expect(typed.statusCode).toBe(400)

    // None of that touched the token: it still rotates.
    expect((await ctx.refresh(refresh)).statusCode).toBe(200)
  })

  it('five concurrent refreshes with one token (inject) → one rotation, and all five get its answer', async () => {
    ctx = await build()
    const { refresh } = await signIn(ctx)
    const results = await Promise.all(Array.from({ length: 5 }, () => ctx!.refresh(refresh)))
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200])
    expect(new Set(results.map((r) => r.json().refresh_token)).size).toBe(1)
    expect((await ctx.refresh(results[0]!.json().refresh_token)).statusCode).toBe(200)
  })

  it('five concurrent refreshes with one token, retry window off → exactly one 200, the rest is reuse', async () => {
    ctx = await build({ refreshReuseGraceMs: 0 })
    const { refresh } = await signIn(ctx)
    const results = await Promise.all(Array.from({ length: 5 }, () => ctx!.refresh(refresh)))
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400, 400, 400])
  })

  it('refresh rate limit per IP → 429 with Retry-After', async () => {
    ctx = await build({ rateLimits: { refreshPerIp: { max: 3, windowMs: 60_000 } } })
    for (let i = 0; i < 3; i++) expect((await ctx.refresh('A'.repeat(43))).statusCode).toBe(400)
    const limited = await ctx.refresh('A'.repeat(43))
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect(limited.json().error).toBe('rate_limited')
  })

  it('default refresh limit (60/min) leaves room for normal use', async () => {
    ctx = await build()
    let { refresh } = await signIn(ctx)
    for (let i = 0; i < 20; i++) {
      const res = await ctx.refresh(refresh)
      expect(res.statusCode).toBe(200)
      refresh = res.json().refresh_token
    }
  })
})

describe('retry window for a lost answer (REFRESH_REUSE_GRACE_MS, default 20 s)', () => {
  it('the rotated token again, while the new one was never used: the same new refresh token, a fresh access token', async () => {
    ctx = await build()
    const first = await signIn(ctx)
    const lost = (await ctx.refresh(first.refresh)).json() // the answer the client never received
    ctx.clock.advance(5_000)
    const retry = await ctx.refresh(first.refresh)
    expect(retry.statusCode).toBe(200)
    expect(retry.headers['cache-control']).toBe('no-store')
    expect(retry.json().refresh_token).toBe(lost.refresh_token)
    expect(retry.json().access_token).not.toBe(lost.access_token)
    expect((await ctx.me(retry.json().access_token)).statusCode).toBe(200)
    // The session goes on from there.
    expect((await ctx.refresh(retry.json().refresh_token)).statusCode).toBe(200)
  })

  it('once the new token has been used, the old one is reuse: the family is revoked', async () => {
    ctx = await build()
    const first = await signIn(ctx)
    const second = (await ctx.refresh(first.refresh)).json()
    const third = (await ctx.refresh(second.refresh_token)).json()
    ctx.clock.advance(1_000)
    const res = await ctx.refresh(first.refresh)
    expect(res.json()).toEqual(INVALID_GRANT)
    expect((await ctx.refresh(third.refresh_token)).json()).toEqual(INVALID_GRANT)
    expect((await ctx.me(third.access_token)).statusCode).toBe(401)
  })

  it('after the window, the old token is reuse even if the new one was never used', async () => {
    ctx = await build({ refreshReuseGraceMs: 2000 })
    const first = await signIn(ctx)
    const second = (await ctx.refresh(first.refresh)).json()
    ctx.clock.advance(2000)
    expect((await ctx.refresh(first.refresh)).json()).toEqual(INVALID_GRANT)
    expect((await ctx.refresh(second.refresh_token)).json()).toEqual(INVALID_GRANT)
  })

  it('0 turns it off: the old token is reuse at once', async () => {
    ctx = await build({ refreshReuseGraceMs: 0 })
    const first = await signIn(ctx)
    const second = (await ctx.refresh(first.refresh)).json()
    expect((await ctx.refresh(first.refresh)).statusCode).toBe(400)
    expect((await ctx.me(second.access_token)).statusCode).toBe(401)
  })
})
