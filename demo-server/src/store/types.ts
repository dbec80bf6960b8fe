/**
 * The persistence contract of the demo server.
 *
 * Every method is async so that a multi-instance deployment can back it with
 * PostgreSQL or Redis; the embedded implementations are SQLite
 * (`sqlite-store.ts`) and an in-memory map (`memory-store.ts`, tests only).
 * Refresh tokens only ever reach the store as SHA-256 hashes.
 */

/** A user account. */
export interface UserRecord {
  id: string
  username: string
  /** `scrypt$N$r$p$salt$hash` (see `auth/password.ts`). */
  passwordHash: string
}

/** A login session (token family) as access-token verification needs it. */
export interface SessionRecord {
  familyId: string
  userId: string
  /** The user's name, so `/api/me` needs no second read. */
  username: string
  /** Epoch ms: the family's absolute end, never extended. */
  expiresAt: number
  /** Epoch ms when it was revoked (logout, reuse detected), or null. */
  revokedAt: number | null
}

/** Input of {@link Store.createSession}: a new token family with its first refresh token. */
export interface NewSession {
  familyId: string
  userId: string
  tokenHash: string
  /** Epoch ms. */
  now: number
  /** Epoch ms; when the first refresh token goes idle. */
  tokenExpiresAt: number
  /** Epoch ms; absolute end of the family, never extended by rotation. */
  familyExpiresAt: number
  /** DPoP (RFC 9449 §5): the thumbprint of the key every refresh of this family must prove; absent = unbound. */
  dpopJkt?: string | null
  /** Who logged in from where: the store writes the `login` audit event with the family, in the same write. Omitted: no event. */
  audit?: AuditContext
}

/** Input of {@link Store.rotate}. */
export interface RotateInput {
  /** Hash of the refresh token the client presented. */
  tokenHash: string
  /**
   * Hash of the refresh token that replaces it. Derived from the presented
   * token (tokens/refresh-token.ts), so a retry of the same rotation names the
   * same child: that is how a retry gets the answer it lost.
   */
  newTokenHash: string
  /** Epoch ms. */
  now: number
  /** Idle lifetime of the new token in ms (capped by the family's absolute end). */
  idleTtlMs: number
  /**
   * Retry window, ms: presenting a token again within this long after it was
   * rotated, while its child (`newTokenHash`) has never been used, answers that
   * same child again instead of counting as reuse. 0 disables it.
   */
  graceMs: number
  /**
   * Thumbprint of the key of the request's valid DPoP proof, or null/absent
   * without one. A family bound to a key (login with a proof) answers
   * `wrong_key` to anything else, before any other check: nothing is rotated
   * or revoked by a stolen token presented without its key.
   */
  dpopJkt?: string | null
  /** Who asked from where: the store writes the rotation's audit event (rotated, replayed, reuse, refused) in the same transaction. Omitted: no event. */
  audit?: AuditContext
}

/**
 * What {@link Store.rotate} did. Only `rotated` answers with a token (the child
 * named by `newTokenHash`); only `reused` changed state besides a first
 * rotation (the family is now revoked).
 */
export type RotateResult =
  /**
   * The child is the active token. `replayed`: it already was — this is a retry
   * within the window of a rotation whose answer the client did not get, and
   * nothing was written.
   */
  | { kind: 'rotated'; replayed: boolean; userId: string; familyId: string; tokenExpiresAt: number; familyExpiresAt: number }
  /** No token with that hash. */
  | { kind: 'unknown' }
  /** Idle TTL or the family's absolute lifetime has passed. */
  | { kind: 'expired' }
  /** The family was already revoked (logout or earlier reuse). */
  | { kind: 'revoked'; familyId: string }
  /**
   * An already rotated token was presented (after its child was used, after the
   * window, or a grandparent): the whole family is revoked now (RFC 9700 §4.14.2).
   */
  | { kind: 'reused'; familyId: string }
  /** The family is bound to a DPoP key and the request did not prove it; nothing changed. */
  | { kind: 'wrong_key'; familyId: string }

/** One budget of login attempts: at most `max` per fixed window of `windowMs`, counted under `key`. */
export interface AttemptBudget {
  key: string
  max: number
  windowMs: number
}

/** One attempt taken from a budget, as {@link Store.releaseAttempts} needs it back. */
export interface AttemptSlot {
  key: string
  /** Epoch ms: the end of the window the slot was taken in (a slot of an ended window is not given back). */
  windowEndsAt: number
}

/** What {@link Store.reserveAttempts} did: took one slot from every budget, or from none. */
export type AttemptReservation =
  | { kind: 'reserved'; slots: AttemptSlot[] }
  /** `key`'s budget is spent for its current window, which ends in `retryAfterMs`; nothing was taken. */
  | { kind: 'refused'; key: string; retryAfterMs: number }

/**
 * What an audit event says happened to a token family (see the README's Monitoring section).
 * Never a token, a hash of one, or a password: ids, times, where from, and small numbers.
 */
export type AuditEventType =
  /** A login succeeded: a family (session) began. */
  | 'login'
  /** A login with an unknown user or a wrong password (`userId` null for an unknown user). */
  | 'login_failed'
  /** A login refused before the password was checked: an attempt budget is spent. `detail.budget` says which. */
  | 'login_locked'
  /** A refresh token was rotated. */
  | 'rotated'
  /** A rotated token presented again within the retry window while its child was unused: the lost answer again. */
  | 'rotation_replayed'
  /** An already rotated token was presented: the family is revoked. `detail`: replayed and latest generation. */
  | 'reuse_detected'
  /** A refresh token of a family already revoked (logout, reuse) was presented. */
  | 'refresh_after_revocation'
  /** A refresh token of a DPoP-bound family was presented without a proof by its key (a stolen token): refused, the family untouched. */
  | 'refresh_wrong_key'
  /** The family was revoked by a logout. */
  | 'logout'

/** Where a request came from, for its audit event. */
export interface AuditContext {
  /** The client's address as the server sees it (`request.ip`, the proxy's view with `trustProxy`). */
  address: string | null
  /** The `User-Agent` header, cut to a bounded length. */
  userAgent: string | null
  /** Which server instance saw it (`INSTANCE_ID`). */
  instance: string
}

/** Small, fixed facts about an event; never free text from a client. */
export interface AuditDetail {
  /** `reuse_detected`: the generation of the presented token (0 = the one issued at login). */
  replayedGeneration?: number
  /** `reuse_detected`: the family's newest generation when the replay arrived. */
  latestGeneration?: number
  /** `login_locked`: which budget was spent. */
  budget?: string
}

/** An audit event to write. */
export interface AuditEventInput extends AuditContext {
  /** Epoch ms. */
  at: number
  type: AuditEventType
  familyId: string | null
  userId: string | null
  detail: AuditDetail | null
}

/** An audit event as stored: `id` grows with every event written (the pagination cursor). */
export interface AuditEvent extends AuditEventInput {
  id: number
}

/**
 * {@link Store.listAuditEvents}: a user's events, or one session's (family) of that user. Always by
 * user: the stores index events by user only (one index less to write at every rotation), and a
 * family's events are found among its user's.
 */
export interface AuditQuery {
  userId: string
  familyId?: string
  /** Only events with a smaller id (the cursor of the previous page). */
  before?: number
  limit: number
}

/** Why a family was revoked. */
export type RevokeReason = 'logout' | 'reuse'

/** What {@link Store.watchRevocations} reports to its listener. */
export interface RevocationListener {
  /**
   * A family (session) was revoked, by this instance or any other. (Families
   * deleted by the purge are past their absolute end: their tokens fail on time alone.)
   */
  revoked(familyId: string): void
  /**
   * Whether revocations are being delivered. After `false` some may have been
   * missed (a lost connection): anything cached about sessions must go, until `true`.
   */
  live(isLive: boolean): void
}

/** Storage behind the demo server. Implementations must make {@link Store.rotate} atomic. */
export interface Store {
  findUserByUsername(username: string): Promise<UserRecord | undefined>
  findUserById(id: string): Promise<UserRecord | undefined>
  /** Creates the user, or replaces the password hash of an existing one with that username. */
  upsertUser(user: { username: string; passwordHash: string }): Promise<UserRecord>
  /** Starts a token family (login). */
  createSession(session: NewSession): Promise<void>
  /**
   * Rotates a refresh token, atomically: an active token is replaced exactly
   * once (compare-and-set). A rotated token presented again is that rotation
   * replayed when within `graceMs` and its child is unused; otherwise reuse,
   * which revokes its family.
   */
  rotate(input: RotateInput): Promise<RotateResult>
  /** The family (session id) a refresh token of any status belongs to, if any. */
  familyIdOfToken(tokenHash: string): Promise<string | undefined>
  /**
   * The DPoP key thumbprint the family of a refresh token (any status) is bound to: null when
   * unbound, undefined for an unknown token. (Logout checks it: a stolen bound token alone
   * cannot end the session.)
   */
  dpopJktOfToken(tokenHash: string): Promise<string | null | undefined>
  /**
   * Revokes the family the token belongs to (any status). Returns whether a family was found.
   * With `audit`, a family revoked by this call gets its `logout` event in the same write.
   */
  revokeFamilyByToken(tokenHash: string, now: number, reason: RevokeReason, audit?: AuditContext): Promise<boolean>
  /** The session (family) an access token's `sid` names, revoked or not; undefined once deleted. */
  findSession(familyId: string): Promise<SessionRecord | undefined>
  /**
   * Takes one attempt from every budget, or from none when any of them is spent
   * for its current window. Atomic across concurrent callers, processes and
   * instances: N concurrent login attempts take at most `max` slots, so the
   * check happens before the password hash, not after it.
   */
  reserveAttempts(budgets: readonly AttemptBudget[], now: number): Promise<AttemptReservation>
  /** Gives slots back (the attempt succeeded, so it does not count). Slots of a window that has since ended are dropped. */
  releaseAttempts(slots: readonly AttemptSlot[]): Promise<void>
  /** Deletes families past their absolute lifetime (and their tokens), attempt counts of ended windows and expired DPoP proof records. Returns how many families. */
  purgeExpired(now: number): Promise<number>
  /**
   * Pushes every revocation to `listener`: in-process for the memory store; for
   * SQLite, in-process at once and from other processes on the same file within
   * a quarter of a second; for PostgreSQL, from every instance through
   * LISTEN/NOTIFY. Resolves once subscribed; the returned function unsubscribes.
   */
  watchRevocations(listener: RevocationListener): Promise<() => Promise<void>>
  /**
   * The DPoP replay cache (RFC 9449 §11.1): records a proof's key (a hash of its
   * key thumbprint and `jti`) until `expiresAt`, epoch ms. True the first time,
   * false if it is already recorded and not yet expired: a replay. Atomic across
   * processes and instances. Entries past `expiresAt` go with {@link Store.purgeExpired}.
   */
  recordDpopProof(key: string, expiresAt: number, now: number): Promise<boolean>
  /** Appends one audit event that no other write carries (failed and refused logins). */
  appendAuditEvent(event: AuditEventInput): Promise<void>
  /** Audit events of a user (or of one of its families), newest first, with `id < before` when given; at most `limit`. */
  listAuditEvents(query: AuditQuery): Promise<AuditEvent[]>
  /**
   * Of the first `limit` audit events in insertion order, deletes those older than `before` (epoch
   * ms). Returns how many: fewer than `limit` means the cleanup has caught up.
   */
  purgeAuditEvents(before: number, limit: number): Promise<number>
  /** Throws when the store cannot serve requests (health check). */
  ping(): Promise<void>
  close(): Promise<void>
}

/**
 * The store cannot answer right now (database unreachable, connection lost,
 * pool exhausted, server shutting down). Nothing was changed, or, when
 * `ambiguous`, a commit may have happened without the store hearing back.
 * The app answers 503 `temporarily_unavailable`; it is never a 500 and never
 * a wrong answer about a token.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError'
  constructor(
    message: string,
    /** True when the connection was lost while COMMIT was in flight: the change may or may not have landed. */
    readonly ambiguous = false,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
