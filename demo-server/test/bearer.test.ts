import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHmac, sign as edSign } from 'node:crypto'
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import { build, type TestContext } from './helpers/build.ts'

const ISS = 'http://localhost:3000'
const AUD = 'silent-refresh-demo'

let ctx: TestContext
let access: string
let refresh: string
let sid: string
let sub: string

beforeEach(async () => {
  ctx = await build()
  const res = await ctx.login()
  expect(res.statusCode).toBe(200)
  ;({ access_token: access, refresh_token: refresh } = res.json())
  const payload = JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString()) as { sid: string; sub: string }
  ;({ sid, sub } = payload)
})

const nowSec = () => Math.floor(ctx.clock.now() / 1000)

/** Claims of a valid token for the logged-in session, overridable. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  return { iss: ISS, aud: AUD, sub, sid, jti: 'j1', iat: nowSec(), exp: nowSec() + 30, ...overrides }
}

/** Signs with the server's real key unless told otherwise. */
async function sign(
  payload: JWTPayload,
  header: Record<string, unknown> = {},
  key: CryptoKey = ctx.keys.privateKey,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: ctx.keys.kid, typ: 'at+jwt', ...header }).sign(key)
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function expectChallenge(res: Awaited<ReturnType<TestContext['me']>>, status: number, error?: string): void {
  expect(res.statusCode).toBe(status)
  const header = res.headers['www-authenticate']
  expect(header).toMatch(/^Bearer realm="silent-refresh-demo"/)
  if (error) {
    expect(header).toContain(`error="${error}"`)
    expect(res.json().error).toBe(error)
  } else {
    expect(header).not.toContain('error=')
  }
}

describe('GET /api/me with a valid token', () => {
  it('answers who the token belongs to', async () => {
    const res = await ctx.me(access)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ sub, username: 'demo', sid, exp: nowSec() + 30 })
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('accepts the lower-case scheme and surrounding spaces (RFC 6750 §2.1 scheme is case-insensitive)', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `bearer   ${access}` } })
    expect(res.statusCode).toBe(200)
  })

  it('GET /api/slow answers after the delay, validating delay_ms strictly', async () => {
    const started = Date.now()
    const res = await ctx.app.inject({ method: 'GET', url: '/api/slow?delay_ms=150', headers: { authorization: `Bearer ${access}` } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ sub, sid, delay_ms: 150 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    for (const bad of ['-1', '1e3', 'abc', '999999']) {
      const r = await ctx.app.inject({ method: 'GET', url: `/api/slow?delay_ms=${bad}`, headers: { authorization: `Bearer ${access}` } })
      expect(r.statusCode, bad).toBe(400)
      expect(r.json().error).toBe('invalid_request')
    }
    const noAuth = await ctx.app.inject({ method: 'GET', url: '/api/slow?delay_ms=0' })
    expectChallenge(noAuth, 401)
  })
})

describe('malformed Authorization (RFC 6750 §3.1)', () => {
  it('no header → 401 with a bare challenge (no error code)', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me' })
    expectChallenge(res, 401)
    expect(res.json().error).toBe('unauthorized')
  })

  it('another scheme → 401 with a bare challenge', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: 'Basic ZGVtbzpkZW1v' } })
    expectChallenge(res, 401)
  })

  it.each([['Bearer'], ['Bearer '], ['Bearer    ']])('empty bearer %j → 400 invalid_request', async (authorization) => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization } })
    expectChallenge(res, 400, 'invalid_request')
  })

  it('two tokens in one header → 400 invalid_request', async () => {
    for (const authorization of [`Bearer ${access} ${access}`, `Bearer ${access}, Bearer ${access}`]) {
      const res = await ctx.app.inject({ method: 'GET', url: '/api/me', headers: { authorization } })
      expectChallenge(res, 400, 'invalid_request')
    }
  })

  it('duplicate Authorization headers → 400 invalid_request, even when the first is valid', async () => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/me',
      headers: { authorization: [`Bearer ${access}`, 'Bearer other'] as unknown as string },
    })
    expectChallenge(res, 400, 'invalid_request')
  })
})

describe('forged and broken tokens → 401 invalid_token, never a 500', () => {
  it('alg: none', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt', kid: ctx.keys.kid })}.${b64(claims())}.`
    expectChallenge(await ctx.me(token), 401, 'invalid_token')
  })

  it('HS256 signed with the public key as the HMAC secret (key confusion)', async () => {
    const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: ctx.keys.kid })
    const body = b64(claims())
    for (const secret of [await exportSPKI(ctx.keys.publicKey), ctx.keys.publicJwk.x!, JSON.stringify(ctx.keys.publicJwk)]) {
      const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url')
      const res = await ctx.me(`${header}.${body}.${sig}`)
      expectChallenge(res, 401, 'invalid_token')
    }
  })

  it('another Ed25519 key presenting our kid', async () => {
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
    expectChallenge(await ctx.me(await sign(claims(), {}, other.privateKey)), 401, 'invalid_token')
  })

  it('tampered payload (signature of the original)', async () => {
    const [h, , s] = access.split('.')
    const forged = `${h}.${b64(claims({ sub: 'admin' }))}.${s}`
    expectChallenge(await ctx.me(forged), 401, 'invalid_token')
  })

  it('expired, and the 5 s tolerance boundary', async () => {
    const expired = await sign(claims({ iat: nowSec() - 36, exp: nowSec() - 6 }))
    const res = await ctx.me(expired)
    expectChallenge(res, 401, 'invalid_token')
    expect(res.json().error_description).toBe('The access token expired.')
    // exp exactly 5 s ago is the boundary: expired (jose: exp <= now - tolerance).
    expectChallenge(await ctx.me(await sign(claims({ iat: nowSec() - 35, exp: nowSec() - 5 }))), 401, 'invalid_token')
    // 4 s ago is inside the tolerance.
    expect((await ctx.me(await sign(claims({ iat: nowSec() - 34, exp: nowSec() - 4 })))).statusCode).toBe(200)
  })

  it('the real token after the clock passes its exp', async () => {
    ctx.clock.advance(30_000 + 5_000)
    const res = await ctx.me(access)
    expectChallenge(res, 401, 'invalid_token')
    expect(res.json().error_description).toBe('The access token expired.')
  })

  it('nbf in the future', async () => {
    expectChallenge(await ctx.me(await sign(claims({ nbf: nowSec() + 60 }))), 401, 'invalid_token')
  })

  it.each(['exp', 'iat', 'sub', 'sid', 'jti', 'iss', 'aud'])('missing %s', async (claim) => {
    const payload = claims()
    delete payload[claim]
    expectChallenge(await ctx.me(await sign(payload)), 401, 'invalid_token')
  })

  it('wrong aud, wrong iss', async () => {
    expectChallenge(await ctx.me(await sign(claims({ aud: 'another-api' }))), 401, 'invalid_token')
    expectChallenge(await ctx.me(await sign(claims({ iss: 'https://evil.example' }))), 401, 'invalid_token')
  })

  it('wrong or missing typ (an ID token or a generic JWT is not an access token)', async () => {
    expectChallenge(await ctx.me(await sign(claims(), { typ: 'JWT' })), 401, 'invalid_token')
    expectChallenge(await ctx.me(await sign(claims(), { typ: undefined })), 401, 'invalid_token')
  })

  it('a refresh token used as bearer', async () => {
    expectChallenge(await ctx.me(refresh), 401, 'invalid_token')
  })

  it('garbage in JWT shape', async () => {
    for (const token of ['a.b.c', 'e30.e30.', `${b64({ alg: 'EdDSA' })}.${b64('x')}.AAAA`, 'x'.repeat(5000)]) {
      expectChallenge(await ctx.me(token), 401, 'invalid_token')
    }
  })

  it('hostile kid values are refused without being used as paths or queries', async () => {
    for (const kid of ['../../../../etc/passwd', "' OR '1'='1", 'x'.repeat(2000), '', null, 42, { $ne: null }]) {
      const res = await ctx.me(await sign(claims(), { kid }))
      expectChallenge(res, 401, 'invalid_token')
    }
    // No kid at all.
    const h = b64({ alg: 'EdDSA', typ: 'at+jwt' })
    const p = b64(claims())
    const { sign: edSign } = await import('node:crypto')
    const { createPrivateKey } = await import('node:crypto')
    const pk = createPrivateKey({ key: (await exportJWK(ctx.keys.privateKey)) as never, format: 'jwk' })
    const sig = edSign(null, Buffer.from(`${h}.${p}`), pk).toString('base64url')
    expectChallenge(await ctx.me(`${h}.${p}.${sig}`), 401, 'invalid_token')
  })

  it('jwk header is ignored: a token signed by an embedded attacker key is refused', async () => {
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const jwk = await exportJWK(attacker.publicKey)
    const res = await ctx.me(await sign(claims(), { jwk, kid: ctx.keys.kid }, attacker.privateKey))
    expectChallenge(res, 401, 'invalid_token')
  })

  it('jku header is ignored: never fetched, the real key still decides', async () => {
    let fetched = 0
    const jwksServer = createServer((_req, res) => {
      fetched++
      res.end('{"keys":[]}')
    })
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
    const jku = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`
    try {
      const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
      expectChallenge(await ctx.me(await sign(claims(), { jku }, attacker.privateKey)), 401, 'invalid_token')
      // Signed by us with a jku header: valid, because jku plays no part.
      expect((await ctx.me(await sign(claims(), { jku }))).statusCode).toBe(200)
      expect(fetched).toBe(0)
    } finally {
      await new Promise((resolve) => jwksServer.close(resolve))
    }
  })

  it('an access token of a revoked family (reuse detected) is refused before its exp', async () => {
    expect((await ctx.me(access)).statusCode).toBe(200)
    const rotated = await ctx.refresh(refresh)
    expect(rotated.statusCode).toBe(200)
    // Reuse the old refresh token after the retry window: the family is revoked.
    ctx.clock.advance(20_000)
    expect((await ctx.refresh(refresh)).json().error).toBe('invalid_grant')
    const res = await ctx.me(access)
    expectChallenge(res, 401, 'invalid_token')
    expect(res.json().error_description).toBe('The session has ended.')
    expectChallenge(await ctx.me(rotated.json().access_token), 401, 'invalid_token')
  })
})

/** Signs exactly these header and payload bytes with the server's key (what jose would never write). */
function signRaw(headerJson: string, payloadJson: string): string {
  const input = `${Buffer.from(headerJson).toString('base64url')}.${Buffer.from(payloadJson).toString('base64url')}`
  return `${input}.${edSign(null, Buffer.from(input), ctx.keys.signingKey).toString('base64url')}`
}
const headerJson = () => JSON.stringify({ alg: 'EdDSA', kid: ctx.keys.kid, typ: 'at+jwt' })

describe('strict JWT verification (what a lenient verifier accepts)', () => {
  it('a token issued in the future: refused beyond the 5 s leeway', async () => {
    expectChallenge(await ctx.me(await sign(claims({ iat: nowSec() + 3600, exp: nowSec() + 3630 }))), 401, 'invalid_token')
    expectChallenge(await ctx.me(await sign(claims({ iat: nowSec() + 6, exp: nowSec() + 36 }))), 401, 'invalid_token')
    // Clock skew inside the leeway is fine.
    expect((await ctx.me(await sign(claims({ iat: nowSec() + 5, exp: nowSec() + 35 })))).statusCode).toBe(200)
  })

  it('a lifetime longer than the server issues (exp of 10^12, or ttl + 1 s): refused', async () => {
    expectChallenge(await ctx.me(await sign(claims({ exp: 1e12 }))), 401, 'invalid_token')
    expectChallenge(await ctx.me(await sign(claims({ exp: nowSec() + 31 }))), 401, 'invalid_token')
    expectChallenge(await ctx.me(await sign(claims({ exp: nowSec() }))), 401, 'invalid_token')
    expect((await ctx.me(await sign(claims({ exp: nowSec() + 30 })))).statusCode).toBe(200)
  })

  it('the same signature with == appended, or with its unused last bits changed: refused', async () => {
    const [h, p, s] = access.split('.') as [string, string, string]
    expectChallenge(await ctx.me(`${h}.${p}.${s}==`), 401, 'invalid_token')
    // 64 bytes take 86 base64url characters; the last carries 2 bits and 4 unused ones.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(s.at(-1)!)
    const twin = `${s.slice(0, -1)}${alphabet[last ^ 1]}`
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true)
    expectChallenge(await ctx.me(`${h}.${p}.${twin}`), 401, 'invalid_token')
    // Padding inside the token is not even a b64token (RFC 6750 §2.1): a malformed header.
    expectChallenge(await ctx.me(`${h}=.${p}.${s}`), 400, 'invalid_request')
    // Header and payload segments are held to the canonical rule too.
    const payloadTwin = `${p.slice(0, -1)}${alphabet[alphabet.indexOf(p.at(-1)!) ^ 1]}`
    if (Buffer.from(payloadTwin, 'base64url').equals(Buffer.from(p, 'base64url'))) {
      expectChallenge(await ctx.me(`${h}.${payloadTwin}.${s}`), 401, 'invalid_token')
    }
    // And the untouched token still works.
    expect((await ctx.me(access)).statusCode).toBe(200)
  })

  it('a header with a duplicate alg (or any duplicate key), signed with the real key: refused', async () => {
    const payload = JSON.stringify(claims())
    expect((await ctx.me(signRaw(headerJson(), payload))).statusCode).toBe(200)
    const dupAlg = `{"alg":"none","alg":"EdDSA","kid":${JSON.stringify(ctx.keys.kid)},"typ":"at+jwt"}`
    expectChallenge(await ctx.me(signRaw(dupAlg, payload)), 401, 'invalid_token')
    const dupKid = `{"alg":"EdDSA","kid":"other","kid":${JSON.stringify(ctx.keys.kid)},"typ":"at+jwt"}`
    expectChallenge(await ctx.me(signRaw(dupKid, payload)), 401, 'invalid_token')
    const dupSub = `{"sub":"someone-else",${payload.slice(1)}`
    expectChallenge(await ctx.me(signRaw(headerJson(), dupSub)), 401, 'invalid_token')
    // Whitespace or escapes this server never writes.
    expectChallenge(await ctx.me(signRaw(headerJson().replace(',', ', '), payload)), 401, 'invalid_token')
    expectChallenge(await ctx.me(signRaw(headerJson().replace('EdDSA', 'EdDS\\u0041'), payload)), 401, 'invalid_token')
  })

  it('crit, or a header that is not an object: refused', async () => {
    expectChallenge(await ctx.me(signRaw(JSON.stringify({ alg: 'EdDSA', kid: ctx.keys.kid, typ: 'at+jwt', crit: ['b64'], b64: false }), JSON.stringify(claims()))), 401, 'invalid_token')
    expectChallenge(await ctx.me(signRaw('["EdDSA"]', JSON.stringify(claims()))), 401, 'invalid_token')
    expectChallenge(await ctx.me(signRaw(headerJson(), '"a string"')), 401, 'invalid_token')
  })

  it("a token whose sub is not the user of the session named by its sid: refused", async () => {
    const other = await ctx.store.upsertUser({ username: 'mallory', passwordHash: 'x' })
    // Signed with the real key, the real session id, someone else's user id.
    const res = await ctx.me(await sign(claims({ sub: other.id })))
    expectChallenge(res, 401, 'invalid_token')
    // And a session id that does not exist at all.
    expectChallenge(await ctx.me(await sign(claims({ sid: 'no-such-session' }))), 401, 'invalid_token')
  })
})

describe('over a real port', () => {
  it('duplicate Authorization headers on the wire → 400', async () => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = ctx.app.server.address() as AddressInfo
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/me', method: 'GET' }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      // setHeader would merge; an array writes two header lines.
      req.setHeader('Authorization', [`Bearer ${access}`, `Bearer ${access}`])
      req.end()
    })
    expect(status).toBe(400)
  })
})
