import { randomUUID, sign as edSign, verify as edVerify } from 'node:crypto'
import type { SigningKeys } from './keys.ts'

/** RFC 9068 media type of a JWT access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt'

/** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 5

/** Claims the demo server puts in, and demands of, every access token. */
export interface AccessTokenClaims {
  iss: string
  aud: string
  sub: string
  exp: number
  iat: number
  jti: string
  /** Session id: the refresh-token family this access token was issued with. */
  sid: string
  /** DPoP binding (RFC 9449 §6.1): the SHA-256 thumbprint of the key every use must prove. Absent: a bearer token. */
  cnf?: { jkt: string }
}

/** Why an access token was refused. `expired` only for an otherwise valid token. */
export class AccessTokenError extends Error {
  override name = 'AccessTokenError'
  constructor(
    readonly reason: 'expired' | 'invalid',
    /** What exactly failed, for the log (never sent to the client). */
    readonly detail: string,
  ) {
    super(reason === 'expired' ? 'The access token expired' : 'The access token is invalid')
  }
}

/** Signs and verifies access tokens. */
export interface AccessTokens {
  /** Lifetime in seconds (`expires_in`). */
  readonly ttlSeconds: number
  /** `jkt`: bind the token to that DPoP key (`cnf.jkt`). */
  sign(subject: { sub: string; sid: string; jkt?: string | null }): string
  /** Returns the claims or throws an {@link AccessTokenError}; never anything else. */
  verify(token: string): AccessTokenClaims
}

const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * One segment of a compact JWS, decoded only if it is canonical base64url: no
 * padding, no other alphabet, and no set unused bits. Otherwise `sig==`, or a
 * last character with different unused bits, would be other strings carrying
 * the same bytes — other tokens with the same signature.
 */
function canonicalSegment(segment: string | undefined, what: string): Buffer {
  if (segment === undefined || !BASE64URL.test(segment)) throw new AccessTokenError('invalid', `${what} is not base64url`)
  const bytes = Buffer.from(segment, 'base64url')
  if (bytes.toString('base64url') !== segment) throw new AccessTokenError('invalid', `${what} is not canonical base64url`)
  return bytes
}

/**
 * A JSON object exactly as `JSON.stringify` writes it, which is how this server
 * writes every header and payload. This refuses duplicate member names (RFC 7515
 * §5.2 allows refusing them; a parser keeping the last `alg` is how a header
 * says one thing to one library and another to the next), whitespace and
 * escapes that no token of ours contains.
 */
function canonicalJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new AccessTokenError('invalid', `${what} is not JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AccessTokenError('invalid', `${what} is not a JSON object`)
  if (JSON.stringify(value) !== text) throw new AccessTokenError('invalid', `${what} is not canonical JSON (duplicate keys, whitespace or escapes)`)
  return value as Record<string, unknown>
}

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0
const isTime = (value: unknown): value is number => Number.isSafeInteger(value)

/**
 * Access tokens as EdDSA-signed JWTs (`typ: at+jwt`, `kid`), signed and verified
 * with node:crypto (synchronous Ed25519, about twice as fast as WebCrypto).
 *
 * Verification is strict about everything a forger controls, and accepts only
 * what this server writes:
 * - three canonical base64url segments; header and payload canonical JSON (so
 *   no duplicate keys);
 * - `alg` exactly `EdDSA` (so `alg: none` and HS256 with the public key fail
 *   before any key is used), `typ` exactly `at+jwt`, `kid` exactly ours (never
 *   used as a path, a query or a URL), no `crit`; `jku`, `jwk`, `x5u` are
 *   never read: the key is always our own;
 * - `iss`, `aud` exact; `sub`, `sid`, `jti` non-empty strings;
 * - `iat` not in the future and `exp` not past (each with
 *   {@link CLOCK_TOLERANCE_SECONDS}), `nbf` if present not in the future, and
 *   a lifetime `exp - iat` of at most `ttlSeconds`: a token claiming to live
 *   longer than the server issues them was not issued by it.
 *
 * That `sub` is the user of the session named by `sid` is checked against the
 * session (plugins/authenticate.ts).
 */
export function createAccessTokens(options: {
  keys: SigningKeys
  issuer: string
  audience: string
  ttlSeconds: number
  now: () => number
}): AccessTokens {
  const { keys, issuer, audience, ttlSeconds, now } = options
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: keys.kid, typ: ACCESS_TOKEN_TYP })).toString('base64url')

  return {
    ttlSeconds,

    sign({ sub, sid, jkt }) {
      const iat = Math.floor(now() / 1000)
      const claims: AccessTokenClaims = { iss: issuer, aud: audience, sub, sid, iat, exp: iat + ttlSeconds, jti: randomUUID() }
      if (jkt) claims.cnf = { jkt }
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
      return `${input}.${edSign(null, Buffer.from(input), keys.signingKey).toString('base64url')}`
    },

    verify(token) {
      const parts = token.split('.')
      if (parts.length !== 3) throw new AccessTokenError('invalid', 'not three segments')
      const protectedHeader = canonicalJsonObject(canonicalSegment(parts[0], 'header'), 'header')
      const payloadBytes = canonicalSegment(parts[1], 'payload')
      const signature = canonicalSegment(parts[2], 'signature')

      if (protectedHeader.alg !== 'EdDSA') throw new AccessTokenError('invalid', 'alg is not EdDSA')
      if (protectedHeader.typ !== ACCESS_TOKEN_TYP) throw new AccessTokenError('invalid', `typ is not ${ACCESS_TOKEN_TYP}`)
      if (protectedHeader.kid !== keys.kid) throw new AccessTokenError('invalid', 'unknown kid')
      if ('crit' in protectedHeader) throw new AccessTokenError('invalid', 'crit names extensions this server does not implement')

      let valid = false
      try {
        valid = edVerify(null, Buffer.from(`${parts[0]}.${parts[1]}`), keys.verifyingKey, signature)
      } catch {
        valid = false
      }
      if (!valid) throw new AccessTokenError('invalid', 'bad signature')

      const claims = canonicalJsonObject(payloadBytes, 'payload')
      const { iss, aud, sub, sid, jti, iat, exp, nbf, cnf } = claims
      if (iss !== issuer) throw new AccessTokenError('invalid', 'wrong iss')
      if (aud !== audience) throw new AccessTokenError('invalid', 'wrong aud')
      if (!isNonEmptyString(sub) || !isNonEmptyString(sid) || !isNonEmptyString(jti)) throw new AccessTokenError('invalid', 'sub, sid or jti missing')
      if (!isTime(iat) || !isTime(exp)) throw new AccessTokenError('invalid', 'iat or exp missing or not an integer')
      if (exp - iat > ttlSeconds || exp <= iat) throw new AccessTokenError('invalid', 'lifetime longer than this server issues')
      const nowSec = Math.floor(now() / 1000)
      if (iat > nowSec + CLOCK_TOLERANCE_SECONDS) throw new AccessTokenError('invalid', 'iat in the future')
      if (nbf !== undefined && (!isTime(nbf) || nbf > nowSec + CLOCK_TOLERANCE_SECONDS)) throw new AccessTokenError('invalid', 'nbf in the future')
      let binding: { jkt: string } | undefined
      if (cnf !== undefined) {
        // Only what this server writes: { jkt: <43-character SHA-256 thumbprint> } and nothing else.
        const jkt = (cnf as { jkt?: unknown } | null)?.jkt
        if (typeof cnf !== 'object' || cnf === null || Object.keys(cnf).length !== 1 || typeof jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(jkt)) {
          throw new AccessTokenError('invalid', 'cnf is not { jkt }')
        }
        binding = { jkt }
      }
      if (exp <= nowSec - CLOCK_TOLERANCE_SECONDS) throw new AccessTokenError('expired', 'exp passed')
      return binding ? { iss, aud, sub, sid, jti, iat, exp, cnf: binding } : { iss, aud, sub, sid, jti, iat, exp }
    },
  }
}
