import { base64url, fromBase64url, hmacSha256 } from './internal/hmac.js'

/** Claims of a test JWT. `iat` defaults to now and `exp` to `iat` + 15 minutes; `null` leaves a claim out. */
export interface TestJwtClaims {
  /** Expiry, seconds since the epoch. @default iat + 900 */
  exp?: number | null
  /** Issued at, seconds since the epoch. @default now */
  iat?: number | null
  sub?: string
  [claim: string]: unknown
}

export interface MintTestJwtOptions {
  /**
   * `'HS256'` signs with `secret`; `'none'` makes an unsigned token (empty signature),
   * which is all a client-side test needs: the SDK reads `exp`/`iat` and never verifies.
   * @default 'HS256'
   */
  alg?: 'HS256' | 'none'
  /** The HS256 key. A test value, never a real secret. @default 'silent-refresh-test-secret' */
  secret?: string
  /** The clock for the default `iat`, epoch ms. @default Date.now() */
  now?: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown) => base64url(encoder.encode(JSON.stringify(value)))

/**
 * Mints a JWT for tests: HS256-signed with a test key (or unsigned), with `iat`
 * and `exp` filled in unless given. Not for production: the key is a test value.
 *
 * @example
 * const accessToken = mintTestJwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 })
 * await manager.setTokens({ accessToken, refreshToken: 'r1' })
 */
export function mintTestJwt(claims: TestJwtClaims = {}, options: MintTestJwtOptions = {}): string {
  const alg = options.alg ?? 'HS256'
  if (alg !== 'HS256' && alg !== 'none') throw new TypeError('mintTestJwt(): "alg" must be "HS256" or "none"')
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000)
  const payload: Record<string, unknown> = { ...claims }
  if (claims.iat === undefined) payload.iat = issuedAt
  if (claims.exp === undefined) payload.exp = (typeof payload.iat === 'number' ? payload.iat : issuedAt) + 900
  for (const name of ['iat', 'exp']) if (payload[name] === null) delete payload[name]
  const signingInput = `${json({ alg, typ: 'JWT' })}.${json(payload)}`
  const signature = alg === 'HS256' ? base64url(hmacSha256(encoder.encode(options.secret ?? 'silent-refresh-test-secret'), encoder.encode(signingInput))) : ''
  return `${signingInput}.${signature}`
}

/**
 * The claims of a test JWT made with `mintTestJwt` under the same `secret`,
 * or null when the token is malformed, of another algorithm or badly signed.
 * Does not check `exp`: the caller decides what "expired" means.
 */
export function verifyTestJwt(token: string, options: { alg?: 'HS256' | 'none'; secret?: string } = {}): Record<string, unknown> | null {
  const alg = options.alg ?? 'HS256'
  const parts = token.split('.')
  if (parts.length !== 3) return null
  const [head, body, signature] = parts as [string, string, string]
  const expected = alg === 'HS256' ? base64url(hmacSha256(encoder.encode(options.secret ?? 'silent-refresh-test-secret'), encoder.encode(`${head}.${body}`))) : ''
  if (signature !== expected) return null
  try {
    const header = JSON.parse(decoder.decode(fromBase64url(head) ?? new Uint8Array())) as { alg?: unknown }
    if (header.alg !== alg) return null // algorithm pinned: no alg-none downgrade
    const claims = JSON.parse(decoder.decode(fromBase64url(body) ?? new Uint8Array())) as unknown
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}
