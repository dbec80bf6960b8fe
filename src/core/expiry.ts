import { finite, readJwtTimes } from './jwt.js'
import type { TokenSet } from './types.js'

/**
 * A caller waits for a refresh only when its token expires within this margin
 * (or within the whole window, if that is shorter); before that, inside the
 * proactive window, the request goes out at once and the refresh runs in the
 * background (DESIGN 4). Five seconds cover what a receipt-relative expiry cannot
 * know: a JWT's whole seconds (the issuer rounds `iat` down, so the token may die
 * up to 1 s earlier than `exp - iat` says) and the request's own trip to the server.
 */
export const EXPIRY_MARGIN_MS = 5_000

/** When a token expires, on the client's clock. */
export interface Expiry {
  /** Epoch ms on the client's clock; undefined when unknown (refresh on 401 only). */
  expiresAt: number | undefined
  /** The token's lifetime in ms; caps the window at half of it. */
  lifetime: number
}

/** Where tokens come from: a login (`setTokens`), a refresh result, or storage and other tabs (`stored`). */
export type Arrival = 'login' | 'refresh' | 'stored'

/** The proactive window of a token: the option, never more than half its lifetime. */
const windowOf = (expiry: Expiry, windowMs: number) => Math.min(windowMs, Math.max(0, expiry.lifetime) / 2)

/**
 * Resolves expiry (DESIGN 5), first that applies: `expiresAt`; `expiresIn` from
 * receipt; the JWT's `exp - iat` from receipt (a client clock hours off still
 * refreshes on time); the JWT's `exp`; else unknown.
 *
 * Tokens that just came from the server but would need a refresh at once
 * (`expires_in: 0`, `exp <= iat`, an `exp` already past on a clock that runs
 * ahead) get an unknown expiry and a problem to report: a refresh on every call
 * is never the answer. An `expiresAt` the app passes at login is its own word and
 * kept; one a refresh returns is checked like the rest. Tokens read back from
 * storage (or from another tab) may well have expired meanwhile: that is kept.
 */
export function readExpiry(tokens: TokenSet, receivedAt: number, arrival: Arrival): { expiry: Expiry; problem?: string } {
  const jwt = readJwtTimes(tokens.accessToken)
  const expiresAt = finite(tokens.expiresAt)
  const expiresIn = finite(tokens.expiresIn)
  const jwtLifetime = jwt?.exp !== undefined && jwt.iat !== undefined ? (jwt.exp - jwt.iat) * 1000 : undefined
  const lifetime = expiresIn !== undefined ? expiresIn * 1000 : jwtLifetime
  const at = expiresAt ?? (lifetime !== undefined ? receivedAt + lifetime : jwt?.exp !== undefined ? jwt.exp * 1000 : undefined)
  if (at === undefined) return { expiry: { expiresAt: undefined, lifetime: 0 } }
  const expiry = { expiresAt: at, lifetime: lifetime !== undefined && lifetime > 0 ? lifetime : at - receivedAt }
  const checked = arrival === 'refresh' || (arrival === 'login' && expiresAt === undefined)
  if (checked && at - receivedAt <= Math.min(EXPIRY_MARGIN_MS, windowOf(expiry, Infinity))) {
    const hint = jwt?.iat === undefined && expiresIn === undefined ? ' (the client clock may be ahead)' : ''
    return { expiry: { expiresAt: undefined, lifetime: 0 }, problem: `The new access token looked expired on arrival${hint}: it is refreshed on 401 only` }
  }
  return { expiry }
}

/**
 * How soon a token needs refreshing at `now`:
 * - `fresh`: use it;
 * - `soon`: inside the proactive window (at most half its lifetime): use it, refresh in the background;
 * - `now`: expired or within the margin: wait for a refresh.
 */
export type Urgency = 'fresh' | 'soon' | 'now'

export function urgencyOf(expiry: Expiry, now: number, windowMs: number, proactive: boolean): Urgency {
  // Not proactive: a refresh made no progress; its token is refreshed on 401 only, never in a loop.
  if (expiry.expiresAt === undefined || !proactive) return 'fresh'
  const left = expiry.expiresAt - now
  const window = windowOf(expiry, windowMs)
  // The margin never exceeds the window: refreshBeforeExpiryMs 0 means "only once expired",
  // and a short-lived token (a window of 5 s or less) is refreshed before use, as a whole.
  if (left <= Math.min(EXPIRY_MARGIN_MS, window)) return 'now'
  if (left <= window) return 'soon'
  return 'fresh'
}
