import { finite, readJwtTimes } from './jwt.js'
import type { TokenSet } from './types.js'

/**
 * A caller waits for a refresh only when its token expires within this margin
 * (or a tenth of the token's lifetime, or the window, if shorter); before that, inside
 * the proactive window, the request goes out at once and the refresh runs in the
 * background (DESIGN 4).
 */
export const EXPIRY_MARGIN_MS = 5_000

/** When a token expires, on the client's clock. */
export interface Expiry {
  /** Epoch ms on the client's clock; undefined when unknown (refresh on 401 only). */
  expiresAt: number | undefined
  /** The token's lifetime in ms; caps the window at half of it and the margin at a tenth. */
  lifetime: number
}

/** Where tokens come from: a login (`setTokens`), a refresh result, or storage and other tabs (`stored`). */
export type Arrival = 'login' | 'refresh' | 'stored'

/** Why an expiry was set aside (reported through the `error` event, source `'expiry'`). */
export type ExpiryProblem = string

const UNKNOWN: Expiry = { expiresAt: undefined, lifetime: 0 }

/**
 * Resolves expiry (DESIGN 5), first that applies: `expiresAt`; `expiresIn` from
 * receipt; the JWT's `exp - iat` from receipt (a client clock hours off still
 * refreshes on time); the JWT's `exp`; else unknown.
 *
 * `arrival` says where the tokens come from. If tokens just came from the
 * server would need a refresh at once (`expires_in: 0`, a negative lifetime,
 * `exp` already past on a clock that runs ahead), their expiry is treated as
 * unknown and the problem returned for reporting: a refresh on every call is
 * never the answer. An `expiresAt` the app passes at login is its own word and
 * kept; one a refresh returns is checked like the rest. Tokens read back from
 * storage (or another tab) may well have expired meanwhile: that is kept.
 */
export function readExpiry(tokens: TokenSet, receivedAt: number, arrival: Arrival): { expiry: Expiry; problem?: ExpiryProblem } {
  const jwt = readJwtTimes(tokens.accessToken)
  const jwtLifetime = jwt?.exp !== undefined && jwt.iat !== undefined ? (jwt.exp - jwt.iat) * 1000 : undefined
  const expiresIn = finite(tokens.expiresIn)
  const expiresAt = finite(tokens.expiresAt)
  let problem: ExpiryProblem | undefined

  let expiry: Expiry = UNKNOWN
  if (expiresAt !== undefined) {
    expiry = { expiresAt, lifetime: positive(expiresIn === undefined ? undefined : expiresIn * 1000) ?? positive(jwtLifetime) ?? expiresAt - receivedAt }
  } else if (expiresIn !== undefined && expiresIn > 0) {
    expiry = { expiresAt: receivedAt + expiresIn * 1000, lifetime: expiresIn * 1000 }
  } else if (jwtLifetime !== undefined && jwtLifetime > 0) {
    expiry = { expiresAt: receivedAt + jwtLifetime, lifetime: jwtLifetime }
  } else if (jwt?.exp !== undefined) {
    expiry = { expiresAt: jwt.exp * 1000, lifetime: jwt.exp * 1000 - receivedAt }
  }
  if (expiresAt === undefined && expiresIn !== undefined && expiresIn <= 0) problem = `expiresIn is ${expiresIn}`
  else if (expiresIn === undefined && jwtLifetime !== undefined && jwtLifetime <= 0) problem = 'the JWT has exp <= iat'

  const fresh = arrival === 'refresh' || (arrival === 'login' && expiresAt === undefined)
  if (fresh && expiry.expiresAt !== undefined && expiry.expiresAt - receivedAt <= marginOf(expiry)) {
    const left = Math.round((expiry.expiresAt - receivedAt) / 1000)
    problem = `the access token looked expired on arrival (${left} s left${jwt && jwt.iat === undefined ? '; the JWT has no iat and the client clock may be ahead' : ''})`
    expiry = UNKNOWN
  }
  if (!problem) return { expiry }
  return { expiry, problem: expiry.expiresAt === undefined ? `Expiry unknown, the token is refreshed on 401 only: ${problem}` : `Ignored: ${problem}` }
}

const positive = (ms: number | undefined) => (ms !== undefined && ms > 0 ? ms : undefined)

const marginOf = ({ lifetime }: Expiry) => Math.min(EXPIRY_MARGIN_MS, Math.max(0, lifetime) / 10)

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
  // The margin never exceeds the window: refreshBeforeExpiryMs 0 means "only once expired".
  if (left <= Math.min(marginOf(expiry), windowMs)) return 'now'
  if (left <= Math.min(windowMs, Math.max(0, expiry.lifetime) / 2)) return 'soon'
  return 'fresh'
}
