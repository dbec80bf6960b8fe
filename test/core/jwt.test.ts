// The JWT reader has no `atob` (Hermes before React Native 0.74 has none): it is
// checked here against jwt-decode, the library it replaced, on the same tokens.
import fc from 'fast-check'
import { jwtDecode } from 'jwt-decode'
import { describe, expect, it } from 'vitest'
import { readJwtTimes } from '../../src/core/jwt.js'

const b64u = (value: string) => Buffer.from(value).toString('base64url')
const jwt = (claims: unknown) => `${b64u(JSON.stringify({ alg: 'HS256' }))}.${b64u(JSON.stringify(claims))}.c2ln`

describe('readJwtTimes', () => {
  it('reads exp and iat as jwt-decode does, for any claims, Unicode and every base64url length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }), fc.string({ unit: 'binary' }), (exp, iat, name) => {
        const token = jwt({ exp, iat, name })
        const expected = jwtDecode<{ exp?: number; iat?: number }>(token)
        expect(readJwtTimes(token)).toEqual({ exp: expected.exp, iat: expected.iat })
      }),
      { numRuns: 500 },
    )
  })

  it('works with no atob at all (Hermes before RN 0.74)', () => {
    const atob = globalThis.atob
    try {
      // @ts-expect-error removing the global on purpose
      delete globalThis.atob
      expect(typeof globalThis.atob).toBe('undefined')
      expect(readJwtTimes(jwt({ exp: 2_000_000_000, iat: 1_999_999_000, name: 'Zoë 🚀' }))).toEqual({ exp: 2_000_000_000, iat: 1_999_999_000 })
    } finally {
      globalThis.atob = atob
    }
  })

  it.each([
    ['an opaque token', 'opaque-token'],
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['a payload that is not base64url', 'a.%%%.c'],
    ['a payload that is not JSON', `a.${b64u('not json')}.c`],
    ['a payload that is a number', `a.${b64u('42')}.c`],
    ['a payload that is null', `a.${b64u('null')}.c`],
    ['broken UTF-8', `a.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c`],
  ])('%s is opaque (null), never a throw', (_, token) => {
    expect(readJwtTimes(token)).toBeNull()
  })

  it('claims that are not finite numbers count as absent', () => {
    expect(readJwtTimes(jwt({ exp: '2000000000', iat: null }))).toEqual({ exp: undefined, iat: undefined })
    expect(readJwtTimes(`a.${b64u('{"exp":1e400}')}.c`)).toEqual({ exp: undefined, iat: undefined }) // JSON's Infinity
  })
})
