import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { openPostgresStore } from '../src/store/postgres-store.ts'
import type { Store } from '../src/store/types.ts'
import { isSessionActive } from './helpers/stores.ts'
import { postgresRequired, postgresUnavailableReason, printSkipNotice, startPostgres, type TestPostgres } from './helpers/postgres.ts'

const T0 = Date.UTC(2030, 0, 1)
const IDLE = 60_000
const ABSOLUTE = 10 * 60_000

const dir = mkdtempSync(join(tmpdir(), 'demo-store-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileCounter = 0

// PostgreSQL: one real cluster for this file, started on first use; each test gets emptied tables.
let postgres: Promise<{ server: TestPostgres; url: string }> | undefined
afterAll(async () => {
  if (postgres) await (await postgres).server.destroy()
})
async function openPostgresForTest(): Promise<Store> {
  postgres ??= startPostgres().then(async (server) => ({ server, url: await server.createDatabase('contract') }))
  const { url } = await postgres
  const store = await openPostgresStore({ connectionString: url, poolMax: 5 })
  await store.pool.query('TRUNCATE users, token_families, refresh_tokens, rate_limits, login_attempts')
  return store
}

const implementations: Array<[string, () => Store | Promise<Store>]> = [
  ['memory', () => createMemoryStore()],
  ['sqlite :memory:', () => openSqliteStore(':memory:')],
  ['sqlite file', () => openSqliteStore(join(dir, `contract-${++fileCounter}.db`))],
  ...(postgresUnavailableReason ? [] : [['postgres', openPostgresForTest] as [string, () => Promise<Store>]]),
]

describe('PostgreSQL for the store contract', () => {
  it.runIf(postgresUnavailableReason !== null)('is installed (required under CI=true; skipped elsewhere)', () => {
    printSkipNotice('Store contract on PostgreSQL')
    if (postgresRequired) throw new Error(`CI=true but ${postgresUnavailableReason}`)
  })
})

describe.each(implementations)('Store contract: %s', (_name, open) => {
  let store: Store
  let userId: string

  beforeEach(async () => {
    store = await open()
    userId = (await store.upsertUser({ username: 'alice', passwordHash: 'h1' })).id
    await store.createSession({
      familyId: 'fam',
      userId,
      tokenHash: 't0',
      now: T0,
      tokenExpiresAt: T0 + IDLE,
      familyExpiresAt: T0 + ABSOLUTE,
    })
  })
  afterEach(() => store.close())

  const rotate = (tokenHash: string, newTokenHash: string, now: number, graceMs = 0) =>
    store.rotate({ tokenHash, newTokenHash, now, idleTtlMs: IDLE, graceMs })

  it('finds users by name and id; upsert keeps the id and replaces the hash', async () => {
    expect(await store.findUserByUsername('alice')).toEqual({ id: userId, username: 'alice', passwordHash: 'h1' })
    expect((await store.upsertUser({ username: 'alice', passwordHash: 'h2' })).id).toBe(userId)
    expect((await store.findUserById(userId))?.passwordHash).toBe('h2')
    expect(await store.findUserByUsername('ALICE')).toBeUndefined()
    expect(await store.findUserByUsername("' OR 1=1 --")).toBeUndefined()
  })

  it('rotates an active token once, then treats it as reuse and revokes the family', async () => {
    const first = await rotate('t0', 't1', T0 + 1000)
    expect(first).toMatchObject({ kind: 'rotated', replayed: false, userId, familyId: 'fam', tokenExpiresAt: T0 + 1000 + IDLE })
    expect(await isSessionActive(store, 'fam', T0 + 1000)).toBe(true)

    expect(await rotate('t0', 'x', T0 + 2000)).toEqual({ kind: 'reused', familyId: 'fam' })
    expect(await isSessionActive(store, 'fam', T0 + 2000)).toBe(false)
    // The newest child dies with the family.
    expect(await rotate('t1', 't2', T0 + 3000)).toEqual({ kind: 'revoked', familyId: 'fam' })
  })

  it('answers unknown for a hash it never saw', async () => {
    expect(await rotate('nope', 'x', T0)).toEqual({ kind: 'unknown' })
  })

  it('expires a token after its idle TTL', async () => {
    expect(await rotate('t0', 't1', T0 + IDLE)).toEqual({ kind: 'expired' })
    expect(await rotate('t0', 't1', T0 + IDLE - 1)).toMatchObject({ kind: 'rotated' })
  })

  it('never extends the family: rotation caps the new idle expiry at the absolute end', async () => {
    let current = 't0'
    let now = T0
    for (let i = 1; now + 50_000 < T0 + ABSOLUTE; i++) {
      now += 50_000
      const result = await rotate(current, `t${i}`, now)
      expect(result.kind).toBe('rotated')
      if (result.kind === 'rotated') expect(result.tokenExpiresAt).toBeLessThanOrEqual(T0 + ABSOLUTE)
      current = `t${i}`
    }
    expect(await rotate(current, 'late', T0 + ABSOLUTE)).toEqual({ kind: 'expired' })
    expect(await isSessionActive(store, 'fam', T0 + ABSOLUTE)).toBe(false)
  })

  it('retry window: the same rotation again, its child unused → the same child, nothing written', async () => {
    const first = await rotate('t0', 't1', T0)
    expect(first).toMatchObject({ kind: 'rotated', replayed: false })
    const again = await rotate('t0', 't1', T0 + 500, 2000)
    expect(again).toEqual({ kind: 'rotated', replayed: true, userId, familyId: 'fam', tokenExpiresAt: T0 + IDLE, familyExpiresAt: T0 + ABSOLUTE })
    expect(await isSessionActive(store, 'fam', T0 + 500)).toBe(true)
    // Still one child, still active: it rotates normally, after which the parent is reuse.
    expect(await rotate('t1', 't2', T0 + 700)).toMatchObject({ kind: 'rotated', replayed: false })
    expect(await rotate('t0', 't1', T0 + 800, 2000)).toEqual({ kind: 'reused', familyId: 'fam' })
  })

  it('retry window: another child than the one committed is reuse (only the same rotation is replayed)', async () => {
    await rotate('t0', 't1', T0)
    expect(await rotate('t0', 'other', T0 + 500, 2000)).toEqual({ kind: 'reused', familyId: 'fam' })
  })

  it('retry window: a grandparent inside the window is reuse', async () => {
    await rotate('t0', 't1', T0)
    await rotate('t1', 't2', T0 + 10)
    expect(await rotate('t0', 't1', T0 + 20, 5000)).toEqual({ kind: 'reused', familyId: 'fam' })
    expect(await isSessionActive(store, 'fam', T0 + 20)).toBe(false)
  })

  it('retry window: the parent after the window is reuse', async () => {
    await rotate('t0', 't1', T0)
    expect(await rotate('t0', 't1', T0 + 2000, 2000)).toEqual({ kind: 'reused', familyId: 'fam' })
  })

  it('five concurrent rotations of one token, window off: exactly one wins, the rest is reuse', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => rotate('t0', 'c', T0 + 1)))
    expect(results.filter((r) => r.kind === 'rotated')).toHaveLength(1)
    // The losers presented a rotated token: reuse, and the family is gone.
    expect(results.filter((r) => r.kind === 'reused' || r.kind === 'revoked')).toHaveLength(4)
    expect(await isSessionActive(store, 'fam', T0 + 1)).toBe(false)
  })

  it('five concurrent rotations of one token, within the window: one rotation, four replays of it', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => rotate('t0', 'c', T0 + 1, 2000)))
    expect(results.map((r) => r.kind)).toEqual(['rotated', 'rotated', 'rotated', 'rotated', 'rotated'])
    expect(results.filter((r) => r.kind === 'rotated' && !r.replayed)).toHaveLength(1)
    expect(await isSessionActive(store, 'fam', T0 + 1)).toBe(true)
  })

  it('login attempts: one slot from every budget or from none; refused with the time left; released slots come back', async () => {
    const a = { key: 'a', max: 2, windowMs: 1000 }
    const b = { key: 'b', max: 3, windowMs: 5000 }
    const first = await store.reserveAttempts([a, b], T0)
    expect(first).toEqual({ kind: 'reserved', slots: [{ key: 'a', windowEndsAt: T0 + 1000 }, { key: 'b', windowEndsAt: T0 + 5000 }] })
    expect((await store.reserveAttempts([a, b], T0 + 100)).kind).toBe('reserved')
    // a is spent: nothing is taken from b either.
    expect(await store.reserveAttempts([a, b], T0 + 200)).toEqual({ kind: 'refused', key: 'a', retryAfterMs: 800 })
    expect(await store.reserveAttempts([b], T0 + 300)).toMatchObject({ kind: 'reserved' })
    expect(await store.reserveAttempts([b], T0 + 300)).toEqual({ kind: 'refused', key: 'b', retryAfterMs: 4700 })
    // A success gives its slots back.
    if (first.kind === 'reserved') await store.releaseAttempts(first.slots)
    expect(await store.reserveAttempts([a, b], T0 + 400)).toMatchObject({ kind: 'reserved' })
    // A new window starts afresh, and a slot of the old window given back now is dropped.
    const fresh = await store.reserveAttempts([a], T0 + 1000)
    expect(fresh).toEqual({ kind: 'reserved', slots: [{ key: 'a', windowEndsAt: T0 + 2000 }] })
    if (first.kind === 'reserved') await store.releaseAttempts(first.slots)
    expect(await store.reserveAttempts([a], T0 + 1001)).toMatchObject({ kind: 'reserved' })
    expect(await store.reserveAttempts([a], T0 + 1002)).toMatchObject({ kind: 'refused' })
  })

  it('login attempts: 40 concurrent reservations on a budget of 7 → exactly 7 succeed', async () => {
    const budget = [{ key: 'account', max: 7, windowMs: 60_000 }, { key: 'address', max: 100, windowMs: 60_000 }]
    const results = await Promise.all(Array.from({ length: 40 }, () => store.reserveAttempts(budget, T0)))
    expect(results.filter((r) => r.kind === 'reserved')).toHaveLength(7)
  })

  it('purges attempt counts of ended windows', async () => {
    await store.reserveAttempts([{ key: 'k', max: 1, windowMs: 1000 }], T0)
    expect((await store.reserveAttempts([{ key: 'k', max: 1, windowMs: 1000 }], T0 + 10)).kind).toBe('refused')
    await store.purgeExpired(T0 + 1000)
    expect((await store.reserveAttempts([{ key: 'k', max: 1, windowMs: 1000 }], T0 + 1000)).kind).toBe('reserved')
  })

  it('finds a session with its user, revoked or not', async () => {
    expect(await store.findSession('fam')).toEqual({ familyId: 'fam', userId, username: 'alice', expiresAt: T0 + ABSOLUTE, revokedAt: null })
    await store.revokeFamilyByToken('t0', T0 + 5, 'logout')
    expect(await store.findSession('fam')).toMatchObject({ revokedAt: T0 + 5 })
    expect(await store.findSession('nope')).toBeUndefined()
  })

  it('finds the family of a token of any status', async () => {
    await rotate('t0', 't1', T0)
    expect(await store.familyIdOfToken('t0')).toBe('fam')
    expect(await store.familyIdOfToken('t1')).toBe('fam')
    expect(await store.familyIdOfToken('nope')).toBeUndefined()
  })

  it('revokes a family by any of its tokens; unknown tokens report false', async () => {
    await rotate('t0', 't1', T0)
    expect(await store.revokeFamilyByToken('t0', T0 + 1, 'logout')).toBe(true)
    expect(await isSessionActive(store, 'fam', T0 + 1)).toBe(false)
    expect(await store.revokeFamilyByToken('t0', T0 + 2, 'logout')).toBe(true)
    expect(await store.revokeFamilyByToken('nope', T0 + 2, 'logout')).toBe(false)
    expect(await rotate('t1', 't2', T0 + 3)).toEqual({ kind: 'revoked', familyId: 'fam' })
  })

  it('purges families past their absolute lifetime, with their tokens', async () => {
    expect(await store.purgeExpired(T0 + ABSOLUTE - 1)).toBe(0)
    expect(await store.purgeExpired(T0 + ABSOLUTE)).toBe(1)
    expect(await rotate('t0', 't1', T0 + 1)).toEqual({ kind: 'unknown' })
  })

  it('pings while open and rejects once closed', async () => {
    await expect(store.ping()).resolves.toBeUndefined()
    await store.close()
    await expect(store.ping()).rejects.toThrow()
  })
})

describe('SqliteStore specifics', () => {
  it('uses WAL and refuses a second active token in a family at the database level', async () => {
    const path = join(dir, 'specifics.db')
    const store = openSqliteStore(path)
    const { id } = await store.upsertUser({ username: 'bob', passwordHash: 'h' })
    await store.createSession({ familyId: 'f', userId: id, tokenHash: 'a', now: T0, tokenExpiresAt: T0 + IDLE, familyExpiresAt: T0 + ABSOLUTE })
    const raw = new Database(path)
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(() =>
        raw
          .prepare("INSERT INTO refresh_tokens (token_hash, family_id, status, created_at, expires_at) VALUES ('b', 'f', 'active', 0, 0)")
          .run(),
      ).toThrow(/UNIQUE/)
      // Only hashes are stored: the row holds exactly what the caller passed as the hash.
      expect(raw.prepare('SELECT token_hash FROM refresh_tokens').all()).toEqual([{ token_hash: 'a' }])
    } finally {
      raw.close()
      await store.close()
    }
  })

  it('upgrades a database of an earlier version: child_hash filled from parent_hash, the parent_hash index dropped', async () => {
    const path = join(dir, 'old-schema.db')
    const old = new Database(path)
    old.exec(`
      CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE token_families (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, revoked_at INTEGER, revoked_reason TEXT);
      CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
        parent_hash TEXT, status TEXT NOT NULL CHECK (status IN ('active', 'rotated')), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER);
      CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
      INSERT INTO users VALUES ('u', 'old', 'h', 0);
      INSERT INTO token_families VALUES ('f', 'u', ${T0}, ${T0 + ABSOLUTE}, NULL, NULL);
      INSERT INTO refresh_tokens VALUES ('p', 'f', NULL, 'rotated', ${T0}, ${T0 + IDLE}, ${T0 + 10});
      INSERT INTO refresh_tokens VALUES ('c', 'f', 'p', 'active', ${T0 + 10}, ${T0 + IDLE}, NULL);
    `)
    old.close()
    const store = openSqliteStore(path)
    try {
      // The rotation recorded before the upgrade is still replayed within the window, and is reuse after it.
      expect(await store.rotate({ tokenHash: 'p', newTokenHash: 'c', now: T0 + 20, idleTtlMs: IDLE, graceMs: 1000 })).toMatchObject({ kind: 'rotated', replayed: true })
      expect(await store.rotate({ tokenHash: 'c', newTokenHash: 'd', now: T0 + 30, idleTtlMs: IDLE, graceMs: 0 })).toMatchObject({ kind: 'rotated', replayed: false })
      const raw = new Database(path, { readonly: true })
      try {
        expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'refresh_tokens_parent'").all()).toEqual([])
        expect(raw.prepare('SELECT token_hash, child_hash FROM refresh_tokens ORDER BY created_at').all()).toEqual([
          { token_hash: 'p', child_hash: 'c' },
          { token_hash: 'c', child_hash: 'd' },
          { token_hash: 'd', child_hash: null },
        ])
      } finally {
        raw.close()
      }
    } finally {
      await store.close()
    }
  })

  it('checkpoints its WAL in the background (the automatic checkpoint, inside a commit, is off)', async () => {
    const path = join(dir, 'checkpoint.db')
    const store = openSqliteStore(path)
    try {
      const raw = new Database(path, { readonly: true })
      expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(1000) // a new connection's default...
      raw.close()
      const { id } = await store.upsertUser({ username: 'w', passwordHash: 'h' })
      const before = statSync(path).size
      for (let i = 0; i < 200; i++) {
        await store.createSession({ familyId: `f${i}`, userId: id, tokenHash: `t${i}`.padEnd(64, 'x'), now: T0, tokenExpiresAt: T0 + IDLE, familyExpiresAt: T0 + ABSOLUTE })
      }
      // ...but the store's own never checkpoints in a commit: everything is in the WAL until the worker copies it.
      expect(statSync(path).size).toBe(before)
      const deadline = performance.now() + 10_000
      while (statSync(path).size === before && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(statSync(path).size).toBeGreaterThan(before)
    } finally {
      await store.close()
    }
  })

  it('two connections to one file cannot both rotate the same token', async () => {
    const path = join(dir, 'two-connections.db')
    const a = openSqliteStore(path)
    const b = openSqliteStore(path)
    try {
      const { id } = await a.upsertUser({ username: 'carol', passwordHash: 'h' })
      await a.createSession({ familyId: 'f', userId: id, tokenHash: 't', now: T0, tokenExpiresAt: T0 + IDLE, familyExpiresAt: T0 + ABSOLUTE })
      const input = { tokenHash: 't', now: T0 + 1, idleTtlMs: IDLE, graceMs: 0 }
      const results = await Promise.all([a.rotate({ ...input, newTokenHash: 'n1' }), b.rotate({ ...input, newTokenHash: 'n2' })])
      expect(results.map((r) => r.kind).sort()).toEqual(['reused', 'rotated'])
    } finally {
      await a.close()
      await b.close()
    }
  })
})
