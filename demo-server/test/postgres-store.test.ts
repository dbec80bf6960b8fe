/**
 * PostgreSQL specifics, on a real server (initdb + pg_ctl on a loopback port):
 * migrations, database-level guarantees, rotation races across pools, a
 * connection lost mid-rotation, the server going away (503, then recovery),
 * and rate-limit counters shared by two apps. The Store contract itself runs
 * against PostgreSQL in store.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPostgresStore, type PostgresStore } from '../src/store/postgres-store.ts'
import { MIGRATIONS } from '../src/store/postgres-migrations.ts'
import { createPostgresRateLimitStore } from '../src/store/postgres-rate-limit.ts'
import { StoreUnavailableError } from '../src/store/types.ts'
import { DEMO, build } from './helpers/build.ts'
import { isSessionActive } from './helpers/stores.ts'
import { postgresRequired, postgresUnavailableReason, printSkipNotice, startPostgres, type TestPostgres } from './helpers/postgres.ts'

const T0 = Date.UTC(2030, 0, 1)
const IDLE = 60_000
const ABSOLUTE = 10 * 60_000

describe.runIf(postgresUnavailableReason !== null)('PostgreSQL store (not installed)', () => {
  it('is required under CI=true; skipped elsewhere', () => {
    printSkipNotice('PostgreSQL store tests')
    if (postgresRequired) throw new Error(`CI=true but ${postgresUnavailableReason}`)
  })
})

describe.skipIf(postgresUnavailableReason !== null)('PostgreSQL store', { timeout: 30_000 }, () => {
  let server: TestPostgres
  let dbCounter = 0
  const opened: PostgresStore[] = []

  beforeAll(async () => {
    server = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()))
    await server?.destroy()
  })

  async function freshDatabase(): Promise<string> {
    return server.createDatabase(`t${++dbCounter}`)
  }
  async function open(url: string, extra: Partial<Parameters<typeof openPostgresStore>[0]> = {}): Promise<PostgresStore> {
    const store = await openPostgresStore({ connectionString: url, poolMax: 5, ...extra })
    opened.push(store)
    return store
  }
  async function seedSession(store: PostgresStore, tokenHash = 't0', familyId = 'fam'): Promise<string> {
    const { id } = await store.upsertUser({ username: `u-${familyId}`, passwordHash: 'h' })
    await store.createSession({ familyId, userId: id, tokenHash, now: T0, tokenExpiresAt: T0 + IDLE, familyExpiresAt: T0 + ABSOLUTE })
    return id
  }
  const rotateInput = (tokenHash: string, newTokenHash: string, now = T0 + 1, graceMs = 0) => ({
    tokenHash,
    newTokenHash,
    now,
    idleTtlMs: IDLE,
    graceMs,
  })

  describe('migrations', () => {
    it('three instances opening a new database at once migrate it exactly once; reopening applies nothing', async () => {
      const url = await freshDatabase()
      const stores = await Promise.all([open(url), open(url), open(url)])
      const applied = stores.map((s) => s.migrationsApplied)
      expect(applied.filter((a) => a.length > 0)).toEqual([MIGRATIONS.map((m) => m.version)])
      const rows = await server.sql<{ version: number }>(`t${dbCounter}`, 'SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
      expect((await open(url)).migrationsApplied).toEqual([])
    })

    it('refuses a database migrated by a newer server', async () => {
      const url = await freshDatabase()
      await open(url)
      await server.sql(`t${dbCounter}`, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
      await expect(openPostgresStore({ connectionString: url })).rejects.toThrow(/version 999, newer than this server knows/)
    })

    it('has indexes on the token hash, the family, and one active token per family; the child is found by primary key', async () => {
      await open(await freshDatabase())
      const rows = await server.sql<{ indexname: string; indexdef: string }>(
        `t${dbCounter}`,
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'refresh_tokens' ORDER BY indexname",
      )
      const byName = Object.fromEntries(rows.map((r) => [r.indexname, r.indexdef]))
      expect(byName.refresh_tokens_pkey).toMatch(/UNIQUE INDEX .* \(token_hash\)/)
      expect(byName.refresh_tokens_family).toMatch(/\(family_id\)/)
      expect(byName.refresh_tokens_parent).toBeUndefined()
      expect(byName.refresh_tokens_one_active).toMatch(/UNIQUE INDEX .* \(family_id\) WHERE \(status = 'active'::text\)/)
    })
  })

  describe('database-level guarantees', () => {
    it('refuses a second active token in a family, and stores exactly the hashes it is given', async () => {
      const store = await open(await freshDatabase())
      await seedSession(store, 'hash-a', 'f')
      await expect(
        store.pool.query("INSERT INTO refresh_tokens (token_hash, family_id, status, created_at, expires_at) VALUES ('b', 'f', 'active', 0, 0)"),
      ).rejects.toThrow(/refresh_tokens_one_active/)
      expect((await store.pool.query('SELECT token_hash FROM refresh_tokens')).rows).toEqual([{ token_hash: 'hash-a' }])
    })
  })

  describe('rotation races across separate pools (as separate instances would have)', () => {
    it('50 concurrent rotations of one token over three pools: exactly one wins, one child, family revoked', async () => {
      const url = await freshDatabase()
      const pools = await Promise.all([open(url, { poolMax: 10 }), open(url, { poolMax: 10 }), open(url, { poolMax: 10 })])
      await seedSession(pools[0]!)
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pools[i % 3]!.rotate(rotateInput('t0', `c${i}`))))
      expect(results.filter((r) => r.kind === 'rotated')).toHaveLength(1)
      expect(results.filter((r) => r.kind === 'reused' || r.kind === 'revoked')).toHaveLength(49)
      const children = await pools[1]!.pool.query("SELECT token_hash FROM refresh_tokens WHERE parent_hash = 't0'")
      expect(children.rowCount).toBe(1)
      expect(await isSessionActive(pools[2]!, 'fam', T0 + 2)).toBe(false)
      const family = await pools[0]!.pool.query("SELECT revoked_reason FROM token_families WHERE id = 'fam'")
      expect(family.rows).toEqual([{ revoked_reason: 'reuse' }])
    })

    it('50 concurrent rotations of one token over three pools within the retry window: one rotation, 49 replays of it, family live', async () => {
      const url = await freshDatabase()
      const pools = await Promise.all([open(url, { poolMax: 10 }), open(url, { poolMax: 10 }), open(url, { poolMax: 10 })])
      await seedSession(pools[0]!)
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pools[i % 3]!.rotate(rotateInput('t0', 'child', T0 + 1, 20_000))))
      expect(results.every((r) => r.kind === 'rotated')).toBe(true)
      expect(results.filter((r) => r.kind === 'rotated' && !r.replayed)).toHaveLength(1)
      const children = await pools[1]!.pool.query("SELECT token_hash, status FROM refresh_tokens WHERE parent_hash = 't0'")
      expect(children.rows).toEqual([{ token_hash: 'child', status: 'active' }])
      expect(await isSessionActive(pools[2]!, 'fam', T0 + 2)).toBe(true)
    })

    it('a replayed parent racing a rotation of its child: the family always ends revoked, never two active tokens', async () => {
      const url = await freshDatabase()
      const [a, b] = await Promise.all([open(url), open(url)])
      for (let round = 0; round < 10; round++) {
        const fam = `race${round}`
        await seedSession(a!, `${fam}-0`, fam)
        expect((await a!.rotate(rotateInput(`${fam}-0`, `${fam}-1`))).kind).toBe('rotated')
        const [child, replay] = await Promise.all([
          a!.rotate(rotateInput(`${fam}-1`, `${fam}-2`, T0 + 2)),
          b!.rotate(rotateInput(`${fam}-0`, `${fam}-x`, T0 + 2)),
        ])
        expect(replay).toEqual({ kind: 'reused', familyId: fam })
        expect(['rotated', 'revoked']).toContain(child.kind)
        expect(await isSessionActive(a!, fam, T0 + 3)).toBe(false)
        // Whatever won the race, the newest token is dead too.
        const newest = child.kind === 'rotated' ? `${fam}-2` : `${fam}-1`
        expect(await b!.rotate(rotateInput(newest, `${fam}-3`, T0 + 4))).toEqual({ kind: 'revoked', familyId: fam })
        const active = await a!.pool.query("SELECT count(*)::int AS n FROM refresh_tokens WHERE family_id = $1 AND status = 'active'", [fam])
        expect(active.rows[0].n).toBeLessThanOrEqual(1)
      }
    })
  })

  describe('a connection lost in the middle of a rotation', () => {
    /** Holds the token's row lock from another connection, so a rotation waits inside its transaction. */
    async function holdRowLock(url: string, tokenHash: string) {
      const { default: pg } = await import('pg')
      const blocker = new pg.Client({ connectionString: url })
      await blocker.connect()
      await blocker.query('BEGIN')
      await blocker.query('SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [tokenHash])
      return {
        release: async () => {
          await blocker.query('ROLLBACK')
          await blocker.end()
        },
      }
    }
    /** Terminates the backend of the rotation that waits for the lock (a dead connection, as the server sees it). */
    async function killWaitingRotation(db: string): Promise<number> {
      for (let i = 0; i < 200; i++) {
        const rows = await server.sql<{ killed: boolean }>(
          db,
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE application_name = 'silent-refresh-demo' AND wait_event_type = 'Lock'`,
        )
        if (rows.length > 0) return rows.length
        await new Promise((r) => setTimeout(r, 10))
      }
      throw new Error('no rotation waiting for the lock')
    }

    it('the server terminated it before it committed: it runs once more on a fresh connection and rotates exactly once', async () => {
      const url = await freshDatabase()
      const db = `t${dbCounter}`
      const store = await open(url)
      await seedSession(store)
      const lock = await holdRowLock(url, 't0')
      const rotation = store.rotate(rotateInput('t0', 't1'))
      expect(await killWaitingRotation(db)).toBe(1)
      // The retry now waits for the lock on a new connection; let it through.
      await new Promise((r) => setTimeout(r, 50))
      await lock.release()
      expect(await rotation).toMatchObject({ kind: 'rotated', familyId: 'fam' })
      const rows = await store.pool.query("SELECT token_hash, status FROM refresh_tokens ORDER BY created_at, token_hash")
      expect(rows.rows).toEqual([
        { token_hash: 't0', status: 'rotated' },
        { token_hash: 't1', status: 'active' },
      ])
    })

    it('lost twice: a StoreUnavailableError, nothing rotated, and the token still rotates afterwards', async () => {
      const url = await freshDatabase()
      const db = `t${dbCounter}`
      const store = await open(url)
      await seedSession(store)
      const lock = await holdRowLock(url, 't0')
      const rotation = store.rotate(rotateInput('t0', 't1'))
      const settled = rotation.then(
        () => 'resolved',
        (err: unknown) => err,
      )
      await killWaitingRotation(db)
      await killWaitingRotation(db)
      const err = await settled
      expect(err).toBeInstanceOf(StoreUnavailableError)
      expect((err as StoreUnavailableError).ambiguous).toBe(false)
      await lock.release()
      expect((await store.pool.query("SELECT status FROM refresh_tokens WHERE token_hash = 't0'")).rows).toEqual([{ status: 'active' }])
      expect(await store.rotate(rotateInput('t0', 't1'))).toMatchObject({ kind: 'rotated' })
    })
  })

  describe('rate limits shared by two apps on one database', () => {
    it('refreshes per IP count together across apps; the window ends on the database clock', async () => {
      const url = await freshDatabase()
      const [sa, sb] = await Promise.all([open(url), open(url)])
      const limits = { refreshPerIp: { max: 3, windowMs: 1500 } }
      const a = await build({ store: sa!, rateLimitStore: createPostgresRateLimitStore(sa!.pool), rateLimits: limits })
      const b = await build({ store: sb!, rateLimitStore: createPostgresRateLimitStore(sb!.pool), rateLimits: limits })
      const statuses: number[] = []
      for (const ctx of [a, b, a, b]) statuses.push((await ctx.refresh('x'.repeat(43))).statusCode)
      expect(statuses).toEqual([400, 400, 400, 429])
      const limited = await a.refresh('x'.repeat(43))
      expect(limited.statusCode).toBe(429)
      expect(limited.json()).toMatchObject({ error: 'rate_limited' })
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      // Logout has its own key space (per route), even with the same limit.
      expect((await b.logout()).statusCode).toBe(204)
      await new Promise((r) => setTimeout(r, 1600))
      expect((await b.refresh('x'.repeat(43))).statusCode).toBe(400)
    })

    it('failed logins per account count together, and a peek does not count', async () => {
      const url = await freshDatabase()
      const [sa, sb] = await Promise.all([open(url), open(url)])
      const limits = { loginFailuresPerAccount: { max: 2, windowMs: 60_000 } }
      const a = await build({ store: sa!, rateLimitStore: createPostgresRateLimitStore(sa!.pool), rateLimits: limits })
      const b = await build({ store: sb!, rateLimitStore: createPostgresRateLimitStore(sb!.pool), rateLimits: limits })
      // Successes are only peeked at: any number of them leaves the count alone.
      for (const ctx of [a, b, a]) expect((await ctx.login()).statusCode).toBe(200)
      const wrong = { username: DEMO.username, password: 'wrong' }
      expect((await a.login(wrong)).statusCode).toBe(401)
      expect((await b.login(wrong)).statusCode).toBe(401)
      const refused = await a.login()
      expect(refused.statusCode).toBe(429)
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50)
      expect((await b.login()).statusCode).toBe(429)
    })
  })

  // Last: stops and restarts the server.
  describe('the database goes away', () => {
    it('answers 503 temporarily_unavailable (never 500, never a wrong token answer), then recovers', async () => {
      const url = await freshDatabase()
      const store = await open(url, { connectTimeoutMs: 1000 })
      const ctx = await build({ store, rateLimitStore: createPostgresRateLimitStore(store.pool) })
      const login = await ctx.login()
      expect(login.statusCode).toBe(200)
      const tokens = login.json<{ access_token: string; refresh_token: string }>()

      await server.stop()
      const started = Date.now()
      const refresh = await ctx.refresh(tokens.refresh_token)
      expect(refresh.statusCode).toBe(503)
      expect(refresh.json()).toEqual({
        error: 'temporarily_unavailable',
        error_description: 'The service is temporarily unavailable; retry shortly.',
      })
      expect(refresh.headers['retry-after']).toBe('2')
      expect(refresh.headers['cache-control']).toBe('no-store')
      expect((await ctx.me(tokens.access_token)).statusCode).toBe(503)
      expect((await ctx.login()).statusCode).toBe(503)
      const health = await ctx.app.inject({ method: 'GET', url: '/healthz' })
      expect(health.statusCode).toBe(503)
      expect(Date.now() - started).toBeLessThan(10_000)
      await expect(store.rotate(rotateInput('x', 'y'))).rejects.toBeInstanceOf(StoreUnavailableError)

      await server.start()
      // The refresh token was never rotated: it works now, exactly once.
      const again = await ctx.refresh(tokens.refresh_token)
      expect(again.statusCode).toBe(200)
      const next = again.json<{ access_token: string }>()
      expect((await ctx.me(next.access_token)).statusCode).toBe(200)
      expect((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    })
  })
})
