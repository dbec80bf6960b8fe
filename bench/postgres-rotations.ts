/**
 * Demo server: refresh-token rotations per second and latency percentiles,
 * SQLite (the embedded default) next to PostgreSQL, with 1 and 3 server
 * processes. Real processes (`demo-server/src/server.ts`), a real PostgreSQL
 * (initdb + pg_ctl in a temp dir, default durable settings unless
 * BENCH_PG_DURABLE=0), real HTTP on 127.0.0.1.
 *
 * Each of BENCH_CLIENTS clients owns one session and rotates it in a chain
 * (every refresh presents the token the previous one returned), sending its
 * requests round-robin over the instances, as a load balancer would. Each
 * client has its own X-Forwarded-For address (TRUST_PROXY=true), like users
 * behind a proxy: the per-IP rate-limit counters are then spread over many
 * keys, as in production, instead of one hot row. Sessions are seeded in the
 * database directly (a login costs one scrypt, which is not what is measured).
 *
 * Every configuration runs BENCH_ROUNDS times (default 3), in an order that
 * rotates each round, and the table shows the median round (by rotations/s)
 * with the range of all rounds: a noisy neighbour on a shared machine hits
 * every configuration alike instead of whichever ran at the wrong moment.
 *
 *   npx tsx bench/postgres-rotations.ts
 *   BENCH_CLIENTS=32 BENCH_SECONDS=6 BENCH_ROUNDS=3 BENCH_POOL_SWEEP=1 npx tsx bench/postgres-rotations.ts
 *
 * Needs the PostgreSQL binaries (Debian: apt-get install postgresql).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { Agent, request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { startInstance, type Instance } from '../demo-server/test/helpers/instances.js'
import { postgresUnavailableReason, startPostgres, type TestPostgres } from '../demo-server/test/helpers/postgres.js'

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6)
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1500)
const POOL = Number(process.env.BENCH_PG_POOL ?? 10)
const DURABLE = process.env.BENCH_PG_DURABLE !== '0'
const POOL_SWEEP = process.env.BENCH_POOL_SWEEP === '1'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

const USER = 'bench'
const sha256 = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

interface Result {
  name: string
  instances: number
  rotations: number
  seconds: number
  errors: number
  latencies: number[]
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Sessions inserted the way login would create them: a family and its first (active) refresh token. */
function newSessions(count: number): Array<{ familyId: string; token: string }> {
  return Array.from({ length: count }, () => ({ familyId: randomBytes(16).toString('base64url'), token: randomBytes(32).toString('base64url') }))
}

async function seedPostgres(url: string, count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string }>('SELECT id FROM users WHERE username = $1', [USER])
    const now = Date.now()
    const sessions = newSessions(count)
    for (const s of sessions) {
      await client.query('INSERT INTO token_families (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [s.familyId, rows[0]!.id, now, now + 3_600_000])
      await client.query(
        "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, status, created_at, expires_at) VALUES ($1, $2, NULL, 'active', $3, $4)",
        [sha256(s.token), s.familyId, now, now + 600_000],
      )
    }
    return sessions.map((s) => s.token)
  } finally {
    await client.end()
  }
}

function seedSqlite(path: string, count: number): string[] {
  const db = new Database(path)
  try {
    db.pragma('busy_timeout = 5000')
    const user = db.prepare<[string], { id: string }>('SELECT id FROM users WHERE username = ?').get(USER)!
    const now = Date.now()
    const sessions = newSessions(count)
    const family = db.prepare('INSERT INTO token_families (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
    const token = db.prepare("INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, status, created_at, expires_at) VALUES (?, ?, NULL, 'active', ?, ?)")
    db.transaction(() => {
      for (const s of sessions) {
        family.run(s.familyId, user.id, now, now + 3_600_000)
        token.run(sha256(s.token), s.familyId, now, now + 600_000)
      }
    })()
    return sessions.map((s) => s.token)
  } finally {
    db.close()
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })

/** One refresh over HTTP/1.1 keep-alive; resolves with the status and the new refresh token. */
function refresh(url: URL, token: string, ip: string): Promise<{ status: number; next?: string }> {
  const body = `grant_type=refresh_token&refresh_token=${token}`
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/auth/token', method: 'POST', agent, headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        'x-forwarded-for': ip,
      } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ status: res.statusCode ?? 0 })
          resolve({ status: 200, next: (JSON.parse(text) as { refresh_token: string }).refresh_token })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function drive(name: string, instances: Instance[], tokens: string[]): Promise<Result> {
  const urls = instances.map((i) => new URL(i.url))
  const latencies: number[] = []
  let rotations = 0
  let errors = 0
  const start = performance.now()
  const measureFrom = start + WARMUP_MS
  const end = measureFrom + SECONDS * 1000
  await Promise.all(
    tokens.map(async (first, c) => {
      let token = first
      let turn = c
      const ip = `10.${(c >> 8) & 255}.${c & 255}.1`
      while (performance.now() < end) {
        const t0 = performance.now()
        const res = await refresh(urls[turn++ % urls.length]!, token, ip)
        const t1 = performance.now()
        if (res.status !== 200 || !res.next) {
          errors++
          throw new Error(`${name}: refresh answered ${res.status}; a rotation chain must never break`)
        }
        token = res.next
        if (t0 >= measureFrom && t1 <= end) {
          latencies.push(t1 - t0)
          rotations++
        }
      }
    }),
  )
  return { name, instances: instances.length, rotations, seconds: SECONDS, errors, latencies: latencies.sort((a, b) => a - b) }
}

const BASE_ENV = {
  DEMO_USERNAME: USER,
  DEMO_PASSWORD: 'bench',
  TRUST_PROXY: 'true',
  RATE_LIMIT_REFRESH_MAX: '1000000',
  LOG_LEVEL: 'warn',
  JWT_ISSUER: 'http://127.0.0.1:8080',
}

async function withInstances<T>(count: number, env: Record<string, string>, fn: (instances: Instance[]) => Promise<T>): Promise<T> {
  // The first one migrates or creates the schema; the others then start on it.
  const first = await startInstance(env)
  const rest = await Promise.all(Array.from({ length: count - 1 }, () => startInstance(env)))
  const instances = [first, ...rest]
  try {
    return await fn(instances)
  } finally {
    await Promise.all(instances.map((i) => i.stop()))
  }
}

async function sqliteRun(count: number, dir: string, key: string): Promise<Result> {
  const path = join(dir, `bench-${count}.db`)
  return withInstances(count, { ...BASE_ENV, DB_PATH: path, JWT_PRIVATE_KEY: key }, async (instances) =>
    drive(`SQLite (WAL), ${count} process${count > 1 ? 'es on one file' : ''}`, instances, seedSqlite(path, CLIENTS)),
  )
}

async function postgresRun(count: number, server: TestPostgres, key: string, pool = POOL): Promise<Result> {
  const url = await server.createDatabase(`bench_${count}_${pool}_${randomUUID().slice(0, 8)}`.replace(/-/g, '_'))
  const env = { ...BASE_ENV, STORE: 'postgres', DATABASE_URL: url, PG_POOL_MAX: String(pool), JWT_PRIVATE_KEY: key }
  return withInstances(count, env, async (instances) =>
    drive(`PostgreSQL, ${count} instance${count > 1 ? 's' : ''} (pool ${pool} each)`, instances, await seedPostgres(url, CLIENTS)),
  )
}

const rateOf = (r: Result): number => r.rotations / r.seconds

/** The median round by rotations/s, and the range over all rounds. */
function summarize(rounds: Result[]): { median: Result; low: number; high: number } {
  const sorted = [...rounds].sort((a, b) => rateOf(a) - rateOf(b))
  return { median: sorted[(sorted.length - 1) >> 1]!, low: rateOf(sorted[0]!), high: rateOf(sorted.at(-1)!) }
}

function row(rounds: Result[], baseline: Result[]): string {
  const { median: r, low, high } = summarize(rounds)
  const sorted = r.latencies
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
  const cells = [
    r.name,
    fmt(rateOf(r)),
    rounds.length > 1 ? `${fmt(low)}–${fmt(high)}` : '—',
    `${(rateOf(r) / rateOf(summarize(baseline).median)).toFixed(2)}×`,
    `${percentile(sorted, 50).toFixed(1)} ms`,
    `${percentile(sorted, 99).toFixed(1)} ms`,
    String(rounds.reduce((n, x) => n + x.errors, 0)),
  ]
  return `| ${cells.join(' | ')} |`
}

async function main(): Promise<void> {
  if (postgresUnavailableReason) throw new Error(`cannot run: ${postgresUnavailableReason}`)
  const { generateKeyPairSync } = await import('node:crypto')
  const key = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const dir = mkdtempSync(join(tmpdir(), 'bench-rotations-'))
  const server = await startPostgres({ durable: DURABLE })
  const configs: Array<[string, () => Promise<Result>]> = [
    ['sqlite-1', () => sqliteRun(1, dir, key)],
    ['sqlite-3', () => sqliteRun(3, dir, key)],
    ['pg-1', () => postgresRun(1, server, key)],
    ['pg-3', () => postgresRun(3, server, key)],
    ...(POOL_SWEEP
      ? ([2, 5, 20].map((pool) => [`pg-1-pool-${pool}`, () => postgresRun(1, server, key, pool)]) as Array<[string, () => Promise<Result>]>)
      : []),
    ...(POOL_SWEEP
      ? ([3, 20].map((pool) => [`pg-3-pool-${pool}`, () => postgresRun(3, server, key, pool)]) as Array<[string, () => Promise<Result>]>)
      : []),
  ]
  const results = new Map<string, Result[]>(configs.map(([id]) => [id, []]))
  try {
    const version = (await server.sql<{ server_version: string }>('postgres', 'SHOW server_version'))[0]!.server_version
    console.error(`PostgreSQL ${version} (${DURABLE ? 'default durable settings: fsync on, synchronous_commit on' : 'fsync off, synchronous_commit off'}), ` +
      `${cpus().length} CPU(s), Node ${process.version}; ${CLIENTS} clients, ${WARMUP_MS} ms warm-up, ${SECONDS} s measured, ${ROUNDS} round(s)`)
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < configs.length; i++) {
        const [id, run] = configs[(i + round) % configs.length]!
        const result = await run()
        console.error(`  round ${round + 1}: ${result.name}: ${Math.round(rateOf(result))} rotations/s`)
        results.get(id)!.push(result)
      }
    }
  } finally {
    agent.destroy()
    await server.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
  console.log('| Store, processes | rotations/s (median round) | range | vs SQLite ×1 | p50 | p99 | errors |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const [id] of configs) console.log(row(results.get(id)!, results.get('sqlite-1')!))
}

await main()
