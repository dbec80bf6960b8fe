import { randomUUID } from 'node:crypto'
import { SignJWT, jwtVerify, errors, type JWTHeaderParameters, type JWTPayload } from 'jose'
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
}

/** Why an access token was refused. `expired` only for an otherwise valid token. */
export class AccessTokenError extends Error {
  override name = 'AccessTokenError'
  constructor(
    readonly reason: 'expired' | 'invalid',
    options?: { cause?: unknown },
  ) {
    super(reason === 'expired' ? 'The access token expired' : 'The access token is invalid', options)
  }
}

/** Signs and verifies access tokens. */
export interface AccessTokens {
  /** Lifetime in seconds (`expires_in`). */
  readonly ttlSeconds: number
  sign(subject: { sub: string; sid: string }): Promise<string>
  /** Resolves with the claims or rejects with an {@link AccessTokenError}; never anything else. */
  verify(token: string): Promise<AccessTokenClaims>
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'sid'] as const

/**
 * Access tokens as EdDSA-signed JWTs (`typ: at+jwt`, `kid`).
 *
 * Verification pins everything that an attacker controls in the header: the
 * algorithm list is `['EdDSA']` only (so `alg: none` and HS256-with-the-public-key
 * fail before any key is used), the `kid` must equal ours exactly (never used
 * as a path, a query or a URL), and `jku` / `jwk` / `x5u` are never read: the
 * key is always our own public key.
 */
export function createAccessTokens(options: {
  keys: SigningKeys
  issuer: string
  audience: string
  ttlSeconds: number
  now: () => number
}): AccessTokens {
  const { keys, issuer, audience, ttlSeconds, now } = options

  async function getKey(header: JWTHeaderParameters): Promise<CryptoKey> {
    if (header.kid !== keys.kid) throw new errors.JWKSNoMatchingKey()
    return keys.publicKey
  }

  return {
    ttlSeconds,
    async sign({ sub, sid }) {
      const iat = Math.floor(now() / 1000)
      return new SignJWT({ sid })
        .setProtectedHeader({ alg: 'EdDSA', kid: keys.kid, typ: ACCESS_TOKEN_TYP })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomUUID())
        .sign(keys.privateKey)
    },
    async verify(token) {
      let payload: JWTPayload
      try {
        ;({ payload } = await jwtVerify(token, getKey, {
          algorithms: ['EdDSA'],
          issuer,
          audience,
          typ: ACCESS_TOKEN_TYP,
          requiredClaims: [...REQUIRED_CLAIMS],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now()),
        }))
      } catch (err) {
        // Anything jose (or a hostile header) throws is a 401, never a 500.
        throw new AccessTokenError(err instanceof errors.JWTExpired ? 'expired' : 'invalid', { cause: err })
      }
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.jti !== 'string') {
        throw new AccessTokenError('invalid')
      }
      return payload as unknown as AccessTokenClaims
    },
  }
}
