import { randomUUID } from 'node:crypto'
import type { AttemptReservation, AuditContext, AuditDetail, AuditEvent, AuditEventType, NewSession, RevocationListener, RevokeReason, RotateInput, RotateResult, Store, UserRecord } from './types.ts'

interface FamilyRow {
  id: string
  userId: string
  createdAt: number
  expiresAt: number
  revokedAt: number | null
  revokedReason: RevokeReason | null
  dpopJkt: string | null
}

interface TokenRow {
  hash: string
  familyId: string
  parentHash: string | null
  status: 'active' | 'rotated'
  createdAt: number
  expiresAt: number
  rotatedAt: number | null
  childHash: string | null
}

/**
 * In-memory {@link Store} for unit tests. Each method does all its reads and
 * writes synchronously before its promise settles, so a rotation can never
 * interleave with another one: JavaScript's run-to-completion is the lock.
 */
export function createMemoryStore(): Store {
  const usersById = new Map<string, UserRecord>()
  const usersByName = new Map<string, UserRecord>()
  const families = new Map<string, FamilyRow>()
  const tokens = new Map<string, TokenRow>()
  const attempts = new Map<string, { count: number; windowEndsAt: number }>()
  const dpopProofs = new Map<string, number>()
  const listeners = new Set<RevocationListener>()
  /** Audit events in id order (so also oldest first, as far as callers' clocks agree). */
  let events: AuditEvent[] = []
  let nextEventId = 1
  let closed = false

  function audit(context: AuditContext | undefined, at: number, type: AuditEventType, familyId: string | null, userId: string | null, detail: AuditDetail | null = null): void {
    if (!context) return
    events.push({ id: nextEventId++, at, type, familyId, userId, detail, address: context.address, userAgent: context.userAgent, instance: context.instance })
  }

  /** How many rotations led to this token (0: the one issued at login). */
  function generationOf(token: TokenRow): number {
    let n = 0
    for (let parent = token.parentHash; parent !== null; parent = tokens.get(parent)?.parentHash ?? null) n++
    return n
  }

  function assertOpen(): void {
    if (closed) throw new Error('memory store is closed')
  }

  function revoke(family: FamilyRow, now: number, reason: RevokeReason): void {
    if (family.revokedAt === null) {
      family.revokedAt = now
      family.revokedReason = reason
      for (const listener of listeners) listener.revoked(family.id)
    }
  }

  function rotateSync(input: RotateInput): RotateResult {
    const token = tokens.get(input.tokenHash)
    if (!token) return { kind: 'unknown' }
    const family = families.get(token.familyId)
    if (!family) return { kind: 'unknown' }
    if (family.dpopJkt !== null && family.dpopJkt !== (input.dpopJkt ?? null)) {
      audit(input.audit, input.now, 'refresh_wrong_key', family.id, family.userId)
      return { kind: 'wrong_key', familyId: family.id }
    }
    if (family.revokedAt !== null) {
      audit(input.audit, input.now, 'refresh_after_revocation', family.id, family.userId)
      return { kind: 'revoked', familyId: family.id }
    }
    if (input.now >= family.expiresAt) return { kind: 'expired' }
    if (token.status === 'rotated') {
      const child = token.childHash === input.newTokenHash ? tokens.get(token.childHash) : undefined
      const sinceRotation = input.now - (token.rotatedAt ?? 0)
      // A retry of the very rotation whose child nobody has used yet: the same answer again.
      if (input.graceMs > 0 && sinceRotation < input.graceMs && child?.status === 'active' && input.now < child.expiresAt) {
        audit(input.audit, input.now, 'rotation_replayed', family.id, family.userId)
        return { kind: 'rotated', replayed: true, userId: family.userId, familyId: family.id, tokenExpiresAt: child.expiresAt, familyExpiresAt: family.expiresAt }
      }
      let latest = 0
      for (const t of tokens.values()) if (t.familyId === family.id) latest++
      audit(input.audit, input.now, 'reuse_detected', family.id, family.userId, { replayedGeneration: generationOf(token), latestGeneration: latest - 1 })
      revoke(family, input.now, 'reuse')
      return { kind: 'reused', familyId: family.id }
    }
    if (input.now >= token.expiresAt) return { kind: 'expired' }
    const tokenExpiresAt = Math.min(input.now + input.idleTtlMs, family.expiresAt)
    token.status = 'rotated'
    token.rotatedAt = input.now
    token.childHash = input.newTokenHash
    tokens.set(input.newTokenHash, {
      hash: input.newTokenHash,
      familyId: family.id,
      parentHash: token.hash,
      status: 'active',
      createdAt: input.now,
      expiresAt: tokenExpiresAt,
      rotatedAt: null,
      childHash: null,
    })
    audit(input.audit, input.now, 'rotated', family.id, family.userId)
    return { kind: 'rotated', replayed: false, userId: family.userId, familyId: family.id, tokenExpiresAt, familyExpiresAt: family.expiresAt }
  }

  return {
    async findUserByUsername(username) {
      assertOpen()
      return usersByName.get(username)
    },
    async findUserById(id) {
      assertOpen()
      return usersById.get(id)
    },
    async upsertUser({ username, passwordHash }) {
      assertOpen()
      const existing = usersByName.get(username)
      const user: UserRecord = { id: existing?.id ?? randomUUID(), username, passwordHash }
      usersByName.set(username, user)
      usersById.set(user.id, user)
      return user
    },
    async createSession(session: NewSession) {
      assertOpen()
      if (!usersById.has(session.userId)) throw new Error('createSession: unknown user')
      families.set(session.familyId, {
        id: session.familyId,
        userId: session.userId,
        createdAt: session.now,
        expiresAt: session.familyExpiresAt,
        revokedAt: null,
        revokedReason: null,
        dpopJkt: session.dpopJkt ?? null,
      })
      tokens.set(session.tokenHash, {
        hash: session.tokenHash,
        familyId: session.familyId,
        parentHash: null,
        status: 'active',
        createdAt: session.now,
        expiresAt: Math.min(session.tokenExpiresAt, session.familyExpiresAt),
        rotatedAt: null,
        childHash: null,
      })
      audit(session.audit, session.now, 'login', session.familyId, session.userId)
    },
    async rotate(input) {
      assertOpen()
      return rotateSync(input)
    },
    async reserveAttempts(budgets, now): Promise<AttemptReservation> {
      assertOpen()
      // Synchronous from the first read to the last write: run-to-completion makes it atomic.
      for (const budget of budgets) {
        const row = attempts.get(budget.key)
        if (row && row.windowEndsAt > now && row.count >= budget.max) {
          return { kind: 'refused', key: budget.key, retryAfterMs: row.windowEndsAt - now }
        }
      }
      const slots = budgets.map((budget) => {
        const row = attempts.get(budget.key)
        const current = row && row.windowEndsAt > now ? row : { count: 0, windowEndsAt: now + budget.windowMs }
        current.count++
        attempts.set(budget.key, current)
        return { key: budget.key, windowEndsAt: current.windowEndsAt }
      })
      return { kind: 'reserved', slots }
    },
    async releaseAttempts(slots) {
      assertOpen()
      for (const slot of slots) {
        const row = attempts.get(slot.key)
        if (row && row.windowEndsAt === slot.windowEndsAt && row.count > 0) row.count--
      }
    },
    async familyIdOfToken(tokenHash) {
      assertOpen()
      return tokens.get(tokenHash)?.familyId
    },
    async dpopJktOfToken(tokenHash) {
      assertOpen()
      const token = tokens.get(tokenHash)
      const family = token ? families.get(token.familyId) : undefined
      return family ? family.dpopJkt : undefined
    },
    async revokeFamilyByToken(tokenHash, now, reason, context) {
      assertOpen()
      const token = tokens.get(tokenHash)
      const family = token ? families.get(token.familyId) : undefined
      if (!family) return false
      if (family.revokedAt === null) audit(context, now, 'logout', family.id, family.userId)
      revoke(family, now, reason)
      return true
    },
    async appendAuditEvent(event) {
      assertOpen()
      audit(event, event.at, event.type, event.familyId, event.userId, event.detail)
    },
    async listAuditEvents(query) {
      assertOpen()
      const found: AuditEvent[] = []
      for (let i = events.length - 1; i >= 0 && found.length < query.limit; i--) {
        const event = events[i]!
        if (query.before !== undefined && event.id >= query.before) continue
        if (event.userId === query.userId && (query.familyId === undefined || event.familyId === query.familyId)) found.push({ ...event })
      }
      return found
    },
    async purgeAuditEvents(before, limit) {
      assertOpen()
      const old = events.slice(0, limit).filter((e) => e.at < before)
      const gone = new Set(old)
      events = events.filter((e) => !gone.has(e))
      return old.length
    },
    async findSession(familyId) {
      assertOpen()
      const family = families.get(familyId)
      const user = family && usersById.get(family.userId)
      if (!family || !user) return undefined
      return { familyId, userId: user.id, username: user.username, expiresAt: family.expiresAt, revokedAt: family.revokedAt }
    },
    async purgeExpired(now) {
      assertOpen()
      let purged = 0
      for (const family of families.values()) {
        if (family.expiresAt <= now) {
          families.delete(family.id)
          purged++
        }
      }
      for (const token of tokens.values()) {
        if (!families.has(token.familyId)) tokens.delete(token.hash)
      }
      for (const [key, row] of attempts) if (row.windowEndsAt <= now) attempts.delete(key)
      for (const [key, expiresAt] of dpopProofs) if (expiresAt <= now) dpopProofs.delete(key)
      return purged
    },
    async recordDpopProof(key, expiresAt, now) {
      assertOpen()
      const seen = dpopProofs.get(key)
      if (seen !== undefined && seen > now) return false
      dpopProofs.set(key, expiresAt)
      return true
    },
    async watchRevocations(listener) {
      assertOpen()
      listeners.add(listener)
      listener.live(true)
      return async () => {
        listeners.delete(listener)
      }
    },
    async ping() {
      assertOpen()
    },
    async close() {
      closed = true
    },
  }
}
