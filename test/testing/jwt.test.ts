import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { jwtDecode } from 'jwt-decode'
import { mintTestJwt, verifyTestJwt } from '../../src/testing/index.js'
import { createTokenManager } from '../../src/index.js'

const part = (jwt: string, index: number) => JSON.parse(Buffer.from(jwt.split('.')[index]!, 'base64url').toString()) as Record<string, unknown>

describe('mintTestJwt', () => {
  it('fills iat (now) and exp (iat + 15 min) and keeps other claims', () => {
    const jwt = mintTestJwt({ sub: 'alice', role: 'admin' }, { now: 1_700_000_000_500 })
    expect(part(jwt, 1)).toEqual({ sub: 'alice', role: 'admin', iat: 1_700_000_000, exp: 1_700_000_900 })
    expect(jwtDecode(jwt)).toMatchObject({ sub: 'alice', exp: 1_700_000_900 })
  })

  it('derives the default exp from a given iat, and leaves out claims set to null', () => {
    expect(part(mintTestJwt({ iat: 100 }), 1)).toMatchObject({ iat: 100, exp: 1000 })
    const bare = part(mintTestJwt({ sub: 'x', iat: null, exp: null }), 1)
    expect(bare).toEqual({ sub: 'x' })
  })

  it('signs HS256 exactly as node:crypto does (a standard JWT)', () => {
    const jwt = mintTestJwt({ sub: 'alice' }, { secret: 'k'.repeat(80) })
    const [head, body, sig] = jwt.split('.') as [string, string, string]
    expect(part(jwt, 0)).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(sig).toBe(createHmac('sha256', 'k'.repeat(80)).update(`${head}.${body}`).digest('base64url'))
  })

  it('makes unsigned tokens with alg none and an empty signature', () => {
    const jwt = mintTestJwt({ sub: 'alice' }, { alg: 'none' })
    expect(part(jwt, 0)).toMatchObject({ alg: 'none' })
    expect(jwt.endsWith('.')).toBe(true)
  })

  it('encodes non-ASCII claims as UTF-8', () => {
    expect(part(mintTestJwt({ name: 'Zoë 🚀' }), 1).name).toBe('Zoë 🚀')
  })

  it('gives the manager the expiry it encodes (exp - iat from receipt)', async () => {
    let clock = 5_000_000
    const refresh = async () => ({ accessToken: mintTestJwt({}, { now: clock }) })
    const manager = createTokenManager({ refresh, now: () => clock })
    // iat/exp far in the past: only the 60-second lifetime counts (clock skew).
    const first = mintTestJwt({ iat: 10, exp: 70 })
    await manager.setTokens({ accessToken: first })
    expect(await manager.getAccessToken()).toBe(first)
    clock += 31_000 // inside the window (min(30 s, half of 60 s)): refreshed in the background
    const refreshed = new Promise((resolve) => manager.on('tokens', resolve))
    expect(await manager.getAccessToken()).toBe(first)
    await refreshed
    expect(await manager.getAccessToken()).not.toBe(first)
    manager.dispose()
  })
})

describe('verifyTestJwt', () => {
  it('returns the claims of a token minted with the same key', () => {
    expect(verifyTestJwt(mintTestJwt({ sub: 'a' }, { secret: 's1' }), { secret: 's1' })).toMatchObject({ sub: 'a' })
  })

  it('rejects another key, a tampered payload, an alg downgrade and garbage', () => {
    const jwt = mintTestJwt({ sub: 'a' }, { secret: 's1' })
    expect(verifyTestJwt(jwt, { secret: 's2' })).toBeNull()
    const [head, , sig] = jwt.split('.')
    const forged = `${head}.${Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')}.${sig}`
    expect(verifyTestJwt(forged, { secret: 's1' })).toBeNull()
    const unsigned = mintTestJwt({ sub: 'a' }, { alg: 'none' })
    expect(verifyTestJwt(unsigned, { secret: 's1' })).toBeNull() // HS256 expected: alg none refused
    expect(verifyTestJwt(unsigned, { alg: 'none' })).toMatchObject({ sub: 'a' })
    expect(verifyTestJwt('not.a.jwt')).toBeNull()
    expect(verifyTestJwt('x')).toBeNull()
  })
})
