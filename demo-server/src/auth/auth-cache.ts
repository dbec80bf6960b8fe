import type { SessionRecord } from '../store/types.ts'
import { CLOCK_TOLERANCE_SECONDS, type AccessTokenClaims } from '../tokens/access-token.ts'

/** Who a verified access token speaks for: its claims and its session's user name. */
export interface Auth extends AccessTokenClaims {
  username: string
}

/** Entries each map below keeps at most; the oldest goes first. */
export const DEFAULT_AUTH_CACHE_SIZE = 10_000

/**
 * The hot path of bearer authentication: access tokens already verified, and
 * the sessions they belong to, so a request with a known token costs a map
 * lookup instead of an Ed25519 verification and a database read.
 *
 * A cache of authorisations is only as good as its invalidation. Entries
 * leave when the token expires (checked on every hit), when their session is
 * revoked (the store pushes every revocation, from any instance, to
 * {@link AuthCache.revoked}), and all at once when the push is interrupted
 * ({@link AuthCache.setLive}`(false)`): while revocations might be missed,
 * nothing is cached and every request asks the store.
 *
 * Lookups that started before a revocation or an interruption do not store
 * their result afterwards (a generation counter): a session read as active a
 * moment before it was revoked is never cached as active.
 */
export interface AuthCache {
  /** The cached authorisation of `token` if it is still valid at `nowMs`. */
  get(token: string, nowMs: number): Auth | undefined
  /** The cached, active session `sid`. */
  session(sid: string): SessionRecord | undefined
  /** A counter to read before a lookup and pass to `remember*`. */
  readonly generation: number
  rememberSession(session: SessionRecord, generation: number): void
  remember(token: string, auth: Auth, generation: number): void
  /** The session was revoked: forget it and its tokens. */
  revoked(sid: string): void
  /** Whether revocations are delivered; any change forgets everything. */
  setLive(live: boolean): void
  readonly live: boolean
  /** Entries held, for tests. */
  readonly size: { tokens: number; sessions: number }
}

export function createAuthCache(maxEntries = DEFAULT_AUTH_CACHE_SIZE): AuthCache {
  const tokens = new Map<string, { auth: Auth; sessionExpiresAt: number }>()
  const tokensOfSession = new Map<string, Set<string>>()
  const sessions = new Map<string, SessionRecord>()
  let generation = 0
  let live = false

  function forgetToken(token: string): void {
    const entry = tokens.get(token)
    if (!entry) return
    tokens.delete(token)
    const ofSession = tokensOfSession.get(entry.auth.sid)
    ofSession?.delete(token)
    if (ofSession?.size === 0) tokensOfSession.delete(entry.auth.sid)
  }

  function clear(): void {
    tokens.clear()
    tokensOfSession.clear()
    sessions.clear()
    generation++
  }

  return {
    get(token, nowMs) {
      const entry = tokens.get(token)
      if (!entry) return undefined
      // The same expiry rule as verification (exp <= now - tolerance is expired), and the family's absolute end.
      if (entry.auth.exp <= Math.floor(nowMs / 1000) - CLOCK_TOLERANCE_SECONDS || nowMs >= entry.sessionExpiresAt) {
        forgetToken(token)
        return undefined
      }
      return entry.auth
    },

    session: (sid) => sessions.get(sid),

    get generation() {
      return generation
    },

    rememberSession(session, at) {
      if (!live || at !== generation || session.revokedAt !== null) return
      sessions.set(session.familyId, session)
      if (sessions.size > maxEntries) sessions.delete(sessions.keys().next().value!)
    },

    remember(token, auth, at) {
      const session = sessions.get(auth.sid)
      if (!live || at !== generation || !session) return
      tokens.set(token, { auth, sessionExpiresAt: session.expiresAt })
      let ofSession = tokensOfSession.get(auth.sid)
      if (!ofSession) tokensOfSession.set(auth.sid, (ofSession = new Set()))
      ofSession.add(token)
      if (tokens.size > maxEntries) forgetToken(tokens.keys().next().value!)
    },

    revoked(sid) {
      generation++
      sessions.delete(sid)
      for (const token of tokensOfSession.get(sid) ?? []) tokens.delete(token)
      tokensOfSession.delete(sid)
    },

    setLive(next) {
      if (next === live) return
      live = next
      clear()
    },

    get live() {
      return live
    },

    get size() {
      return { tokens: tokens.size, sessions: sessions.size }
    },
  }
}
