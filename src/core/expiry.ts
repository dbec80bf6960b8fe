import { jwtDecode } from 'jwt-decode'
import type { TokenSet } from './types.js'

/** A token set as the manager keeps it: expiry resolved once, on receipt. */
export interface Session {
  accessToken: string
  refreshToken: string | null
  /** Epoch ms on the client's clock, or undefined when unknown. */
  expiresAt: number | undefined
  /** The token's lifetime in ms, which caps the proactive window at half of it. */
  lifetime: number
}

const finite = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined

/**
 * Resolves expiry, first that applies: `expiresAt`; `expiresIn` from receipt;
 * the JWT's `exp - iat` from receipt (a client clock hours off still refreshes
 * on time); the JWT's `exp`; else unknown. A token that is not a JWT is opaque.
 */
export function toSession(tokens: TokenSet, receivedAt: number): Session {
  let exp: number | undefined
  let iat: number | undefined
  try {
    const claims = jwtDecode(tokens.accessToken)
    exp = finite(claims.exp)
    iat = finite(claims.iat)
  } catch {
    // opaque token: expiry comes from expiresAt / expiresIn or stays unknown
  }
  const expiresIn = finite(tokens.expiresIn)
  const lifetime = expiresIn !== undefined ? expiresIn * 1000 : iat !== undefined && exp !== undefined ? (exp - iat) * 1000 : undefined
  const expiresAt =
    finite(tokens.expiresAt) ?? (lifetime !== undefined ? receivedAt + lifetime : exp !== undefined ? exp * 1000 : undefined)
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? null, expiresAt, lifetime: lifetime ?? (expiresAt ?? receivedAt) - receivedAt }
}

/** Whether the session should be refreshed before use at `now`. */
export function isDue(session: Session, now: number, windowMs: number): boolean {
  const { expiresAt } = session
  return expiresAt !== undefined && now >= expiresAt - Math.min(windowMs, Math.max(0, session.lifetime / 2))
}

/**
 * The token set a session persists as: absolute expiry, so a reload does not
 * restart the clock, and the lifetime (as `expiresIn`), so a reload keeps the window's cap.
 */
export const toTokenSet = ({ accessToken, refreshToken, expiresAt, lifetime }: Session): TokenSet => ({
  accessToken,
  refreshToken,
  expiresAt,
  expiresIn: expiresAt && lifetime / 1000,
})
