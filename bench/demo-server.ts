/**
 * Demo server under load (autocannon, 10 connections), side by side with bare
 * Fastify routes in the same run and with the same logger settings:
 *
 * - GET /api/me with a valid token against a bare GET route returning the same
 *   JSON (target: ≥ 0.7× the bare route);
 * - refresh-token rotations on POST /auth/token against a bare POST route that
 *   parses the same form and answers a token response of the same size
 *   (target: ≥ 0.3× the bare route);
 * - p99 ≤ 10 ms at 10 connections;
 *
 * first on SQLite (the demo app in a child process, next to the bare apps; with the
 * audit trail and metrics on, and again with both off, for their cost),
 * then on PostgreSQL with 1 and with 3 server processes (demo-server/src/server.ts,
 * LOG_LEVEL=warn) on a real PostgreSQL with its default durable settings.
 *
 *   npm run bench -- demo-server          (BENCH_DEMO_ROUNDS, BENCH_DEMO_SECONDS, BENCH_DEMO_POSTGRES=0 to skip PostgreSQL)
 */
import { fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon, { type Result } from 'autocannon'
import { exportJWK } from 'jose'
import { startInstance, type Instance } from '../demo-server/test/helpers/instances.js'
import { postgresUnavailableReason, startPostgres, type TestPostgres } from '../demo-server/test/helpers/postgres.js'
import { USER } from './lib/demo-child.js'
import { median, ms, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_DEMO_ROUNDS ?? 3)
const DURATION_S = Number(process.env.BENCH_DEMO_SECONDS ?? 4)
const POSTGRES = process.env.BENCH_DEMO_POSTGRES !== '0' && postgresUnavailableReason === null
const CONNECTIONS = 10

interface TokenResponse {
  access_token: string
  refresh_token: string
}

async function login(base: string, password = USER.password): Promise<TokenResponse> {
  const res = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: USER.username, password }) })
  if (res.status !== 200) throw new Error(`login: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as TokenResponse
}

/** GET /api/me (or the bare route) with one valid token on every connection. */
function getMe(base: string, accessToken: string, connections = CONNECTIONS, duration = DURATION_S): Promise<Result> {
  return autocannon({ url: `${base}/api/me`, connections, duration, headers: { authorization: `Bearer ${accessToken}` } })
}

/**
 * POST /auth/token, each connection rotating its own session: autocannon calls
 * onResponse and then setupRequest on the same connection, so with a stack
 * (LIFO) each connection takes back the token it just received — one family
 * per connection, one request in flight each. Against the bare route the
 * tokens are whatever it answers.
 */
function rotate(base: string, refreshTokens: string[], connections = CONNECTIONS, duration = DURATION_S): Promise<Result> {
  const free = [...refreshTokens]
  return autocannon({
    url: `${base}/auth/token`,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        setupRequest: (request, context) => {
          const token = free.pop()
          if (!token) throw new Error('no free refresh token: more requests in flight than sessions')
          Object.assign(context, { token })
          return { ...request, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${token}` }
        },
        onResponse: (status, body, context) => {
          if (status === 200) free.push((JSON.parse(body) as TokenResponse).refresh_token)
          else free.push((context as { token: string }).token) // counted in non2xx
        },
      },
    ],
  })
}

/** Splits CONNECTIONS over the instances (4, 3, 3) and runs one autocannon per instance at once. */
async function spread(instances: string[], run: (base: string, connections: number, part: number) => Promise<Result>): Promise<Result[]> {
  return Promise.all(instances.map((base, i) => run(base, Math.floor(CONNECTIONS / instances.length) + (i < CONNECTIONS % instances.length ? 1 : 0), i)))
}

const failures = (r: Result) => r.errors + r.timeouts + r.non2xx

/**
 * One measured configuration: per round, the total rate, the worst p50/p99 of
 * its parts, the failures, and the rate of the bare route measured right next
 * to it (so each round gives a ratio taken under the same load).
 */
interface Row {
  name: string
  rounds: Array<{ rate: number; p50: number; p99: number; failures: number; bare?: number }>
}
const roundOf = (parts: Result[]) => ({
  rate: parts.reduce((sum, r) => sum + r.requests.average, 0),
  p50: Math.max(...parts.map((r) => r.latency.p50)),
  p99: Math.max(...parts.map((r) => r.latency.p99)),
  failures: parts.reduce((sum, r) => sum + failures(r), 0),
})

function rows(title: string, base: Row, others: Row[], notes: string[]): void {
  const rate = (row: Row) => median(row.rounds.map((r) => r.rate))
  // The median of the per-round ratios, each against the bare run next to it.
  const versus = (row: Row) => median(row.rounds.map((r) => r.rate / r.bare!))
  const line = (row: Row, against?: Row) => [
    row.name,
    num(rate(row)),
    against ? ratio(versus(row)) : '1.00×',
    ms(median(row.rounds.map((r) => r.p50)), 1),
    ms(median(row.rounds.map((r) => r.p99)), 1),
    num(row.rounds.reduce((sum, r) => sum + r.failures, 0)),
  ]
  table(title, ['server', 'req/s (median)', 'vs bare (median of rounds)', 'p50', 'p99', 'errors + non-2xx'], [line(base), ...others.map((row) => line(row, base))], notes)
}

// ---- SQLite: the demo app and the bare apps in one child process ----
const child = fork(fileURLToPath(new URL('./lib/demo-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
const ask = <T>(type: string) =>
  new Promise<T>((resolve) => {
    child.once('message', (message) => resolve(message as T))
    child.send({ type })
  })
const ports = await new Promise<{ demo: number; demoOff: number; bareGet: number; barePost: number; dir: string }>((resolve, reject) => {
  child.once('message', (message) => resolve(message as { demo: number; demoOff: number; bareGet: number; barePost: number; dir: string }))
  child.once('exit', (code) => reject(new Error(`demo server exited with ${code}`)))
})
const demo = `http://127.0.0.1:${ports.demo}`
const demoOff = `http://127.0.0.1:${ports.demoOff}`
const bareGet = `http://127.0.0.1:${ports.bareGet}`
const barePost = `http://127.0.0.1:${ports.barePost}`

const { access_token: accessToken } = await login(demo)
const { access_token: accessTokenOff } = await login(demoOff)
const sessions = async (base: string) => Promise.all(Array.from({ length: CONNECTIONS }, () => login(base).then((t) => t.refresh_token)))
const bareTokens = Array.from({ length: CONNECTIONS }, () => 'r'.repeat(43))

// Warm-up: JIT and the token cache.
await getMe(bareGet, accessToken, CONNECTIONS, 1)
await getMe(demo, accessToken, CONNECTIONS, 1)
await rotate(barePost, bareTokens, CONNECTIONS, 1)
await rotate(demo, await sessions(demo), CONNECTIONS, 1)
await getMe(demoOff, accessTokenOff, CONNECTIONS, 1)
await rotate(demoOff, await sessions(demoOff), CONNECTIONS, 1)

/** Runs the bare route and the configuration next to each other, in `order`; records the bare run and returns the paired round. */
async function paired(order: readonly ('bare' | 'demo')[], bare: Row, runBare: () => Promise<Result>, runDemo: () => Promise<Result[]>) {
  let bareRound: Row['rounds'][number] | undefined
  let demoRound: Row['rounds'][number] | undefined
  for (const which of order) {
    if (which === 'bare') bareRound = roundOf([await runBare()])
    else demoRound = roundOf(await runDemo())
  }
  bare.rounds.push(bareRound!)
  return { ...demoRound!, bare: bareRound!.rate }
}

const me = {
  bare: { name: 'bare Fastify GET route, same JSON', rounds: [] } as Row,
  sqlite: { name: '/api/me, SQLite (audit + metrics on)', rounds: [] } as Row,
  off: { name: '/api/me, SQLite, audit + metrics off', rounds: [] } as Row,
}
const rot = {
  bare: { name: 'bare Fastify POST route, same form and answer size', rounds: [] } as Row,
  sqlite: { name: 'rotations, SQLite (audit + metrics on)', rounds: [] } as Row,
  off: { name: 'rotations, SQLite, audit + metrics off', rounds: [] } as Row,
}
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so both meet the machine in both states.
  const order = round % 2 ? (['demo', 'bare'] as const) : (['bare', 'demo'] as const)
  me.sqlite.rounds.push(await paired(order, me.bare, () => getMe(bareGet, accessToken), () => getMe(demo, accessToken).then((r) => [r])))
  me.off.rounds.push(await paired(order, me.bare, () => getMe(bareGet, accessToken), () => getMe(demoOff, accessTokenOff).then((r) => [r])))
  const chains = await sessions(demo)
  rot.sqlite.rounds.push(await paired(order, rot.bare, () => rotate(barePost, bareTokens), () => rotate(demo, chains).then((r) => [r])))
  const chainsOff = await sessions(demoOff)
  rot.off.rounds.push(await paired(order, rot.bare, () => rotate(barePost, bareTokens), () => rotate(demoOff, chainsOff).then((r) => [r])))
}
/** Audit + metrics on vs off: the median of the per-round ratios of the two rates. */
const onOff = (on: Row, off: Row) => ratio(median(on.rounds.map((r, i) => r.rate / off.rounds[i]!.rate)))

// ---- PostgreSQL: 1 and 3 server processes on one database ----
const pgRows = { me1: { name: '/api/me, PostgreSQL, 1 instance', rounds: [] } as Row, me3: { name: '/api/me, PostgreSQL, 3 instances', rounds: [] } as Row, rot1: { name: 'rotations, PostgreSQL, 1 instance', rounds: [] } as Row, rot3: { name: 'rotations, PostgreSQL, 3 instances', rounds: [] } as Row }
let pgVersion = ''
if (POSTGRES) {
  const { generateKeyPairSync } = await import('node:crypto')
  const { createPrivateKey } = await import('node:crypto')
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const key = JSON.stringify(await exportJWK(createPrivateKey(pem)))
  let server: TestPostgres | undefined
  const running: Instance[] = []
  try {
    server = await startPostgres({ durable: true })
    pgVersion = (await server.sql<{ server_version: string }>('postgres', 'SHOW server_version'))[0]!.server_version
    for (const count of [1, 3]) {
      const url = await server.createDatabase(`bench_${count}`)
      const env = {
        STORE: 'postgres',
        DATABASE_URL: url,
        JWT_PRIVATE_KEY: key,
        JWT_ISSUER: 'http://127.0.0.1:8080',
        DEMO_USERNAME: USER.username,
        DEMO_PASSWORD: USER.password,
        ACCESS_TOKEN_TTL: '1h',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_LOGIN_MAX: '1000000000',
        RATE_LIMIT_REFRESH_MAX: '1000000000',
      }
      // The first one migrates; the others start on the migrated schema.
      const instances = [await startInstance(env)]
      instances.push(...(await Promise.all(Array.from({ length: count - 1 }, () => startInstance(env)))))
      running.push(...instances)
      const urls = instances.map((i) => i.url)
      const token = (await login(urls[0]!)).access_token
      await spread(urls, (base, connections) => getMe(base, token, connections, 1))
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 ? (['demo', 'bare'] as const) : (['bare', 'demo'] as const)
        ;(count === 1 ? pgRows.me1 : pgRows.me3).rounds.push(
          await paired(order, me.bare, () => getMe(bareGet, accessToken), () => spread(urls, (base, connections) => getMe(base, token, connections))),
        )
        const chains = await Promise.all(urls.map(async (base, i) => Promise.all(Array.from({ length: Math.floor(CONNECTIONS / urls.length) + (i < CONNECTIONS % urls.length ? 1 : 0) }, () => login(base).then((t) => t.refresh_token)))))
        ;(count === 1 ? pgRows.rot1 : pgRows.rot3).rounds.push(
          await paired(order, rot.bare, () => rotate(barePost, bareTokens), () => spread(urls, (base, connections, part) => rotate(base, chains[part]!, connections))),
        )
      }
      await Promise.all(instances.map((i) => i.stop()))
    }
  } finally {
    await Promise.all(running.map((i) => i.kill()))
    await server?.destroy()
  }
}

const { revoked } = await ask<{ revoked: number }>('revoked')
child.kill()
rmSync(ports.dir, { recursive: true, force: true })

const pgNote = POSTGRES
  ? `PostgreSQL ${pgVersion} with its default durable settings (fsync, synchronous_commit on); server processes are demo-server/src/server.ts with LOG_LEVEL=warn, the 10 connections split 4/3/3 over 3 instances (req/s summed, p50/p99 the worst instance's).`
  : `PostgreSQL rows skipped (${postgresUnavailableReason ?? 'BENCH_DEMO_POSTGRES=0'}).`
rows(
  `GET /api/me with a valid token vs a bare Fastify GET route (autocannon, ${CONNECTIONS} connections, ${ROUNDS} × ${DURATION_S} s, alternating)`,
  me.bare,
  [me.sqlite, me.off, ...(POSTGRES ? [pgRows.me1, pgRows.me3] : [])],
  [
    `Audit trail + metrics on vs off (SQLite, median of per-round ratios): ${onOff(me.sqlite, me.off)}. /api/me writes no audit event and touches no metric unless it answers 401.`,
    'Same logger settings everywhere (pino at warn). The bare routes and the SQLite demo app share one child process; autocannon runs in the parent. Every configuration runs next to a bare run in each round (order alternating); "vs bare" is the median of those per-round ratios, the bare row shows all its runs.',
    '/api/me: bearer parsing, the verified-token cache (one Ed25519 verification and one session read per token, not per request), the REST security and CORS headers, the response schema.',
    pgNote,
  ],
)
rows(
  `Refresh-token rotations on POST /auth/token vs a bare Fastify POST route (autocannon, ${CONNECTIONS} connections = ${CONNECTIONS} token families, ${ROUNDS} × ${DURATION_S} s)`,
  rot.bare,
  [rot.sqlite, rot.off, ...(POSTGRES ? [pgRows.rot1, pgRows.rot3] : [])],
  [
    `Audit trail + metrics on vs off (SQLite, median of per-round ratios): ${onOff(rot.sqlite, rot.off)}. On: each rotation also inserts its audit event in the same transaction (one row, one index) and counts a counter and a histogram observation.`,
    'Each rotation: the per-address rate-limit counter (memory on SQLite, an upsert on PostgreSQL), form parsing and validation, the rotation in the store (SQLite: group commit in BEGIN IMMEDIATE, checkpoints in a worker; PostgreSQL: one statement, fsync at commit), an Ed25519 signature, the token response.',
    `Every chain must keep rotating: a failed rotation would show as non-2xx. Reuse detections on SQLite (families revoked): ${revoked}.`,
  ],
)

// autocannon leaves reconnecting sockets to the stopped servers behind: end here, the results are printed.
process.exit(0)
