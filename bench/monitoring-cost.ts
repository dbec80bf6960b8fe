/**
 * What the audit trail and the metrics (issue 16) cost per request on the two
 * hot paths, GET /api/me and a refresh-token rotation, on SQLite: the demo app
 * built twice in this process (audit + metrics on, and both off, each on its
 * own SQLite file), the same requests through `app.inject()` (the whole
 * Fastify pipeline, no sockets), 10 at a time like the HTTP benchmark's 10
 * connections, in rounds that alternate which app goes first.
 *
 * Measured in CPU time of this process (`process.cpuUsage()`, user + system,
 * every thread: SQLite's WAL writes and the checkpoint worker included), not
 * wall time: on a machine shared with other suites, wall-clock rates swing by
 * 2-4× between runs, CPU time per request much less. The wall-clock side by
 * side with a bare route is `npm run bench -- demo-server` (its SQLite rows run
 * both variants too).
 *
 *   npx tsx bench/monitoring-cost.ts        (BENCH_COST_ROUNDS=7, BENCH_COST_REQUESTS=3000)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { loadDemoModules } from './lib/demo-modules.js'
import { median, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_COST_ROUNDS ?? 7)
const REQUESTS = Number(process.env.BENCH_COST_REQUESTS ?? 3000)
const CONCURRENCY = 10
const USER = { username: 'bench', password: 'bench-password' }
const UNLIMITED = { max: 1_000_000_000, windowMs: 60_000 }

interface RotateStore {
  upsertUser(user: { username: string; passwordHash: string }): Promise<{ id: string }>
  createSession(session: Record<string, unknown>): Promise<void>
  rotate(input: Record<string, unknown>): Promise<{ kind: string }>
  close(): Promise<void>
}
const { buildApp, openSqliteStore, generateSigningKeys, createScryptHasher, seedUser } = await loadDemoModules<RotateStore>()

const dir = mkdtempSync(join(tmpdir(), 'silent-refresh-cost-'))
const keys = await generateSigningKeys()
const passwordHasher = createScryptHasher({ N: 1024, r: 8, p: 1 })

async function demoApp(name: string, monitoring: boolean): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const store = openSqliteStore(join(dir, `${name}.db`))
  await seedUser(store, passwordHasher, USER.username, USER.password)
  const app = await buildApp({
    store,
    keys,
    passwordHasher,
    logger: { level: 'warn' },
    accessTokenTtl: 3600,
    refreshTokenTtl: 24 * 3600,
    refreshFamilyMaxAge: 24 * 3600,
    rateLimits: { loginPerIp: UNLIMITED, loginFailuresPerAccount: UNLIMITED, loginFailuresPerAccountAndAddress: UNLIMITED, refreshPerIp: UNLIMITED },
    monitoring: monitoring ? { audit: true, metricsToken: 'bench-metrics-credential-0123456789abcdef', instanceId: 'bench' } : { audit: false },
  })
  await app.ready()
  return {
    app,
    close: async () => {
      await app.close()
      await store.close()
    },
  }
}

async function login(app: FastifyInstance): Promise<{ access_token: string; refresh_token: string }> {
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: USER })
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`)
  return res.json()
}

/**
 * CPU µs per request of `total` requests, `CONCURRENCY` at a time, each by `one(i)`. The window
 * ends 1.5 s after the last answer, so it holds the WAL checkpoint of these requests' writes (the
 * store's worker runs one every second) and nothing of the next measurement.
 */
async function cpuPerRequest(total: number, one: (lane: number) => Promise<void>): Promise<number> {
  const before = process.cpuUsage()
  for (let done = 0; done < total; done += CONCURRENCY) {
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, lane) => one(lane)))
  }
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / total
}

const apps = { on: await demoApp('on', true), off: await demoApp('off', false) }
const state = {
  on: { token: (await login(apps.on.app)).access_token, chains: await Promise.all(Array.from({ length: CONCURRENCY }, () => login(apps.on.app).then((t) => t.refresh_token))) },
  off: { token: (await login(apps.off.app)).access_token, chains: await Promise.all(Array.from({ length: CONCURRENCY }, () => login(apps.off.app).then((t) => t.refresh_token))) },
}

const me = (which: 'on' | 'off') =>
  cpuPerRequest(REQUESTS, async () => {
    const res = await apps[which].app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `Bearer ${state[which].token}` } })
    if (res.statusCode !== 200) throw new Error(`/api/me: ${res.statusCode}`)
  })
const rotation = (which: 'on' | 'off') =>
  cpuPerRequest(REQUESTS, async (lane) => {
    const res = await apps[which].app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${state[which].chains[lane]}`,
    })
    if (res.statusCode !== 200) throw new Error(`rotation: ${res.statusCode} ${res.body}`)
    state[which].chains[lane] = (JSON.parse(res.body) as { refresh_token: string }).refresh_token
  })

// Warm-up: JIT, the token cache, SQLite's page cache.
for (const which of ['on', 'off'] as const) {
  await me(which)
  await rotation(which)
}

const results = { me: { on: [] as number[], off: [] as number[] }, rotation: { on: [] as number[], off: [] as number[] } }
// All /api/me rounds first: no rotation's checkpoint runs during them.
const orderOf = (round: number) => (round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const))
for (let round = 0; round < ROUNDS; round++) for (const which of orderOf(round)) results.me[which].push(await me(which))
for (let round = 0; round < ROUNDS; round++) for (const which of orderOf(round)) results.rotation[which].push(await rotation(which))
// The stores' checkpoint workers are unref'd: keep the loop alive while close() waits for them.
const keepAlive = setInterval(() => {}, 1000)
await apps.on.close()
await apps.off.close()

/**
 * The store alone: CPU µs per `store.rotate()` on a SQLite file, 10 chains rotated together (one
 * group commit each turn), with and without the audit event: what the event costs where it is
 * written, without HTTP, signing or Fastify around it.
 */
async function storeRotation(withAudit: boolean, rotations: number): Promise<number> {
  const store = openSqliteStore(join(dir, `store-${withAudit}-${Math.random()}.db`))
  const user = await store.upsertUser({ username: 'u', passwordHash: 'x' })
  const now = Date.now()
  const chains = Array.from({ length: CONCURRENCY }, () => randomBytes(32).toString('hex'))
  for (const tokenHash of chains) {
    await store.createSession({ familyId: randomBytes(16).toString('base64url'), userId: user.id, tokenHash, now, tokenExpiresAt: now + 1e9, familyExpiresAt: now + 1e9 })
  }
  const audit = withAudit ? { audit: { address: '127.0.0.1', userAgent: 'autocannon/7.15.0', instance: 'bench' } } : {}
  const before = process.cpuUsage()
  for (let done = 0; done < rotations; done += CONCURRENCY) {
    await Promise.all(
      chains.map(async (tokenHash, lane) => {
        const newTokenHash = createHash('sha256').update(tokenHash).digest('hex')
        const result = await store.rotate({ tokenHash, newTokenHash, now: Date.now(), idleTtlMs: 1e8, graceMs: 20_000, ...audit })
        if (result.kind !== 'rotated') throw new Error(result.kind)
        chains[lane] = newTokenHash
      }),
    )
  }
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const used = process.cpuUsage(before)
  await store.close()
  return (used.user + used.system) / rotations
}
const storeResults = { on: [] as number[], off: [] as number[] }
for (let round = 0; round < ROUNDS; round++) for (const which of orderOf(round)) storeResults[which].push(await storeRotation(which === 'on', REQUESTS * 3))
clearInterval(keepAlive)
rmSync(dir, { recursive: true, force: true })

/**
 * PostgreSQL (durable defaults, a throwaway cluster): rotations per second through
 * `store.rotate()`, 10 chains at a time, with the event (one more CTE in the rotation's single
 * statement) and without. Wall clock: the work happens in the PostgreSQL backend, not here.
 */
const pgResults = { on: [] as number[], off: [] as number[] }
let pgNote = 'PostgreSQL skipped (BENCH_COST_POSTGRES=0 or not installed).'
const { postgresUnavailableReason, startPostgres } = await import('../demo-server/test/helpers/postgres.js')
if (process.env.BENCH_COST_POSTGRES !== '0' && postgresUnavailableReason === null) {
  const { openPostgresStore } = (await import(new URL('../demo-server/src/store/postgres-store.ts', import.meta.url).href)) as { openPostgresStore(o: { connectionString: string; poolMax: number }): Promise<RotateStore> }
  const server = await startPostgres({ durable: true })
  try {
    const url = await server.createDatabase('cost')
    const store = await openPostgresStore({ connectionString: url, poolMax: 10 })
    const user = await store.upsertUser({ username: 'u', passwordHash: 'x' })
    const rate = async (withAudit: boolean): Promise<number> => {
      const now = Date.now()
      const chains = Array.from({ length: CONCURRENCY }, () => randomBytes(32).toString('hex'))
      for (const tokenHash of chains) {
        await store.createSession({ familyId: randomBytes(16).toString('base64url'), userId: user.id, tokenHash, now, tokenExpiresAt: now + 1e9, familyExpiresAt: now + 1e9 })
      }
      const audit = withAudit ? { audit: { address: '127.0.0.1', userAgent: 'autocannon/7.15.0', instance: 'bench' } } : {}
      let done = 0
      const until = performance.now() + 3000
      await Promise.all(
        chains.map(async (first) => {
          let tokenHash = first
          while (performance.now() < until) {
            const newTokenHash = createHash('sha256').update(tokenHash).digest('hex')
            const result = await store.rotate({ tokenHash, newTokenHash, now: Date.now(), idleTtlMs: 1e8, graceMs: 20_000, ...audit })
            if (result.kind !== 'rotated') throw new Error(result.kind)
            tokenHash = newTokenHash
            done++
          }
        }),
      )
      return done / 3
    }
    await rate(true)
    await rate(false)
    for (let round = 0; round < ROUNDS; round++) for (const which of orderOf(round)) pgResults[which].push(await rate(which === 'on'))
    await store.close()
    pgNote = `PostgreSQL ${(await server.sql<{ server_version: string }>('postgres', 'SHOW server_version'))[0]!.server_version}, durable defaults, pool of 10, ${ROUNDS} rounds of 3 s each: rotations/s through store.rotate(), with the event and without.`
  } finally {
    await server.destroy()
  }
}

const row = (name: string, r: { on: number[]; off: number[] }) => {
  const ratios = r.on.map((on, i) => r.off[i]! / on)
  return [
    name,
    `${num(median(r.off))} µs`,
    `${num(median(r.on))} µs`,
    `${num(median(r.on) - median(r.off))} µs`,
    ratio(median(ratios)),
    `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`,
  ]
}
table(
  `CPU time per request, audit trail + metrics on vs off (SQLite file, app.inject, ${CONCURRENCY} at a time, ${ROUNDS} rounds × ${num(REQUESTS)} requests)`,
  ['hot path', 'off', 'on', 'added', 'throughput on/off (median)', 'range over rounds'],
  [row('GET /api/me (valid token)', results.me), row('POST /auth/token (rotation)', results.rotation), row('store.rotate() alone (SQLite)', storeResults)],
  [
    'CPU µs of this process per request (user + system, all threads), median over rounds; "throughput on/off" is off ÷ on per round, what the CPU cost alone would do to requests per second on a CPU-bound server.',
    "On: the rotation inserts its audit event in the rotation's transaction (one row and its index by user) and counts a counter and a histogram observation; /api/me answering 200 writes and counts nothing.",
  ],
)
if (pgResults.on.length > 0) {
  const ratios = pgResults.on.map((on, i) => on / pgResults.off[i]!)
  table(
    'PostgreSQL rotations per second, audit event on vs off (store.rotate(), 10 chains)',
    ['store', 'off', 'on', 'on/off (median)', 'range over rounds'],
    [['PostgreSQL', num(median(pgResults.off)), num(median(pgResults.on)), ratio(median(ratios)), `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`]],
    [pgNote],
  )
} else console.log(`\n${pgNote}`)
process.exit(0)
