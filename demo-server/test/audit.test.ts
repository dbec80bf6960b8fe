/**
 * The audit trail (README "Monitoring"): one event per security event of a token family,
 * written by the store call that already runs, on the memory store, a SQLite file and a
 * real PostgreSQL; nothing secret in any column; recorded once across PostgreSQL instances;
 * failures never fail a request; retention on a timer.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { openPostgresStore, type PostgresStore } from '../src/store/postgres-store.ts'
import type { AuditEvent, Store } from '../src/store/types.ts'
import { hashRefreshToken } from '../src/tokens/refresh-token.ts'
import { AUDIT_CLEANUP_BATCH, MAX_AUDITED_USER_AGENT } from '../src/plugins/monitoring.ts'
import { build, DEMO, type TestContext } from './helpers/build.ts'
import { emptyPostgres } from './helpers/stores.ts'
import { postgresRequired, postgresUnavailableReason, printSkipNotice, startPostgres, type TestPostgres } from './helpers/postgres.ts'
import { within } from '../../test/helpers/bounds.ts'
import { ADMIN_TOKEN, METRICS_TOKEN, findSecrets, rawAuditRows, rememberIds } from './helpers/audit.ts'
import { dpopKey, makeProof } from './helpers/dpop.ts'

const UA = 'Mozilla/5.0 (audit test) Firefox/140.0'
const dir = mkdtempSync(join(tmpdir(), 'demo-audit-'))
let files = 0
let postgres: Promise<{ server: TestPostgres; url: string }> | undefined
afterAll(async () => {
  if (postgres) await (await postgres).server.destroy()
  rmSync(dir, { recursive: true, force: true })
})
async function postgresUrl(): Promise<string> {
  postgres ??= startPostgres().then(async (server) => ({ server, url: await server.createDatabase('audit') }))
  return (await postgres).url
}

interface Opened {
  store: Store
  file?: string
}
const kinds: Array<[string, () => Promise<Opened>]> = [
  ['memory', async () => ({ store: createMemoryStore() })],
  [
    'sqlite file',
    async () => {
      const file = join(dir, `audit-${++files}.db`)
      return { store: openSqliteStore(file), file }
    },
  ],
  ...(postgresUnavailableReason
    ? []
    : [
        [
          'postgres',
          async () => {
            const store = await openPostgresStore({ connectionString: await postgresUrl(), poolMax: 5 })
            await emptyPostgres(store)
            return { store }
          },
        ] as [string, () => Promise<Opened>],
      ]),
]

describe('PostgreSQL for the audit trail', () => {
  it.runIf(postgresUnavailableReason !== null)('is installed (required under CI=true; skipped elsewhere)', () => {
    printSkipNotice('Audit trail on PostgreSQL')
    if (postgresRequired) throw new Error(`CI=true but ${postgresUnavailableReason}`)
  })
})

const headers = { 'user-agent': UA }
const json = <T>(res: { body: string }) => JSON.parse(res.body) as T
interface Tokens {
  access_token: string
  refresh_token: string
}

/** The events of a family or a user, oldest first (the store answers newest first). */
async function eventsOf(store: Store, query: { userId: string; familyId?: string }): Promise<AuditEvent[]> {
  return (await store.listAuditEvents({ ...query, limit: 1000 })).reverse()
}

describe.each(kinds)('audit events: %s', (_name, open) => {
  let opened: Opened
  let ctx: TestContext
  let userId: string

  beforeEach(async () => {
    opened = await open()
    ctx = await build({
      store: opened.store,
      monitoring: { instanceId: 'test-1', adminToken: ADMIN_TOKEN, metricsToken: METRICS_TOKEN },
      rateLimits: { loginFailuresPerAccountAndAddress: { max: 2, windowMs: 60_000 } },
    })
    userId = (await opened.store.findUserByUsername(DEMO.username))!.id
  })
  afterEach(async () => {
    await ctx.app.close()
    await opened.store.close()
  })

  async function login(): Promise<Tokens & { sid: string }> {
    const res = await ctx.login(DEMO, headers)
    expect(res.statusCode).toBe(200)
    const body = json<Tokens>(res)
    const sid = (JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    return { ...body, sid }
  }

  it('login, rotation, lost-answer replay, reuse (with generations), refresh after revocation: one event each, in order', async () => {
    const { refresh_token: r0, sid } = await login()
    const r1 = json<Tokens>(await ctx.refresh(r0, headers)).refresh_token
    // The same rotation again within the window, its child unused: the lost answer again.
    expect((await ctx.refresh(r0, headers)).statusCode).toBe(200)
    const r2 = json<Tokens>(await ctx.refresh(r1, headers)).refresh_token
    json<Tokens>(await ctx.refresh(r2, headers))
    // r1 (generation 1) again after its child was used: reuse; the newest is generation 3.
    ctx.clock.advance(1000)
    expect((await ctx.refresh(r1, headers)).statusCode).toBe(400)
    // The legitimate client's newest token after the revocation.
    expect((await ctx.refresh(r2, headers)).statusCode).toBe(400)

    const events = await eventsOf(opened.store, { userId, familyId: sid })
    expect(events.map((e) => e.type)).toEqual(['login', 'rotated', 'rotation_replayed', 'rotated', 'rotated', 'reuse_detected', 'refresh_after_revocation'])
    for (const event of events) {
      expect(event).toMatchObject({ familyId: sid, userId, address: '127.0.0.1', userAgent: UA, instance: 'test-1' })
      expect(typeof event.id).toBe('number')
    }
    expect(events[0]!.at).toBe(ctx.clock.now() - 1000)
    expect(events.at(-1)!.at).toBe(ctx.clock.now())
    expect(events.find((e) => e.type === 'reuse_detected')!.detail).toEqual({ replayedGeneration: 1, latestGeneration: 3 })
    expect(events.filter((e) => e.type !== 'reuse_detected').every((e) => e.detail === null)).toBe(true)
  })

  it('the login token replayed (generation 0) after two rotations says so', async () => {
    const { refresh_token: r0, sid } = await login()
    const r1 = json<Tokens>(await ctx.refresh(r0, headers)).refresh_token
    json<Tokens>(await ctx.refresh(r1, headers))
    ctx.clock.advance(30_000) // past the retry window
    expect((await ctx.refresh(r0, headers)).statusCode).toBe(400)
    const reuse = (await eventsOf(opened.store, { userId, familyId: sid })).filter((e) => e.type === 'reuse_detected')
    expect(reuse).toHaveLength(1)
    expect(reuse[0]!.detail).toEqual({ replayedGeneration: 0, latestGeneration: 2 })
  })

  it('logout: one event when it revokes the family, none for a repeated logout or an unknown token', async () => {
    const { refresh_token, sid } = await login()
    expect((await ctx.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token }, headers })).statusCode).toBe(204)
    expect((await ctx.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token }, headers })).statusCode).toBe(204)
    expect((await ctx.logout('x'.repeat(43))).statusCode).toBe(204)
    const events = await eventsOf(opened.store, { userId, familyId: sid })
    expect(events.map((e) => e.type)).toEqual(['login', 'logout'])
    expect(events[1]).toMatchObject({ userId, address: '127.0.0.1', userAgent: UA, instance: 'test-1', detail: null })
  })

  it('failed logins (known user: its id; unknown: none) and a lockout (the budget, the user looked up off the request path)', async () => {
    expect((await ctx.login({ username: DEMO.username, password: 'wrong-password-1' }, headers)).statusCode).toBe(401)
    expect((await ctx.login({ username: 'nobody-here', password: 'wrong-password-2' }, headers)).statusCode).toBe(401)
    expect((await ctx.login({ username: DEMO.username, password: 'wrong-password-3' }, headers)).statusCode).toBe(401)
    // The budget of this account from this address (2) is spent: refused before the hash.
    const locked = await ctx.login({ username: DEMO.username, password: 'wrong-password-4' }, headers)
    expect(locked.statusCode).toBe(429)
    await ctx.app.monitoring.flush()

    const ofUser = await eventsOf(opened.store, { userId })
    expect(ofUser.map((e) => e.type)).toEqual(['login_failed', 'login_failed', 'login_locked'])
    for (const event of ofUser) expect(event).toMatchObject({ familyId: null, address: '127.0.0.1', userAgent: UA, instance: 'test-1' })
    expect(ofUser[2]!.detail).toEqual({ budget: 'account-address' })
    // The unknown user's failure is stored without a user (readable only through the raw table).
    const rows = await rawAuditRows(opened.store, opened.file)
    if (opened.file || 'pool' in opened.store) {
      expect(rows.filter((r) => r.type === 'login_failed' && r.user_id === null)).toHaveLength(1)
      // The username typed is never stored (it may be a password typed in the wrong field).
      expect(JSON.stringify(rows)).not.toContain('nobody-here')
    }
  })

  it('the user agent is cut to a bounded length with control characters removed; an empty one is null', async () => {
    const long = `evil\u0007agent ${'x'.repeat(1000)}`
    const res = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, headers: { 'user-agent': long } })
    const sid = (JSON.parse(Buffer.from(json<Tokens>(res).access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    const [event] = await eventsOf(opened.store, { userId, familyId: sid })
    expect(event!.userAgent).toHaveLength(MAX_AUDITED_USER_AGENT)
    expect(event!.userAgent!.startsWith('evil agent xxx')).toBe(true)
    const bare = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, headers: { 'user-agent': '' } })
    const sid2 = (JSON.parse(Buffer.from(json<Tokens>(bare).access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    expect((await eventsOf(opened.store, { userId, familyId: sid2 }))[0]!.userAgent).toBeNull()
  })

  it('a DPoP-bound refresh token presented without its key: one refresh_wrong_key event, the family untouched', async () => {
    const key = await dpopKey()
    const proof = (path: string) => makeProof(key, { htm: 'POST', htu: `http://localhost${path}`, now: ctx.clock.now(), nonce: ctx.app.dpop.verifier.nonce() })
    const loggedIn = await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, headers: { ...headers, dpop: await proof('/auth/login') } })
    expect(loggedIn.statusCode, loggedIn.body).toBe(200)
    const { refresh_token: stolen, access_token: access } = json<Tokens>(loggedIn)
    const sid = (JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    // The thief: the token without a proof, then with a proof of another key.
    expect((await ctx.refresh(stolen, headers)).statusCode).toBe(400)
    const thief = await dpopKey()
    const theirs = await makeProof(thief, { htm: 'POST', htu: 'http://localhost/auth/token', now: ctx.clock.now(), nonce: ctx.app.dpop.verifier.nonce() })
    expect((await ctx.refresh(stolen, { ...headers, dpop: theirs })).statusCode).toBe(400)
    // The client, with its key: still rotates.
    const own = await ctx.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { grant_type: 'refresh_token', refresh_token: stolen },
      headers: { ...headers, dpop: await proof('/auth/token') },
    })
    expect(own.statusCode, own.body).toBe(200)
    const events = await eventsOf(opened.store, { userId, familyId: sid })
    expect(events.map((e) => e.type)).toEqual(['login', 'refresh_wrong_key', 'refresh_wrong_key', 'rotated'])
    expect(events[1]).toMatchObject({ familyId: sid, userId, userAgent: UA, instance: 'test-1', detail: null })
  })

  it('nothing secret in any column of any row after login → rotate → replay → reuse → logout, failures and a lockout', async () => {
    const issued: string[] = []
    const access: string[] = []
    const a = await login()
    issued.push(a.refresh_token)
    access.push(a.access_token)
    const r1 = json<Tokens>(await ctx.refresh(a.refresh_token, headers))
    issued.push(r1.refresh_token)
    access.push(r1.access_token)
    await ctx.refresh(a.refresh_token, headers) // replayed within the window
    const r2 = json<Tokens>(await ctx.refresh(r1.refresh_token, headers))
    issued.push(r2.refresh_token)
    access.push(r2.access_token)
    ctx.clock.advance(30_000)
    await ctx.refresh(a.refresh_token, headers) // reuse: the family is revoked
    await ctx.refresh(r2.refresh_token, headers) // after the revocation
    const b = await login()
    issued.push(b.refresh_token)
    access.push(b.access_token)
    await ctx.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: b.refresh_token }, headers })
    const wrong = ['wrong-password-one', 'wrong-password-two', 'wrong-password-three']
    for (const password of wrong) await ctx.login({ username: DEMO.username, password }, headers)
    await ctx.app.monitoring.flush()
    rememberIds(opened.store, [userId])

    const rows = await rawAuditRows(opened.store, opened.file)
    expect(new Set(rows.map((r) => r.type))).toEqual(
      new Set(['login', 'rotated', 'rotation_replayed', 'reuse_detected', 'refresh_after_revocation', 'logout', 'login_failed', 'login_locked']),
    )
    const secrets = {
      'refresh token': issued,
      'refresh token hash': issued.map(hashRefreshToken),
      'access token': access.flatMap((t) => [t, ...t.split('.').slice(1)]),
      password: [DEMO.password, ...wrong],
      'admin credential': [ADMIN_TOKEN],
      'metrics credential': [METRICS_TOKEN],
    }
    expect(findSecrets(rows, secrets)).toEqual([])

    // The scan is real: a row with a token hash in it is found.
    await opened.store.appendAuditEvent({ at: ctx.clock.now(), type: 'login_failed', familyId: null, userId, address: null, userAgent: hashRefreshToken(issued[1]!), instance: 'test-1', detail: null })
    const tainted = await rawAuditRows(opened.store, opened.file)
    expect(findSecrets(tainted, secrets)).toEqual([expect.stringMatching(/^row \d+, column (user_agent|userAgent): refresh token hash$/)])
  })

  it('audit off: nothing written, every route still answers', async () => {
    const store = createMemoryStore()
    const off = await build({ store, monitoring: { audit: false } })
    const res = await off.login(DEMO, headers)
    const tokens = json<Tokens>(res)
    expect((await off.refresh(tokens.refresh_token, headers)).statusCode).toBe(200)
    await off.login({ username: DEMO.username, password: 'nope-nope' }, headers)
    const user = (await store.findUserByUsername(DEMO.username))!.id
    expect(await store.listAuditEvents({ userId: user, limit: 100 })).toEqual([])
  })
})

describe('audit writes never fail a request', () => {
  it('a failed login whose event cannot be written is still a 401, and the failure is counted', async () => {
    const inner = createMemoryStore()
    const store: Store = { ...inner, appendAuditEvent: () => Promise.reject(new Error('disk full')) }
    const ctx = await build({ store, monitoring: { metricsToken: METRICS_TOKEN } })
    const res = await ctx.login({ username: DEMO.username, password: 'wrong-password' }, headers)
    expect(res.statusCode).toBe(401)
    expect(json<{ error: string }>(res).error).toBe('invalid_credentials')
    await ctx.app.monitoring.flush()
    const metrics = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(metrics.body).toContain('silent_refresh_store_errors_total{operation="audit_write",instance_id="')
    expect(metrics.body).toMatch(/silent_refresh_store_errors_total\{operation="audit_write",instance_id="[^"]+"\} 1\n/)
  })
})

describe.skipIf(postgresUnavailableReason !== null)('two instances on one PostgreSQL', () => {
  let stores: PostgresStore[] = []
  let apps: TestContext[] = []
  beforeEach(async () => {
    const url = await postgresUrl()
    stores = [await openPostgresStore({ connectionString: url, poolMax: 5 }), await openPostgresStore({ connectionString: url, poolMax: 5 })]
    await emptyPostgres(stores[0]!)
    // The retry window off: any second use is reuse.
    apps = [
      await build({ store: stores[0]!, refreshReuseGraceMs: 0, monitoring: { instanceId: 'pg-a' } }),
      await build({ store: stores[1]!, refreshReuseGraceMs: 0, monitoring: { instanceId: 'pg-b' } }),
    ]
  })
  afterEach(async () => {
    for (const ctx of apps) await ctx.app.close()
    for (const store of stores) await store.close()
  })

  it('a reuse seen by the other instance is recorded once, by it', async () => {
    const [a, b] = apps as [TestContext, TestContext]
    const r0 = json<Tokens>(await a.login(DEMO, headers)).refresh_token
    const r1 = json<Tokens>(await a.refresh(r0, headers)).refresh_token
    json<Tokens>(await a.refresh(r1, headers))
    expect((await b.refresh(r0, headers)).statusCode).toBe(400)
    const { rows } = await stores[0]!.pool.query<{ type: string; instance: string; detail: string | null }>('SELECT type, instance, detail FROM audit_events ORDER BY id')
    expect(rows.map((r) => `${r.type}@${r.instance}`)).toEqual(['login@pg-a', 'rotated@pg-a', 'rotated@pg-a', 'reuse_detected@pg-b'])
    expect(JSON.parse(rows[3]!.detail!)).toEqual({ replayedGeneration: 0, latestGeneration: 2 })
  })

  it('the same old token replayed at both instances at once: both detect it, one revokes, one event', async () => {
    const [a, b] = apps as [TestContext, TestContext]
    const r0 = json<Tokens>(await a.login(DEMO, headers)).refresh_token
    json<Tokens>(await a.refresh(r0, headers))
    // Hold the family's row so that both instances classify the replay as reuse and then wait
    // on the revocation together; released once PostgreSQL shows both waiting.
    const locker = await stores[0]!.pool.connect()
    await locker.query('BEGIN')
    await locker.query('SELECT id FROM token_families FOR UPDATE')
    const answers = Promise.all([a.refresh(r0, headers), b.refresh(r0, headers)])
    await within(10_000, (async () => {
      for (;;) {
        const { rows } = await stores[0]!.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%reuse_detected%'",
        )
        if (rows[0]!.n === 2) break
        await new Promise((resolve) => setImmediate(resolve))
      }
    })(), 'both revocations waiting on the row lock')
    await locker.query('COMMIT')
    locker.release()
    expect((await answers).map((r) => r.statusCode)).toEqual([400, 400])
    const { rows } = await stores[1]!.pool.query<{ type: string }>("SELECT type FROM audit_events WHERE type = 'reuse_detected'")
    expect(rows).toHaveLength(1)
  })
})

describe.each(kinds)('retention: %s', (_name, open) => {
  let opened: Opened
  afterEach(async () => {
    vi.useRealTimers()
    await opened.store.close()
  })

  it('purgeAuditEvents deletes in insertion order, at most `limit` a call, only those before the cut', async () => {
    opened = await open()
    const base = { type: 'login_failed' as const, familyId: null, userId: 'u1', address: '10.0.0.1', userAgent: null, instance: 'i', detail: null }
    // Clocks of several instances disagree a little: insertion order is not quite time order.
    for (const at of [5, 1, 3, 2, 4, 7, 10, 11]) await opened.store.appendAuditEvent({ ...base, at: at * 1000 })
    expect(await opened.store.purgeAuditEvents(6000, 3)).toBe(3)
    expect((await opened.store.listAuditEvents({ userId: 'u1', limit: 100 })).map((e) => e.at / 1000)).toEqual([11, 10, 7, 4, 2])
    // 7 is not past the cut: of the next three, two go, and fewer than `limit` says the cleanup caught up.
    expect(await opened.store.purgeAuditEvents(6000, 3)).toBe(2)
    expect(await opened.store.purgeAuditEvents(6000, 3)).toBe(0)
    expect((await opened.store.listAuditEvents({ userId: 'u1', limit: 100 })).map((e) => e.at / 1000)).toEqual([11, 10, 7])
  })

  it('the cleanup timer deletes events past the retention, in batches, and keeps the rest', async () => {
    opened = await open()
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const day = 24 * 60 * 60_000
    const ctx = await build({ store: opened.store, monitoring: { auditRetentionMs: 30 * day, auditCleanupIntervalMs: 60_000 } })
    await ctx.app.ready()
    const start = ctx.clock.now()
    const base = { type: 'login_failed' as const, familyId: null, userId: 'u2', address: '10.0.0.1', userAgent: null, instance: 'i', detail: null }
    // More than one batch of old events, then a few recent ones.
    const old = AUDIT_CLEANUP_BATCH + 7
    if ('pool' in opened.store) {
      await (opened.store as PostgresStore).pool.query(
        "INSERT INTO audit_events (at, type, user_id, instance) SELECT $1::bigint + g, 'login_failed', 'u2', 'i' FROM generate_series(1, $2::int) g",
        [start, old],
      )
    } else {
      for (let i = 1; i <= old; i++) await opened.store.appendAuditEvent({ ...base, at: start + i })
    }
    for (let i = 1; i <= 3; i++) await opened.store.appendAuditEvent({ ...base, at: start + 20 * day + i })

    // 30 days and a bit later: the first batch of events is past the retention.
    ctx.clock.set(start + 30 * day + 5000)
    vi.advanceTimersByTime(60_000)
    // The cleanup runs off the request path; a request is answered meanwhile.
    expect((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    // Synchronised on the store itself: polled between turns of the event loop, bounded by bounds.ts.
    await within(10_000, (async () => {
      while ((await opened.store.listAuditEvents({ userId: 'u2', limit: 5000 })).length !== 3) await new Promise((resolve) => setImmediate(resolve))
    })(), 'the retention cleanup')
    const left = await opened.store.listAuditEvents({ userId: 'u2', limit: 5000 })
    expect(left.every((e) => e.at > start + 20 * day)).toBe(true)
  })
})
