/** base64url of the JSON of `value`, as a JWT segment. */
const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * An unsigned-looking JWT carrying `claims` (the manager only decodes, it never verifies).
 * `exp` and `iat` are in seconds, as RFC 7519 says.
 */
export function mintJwt(claims: { exp?: number; iat?: number; sub?: string; [claim: string]: unknown }): string {
  return `${segment({ alg: 'HS256', typ: 'JWT' })}.${segment({ sub: 'user-1', ...claims })}.${Buffer.from('not-a-real-signature').toString('base64url')}`
}

/** A JWT issued at `issuedAtMs` on the server's clock, valid for `lifetimeSeconds`. */
export function jwtFor(issuedAtMs: number, lifetimeSeconds: number, extra: Record<string, unknown> = {}): string {
  const iat = Math.floor(issuedAtMs / 1000)
  return mintJwt({ iat, exp: iat + lifetimeSeconds, ...extra })
}
