import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import Database from 'better-sqlite3'
import { DATA_DIR_MODE, DATA_FILE_MODE, restrictFiles } from '../data-files.ts'
import { startCheckpointer } from './sqlite-checkpointer.ts'
import type { AttemptBudget, AttemptReservation, AuditContext, AuditDetail, AuditEvent, AuditEventType, NewSession, RevocationListener, RotateInput, RotateResult, Store, UserRecord } from './types.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS token_families (
  id             TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT,
  -- DPoP (RFC 9449 §5): thumbprint of the key the family's refreshes must prove; NULL = unbound.
  dpop_jkt       TEXT
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  family_id   TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
  parent_hash TEXT,
  -- Set when this token is rotated: the child is then found by primary key (no index on parent_hash to maintain).
  child_hash  TEXT,
  status      TEXT NOT NULL CHECK (status IN ('active', 'rotated')),
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  rotated_at  INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
-- The database itself refuses a second active token in a family.
CREATE UNIQUE INDEX IF NOT EXISTS refresh_tokens_one_active
  ON refresh_tokens(family_id) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS token_families_expires ON token_families(expires_at);
-- Every revocation, in order, for the other processes on this file (watchRevocations polls it).
CREATE TABLE IF NOT EXISTS revocations (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  family_id TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS token_families_revoked AFTER UPDATE OF revoked_at ON token_families
  WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
  BEGIN INSERT INTO revocations (family_id) VALUES (NEW.id); END;
-- Login attempt budgets (auth/login-limits.ts): one row per key, fixed windows.
CREATE TABLE IF NOT EXISTS login_attempts (
  key            TEXT PRIMARY KEY,
  count          INTEGER NOT NULL,
  window_ends_at INTEGER NOT NULL
);
-- The DPoP replay cache: one row per proof (hash of key thumbprint and jti) until it expires.
CREATE TABLE IF NOT EXISTS dpop_proofs (
  key        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The audit trail (README "Monitoring"): security events of token families, kept AUDIT_RETENTION.
-- No token, no hash of a token, no password: ids, times, where from, and a small JSON detail.
-- Written inside the rotation's transaction, so every index here is paid by every rotation: the
-- rowid (no AUTOINCREMENT, which writes sqlite_sequence at every insert) orders events and is the
-- cursor; retention deletes by rowid (insertion order), so there is no index on at; and a family's
-- events are read among its user's (the admin route names both), so one index, by user.
CREATE TABLE IF NOT EXISTS audit_events (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  type       TEXT NOT NULL,
  family_id  TEXT,
  user_id    TEXT,
  address    TEXT,
  user_agent TEXT,
  instance   TEXT NOT NULL,
  detail     TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_user ON audit_events(user_id, id) WHERE user_id IS NOT NULL;
`

interface TokenJoinRow {
  token_hash: string
  family_id: string
  status: 'active' | 'rotated'
  expires_at: number
  rotated_at: number | null
  child_hash: string | null
  user_id: string
  family_expires_at: number
  revoked_at: number | null
  dpop_jkt: string | null
}

interface SessionRow {
  id: string
  user_id: string
  username: string
  expires_at: number
  revoked_at: number | null
}

interface AuditRow {
  id: number
  at: number
  type: AuditEventType
  family_id: string | null
  user_id: string | null
  address: string | null
  user_agent: string | null
  instance: string
  detail: string | null
}

/** A stored row as an {@link AuditEvent} (shared with the PostgreSQL store). */
export function toAuditEvent(row: Omit<AuditRow, 'id' | 'at'> & { id: number | string; at: number | string }): AuditEvent {
  return {
    id: Number(row.id),
    at: Number(row.at),
    type: row.type,
    familyId: row.family_id,
    userId: row.user_id,
    address: row.address,
    userAgent: row.user_agent,
    instance: row.instance,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditDetail),
  }
}

interface UserRow {
  id: string
  username: string
  password_hash: string
}

function toUser(row: UserRow | undefined): UserRecord | undefined {
  return row && { id: row.id, username: row.username, passwordHash: row.password_hash }
}

/**
 * Brings a database made by an earlier version up to date: `child_hash` on
 * refresh tokens (filled from `parent_hash`) replaces the index on
 * `parent_hash`, one index less to write at every rotation.
 */
function upgradeSchema(db: Database.Database): void {
  const familyColumns = db.prepare<[], { name: string }>('PRAGMA table_info(token_families)').all()
  if (!familyColumns.some((c) => c.name === 'dpop_jkt')) db.exec('ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT')
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(refresh_tokens)').all()
  if (columns.some((c) => c.name === 'child_hash')) return
  db.transaction(() => {
    db.exec('ALTER TABLE refresh_tokens ADD COLUMN child_hash TEXT')
    db.exec('UPDATE refresh_tokens SET child_hash = (SELECT c.token_hash FROM refresh_tokens c WHERE c.parent_hash = refresh_tokens.token_hash)')
    db.exec('DROP INDEX IF EXISTS refresh_tokens_parent')
  }).immediate()
}

/** How often a process reads the revocations other processes on the same file made. */
const POLL_MS = 250

/**
 * {@link Store} on a SQLite file (or `:memory:`) through better-sqlite3, in
 * WAL mode. `rotate()` runs in one `BEGIN IMMEDIATE` transaction, so even two
 * processes sharing the file cannot both rotate the same token.
 *
 * @example
 * const store = openSqliteStore('data/demo.db')
 */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: DATA_DIR_MODE })
    // SQLite creates -wal and -shm with the database file's mode: create the file owner-only first,
    // and tighten files an older version left at 0644.
    closeSync(openSync(path, 'a', DATA_FILE_MODE))
    restrictFiles(path, `${path}-wal`, `${path}-shm`)
  }
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  // Another process holding the write lock makes us wait instead of failing at once.
  db.pragma('busy_timeout = 5000')
  db.exec(SCHEMA)
  upgradeSchema(db)
  // Checkpoints in a worker thread, not inside whichever commit crosses 1,000 WAL pages (sqlite-checkpointer.ts).
  let stopCheckpointer: (() => Promise<void>) | undefined
  if (path !== ':memory:') {
    db.pragma('wal_autocheckpoint = 0')
    stopCheckpointer = startCheckpointer(path, createRequire(import.meta.url).resolve('better-sqlite3'), () => {
      if (!closed) db.pragma('wal_autocheckpoint = 1000')
    })
  }

  const q = {
    userByName: db.prepare<[string], UserRow>('SELECT id, username, password_hash FROM users WHERE username = ?'),
    userById: db.prepare<[string], UserRow>('SELECT id, username, password_hash FROM users WHERE id = ?'),
    insertUser: db.prepare('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)'),
    updateUser: db.prepare('UPDATE users SET password_hash = ? WHERE id = ?'),
    insertFamily: db.prepare('INSERT INTO token_families (id, user_id, created_at, expires_at, dpop_jkt) VALUES (?, ?, ?, ?, ?)'),
    insertToken: db.prepare(
      `INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, status, created_at, expires_at)
       VALUES (?, ?, ?, 'active', ?, ?)`,
    ),
    tokenWithFamily: db.prepare<[string], TokenJoinRow>(
      `SELECT t.token_hash, t.family_id, t.status, t.expires_at, t.rotated_at, t.child_hash,
              f.user_id, f.expires_at AS family_expires_at, f.revoked_at, f.dpop_jkt
         FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id
        WHERE t.token_hash = ?`,
    ),
    child: db.prepare<[string], { token_hash: string; status: 'active' | 'rotated'; expires_at: number }>(
      'SELECT token_hash, status, expires_at FROM refresh_tokens WHERE token_hash = ?',
    ),
    // Compare-and-set: only an active token can become rotated, and only once.
    markRotated: db.prepare(
      "UPDATE refresh_tokens SET status = 'rotated', rotated_at = ?, child_hash = ? WHERE token_hash = ? AND status = 'active'",
    ),
    revokeFamily: db.prepare(
      'UPDATE token_families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL',
    ),
    jktOfToken: db.prepare<[string], { dpop_jkt: string | null }>(
      'SELECT f.dpop_jkt FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = ?',
    ),
    familyOfToken: db.prepare<[string], { family_id: string }>(
      'SELECT family_id FROM refresh_tokens WHERE token_hash = ?',
    ),
    session: db.prepare<[string], SessionRow>(
      `SELECT f.id, f.user_id, u.username, f.expires_at, f.revoked_at
         FROM token_families f JOIN users u ON u.id = f.user_id WHERE f.id = ?`,
    ),
    purge: db.prepare('DELETE FROM token_families WHERE expires_at <= ?'),
    lastRevocation: db.prepare<[], { seq: number }>('SELECT coalesce(max(seq), 0) AS seq FROM revocations'),
    firstRevocation: db.prepare<[], { seq: number }>('SELECT coalesce(min(seq), 0) AS seq FROM revocations'),
    revocationsAfter: db.prepare<[number], { seq: number; family_id: string }>(
      'SELECT seq, family_id FROM revocations WHERE seq > ? ORDER BY seq LIMIT 1000',
    ),
    // Keep the last 10,000 revocations: a process further behind than that starts afresh (see poll()).
    pruneRevocations: db.prepare('DELETE FROM revocations WHERE seq <= (SELECT max(seq) FROM revocations) - 10000'),
    purgeAttempts: db.prepare('DELETE FROM login_attempts WHERE window_ends_at <= ?'),
    purgeDpopProofs: db.prepare('DELETE FROM dpop_proofs WHERE expires_at <= ?'),
    // A fresh key, or one whose record has expired, is (re)recorded: one changed row. A live one changes nothing.
    recordDpopProof: db.prepare(
      `INSERT INTO dpop_proofs (key, expires_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= ?`,
    ),
    attempt: db.prepare<[string], { count: number; window_ends_at: number }>('SELECT count, window_ends_at FROM login_attempts WHERE key = ?'),
    takeAttempt: db.prepare(
      `INSERT INTO login_attempts (key, count, window_ends_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET count = excluded.count, window_ends_at = excluded.window_ends_at`,
    ),
    releaseAttempt: db.prepare('UPDATE login_attempts SET count = count - 1 WHERE key = ? AND window_ends_at = ? AND count > 0'),
    ping: db.prepare('SELECT 1'),
    insertEvent: db.prepare(
      'INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    eventsOfUser: db.prepare<[string, number, number], AuditRow>('SELECT * FROM audit_events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
    eventsOfFamily: db.prepare<[string, string, number, number], AuditRow>(
      'SELECT * FROM audit_events WHERE user_id = ? AND family_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
    ),
    // The first `limit` events in insertion order, those of them before the cut.
    purgeEvents: db.prepare('DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events ORDER BY id LIMIT ?) AND at < ?'),
    // Reuse only (rare): how many rotations led to the presented token (a walk up parent_hash by
    // primary key), and the family's newest generation (its token count, through the family index).
    generation: db.prepare<[string], { n: number }>(
      `WITH RECURSIVE up(hash, n) AS (
         SELECT parent_hash, 0 FROM refresh_tokens WHERE token_hash = ?
         UNION ALL SELECT t.parent_hash, up.n + 1 FROM refresh_tokens t JOIN up ON t.token_hash = up.hash
       ) SELECT max(n) AS n FROM up`,
    ),
    familySize: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM refresh_tokens WHERE family_id = ?'),
  }

  function audit(context: AuditContext | undefined, at: number, type: AuditEventType, familyId: string | null, userId: string | null, detail: AuditDetail | null = null): void {
    if (!context) return
    q.insertEvent.run(at, type, familyId, userId, context.address, context.userAgent, context.instance, detail === null ? null : JSON.stringify(detail))
  }

  const upsertUser = db.transaction((username: string, passwordHash: string): UserRecord => {
    const existing = q.userByName.get(username)
    if (existing) {
      q.updateUser.run(passwordHash, existing.id)
      return { id: existing.id, username, passwordHash }
    }
    const id = randomUUID()
    q.insertUser.run(id, username, passwordHash, Date.now())
    return { id, username, passwordHash }
  })

  const createSession = db.transaction((s: NewSession) => {
    q.insertFamily.run(s.familyId, s.userId, s.now, s.familyExpiresAt, s.dpopJkt ?? null)
    q.insertToken.run(s.tokenHash, s.familyId, null, s.now, Math.min(s.tokenExpiresAt, s.familyExpiresAt))
    audit(s.audit, s.now, 'login', s.familyId, s.userId)
  })

  /** Logout: the family revoked and its event written together. Whether a family was found, and whether this call revoked it. */
  const revokeByToken = db.transaction((tokenHash: string, now: number, reason: string, context: AuditContext | undefined) => {
    const row = q.familyOfToken.get(tokenHash)
    if (!row) return { found: false, revoked: false }
    const revoked = q.revokeFamily.run(now, reason, row.family_id).changes > 0
    if (revoked && context) audit(context, now, 'logout', row.family_id, q.session.get(row.family_id)?.user_id ?? null)
    return { found: true, revoked, familyId: row.family_id }
  })

  /** One rotation; run inside rotateBatch, so as a savepoint: its failure undoes it alone. */
  const rotateOne = db.transaction((input: RotateInput): RotateResult => {
    const row = q.tokenWithFamily.get(input.tokenHash)
    if (!row) return { kind: 'unknown' }
    if (row.dpop_jkt !== null && row.dpop_jkt !== (input.dpopJkt ?? null)) {
      audit(input.audit, input.now, 'refresh_wrong_key', row.family_id, row.user_id)
      return { kind: 'wrong_key', familyId: row.family_id }
    }
    if (row.revoked_at !== null) {
      audit(input.audit, input.now, 'refresh_after_revocation', row.family_id, row.user_id)
      return { kind: 'revoked', familyId: row.family_id }
    }
    if (input.now >= row.family_expires_at) return { kind: 'expired' }
    if (row.status === 'rotated') {
      const child = row.child_hash === null ? undefined : q.child.get(row.child_hash)
      const sinceRotation = input.now - (row.rotated_at ?? 0)
      // A retry of the very rotation whose child nobody has used yet: the same answer again.
      if (
        input.graceMs > 0 &&
        sinceRotation < input.graceMs &&
        child?.token_hash === input.newTokenHash &&
        child.status === 'active' &&
        input.now < child.expires_at
      ) {
        audit(input.audit, input.now, 'rotation_replayed', row.family_id, row.user_id)
        return { kind: 'rotated', replayed: true, userId: row.user_id, familyId: row.family_id, tokenExpiresAt: child.expires_at, familyExpiresAt: row.family_expires_at }
      }
      if (input.audit) {
        const detail = { replayedGeneration: q.generation.get(input.tokenHash)!.n, latestGeneration: q.familySize.get(row.family_id)!.n - 1 }
        audit(input.audit, input.now, 'reuse_detected', row.family_id, row.user_id, detail)
      }
      q.revokeFamily.run(input.now, 'reuse', row.family_id)
      return { kind: 'reused', familyId: row.family_id }
    }
    if (input.now >= row.expires_at) return { kind: 'expired' }
    const changed = q.markRotated.run(input.now, input.newTokenHash, row.token_hash).changes
    // Cannot happen inside BEGIN IMMEDIATE; if it ever does, treat it as the reuse it would be.
    if (changed !== 1) {
      q.revokeFamily.run(input.now, 'reuse', row.family_id)
      return { kind: 'reused', familyId: row.family_id }
    }
    const tokenExpiresAt = Math.min(input.now + input.idleTtlMs, row.family_expires_at)
    q.insertToken.run(input.newTokenHash, row.family_id, row.token_hash, input.now, tokenExpiresAt)
    audit(input.audit, input.now, 'rotated', row.family_id, row.user_id)
    return {
      kind: 'rotated',
      replayed: false,
      userId: row.user_id,
      familyId: row.family_id,
      tokenExpiresAt,
      familyExpiresAt: row.family_expires_at,
    }
  })

  const reserveAttempts = db.transaction((budgets: readonly AttemptBudget[], now: number): AttemptReservation => {
    const rows = budgets.map((budget) => {
      const row = q.attempt.get(budget.key)
      return row && row.window_ends_at > now ? row : undefined
    })
    for (const [i, budget] of budgets.entries()) {
      const row = rows[i]
      if (row && row.count >= budget.max) return { kind: 'refused', key: budget.key, retryAfterMs: row.window_ends_at - now }
    }
    const slots = budgets.map((budget, i) => {
      const row = rows[i]
      const windowEndsAt = row ? row.window_ends_at : now + budget.windowMs
      q.takeAttempt.run(budget.key, (row?.count ?? 0) + 1, windowEndsAt)
      return { key: budget.key, windowEndsAt }
    })
    return { kind: 'reserved', slots }
  })

  /**
   * Group commit: the rotations requested in one turn of the event loop run in
   * one BEGIN IMMEDIATE transaction, one after the other (each sees the ones
   * before it, so two with the same token still make one rotation), and are
   * answered after its COMMIT. Committing is most of a rotation's cost here (a
   * WAL frame per page touched); ten rotations in a batch cost about half as
   * much each as ten separate transactions.
   */
  const rotateBatch = db.transaction((batch: Array<{ input: RotateInput; result?: RotateResult; error?: unknown }>) => {
    for (const item of batch) {
      try {
        item.result = rotateOne(item.input)
      } catch (err) {
        item.error = err
      }
    }
  })
  let queued: Array<{ input: RotateInput; result?: RotateResult; error?: unknown; resolve: (r: RotateResult) => void; reject: (e: unknown) => void }> = []
  function flushRotations(): void {
    const batch = queued
    queued = []
    try {
      // IMMEDIATE takes the write lock before the first read: no other connection
      // (another process on this file) can rotate the same token between our SELECT and UPDATE.
      rotateBatch.immediate(batch)
    } catch (err) {
      for (const item of batch) item.reject(err)
      return
    }
    for (const item of batch) {
      if (item.error !== undefined) item.reject(item.error)
      else {
        if (item.result!.kind === 'reused') emit((item.result as { familyId: string }).familyId)
        item.resolve(item.result!)
      }
    }
  }

  let closed = false

  // Revocations: listeners of this process hear of them at once; those made by other
  // processes on the same file are read from the revocations table every POLL_MS.
  const listeners = new Set<RevocationListener>()
  let lastSeen = 0
  let poller: NodeJS.Timeout | undefined
  const emit = (familyId: string): void => {
    for (const listener of listeners) listener.revoked(familyId)
  }
  function poll(): void {
    if (closed) return
    // Rows we have not seen were pruned: some revocations are unknown, so every listener starts afresh.
    if (q.firstRevocation.get()!.seq > lastSeen + 1 && lastSeen > 0) {
      for (const listener of listeners) listener.live(false)
      for (const listener of listeners) listener.live(true)
    }
    for (const row of q.revocationsAfter.all(lastSeen)) {
      emit(row.family_id)
      lastSeen = row.seq
    }
  }

  return {
    async findUserByUsername(username) {
      return toUser(q.userByName.get(username))
    },
    async findUserById(id) {
      return toUser(q.userById.get(id))
    },
    async upsertUser({ username, passwordHash }) {
      return upsertUser.immediate(username, passwordHash)
    },
    async createSession(session) {
      createSession.immediate(session)
    },
    rotate(input) {
      if (closed) return Promise.reject(new Error('The database connection is not open'))
      return new Promise<RotateResult>((resolve, reject) => {
        if (queued.length === 0) setImmediate(flushRotations)
        queued.push({ input, resolve, reject })
      })
    },
    async reserveAttempts(budgets, now) {
      // IMMEDIATE: the write lock is taken before the first read, so concurrent
      // logins (in this process or another on the same file) count one at a time.
      return reserveAttempts.immediate(budgets, now)
    },
    async releaseAttempts(slots) {
      for (const slot of slots) q.releaseAttempt.run(slot.key, slot.windowEndsAt)
    },
    async familyIdOfToken(tokenHash) {
      return q.familyOfToken.get(tokenHash)?.family_id
    },
    async dpopJktOfToken(tokenHash) {
      return q.jktOfToken.get(tokenHash)?.dpop_jkt
    },
    async revokeFamilyByToken(tokenHash, now, reason, context) {
      const result = revokeByToken.immediate(tokenHash, now, reason, context)
      if (result.revoked) emit(result.familyId!)
      return result.found
    },
    async appendAuditEvent(event) {
      audit(event, event.at, event.type, event.familyId, event.userId, event.detail)
    },
    async listAuditEvents(query) {
      const before = query.before ?? Number.MAX_SAFE_INTEGER
      const rows =
        query.familyId === undefined ? q.eventsOfUser.all(query.userId, before, query.limit) : q.eventsOfFamily.all(query.userId, query.familyId, before, query.limit)
      return rows.map(toAuditEvent)
    },
    async purgeAuditEvents(before, limit) {
      return q.purgeEvents.run(limit, before).changes
    },
    async findSession(familyId) {
      const row = q.session.get(familyId)
      return row && { familyId: row.id, userId: row.user_id, username: row.username, expiresAt: row.expires_at, revokedAt: row.revoked_at }
    },
    async purgeExpired(now) {
      q.purgeAttempts.run(now)
      q.purgeDpopProofs.run(now)
      q.pruneRevocations.run()
      // Families past their absolute end are deleted, not revoked: tokens of them fail on time alone.
      return q.purge.run(now).changes
    },
    async recordDpopProof(key, expiresAt, now) {
      return q.recordDpopProof.run(key, expiresAt, now).changes === 1
    },
    async watchRevocations(listener) {
      if (listeners.size === 0) {
        lastSeen = q.lastRevocation.get()!.seq
        poller = setInterval(poll, POLL_MS)
        poller.unref()
      }
      listeners.add(listener)
      listener.live(true)
      return async () => {
        listeners.delete(listener)
        if (listeners.size === 0) clearInterval(poller)
      }
    },
    async ping() {
      q.ping.get()
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(poller)
      await stopCheckpointer?.()
      db.close()
    },
  }
}
