/**
 * DPoP (RFC 9449) on the demo server, through app.inject on the memory store:
 * key-bound access tokens and refresh-token families, every proof check at the
 * token endpoints and at the API, nonces, DPOP=required|allowed|off, and the
 * auth cache still doing its job. Replay across stores and instances, and real
 * HTTP behind a proxy: dpop-store.test.ts.
 */
import fc from 'fast-check'
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose'
import type { LightMyRequestResponse } from 'fastify'
import { describe, expect, it } from 'vitest'
import { buildApp, type AppOptions } from '../src/app.ts'
import { ConfigError, loadConfig } from '../src/config.ts'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { ERROR_CODES } from '../src/errors.ts'
import { DPOP_IAT_WINDOW_SECONDS } from '../src/tokens/dpop.ts'
import { DEMO, build, type TestContext } from './helpers/build.ts'
import { claimsOf, dpopKey, makeProof, type DpopClientKey, type ProofOptions } from './helpers/dpop.ts'

/** Where app.inject reaches the app: `Host: localhost:80`. */
const ORIGIN = 'http://localhost'

type Extra = Partial<Omit<ProofOptions, 'now'>> & { headers?: Record<string, string | string[]> }

function client(ctx: TestContext) {
  const nonce = (): string => ctx.app.dpop.verifier.nonce()
  const proof = (key: DpopClientKey, htm: string, path: string, extra: Extra = {}): Promise<string> =>
    makeProof(key, { htm, htu: `${ORIGIN}${path}`, now: ctx.clock.now(), nonce: nonce(), ...extra })
  return {
    nonce,
    proof,
    async login(key: DpopClientKey | null, extra: Extra = {}): Promise<LightMyRequestResponse> {
      const headers: Record<string, string | string[]> = { ...(key ? { dpop: await proof(key, 'POST', '/auth/login', extra) } : {}), ...extra.headers }
      return ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, headers })
    },
    async refresh(key: DpopClientKey | null, refreshToken: string, extra: Extra = {}): Promise<LightMyRequestResponse> {
      const headers: Record<string, string | string[]> = { ...(key ? { dpop: await proof(key, 'POST', '/auth/token', extra) } : {}), ...extra.headers }
      return ctx.app.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'refresh_token', refresh_token: refreshToken }, headers })
    },
    async me(key: DpopClientKey | null, accessToken: string, extra: Extra & { scheme?: string } = {}): Promise<LightMyRequestResponse> {
      const headers: Record<string, string | string[]> = {
        authorization: `${extra.scheme ?? 'DPoP'} ${accessToken}`,
        ...(key ? { dpop: await proof(key, 'GET', '/api/me', { accessToken, ...extra }) } : {}),
        ...extra.headers,
      }
      return ctx.app.inject({ method: 'GET', url: '/api/me', headers })
    },
  }
}

async function setup(options: Partial<AppOptions> = {}) {
  const ctx = await build(options)
  return { ctx, c: client(ctx), key: await dpopKey() }
}

/** A 400 at the token endpoint in the RFC 6749 §5.2 shape with a documented code. */
function expectTokenError(res: LightMyRequestResponse, error: string): void {
  expect(res.statusCode, res.body).toBe(400)
  expect(res.json()).toEqual({ error, error_description: expect.any(String) })
  expect(ERROR_CODES).toContain(error)
  expect(res.headers['cache-control']).toBe('no-store')
}

/** A 401 at the API with an RFC 9449 §7.1 DPoP challenge carrying `error`. */
function expectDpopChallenge(res: LightMyRequestResponse, error: string, status = 401): void {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.json().error).toBe(error)
  const header = String(res.headers['www-authenticate'])
  expect(header).toMatch(/^DPoP realm="silent-refresh-demo", /)
  expect(header).toContain(`error="${error}"`)
  expect(header).toContain('algs="ES256 EdDSA Ed25519"')
}

describe('token endpoints with a DPoP proof (RFC 9449 §5)', () => {
  it('login: a missing nonce gets 400 use_dpop_nonce with DPoP-Nonce; with it, a DPoP token bound to the key', async () => {
    const { ctx, c, key } = await setup()
    const first = await c.login(key, { nonce: undefined })
    expectTokenError(first, 'use_dpop_nonce')
    const nonce = first.headers['dpop-nonce'] as string
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(ctx.hasher.calls.verify).toBe(0) // refused before the password hash

    const res = await c.login(key, { nonce })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect(res.headers['dpop-nonce']).toBe(nonce)
  })

  it('refresh with a proof by the same key: rotated, bound again; the new access token works with DPoP', async () => {
    const { c, key } = await setup()
    const login = (await c.login(key)).json()
    const res = await c.refresh(key, login.refresh_token)
    expect(res.statusCode).toBe(200)
    expect(res.json().token_type).toBe('DPoP')
    expect(claimsOf(res.json().access_token).cnf).toEqual({ jkt: key.jkt })
    expect(res.json().refresh_token).not.toBe(login.refresh_token)
    expect((await c.me(key, res.json().access_token)).statusCode).toBe(200)
  })

  it.each(['EdDSA', 'Ed25519'])('Ed25519 keys are accepted too, with alg %s (RFC 8037, RFC 9864)', async (alg) => {
    const { c } = await setup()
    const ed = await dpopKey('EdDSA')
    const header = { alg }
    const login = await c.login(ed, { header })
    expect(login.json().token_type).toBe('DPoP')
    expect(claimsOf(login.json().access_token).cnf).toEqual({ jkt: ed.jkt })
    expect((await c.me(ed, login.json().access_token, { header })).statusCode).toBe(200)
  })

  it('without a proof (DPOP=allowed): a bearer token as before, no cnf, no DPoP-Nonce', async () => {
    const { c } = await setup()
    const res = await c.login(null)
    expect(res.json().token_type).toBe('Bearer')
    expect(claimsOf(res.json().access_token).cnf).toBeUndefined()
    expect(res.headers['dpop-nonce']).toBeUndefined()
  })

  describe('a stolen refresh token of a bound family (RFC 9449 §5): refused, and the family untouched', () => {
    it.each([
      ['without a proof', null],
      ['with a proof by the thief\'s own key', 'thief'],
    ] as const)('%s: 400 invalid_grant, not rotated, not revoked; the client refreshes afterwards', async (_name, who) => {
      const { ctx, c, key } = await setup()
      const login = (await c.login(key)).json()
      const thief = who === 'thief' ? await dpopKey() : null
      const stolen = await c.refresh(thief, login.refresh_token)
      expectTokenError(stolen, 'invalid_grant')
      // The family was neither revoked nor rotated: the victim's access token still works, and so does
      // its refresh token (a rotation would have made it a reuse, which would revoke the family).
      expect((await c.me(key, login.access_token)).statusCode).toBe(200)
      const legit = await c.refresh(key, login.refresh_token)
      expect(legit.statusCode).toBe(200)
      expect(legit.json().token_type).toBe('DPoP')
      expect((await ctx.store.findSession(claimsOf(login.access_token).sid as string))?.revokedAt).toBeNull()
    })

    it('an already rotated token presented without the key does not trigger reuse detection (no denial of service)', async () => {
      const { c, key } = await setup({ refreshReuseGraceMs: 0 })
      const login = (await c.login(key)).json()
      const second = (await c.refresh(key, login.refresh_token)).json()
      expectTokenError(await c.refresh(null, login.refresh_token), 'invalid_grant')
      const third = await c.refresh(key, second.refresh_token)
      expect(third.statusCode).toBe(200)
      // With the key, the same old token is reuse as ever: the family is revoked.
      expectTokenError(await c.refresh(key, login.refresh_token), 'invalid_grant')
      expectTokenError(await c.refresh(key, third.json().refresh_token), 'invalid_grant')
    })
  })

  it('logout of a bound session needs a proof by its key: a stolen refresh token alone cannot end it', async () => {
    const { ctx, c, key } = await setup()
    const login = (await c.login(key)).json()
    const logout = async (who: DpopClientKey | null) =>
      ctx.app.inject({
        method: 'POST',
        url: '/auth/logout',
        payload: { refresh_token: login.refresh_token },
        headers: who ? { dpop: await c.proof(who, 'POST', '/auth/logout') } : {},
      })
    expectTokenError(await logout(null), 'invalid_dpop_proof')
    expectTokenError(await logout(await dpopKey()), 'invalid_dpop_proof')
    expect((await c.me(key, login.access_token)).statusCode).toBe(200)
    const done = await logout(key)
    expect(done.statusCode).toBe(204)
    expect((await c.me(key, login.access_token)).statusCode).toBe(401)
    // Unbound sessions and unknown tokens: 204 without a proof, as before.
    const bearer = (await c.login(null)).json()
    expect((await ctx.logout(bearer.refresh_token)).statusCode).toBe(204)
    expect((await ctx.me(bearer.access_token)).statusCode).toBe(401)
    expect((await ctx.logout('x'.repeat(43))).statusCode).toBe(204)
  })

  it('an unbound family (login without a proof) refreshed with a proof: a DPoP access token, the family stays unbound', async () => {
    const { c, key } = await setup()
    const login = (await c.login(null)).json()
    const res = await c.refresh(key, login.refresh_token)
    expect(res.json().token_type).toBe('DPoP')
    const next = await c.refresh(null, res.json().refresh_token)
    expect(next.statusCode).toBe(200)
    expect(next.json().token_type).toBe('Bearer')
  })

  it('a bad proof is a 400 invalid_dpop_proof, and the refresh token is not spent', async () => {
    const { c, key } = await setup()
    const login = (await c.login(key)).json()
    expectTokenError(await c.refresh(key, login.refresh_token, { htm: 'GET' }), 'invalid_dpop_proof')
    expect((await c.refresh(key, login.refresh_token)).statusCode).toBe(200)
  })
})

describe('proof checks (RFC 9449 §4.3), each refused with 400 invalid_dpop_proof at the token endpoint', () => {
  const otherKey = (): Promise<CryptoKey> => generateKeyPair('ES256').then((k) => k.privateKey)

  const cases: Array<[string, (key: DpopClientKey) => Promise<Extra>]> = [
    ['typ is not dpop+jwt', async () => ({ header: { typ: 'JWT' } })],
    ['typ missing', async () => ({ header: { typ: undefined } })],
    ['alg RS256 (not pinned)', async () => {
      const rsa = await generateKeyPair('RS256', { extractable: true })
      return { header: { alg: 'RS256', jwk: await exportJWK(rsa.publicKey) }, signWith: rsa.privateKey }
    }],
    ['alg ES384 (asymmetric, but not pinned), with a P-384 jwk', async () => {
      const p384 = await generateKeyPair('ES384', { extractable: true })
      return { header: { alg: 'ES384', jwk: await exportJWK(p384.publicKey) }, signWith: p384.privateKey }
    }],
    ['alg EdDSA with an EC P-256 jwk (the key must have the algorithm\'s shape)', async (key) => {
      const ed = await dpopKey('EdDSA')
      return { header: { alg: 'EdDSA', jwk: key.publicJwk }, signWith: ed.privateKey }
    }],
    ['jwk carries the private key ("d")', async (key) => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
      void publicKey
      const full = await exportJWK(privateKey)
      return { header: { jwk: full }, signWith: privateKey, claims: { key: key.jkt } }
    }],
    ['jwk missing', async () => ({ header: { jwk: undefined } })],
    ['jwk of another curve for ES256', async (key) => ({ header: { jwk: { ...key.publicJwk, crv: 'P-384' } } })],
    ['jwk not on the curve', async (key) => ({ header: { jwk: { ...key.publicJwk, y: key.publicJwk.x } } })],
    ['signed by another key than its jwk', async () => ({ signWith: await otherKey() })],
    ['htm is another method', async () => ({ htm: 'GET' })],
    ['htm in lower case', async () => ({ htm: 'post' })],
    ['htu names another path', async () => ({ htu: `${ORIGIN}/auth/logout` })],
    ['htu names another host', async () => ({ htu: 'http://evil.example/auth/token' })],
    ['htu names another scheme', async () => ({ htu: 'https://localhost/auth/token' })],
    ['htu is not a URL', async () => ({ htu: '/auth/token' })],
    ['htu missing', async () => ({ claims: { htu: undefined } })],
    ['jti missing', async () => ({ claims: { jti: undefined } })],
    ['jti too long', async () => ({ claims: { jti: 'j'.repeat(257) } })],
    ['iat missing', async () => ({ claims: { iat: undefined } })],
    ['iat a string', async () => ({ claims: { iat: String(Math.floor(Date.UTC(2030, 0, 1) / 1000)) } })],
    [`iat ${DPOP_IAT_WINDOW_SECONDS + 1} s in the past`, async () => ({ claims: { iat: Math.floor(Date.UTC(2030, 0, 1) / 1000) - DPOP_IAT_WINDOW_SECONDS - 1 } })],
    [`iat ${DPOP_IAT_WINDOW_SECONDS + 1} s in the future`, async () => ({ claims: { iat: Math.floor(Date.UTC(2030, 0, 1) / 1000) + DPOP_IAT_WINDOW_SECONDS + 1 } })],
    ['exp already passed', async () => ({ claims: { exp: Math.floor(Date.UTC(2030, 0, 1) / 1000) - 10 } })],
    ['crit names an unknown extension', async () => ({ header: { crit: ['x-unknown'], 'x-unknown': true } })],
  ]

  it.each(cases)('%s', async (_name, make) => {
    const { ctx, c, key } = await setup()
    const res = await c.login(key, await make(key))
    expectTokenError(res, 'invalid_dpop_proof')
    expect(ctx.hasher.calls.verify).toBe(0)
  })

  it('alg none and HS256 (with the jwk as the secret) are refused before any key is used', async () => {
    const { c, key } = await setup()
    const claims = { jti: 'x', htm: 'POST', htu: `${ORIGIN}/auth/login`, iat: Math.floor(Date.UTC(2030, 0, 1) / 1000), nonce: c.nonce() }
    const none = new UnsecuredJWT(claims).encode()
    const noneWithHeader = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })).toString('base64url')}.${none.split('.')[1]}.`
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)))
    for (const proof of [none, noneWithHeader, hs]) {
      expectTokenError(await c.login(null, { headers: { dpop: proof } }), 'invalid_dpop_proof')
    }
  })

  it('garbage, oversized and empty proofs: 400, never a 500', async () => {
    const { c } = await setup()
    for (const proof of ['x', 'a.b.c', '....', 'e30.e30.e30', 'A'.repeat(5000), ' ', '%00', 'eyJhbGciOiJFUzI1NiJ9.' + 'A'.repeat(3000) + '.AA']) {
      const res = await c.login(null, { headers: { dpop: proof } })
      expect(res.statusCode, proof.slice(0, 20)).toBe(400)
      expect(['invalid_dpop_proof', 'invalid_request']).toContain(res.json().error)
    }
  })

  it('two DPoP headers: refused (RFC 9449 §4.3: exactly one)', async () => {
    const { c, key } = await setup()
    const a = await c.proof(key, 'POST', '/auth/login')
    const res = await c.login(null, { headers: { dpop: [a, a] } })
    expectTokenError(res, 'invalid_dpop_proof')
    expect(res.json().error_description).toBe('Send exactly one DPoP header.')
  })

  it('a proof used twice (jti replay): the second is refused', async () => {
    const { c, key } = await setup()
    const proof = await c.proof(key, 'POST', '/auth/login')
    expect((await c.login(null, { headers: { dpop: proof } })).statusCode).toBe(200)
    expectTokenError(await c.login(null, { headers: { dpop: proof } }), 'invalid_dpop_proof')
  })

  it('the same jti from another key is not a replay (the cache is keyed by key and jti)', async () => {
    const { c, key } = await setup()
    const other = await dpopKey()
    expect((await c.login(key, { claims: { jti: 'same' } })).statusCode).toBe(200)
    expect((await c.login(other, { claims: { jti: 'same' } })).statusCode).toBe(200)
  })

  it('iat at the edge of the window is accepted; htu with a query, an upper-case host, :80 or %74 matches', async () => {
    const { c, key } = await setup()
    const t = Math.floor(Date.UTC(2030, 0, 1) / 1000)
    for (const extra of [
      { claims: { iat: t - DPOP_IAT_WINDOW_SECONDS } },
      { claims: { iat: t + DPOP_IAT_WINDOW_SECONDS } },
      { htu: `${ORIGIN}/auth/login?x=1#f` },
      { htu: 'HTTP://LOCALHOST:80/auth/login' },
      { htu: `${ORIGIN}/auth/%6Cogin` },
    ] satisfies Extra[]) {
      const res = await c.login(key, extra)
      expect(res.statusCode, JSON.stringify(extra)).toBe(200)
    }
  })

  it('htu is matched against the path as requested, query ignored', async () => {
    const { ctx, key } = await setup()
    const c = client(ctx)
    const proof = await c.proof(key, 'POST', '/auth/login')
    const res = await ctx.app.inject({ method: 'POST', url: '/auth/login?utm=1', payload: DEMO, headers: { dpop: proof } })
    expect(res.statusCode).toBe(200)
  })
})

describe('server nonces (RFC 9449 §8): an HMAC of the period, so every instance agrees', () => {
  it('rotate on the clock: the previous period\'s nonce still works, an older one gets use_dpop_nonce and the new nonce', async () => {
    const { ctx, c, key } = await setup({ dpopNonceRotationMs: 60_000 })
    const n1 = c.nonce()
    ctx.clock.advance(60_000)
    const n2 = c.nonce()
    expect(n2).not.toBe(n1)
    const ok = await c.login(key, { nonce: n1 })
    expect(ok.statusCode).toBe(200)
    expect(ok.headers['dpop-nonce']).toBe(n2)
    ctx.clock.advance(60_000)
    const stale = await c.login(key, { nonce: n1 })
    expectTokenError(stale, 'use_dpop_nonce')
    expect(stale.headers['dpop-nonce']).toBe(c.nonce())
    expectTokenError(await c.login(key, { nonce: 'A'.repeat(43) }), 'use_dpop_nonce')
    expectTokenError(await c.login(key, { nonce: 'short' }), 'use_dpop_nonce')
  })

  it('two apps with the same signing key issue the same nonce; another key, another nonce', async () => {
    const a = await setup()
    const b = await setup()
    expect(a.c.nonce()).toBe(b.c.nonce())
    const { generateSigningKeys } = await import('../src/tokens/keys.ts')
    const other = await setup({ keys: await generateSigningKeys() })
    expect(other.c.nonce()).not.toBe(a.c.nonce())
  })

  it('DPOP_NONCE off: proofs without a nonce are accepted and no DPoP-Nonce is sent', async () => {
    const { c, key } = await setup({ dpopNonce: false })
    const res = await c.login(key, { nonce: undefined })
    expect(res.statusCode).toBe(200)
    expect(res.headers['dpop-nonce']).toBeUndefined()
  })
})

describe('the API with DPoP-bound tokens (RFC 9449 §7)', () => {
  async function signedIn(options: Partial<AppOptions> = {}) {
    const s = await setup(options)
    const login = (await s.c.login(s.key)).json()
    return { ...s, access: login.access_token as string, refresh: login.refresh_token as string }
  }

  it('Authorization: DPoP with a proof → 200; the same proof again → 401 invalid_dpop_proof (replay)', async () => {
    const { ctx, c, key, access } = await signedIn()
    const proof = await c.proof(key, 'GET', '/api/me', { accessToken: access })
    const first = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `DPoP ${access}`, dpop: proof } })
    expect(first.statusCode).toBe(200)
    expect(first.json().username).toBe('demo')
    const again = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `DPoP ${access}`, dpop: proof } })
    expectDpopChallenge(again, 'invalid_dpop_proof')
  })

  it('a DPoP-bound token presented as Bearer is refused, with a DPoP challenge', async () => {
    const { ctx, access } = await signedIn()
    const res = await ctx.me(access)
    expectDpopChallenge(res, 'invalid_token')
    // Cached or not: the second time it comes from the auth cache.
    expectDpopChallenge(await ctx.me(access), 'invalid_token')
  })

  it('no proof, a proof without ath, with the ath of another token, by another key, for another URL or method: 401', async () => {
    const { ctx, c, key, access } = await signedIn()
    const other = await dpopKey()
    const otherToken = (await c.login(key)).json().access_token as string
    expectDpopChallenge(await c.me(null, access), 'invalid_dpop_proof')
    expectDpopChallenge(await c.me(key, access, { accessToken: undefined }), 'invalid_dpop_proof')
    expectDpopChallenge(await c.me(key, access, { accessToken: otherToken }), 'invalid_dpop_proof')
    expectDpopChallenge(await c.me(other, access), 'invalid_token')
    expectDpopChallenge(await c.me(key, access, { htu: `${ORIGIN}/api/slow` }), 'invalid_dpop_proof')
    expectDpopChallenge(await c.me(key, access, { htm: 'POST' }), 'invalid_dpop_proof')
    expect((await c.me(key, access)).statusCode).toBe(200)
    void ctx
  })

  it('a stale nonce: 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" and a DPoP-Nonce to retry with', async () => {
    const { ctx, c, key, access } = await signedIn({ dpopNonceRotationMs: 10_000 })
    const old = c.nonce()
    ctx.clock.advance(20_000)
    const res = await c.me(key, access, { nonce: old })
    expectDpopChallenge(res, 'use_dpop_nonce')
    const fresh = res.headers['dpop-nonce'] as string
    expect(fresh).toBe(c.nonce())
    expect((await c.me(key, access, { nonce: fresh })).statusCode).toBe(200)
  })

  it('a bearer token with the DPoP scheme is refused (not bound)', async () => {
    const { ctx, c, key } = await setup()
    const bearer = (await c.login(null)).json().access_token as string
    expectDpopChallenge(await c.me(key, bearer), 'invalid_token')
    expect((await ctx.me(bearer)).statusCode).toBe(200)
  })

  it('no credentials: both challenges, Bearer and DPoP with algs (RFC 9449 §7.1)', async () => {
    const { ctx } = await setup()
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me' })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm="silent-refresh-demo", DPoP realm="silent-refresh-demo", algs="ES256 EdDSA Ed25519"')
  })

  it('the auth cache is not defeated: 50 DPoP requests with one token cost one access-token verification', async () => {
    const { ctx, c, key, access } = await signedIn()
    let verifications = 0
    const verify = ctx.app.accessTokens.verify.bind(ctx.app.accessTokens)
    ctx.app.accessTokens.verify = (token) => {
      verifications++
      return verify(token)
    }
    for (let i = 0; i < 50; i++) expect((await c.me(key, access)).statusCode).toBe(200)
    expect(verifications).toBe(1)
  })

  it('an access token whose cnf is anything but { jkt: <thumbprint> } is invalid, though signed by the server\'s key', async () => {
    const { ctx, c, key } = await setup()
    const claims = claimsOf((await c.login(key)).json().access_token as string)
    const sign = (cnf: unknown) =>
      new SignJWT({ ...claims, cnf } as Record<string, unknown>).setProtectedHeader({ alg: 'EdDSA', kid: ctx.keys.kid, typ: 'at+jwt' }).sign(ctx.keys.privateKey)
    for (const cnf of [{ jkt: 'short' }, { jkt: key.jkt, extra: 1 }, { 'x5t#S256': key.jkt }, [key.jkt], key.jkt, null]) {
      const token = await sign(cnf)
      expectDpopChallenge(await c.me(key, token), 'invalid_token')
    }
    // The same claims with a well-formed cnf: accepted (the check above is about its shape).
    expect((await c.me(key, await sign({ jkt: key.jkt }))).statusCode).toBe(200)
  })

  it('GET /api/slow checks htu against its own path, query ignored', async () => {
    const { ctx, c, key, access } = await signedIn()
    const proof = await c.proof(key, 'GET', '/api/slow', { accessToken: access })
    const res = await ctx.app.inject({ method: 'GET', url: '/api/slow?delay_ms=0', headers: { authorization: `DPoP ${access}`, dpop: proof } })
    expect(res.statusCode).toBe(200)
  })
})

describe('DPOP=required', () => {
  it('login and refresh without a proof: 400 invalid_dpop_proof (with a nonce to start with); with one: DPoP tokens', async () => {
    const { ctx, c, key } = await setup({ dpop: 'required' })
    const res = await c.login(null)
    expectTokenError(res, 'invalid_dpop_proof')
    expect(res.headers['dpop-nonce']).toBe(c.nonce())
    expect(ctx.hasher.calls.verify).toBe(0)
    const login = (await c.login(key)).json()
    expectTokenError(await c.refresh(null, login.refresh_token), 'invalid_dpop_proof')
    expect((await c.refresh(key, login.refresh_token)).json().token_type).toBe('DPoP')
  })

  it('the API: Bearer is refused with a DPoP challenge, none gets a DPoP-only challenge', async () => {
    const { ctx, c, key } = await setup({ dpop: 'required' })
    const access = (await c.login(key)).json().access_token as string
    expectDpopChallenge(await ctx.me(access), 'invalid_token')
    const none = await ctx.app.inject({ method: 'GET', url: '/api/me' })
    expect(none.statusCode).toBe(401)
    expect(none.headers['www-authenticate']).toBe('DPoP realm="silent-refresh-demo", algs="ES256 EdDSA Ed25519"')
    expect((await c.me(key, access)).statusCode).toBe(200)
  })

  it('a bearer token issued before the switch (same key) is refused', async () => {
    const allowed = await setup()
    const bearer = (await allowed.c.login(null)).json().access_token as string
    const required = await setup({ dpop: 'required', store: allowed.ctx.store })
    expectDpopChallenge(await required.ctx.me(bearer), 'invalid_token')
  })
})

describe('DPOP=off', () => {
  it('the DPoP header is ignored at the token endpoints (bearer tokens), the DPoP scheme is unknown at the API', async () => {
    const { ctx, c, key } = await setup({ dpop: 'off' })
    const login = await c.login(key)
    expect(login.json().token_type).toBe('Bearer')
    expect(login.headers['dpop-nonce']).toBeUndefined()
    const access = login.json().access_token as string
    const res = await c.me(key, access)
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm="silent-refresh-demo"')
    expect((await ctx.me(access)).statusCode).toBe(200)
  })
})

describe('htu and the server\'s public origin', () => {
  it('publicOrigins: only those origins are accepted in htu, whatever Host says', async () => {
    const { c, key } = await setup({ publicOrigins: ['https://api.example.com'] })
    expectTokenError(await c.login(key), 'invalid_dpop_proof')
    expect((await c.login(key, { htu: 'https://api.example.com/auth/login' })).statusCode).toBe(200)
    expectTokenError(await c.login(key, { htu: 'https://api.example.com/auth/login', headers: {} , claims: { htu: 'https://evil.example/auth/login' } }), 'invalid_dpop_proof')
  })

  it('behind a proxy: X-Forwarded-Proto and -Host name the origin with trustProxy, and are ignored without it', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'demo.example' }
    const trusting = await setup({ trustProxy: true })
    expect((await trusting.c.login(trusting.key, { htu: 'https://demo.example/auth/login', headers: forwarded })).statusCode).toBe(200)
    const plain = await setup()
    expectTokenError(await plain.c.login(plain.key, { htu: 'https://demo.example/auth/login', headers: forwarded }), 'invalid_dpop_proof')
    expect((await plain.c.login(plain.key, { headers: forwarded })).statusCode).toBe(200)
  })
})

describe('hostile proofs: always a 4xx in the RFC shape, never a 500', () => {
  /** Every error answer: a 4xx with a documented code. */
  function expectClean(res: LightMyRequestResponse, label: string): void {
    expect(res.statusCode, label).toBeGreaterThanOrEqual(400)
    expect(res.statusCode, label).toBeLessThan(500)
    expect(ERROR_CODES, label).toContain(res.json().error)
  }

  it('fuzz: properly signed proofs whose claims and header members are arbitrary JSON', async () => {
    const { ctx, c, key } = await setup()
    const access = (await c.login(key)).json().access_token as string
    const claimNames = fc.constantFrom('jti', 'htm', 'htu', 'iat', 'ath', 'nonce', 'exp', 'nbf')
    const headerNames = fc.constantFrom('typ', 'jwk', 'crit', 'b64', 'kid', 'x5c', 'jku')
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(claimNames, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
        fc.dictionary(headerNames, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
        fc.constantFrom('login', 'me'),
        async (claims, header, where) => {
          let proof: string
          try {
            proof = await c.proof(key, where === 'login' ? 'POST' : 'GET', where === 'login' ? '/auth/login' : '/api/me', {
              claims,
              header,
              ...(where === 'me' ? { accessToken: access } : {}),
            })
          } catch {
            return // jose refused to sign it (e.g. an unknown crit): nothing to send
          }
          const res =
            where === 'login'
              ? await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, headers: { dpop: proof } })
              : await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `DPoP ${access}`, dpop: proof } })
          if (res.statusCode !== 200) expectClean(res, JSON.stringify({ claims, header, where }).slice(0, 200))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('fuzz: arbitrary DPoP header values and three-part strings of arbitrary JSON', async () => {
    const { ctx, c, key } = await setup()
    const access = (await c.login(key)).json().access_token as string
    const segment = fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url'))
    const value = fc.oneof(
      fc.string({ maxLength: 200 }).map((v) => v.replace(/[^\x21-\x7e ]/g, '')),
      fc.tuple(segment, segment, fc.base64String({ maxLength: 100 })).map(([h, p, sig]) => `${h}.${p}.${sig.replace(/=+$/, '')}`),
    )
    await fc.assert(
      fc.asyncProperty(value, fc.constantFrom('/auth/login', '/auth/token', '/api/me'), async (dpop, url) => {
        const res =
          url === '/api/me'
            ? await ctx.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${access}`, dpop } })
            : await ctx.app.inject({
                method: 'POST',
                url,
                payload: url === '/auth/login' ? DEMO : { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) },
                headers: { dpop },
              })
        if (res.statusCode !== 200) expectClean(res, `${url} ${dpop.slice(0, 80)}`)
      }),
      { numRuns: 150 },
    )
  })
})

describe('configuration', () => {
  it('DPOP, DPOP_NONCE, DPOP_NONCE_ROTATION and PUBLIC_ORIGIN are read and checked', () => {
    expect(loadConfig({}).app).toMatchObject({ dpop: 'allowed', dpopNonce: true, dpopNonceRotationMs: 300_000, publicOrigins: [] })
    expect(
      loadConfig({ DPOP: 'required', DPOP_NONCE: 'false', DPOP_NONCE_ROTATION: '30s', PUBLIC_ORIGIN: 'https://api.example.com, https://b.example.com:8443' }).app,
    ).toMatchObject({ dpop: 'required', dpopNonce: false, dpopNonceRotationMs: 30_000, publicOrigins: ['https://api.example.com', 'https://b.example.com:8443'] })
    expect(loadConfig({ DPOP: 'off' }).app.dpop).toBe('off')
    expect(() => loadConfig({ DPOP: 'yes' })).toThrow(new ConfigError('DPOP must be "required", "allowed" or "off" (got "yes")'))
    expect(() => loadConfig({ DPOP_NONCE: 'maybe' })).toThrow(/DPOP_NONCE must be true or false/)
    expect(() => loadConfig({ DPOP_NONCE_ROTATION: '0' })).toThrow(/DPOP_NONCE_ROTATION must be greater than zero/)
    expect(() => loadConfig({ PUBLIC_ORIGIN: 'https://api.example.com/path' })).toThrow(/PUBLIC_ORIGIN: .* must be a bare origin/)
  })

  it('buildApp refuses a bad dpop mode, a bad public origin and a bad nonce period, naming the option', async () => {
    const { generateSigningKeys } = await import('../src/tokens/keys.ts')
    const base = { store: createMemoryStore(), keys: await generateSigningKeys() }
    await expect(buildApp({ ...base, dpop: 'on' as never })).rejects.toThrow('"dpop" must be "required", "allowed" or "off"')
    await expect(buildApp({ ...base, publicOrigins: ['api.example.com'] })).rejects.toThrow(/"publicOrigins": "api.example.com" is not a bare origin/)
    await expect(buildApp({ ...base, publicOrigins: ['https://api.example.com/'] })).rejects.toThrow(/"publicOrigins"/)
    await expect(buildApp({ ...base, dpopNonceRotationMs: 0 })).rejects.toThrow('"dpopNonceRotationMs" must be a positive number')
  })
})

describe('logs', () => {
  it('no proof, token or nonce-bearing secret reaches the log at trace level; the DPoP header is redacted', async () => {
    const lines: string[] = []
    const { ctx, c, key } = await setup({ logger: { level: 'trace', stream: { write: (line) => void lines.push(line) } } })
    const proofs: string[] = []
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: DEMO,
      headers: { dpop: (proofs[proofs.length] = await c.proof(key, 'POST', '/auth/login')) },
    })
    const { access_token: access, refresh_token: refresh } = login.json()
    const bad = (proofs[proofs.length] = await c.proof(key, 'GET', '/api/me', { accessToken: access, htm: 'PUT' }))
    await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `DPoP ${access}`, dpop: bad } })
    await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `DPoP ${access}`, dpop: bad } })
    await c.refresh(null, refresh)
    const text = lines.join('')
    expect(text).toContain('DPoP proof rejected')
    expect(text).toContain('"dpop":"[redacted]"')
    for (const secret of [...proofs, access, refresh, ...proofs.map((p) => p.split('.')[2]!)]) expect(text).not.toContain(secret)
  })
})
