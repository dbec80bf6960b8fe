import { readExpiry, type Arrival, type Expiry } from './expiry.js'
import type { AccessToken, TokenSet } from './types.js'

/**
 * A signed-in session as the manager keeps it. `id` names the login (kept
 * across refreshes, shared with other tabs through storage); `generation`
 * increases with every new token, so a 401 can tell "someone refreshed since I
 * was sent" from "my token is the current one" without comparing token strings
 * (a server may hand back the same string).
 */
export interface Session extends Expiry {
  readonly id: string
  readonly generation: number
  readonly accessToken: string
  readonly refreshToken: string | null
  /** False when a refresh made no progress (no later expiry): its expiry is ignored, refresh on 401 only, never in a loop. */
  readonly proactive: boolean
  /** What requests are sent with: made once, so the fast path allocates nothing. */
  readonly access: AccessToken
}

/** Why the manager has no session. `none`: never signed in (or storage held nothing). */
export type SignedOutReason = 'none' | 'cleared' | 'expired' | 'remote'

/** A random id for a new login. Not a secret: it only tells sessions apart. */
export const newSessionId = (): string => Date.now().toString(36) + Math.random().toString(36).slice(2, 10)

/**
 * The id of stored tokens that carry none (written before sessions had ids, or
 * by the app itself): derived from the refresh token, so every tab reading the
 * same storage agrees on it. A 32-bit hash of a long random token tells nothing of it.
 */
export function storedSessionId(tokens: TokenSet): string {
  if (tokens.sessionId) return tokens.sessionId
  let hash = 0x811c9dc5
  for (const char of tokens.refreshToken ?? tokens.accessToken) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193)
  return 'stored-' + (hash >>> 0).toString(36)
}

let generations = 0

/** Builds a session from tokens received at `receivedAt`; `arrival` as in {@link readExpiry}. */
export function toSession(tokens: TokenSet, id: string, receivedAt: number, arrival: Arrival): { session: Session; problem?: string } {
  const { expiry, problem } = readExpiry(tokens, receivedAt, arrival)
  const generation = ++generations
  const session: Session = {
    ...expiry,
    id,
    generation,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken ?? null,
    proactive: true,
    access: { value: tokens.accessToken, session: id, generation },
  }
  return problem ? { session, problem } : { session }
}

/**
 * The token set a session persists and announces as: absolute expiry, so a
 * reload does not restart the clock; the lifetime as `expiresIn`, so a reload
 * keeps the window's cap; the session id, so other tabs and the next start
 * know which login this is.
 */
export const toTokenSet = (session: Session): TokenSet => {
  const tokens: TokenSet = { accessToken: session.accessToken, refreshToken: session.refreshToken, sessionId: session.id }
  if (session.expiresAt !== undefined) {
    tokens.expiresAt = session.expiresAt
    tokens.expiresIn = session.lifetime / 1000
  }
  return tokens
}

/** Whether a value can be used as tokens (a non-empty `accessToken`). */
export const hasAccessToken = (tokens: TokenSet | null | undefined): tokens is TokenSet =>
  typeof tokens?.accessToken === 'string' && tokens.accessToken !== ''
